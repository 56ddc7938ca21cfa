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

# bench_builds: the two Shellac builds the speed benchmarks compare: $SHELLAC, the release
# binary (`./dev release`, profile-guided), and $SHELLAC_PLAIN, cargo's release profile alone.
bench_builds() {
    ./dev release
    cargo build --release -q -p shellac
    SHELLAC=target/pgo/shellac
    SHELLAC_PLAIN=target/release/shellac
}

# bench_ports PORT ...: exits when one of the loopback ports is taken.
bench_ports() {
    local port
    for port in "$@"; do
        if ss -ltn | grep -q "127.0.0.1:$port "; then echo "port $port is in use"; exit 1; fi
    done
}

# bench_workdir PREFIX: a scratch directory in $W, removed on exit with the processes in PIDS.
bench_workdir() {
    W=$(mktemp -d "/tmp/$1.XXXXXX")
    chmod 755 "$W"
    PIDS=()
    trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$W"' EXIT
}

# bench_origins: $W/nginx.conf, three origins on 18101-18103 that answer with their number, and
# /probe for health checks. nginx stays in the foreground (daemon off): a daemonized nginx gets
# its own session, hence its own scheduler autogroup, which changes how the kernel interleaves
# it with the proxy on the shared CPU.
bench_origins() {
    cat > "$W/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $W/nginx.pid;
error_log $W/nginx.err warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:18101; location / { return 200 "origin 1\n"; } location = /probe { return 200 "ok\n"; } }
    server { listen 127.0.0.1:18102; location / { return 200 "origin 2\n"; } location = /probe { return 200 "ok\n"; } }
    server { listen 127.0.0.1:18103; location / { return 200 "origin 3\n"; } location = /probe { return 200 "ok\n"; } }
}
NGINX
    chmod 644 "$W/nginx.conf"
}

# bench_origin NAME PORT SERVER_BODY [ACCESS_LOG=off]: $W/NAME.conf, one nginx worker in the
# foreground listening on PORT with the given server directives (root, locations, headers).
bench_origin() {
    cat > "$W/$1.conf" <<NGINX
worker_processes 1;
daemon off;
pid $W/$1.pid;
error_log $W/$1.err warn;
events { worker_connections 4096; }
http {
    access_log ${4:-off};
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$2; $3 }
}
NGINX
}

# bench_rr_vcl [ATTRIBUTES]: round-robin pass over the three origins, each backend with the
# extra attributes given, on standard output.
bench_rr_vcl() {
    printf 'vcl 4.1;\nimport directors;\n'
    for i in 1 2 3; do printf 'backend o%s { .host = "127.0.0.1"; .port = "1810%s"; %s }\n' $i $i "${1:-}"; done
    printf 'sub vcl_init { new rr = directors.round_robin(); rr.add_backend(o1); rr.add_backend(o2); rr.add_backend(o3); }\n'
    printf 'sub vcl_recv { set req.backend_hint = rr.backend(); return (pass); }\n'
}

# bench_haproxy PORT: $W/haproxy.cfg, one thread, round robin over the three origins with
# kept-alive server connections, listening on PORT.
bench_haproxy() {
    cat > "$W/haproxy.cfg" <<HAP
global
    nbthread 1
    maxconn 4000
defaults
    mode http
    timeout connect 3500ms
    timeout client 60s
    timeout server 60s
    option http-keep-alive
frontend fe
    bind 127.0.0.1:$1
    default_backend origins
backend origins
    balance roundrobin
    http-reuse always
    server o1 127.0.0.1:18101
    server o2 127.0.0.1:18102
    server o3 127.0.0.1:18103
HAP
    chmod 644 "$W/haproxy.cfg"
}

# median: the median of the numbers on stdin, one a line (the mean of the middle two when even).
median() { sort -g | awk '{a[NR]=$1} END { if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2 }'; }

# bench_hit_pass_origin PORT: in $W, a 1 KiB file an nginx origin on PORT serves cacheable
# ($W/origin.conf), and two VCLs for it: $W/hit.vcl (the builtin: lookups) and $W/pass.vcl (the
# builtin vcl_recv's checks, then pass).
bench_hit_pass_origin() {
    mkdir -p "$W/www"
    head -c 768 /dev/urandom | base64 -w0 > "$W/www/1k"
    bench_origin origin "$1" "root $W/www; location / { add_header Cache-Control \"max-age=3600\"; try_files /1k =404; }"
    printf 'vcl 4.1;\nbackend origin { .host = "127.0.0.1"; .port = "%s"; }\nsub vcl_recv { call vcl_builtin_recv; return (pass); }\n' "$1" > "$W/pass.vcl"
    printf 'vcl 4.1;\nbackend origin { .host = "127.0.0.1"; .port = "%s"; }\n' "$1" > "$W/hit.vcl"
    chmod -R a+rX "$W"
}

# bench_ticks PID: the CPU time (user + system, in clock ticks) a process has used.
bench_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# bench_user_ticks PID: the part of it spent in user space.
bench_user_ticks() { awk '{print $14}' "/proc/$1/stat"; }
