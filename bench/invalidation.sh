#!/usr/bin/env bash
# Invalidation (issue 21), on the plain release build (`./dev run`'s):
# 1. the store alone (crates/shellac-cache/examples/invalidation.rs): xkey.purge of a key on 10
#    objects in caches of 10^4, 10^5, 10^6 objects; a lookup hit with no ban and with 1,000
#    active bans;
# 2. two nodes and a real etcd (crates/shellac/examples/invalidation_bench.rs): ban on node A ->
#    the next request on node B is a miss, over 100 bans; then one node under steady streams of
#    bans (on obj.http, then on req.url) with half its objects never requested: the length of
#    ban.list and the RSS over time.
#
#   bench/invalidation.sh [OBJ_SECONDS=100] [OBJ_RATE=100] [REQ_SECONDS=30] [REQ_RATE=2000]
#
# Loopback port 18650 must be free (the origin); etcd and Shellac take free ports.
set -euo pipefail
cd "$(dirname "$0")/.."

. bench/lib.sh
./dev deps
bench_need nginx:nginx-light
bench_ports 18650
bench_workdir shellac-invalidation-bench
cargo build --release -q -p shellac --bins --example invalidation_bench
cargo build --release -q -p shellac-cache --example invalidation

target/release/examples/invalidation
echo
printf 'worker_processes 1; daemon off; pid %s/o.pid; error_log %s/o.err warn;\nevents { worker_connections 1024; }\nhttp { access_log off; keepalive_requests 1000000; server { listen 127.0.0.1:18650; location / { add_header Cache-Control "max-age=3600"; return 200 "origin\\n"; } } }\n' "$W" "$W" > "$W/origin.conf"
nginx -c "$W/origin.conf" -p "$W" & PIDS+=($!)
sleep 0.3
target/release/examples/invalidation_bench "$PWD/target/release/shellac" 18650 "${1:-100}" "${2:-100}" "${3:-30}" "${4:-2000}"
