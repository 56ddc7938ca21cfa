#!/usr/bin/env bash
# Discovery: etcd put -> first request routed to the new member (100 changes, seed 000's setup
# with its probe), and req/s with 3 members vs 1,000 members (one nginx on port 18201, reached
# as 127.0.X.Y; Shellac on CPU 1 with one thread, wrk on CPU 0). etcd is started on free
# loopback ports by the benchmark itself. HAProxy 2.6 (installed if missing) is the peer in the
# same rounds: the same 3 or 1,000 servers with the same health check.
#
#   bench/etcd.sh [ROUNDS=3] [SECONDS=10] [CONNECTIONS=50]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SECS=${2:-10}
CONNS=${3:-50}

./dev deps
need() { command -v "$1" >/dev/null 2>&1 || NEED="$NEED $2"; }
NEED=""
need nginx nginx-light; need wrk wrk; need haproxy haproxy
if [ -n "$NEED" ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $NEED >/dev/null
    for s in nginx haproxy; do $SUDO service $s stop >/dev/null 2>&1 || true; done
fi
if ss -ltn | grep -q ":18201 "; then echo "port 18201 is in use"; exit 1; fi
ulimit -n 65536 || true
cargo build --release -q -p shellac --bins --example etcd_bench

W=$(mktemp -d /tmp/shellac-etcd-bench.XXXXXX)
chmod 755 "$W"
cleanup() { [ -f "$W/nginx.pid" ] && kill "$(cat "$W/nginx.pid")" 2>/dev/null; sleep 0.3; rm -rf "$W"; }
trap cleanup EXIT
# nginx stays in the foreground (daemon off), as in bench/proxy.sh: a daemonized nginx starts
# its own session, hence its own scheduler autogroup, which changes how the kernel interleaves
# it with the proxy on the shared CPU (Shellac measured 42-45k req/s that way against 47-48k
# with one session; HAProxy about 48k either way).
cat > "$W/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $W/nginx.pid;
error_log $W/nginx.err warn;
worker_rlimit_nofile 65536;
events { worker_connections 16384; }
http {
    access_log off;
    keepalive_requests 1000000;
    server { listen 18201; location / { return 200 "origin\n"; } }
}
NGINX
taskset -c 1 nginx -c "$W/nginx.conf" &
sleep 0.3
target/release/examples/etcd_bench "$PWD/target/release/shellac" 18201 "$ROUNDS" "$SECS" "$CONNS"
