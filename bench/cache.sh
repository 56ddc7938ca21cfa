#!/usr/bin/env bash
# Cache hits, 1 KiB and 100 KiB objects: Shellac (the `./dev release` binary and the plain
# release build), Varnish 7.1 (`-s malloc,256m`) and nginx's proxy_cache, all in front of the
# same local nginx origin (Cache-Control: max-age=3600). wrk runs pinned to CPU 0, the cache on
# CPU 1 (one thread or worker each); the origin also sits on CPU 1 but is asked once per object.
# Prints one line per cache, object and round, then medians and per-round ratios of Shellac
# against nginx and Varnish.
#
#   bench/cache.sh [ROUNDS=5] [SECONDS=10] [CONNECTIONS=50]
#
# Loopback ports 18300-18303 and 18310 must be free.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
SECS=${2:-10}
CONNS=${3:-50}

. bench/lib.sh
bench_need nginx:nginx-light wrk:wrk varnishd:varnish
bench_builds
bench_ports 18300 18301 18302 18303 18310

bench_workdir shellac-cache-bench
mkdir -p "$W/www" "$W/ngx-cache"
# 3 random bytes make 4 base64 characters: exactly 1 KiB and 100 KiB of text.
head -c 768 /dev/urandom | base64 -w0 > "$W/www/1k"
head -c 76800 /dev/urandom | base64 -w0 > "$W/www/100k"
bench_origin origin 18310 "root $W/www; add_header Cache-Control \"max-age=3600\";"
cat > "$W/cache.conf" <<NGINX
worker_processes 1;
daemon off;
pid $W/cache.pid;
error_log $W/cache.err warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    proxy_cache_path $W/ngx-cache levels=1:2 keys_zone=objects:16m max_size=256m inactive=1h;
    upstream origin { server 127.0.0.1:18310; keepalive 16; }
    server {
        listen 127.0.0.1:18303;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache objects;
            proxy_cache_valid 200 1h;
        }
    }
}
NGINX
printf 'vcl 4.1;\nbackend origin { .host = "127.0.0.1"; .port = "18310"; }\n' > "$W/cache.vcl"
chmod -R a+rX "$W"

taskset -c 1 nginx -c "$W/origin.conf" -p "$W" & PIDS+=($!)
taskset -c 1 nginx -c "$W/cache.conf" -p "$W" & PIDS+=($!); NGINX=$!
TOKIO_WORKER_THREADS=1 RUST_LOG=warn taskset -c 1 "$SHELLAC" serve -T none -a 127.0.0.1:18300 -f "$W/cache.vcl" \
    -s malloc,256m >/dev/null & PIDS+=($!); MAIN=$!
TOKIO_WORKER_THREADS=1 RUST_LOG=warn taskset -c 1 "$SHELLAC_PLAIN" serve -T none -a 127.0.0.1:18301 \
    -f "$W/cache.vcl" -s malloc,256m >/dev/null & PIDS+=($!); PLAIN=$!
taskset -c 1 varnishd -F -j none -n "$W/varnish" -a 127.0.0.1:18302 -f "$W/cache.vcl" -s malloc,256m \
    -p thread_pools=1 -p thread_pool_min=50 -T none >/dev/null 2>&1 & PIDS+=($!); VARNISH=$!
sleep 3

ticks() { local t=0; for p in $1 $(pgrep -P "$1" || true); do
    t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat 2>/dev/null || echo 0))); done; echo $t; }
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) print v/1000; else if (v ~ /ms$/) print v+0; else if (v ~ /s$/) print v*1000; else print v }'; }

HZ=$(getconf CLK_TCK)
CACHES="shellac-plain nginx shellac varnish"
declare -A PORT=([shellac]=18300 [shellac-plain]=18301 [varnish]=18302 [nginx]=18303)
declare -A PID=([shellac]=$MAIN [shellac-plain]=$PLAIN [varnish]=$VARNISH [nginx]=$NGINX)
for n in $CACHES; do
    for obj in 1k 100k; do
        # The first request fills the cache; the second must be a hit of the same size.
        curl -s -o /dev/null "http://127.0.0.1:${PORT[$n]}/$obj"
        size=$(curl -s -o /dev/null -w '%{size_download}' "http://127.0.0.1:${PORT[$n]}/$obj")
        [ "$size" = "$(stat -c %s "$W/www/$obj")" ] || { echo "$n /$obj: got $size bytes"; exit 1; }
    done
done

RES="$W/results"
: > "$RES"
printf '%-14s %5s %5s %12s %10s %12s\n' cache obj round req/s p99_ms cpu_us/req
for r in $(seq 1 "$ROUNDS"); do
    for obj in 1k 100k; do
        for n in $CACHES; do
            url="http://127.0.0.1:${PORT[$n]}/$obj"
            taskset -c 0 wrk -t1 -c"$CONNS" -d2s "$url" >/dev/null
            t0=$(ticks "${PID[$n]}")
            out=$(taskset -c 0 wrk -t1 -c"$CONNS" -d"${SECS}s" --latency "$url")
            t1=$(ticks "${PID[$n]}")
            rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
            reqs=$(awk '/requests in/ {print $1}' <<<"$out")
            p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
            errs=$(awk '/Non-2xx|Socket errors/' <<<"$out")
            [ -z "$errs" ] || echo "  $n $obj round $r: $errs"
            cpu=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$reqs" 'BEGIN { printf "%.2f", d / hz * 1e6 / n }')
            printf '%-14s %5s %5s %12s %10s %12s\n' "$n" "$obj" "$r" "$rps" "$p99" "$cpu"
            echo "$n $obj $r $rps $p99 $cpu" >> "$RES"
        done
    done
done

median() { sort -g | awk '{a[NR]=$1} END { if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2 }'; }
echo
echo "medians over $ROUNDS rounds ($SECS s each, $CONNS connections):"
printf '%-14s %5s %12s %10s %12s\n' cache obj req/s p99_ms cpu_us/req
for obj in 1k 100k; do
    for n in $CACHES; do
        printf '%-14s %5s' "$n" "$obj"
        for col in 4 5 6; do
            printf ' %12s' "$(awk -v n="$n" -v o="$obj" -v c=$col '$1 == n && $2 == o {print $c}' "$RES" | median)"
        done
        echo
    done
done
echo
echo "per-round ratios of shellac (./dev release) and shellac-plain to nginx and varnish:"
printf '%5s %5s %9s %9s %9s %9s %11s %11s\n' obj round rps/ngx rps/varn p99/ngx cpu/ngx plain/ngx plaincpu/ngx
for obj in 1k 100k; do
    for r in $(seq 1 "$ROUNDS"); do
        awk -v o="$obj" -v r="$r" '$2 == o && $3 == r { rps[$1] = $4; p99[$1] = $5; cpu[$1] = $6 }
            END { printf "%5s %5s %9.2f %9.2f %9.2f %9.2f %11.2f %11.2f\n", o, r,
                  rps["shellac"] / rps["nginx"], rps["shellac"] / rps["varnish"], p99["shellac"] / p99["nginx"],
                  cpu["shellac"] / cpu["nginx"], rps["shellac-plain"] / rps["nginx"], cpu["shellac-plain"] / cpu["nginx"] }' "$RES"
    done
done
