#!/usr/bin/env bash
# What a stored object costs beyond its body: N small objects (100-byte bodies, each a distinct
# URL, cacheable for an hour) stored in Shellac (the plain release build: memory does not depend
# on profile-guided layout) and in Varnish 7.1, each with a store large enough that nothing is
# evicted. Per object: (RSS after − RSS before − N × body) / N, the RSS of the process that holds
# the cache (varnishd's child), and what each store's own accounting says (`used_space`).
#
#   bench/objects.sh [N=1000000] [CONNECTIONS=64]
#
# wrk asks for /o/0, /o/1, … in order (one thread, so the counter is one sequence), in rounds of
# 10 s until N requests were made; the origin's access log counts the backend fetches, which is
# the number of objects stored. Loopback ports 18400-18403 must be free.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
CONNS=${2:-64}

. bench/lib.sh
bench_need nginx:nginx-light wrk:wrk varnishd:varnish
cargo build --release -q -p shellac
SHELLAC_PLAIN=target/release/shellac
bench_ports 18400 18401 18402 18403
bench_workdir shellac-objects-bench

BODY=$(head -c 75 /dev/urandom | base64 -w0)
for o in 18402:shellac 18403:varnish; do
    bench_origin "o-${o#*:}" "${o%:*}" "location / { add_header Cache-Control \"max-age=3600\"; return 200 \"$BODY\"; }" \
        "$W/${o#*:}.log"
done
vcl() { # PORT
    printf 'vcl 4.1;\nbackend origin { .host = "127.0.0.1"; .port = "%s"; }\n' "$1"
    printf 'sub vcl_recv { if (req.url == "/_used") { return (synth(200, "used " + storage.s0.used_space)); } }\n'
}
vcl 18402 > "$W/shellac.vcl"
vcl 18403 > "$W/varnish.vcl"
cat > "$W/seq.lua" <<'LUA'
local offset, n = 0, 1
function init(args) offset = tonumber(args[1]) end
function request()
    local path = "/o/" .. (offset + n - 1)
    n = n + 1
    return wrk.format("GET", path)
end
LUA
chmod -R a+rX "$W"

taskset -c 1 nginx -c "$W/o-shellac.conf" -p "$W" & PIDS+=($!)
taskset -c 1 nginx -c "$W/o-varnish.conf" -p "$W" & PIDS+=($!)
RUST_LOG=warn taskset -c 1 "$SHELLAC_PLAIN" serve -T none -a 127.0.0.1:18400 -f "$W/shellac.vcl" \
    -s malloc,4g >/dev/null & PIDS+=($!); SHELLAC_PID=$!
taskset -c 1 varnishd -F -j none -n "$W/varnish" -a 127.0.0.1:18401 -f "$W/varnish.vcl" -s malloc,4g \
    -T none >/dev/null 2>&1 & PIDS+=($!); VARNISH_PID=$!
sleep 3

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
holder() { # the process holding the cache: varnishd's child, Shellac itself
    if [ "$1" = varnish ]; then pgrep -P "$VARNISH_PID" | head -1; else echo "$SHELLAC_PID"; fi
}
declare -A PORT=([shellac]=18400 [varnish]=18401)
# The response as a cache keeps it: the body and the origin's end-to-end headers (names and
# values; Connection is hop-by-hop).
HDR=$(curl -s -D - -o /dev/null http://127.0.0.1:18402/warm/0 | tr -d '\r' |
    awk -F': ' 'NR > 1 && NF >= 2 && tolower($1) != "connection" {n += length($0) - 2} END {print n}')
printf '%-8s %9s %9s %12s %12s %12s %14s %14s %14s\n' cache objects seconds rss_before rss_after used_bytes B/obj_by_rss B/obj_by_used B/obj_metadata
for c in shellac varnish; do
    url="http://127.0.0.1:${PORT[$c]}"
    for i in 1 2 3; do curl -s -o /dev/null "$url/warm/$i"; done
    pid=$(holder $c)
    before=$(rss_kib "$pid")
    sent=0 start=$(date +%s)
    while [ "$sent" -lt "$N" ]; do
        out=$(taskset -c 0 wrk -t1 -c"$CONNS" -d10s -s "$W/seq.lua" "$url" -- "$sent")
        sent=$((sent + $(awk '/requests in/ {print $1}' <<<"$out")))
    done
    secs=$(( $(date +%s) - start ))
    sleep 2
    after=$(rss_kib "$pid")
    objects=$(grep -c ' /o/' "$W/$c.log" || true)
    used=$(curl -s -D - -o /dev/null "$url/_used" | awk 'NR == 1 {print $4}')
    awk -v c=$c -v n="$objects" -v s="$secs" -v b="$before" -v a="$after" -v u="$used" -v body=${#BODY} -v h="$HDR" 'BEGIN {
        printf "%-8s %9d %9d %12d %12d %12d %14.0f %14.0f %14.0f\n", c, n, s, b * 1024, a * 1024, u,
            ((a - b) * 1024 - n * body) / n, ((a - b) * 1024 - u) / n, ((a - b) * 1024 - n * (body + h)) / n }'
done
echo "(B/obj_by_rss: RSS growth minus the bodies, per object; B/obj_by_used: RSS growth the store's own"
echo " accounting does not cover; B/obj_metadata: RSS growth minus the responses stored, body and $HDR"
echo " bytes of headers, per object)"
