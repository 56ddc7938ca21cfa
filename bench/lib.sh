# What the benchmarks share; sourced by them from the repository's root.

# bench_need CMD:PACKAGE ...: installs the Debian packages whose commands are missing, and stops
# the services they start on their default ports (each benchmark runs its own).
bench_need() {
    local missing="" pair
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}"
    done
    [ -n "$missing" ] || return 0
    local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null
    for s in nginx haproxy varnish; do $sudo service $s stop >/dev/null 2>&1 || true; done
}

# bench_ports PORT ...: exits when one of the loopback ports is taken.
bench_ports() {
    local port
    for port in "$@"; do
        if ss -ltn | grep -q "127.0.0.1:$port "; then echo "port $port is in use"; exit 1; fi
    done
}
