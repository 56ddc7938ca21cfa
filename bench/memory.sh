#!/usr/bin/env bash
# Memory under eviction: a working set of ten times the store (`-s malloc,256m`) in objects of
# 1 KiB to 1 MiB (sizes spread evenly on a log scale), asked for at random, through Shellac (the
# plain release build) and Varnish 7.1. Prints the RSS of the process that holds the cache
# (varnishd's child) every 10 s, its peak, and the target: 1.15 × 256 MiB + 40 MiB.
#
#   bench/memory.sh [SECONDS=120] [CONNECTIONS=32]
#
# Loopback ports 18500-18502 must be free.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-120}
CONNS=${2:-32}
STORE_MIB=256

. bench/lib.sh
bench_need nginx:nginx-light wrk:wrk varnishd:varnish
cargo build --release -q -p shellac
SHELLAC_PLAIN=target/release/shellac
bench_ports 18500 18501 18502
bench_workdir shellac-memory-bench

# 21 sizes from 1 KiB to 1 MiB, each 2^(1/2) times the one before.
mkdir -p "$W/www"
SIZES=()
for i in $(seq 0 20); do
    s=$(awk -v i="$i" 'BEGIN { printf "%d", 1024 * 2 ^ (i / 2) }')
    SIZES+=("$s")
    head -c "$s" /dev/urandom > "$W/www/s$i"
done
MEAN=$(printf '%s\n' "${SIZES[@]}" | awk '{ t += $1 } END { printf "%d", t / NR }')
# Distinct URLs (a query string per copy) so that the working set is ten times the store.
COPIES=$(( 10 * STORE_MIB * 1024 * 1024 / MEAN / 21 + 1 ))
bench_origin origin 18502 "root $W/www; add_header Cache-Control \"max-age=3600\";"
printf 'vcl 4.1;\nbackend origin { .host = "127.0.0.1"; .port = "18502"; }\n' > "$W/cache.vcl"
cat > "$W/random.lua" <<LUA
math.randomseed(os.time())
function request()
    return wrk.format("GET", "/s" .. math.random(0, 20) .. "?c=" .. math.random(1, $COPIES))
end
LUA
chmod -R a+rX "$W"

taskset -c 1 nginx -c "$W/origin.conf" -p "$W" & PIDS+=($!)
RUST_LOG=warn "$SHELLAC_PLAIN" serve -T none -a 127.0.0.1:18500 -f "$W/cache.vcl" -s malloc,${STORE_MIB}m \
    >/dev/null & PIDS+=($!); SHELLAC_PID=$!
varnishd -F -j none -n "$W/varnish" -a 127.0.0.1:18501 -f "$W/cache.vcl" -s malloc,${STORE_MIB}m -T none \
    >/dev/null 2>&1 & PIDS+=($!); VARNISH_PID=$!
sleep 3

rss_mib() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
echo "working set: 21 sizes × $COPIES copies, mean $MEAN bytes: $(( 21 * COPIES * MEAN / 1024 / 1024 )) MiB"
echo "target: RSS under $(awk -v s=$STORE_MIB 'BEGIN { printf "%.1f", 1.15 * s + 40 }') MiB"
declare -A PORT=([shellac]=18500 [varnish]=18501)
for c in shellac varnish; do
    if [ $c = varnish ]; then pid=$(pgrep -P "$VARNISH_PID" | head -1); else pid=$SHELLAC_PID; fi
    taskset -c 0 wrk -t1 -c"$CONNS" -d"${SECS}s" -s "$W/random.lua" "http://127.0.0.1:${PORT[$c]}" > "$W/$c.wrk" &
    WRK=$!
    peak=0
    for t in $(seq 10 10 "$SECS"); do
        sleep 10
        r=$(rss_mib "$pid")
        peak=$(awk -v a="$peak" -v b="$r" 'BEGIN { print (b > a) ? b : a }')
        echo "$c t=${t}s rss=${r}MiB"
    done
    wait $WRK
    rps=$(awk '/^Requests\/sec/ {print $2}' "$W/$c.wrk")
    echo "$c: peak RSS ${peak} MiB, ${rps} req/s, $(awk '/Non-2xx|Socket errors/' "$W/$c.wrk")"
done
