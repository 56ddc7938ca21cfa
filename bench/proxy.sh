#!/usr/bin/env bash
# Round-robin pass-through over three local nginx origins, through Shellac, HAProxy 2.6 and
# Varnish 7.1 (Debian packages), plus Shellac with a probe per backend every second.
# "shellac" is the release binary (`./dev release`, profile-guided); "shellac-plain" is
# cargo's release profile without a profile, for comparison.
# wrk runs pinned to CPU 0; the proxy and the origins share CPU 1, one thread each.
# Prints one line per proxy and round, then medians and ratios against HAProxy and Varnish.
#
#   bench/proxy.sh [ROUNDS=5] [SECONDS=10] [CONNECTIONS=50]
#
# Loopback ports 18080-18084 and 18101-18103 must be free.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
SECS=${2:-10}
CONNS=${3:-50}

. bench/lib.sh
bench_need nginx:nginx-light haproxy:haproxy wrk:wrk varnishd:varnish
bench_builds
bench_ports 18080 18081 18082 18083 18084 18101 18102 18103

bench_workdir shellac-bench
bench_origins
bench_rr_vcl > "$W/pass.vcl"
bench_rr_vcl '.probe = { .url = "/probe"; .interval = 1s; .initial = 3; }' > "$W/probed.vcl"
chmod 644 "$W"/*.vcl
bench_haproxy 18081

taskset -c 1 nginx -c "$W/nginx.conf" -p "$W" & PIDS+=($!)
TOKIO_WORKER_THREADS=1 RUST_LOG=warn taskset -c 1 "$SHELLAC" serve -T none -a 127.0.0.1:18080 -f "$W/pass.vcl" >/dev/null & PIDS+=($!); MAIN=$!
TOKIO_WORKER_THREADS=1 RUST_LOG=warn taskset -c 1 "$SHELLAC" serve -T none -a 127.0.0.1:18083 -f "$W/probed.vcl" >/dev/null & PIDS+=($!); PROBED=$!
TOKIO_WORKER_THREADS=1 RUST_LOG=warn taskset -c 1 "$SHELLAC_PLAIN" serve -T none -a 127.0.0.1:18084 -f "$W/pass.vcl" >/dev/null & PIDS+=($!); PLAIN=$!
taskset -c 1 haproxy -f "$W/haproxy.cfg" -db & PIDS+=($!); HAPROXY=$!
taskset -c 1 varnishd -F -j none -n "$W/varnish" -a 127.0.0.1:18082 -f "$W/pass.vcl" -s malloc,64m \
    -p thread_pools=1 -p thread_pool_min=50 -T none >/dev/null 2>&1 & PIDS+=($!); VARNISH=$!
sleep 3

# CPU ticks of a process and its children.
ticks() { local t=0; for p in $1 $(pgrep -P "$1" || true); do
    t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat 2>/dev/null || echo 0))); done; echo $t; }
anon_kib() { local t=0; for p in $1 $(pgrep -P "$1" || true); do
    t=$((t + $(awk '/RssAnon/ {print $2}' /proc/$p/status 2>/dev/null || echo 0))); done; echo $t; }
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) print v/1000; else if (v ~ /ms$/) print v+0; else if (v ~ /s$/) print v*1000; else print v }'; }

HZ=$(getconf CLK_TCK)
# HAProxy runs between the two Shellac builds, and Shellac with probes right after Shellac:
# each comparison is between neighbouring windows, which the machine's drift affects least.
PROXIES="shellac-plain haproxy shellac shellac+probes varnish"
declare -A PORT=([shellac]=18080 [haproxy]=18081 [varnish]=18082 [shellac+probes]=18083 [shellac-plain]=18084)
declare -A PID=([shellac]=$MAIN [haproxy]=$HAPROXY [varnish]=$VARNISH [shellac+probes]=$PROBED [shellac-plain]=$PLAIN)
for n in $PROXIES; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${PORT[$n]}/")
    [ "$code" = 200 ] || { echo "$n does not answer 200 (got $code)"; exit 1; }
done

RES="$W/results"
: > "$RES"
printf '%-15s %5s %12s %10s %12s %10s\n' proxy round req/s p99_ms cpu_us/req anon_MiB
for r in $(seq 1 "$ROUNDS"); do
    for n in $PROXIES; do
        taskset -c 0 wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:${PORT[$n]}/" >/dev/null
        t0=$(ticks "${PID[$n]}")
        (sleep $((SECS / 2)); anon_kib "${PID[$n]}" > "$W/anon") & SAMPLER=$!
        out=$(taskset -c 0 wrk -t1 -c"$CONNS" -d"${SECS}s" --latency "http://127.0.0.1:${PORT[$n]}/")
        wait $SAMPLER
        t1=$(ticks "${PID[$n]}")
        rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
        reqs=$(awk '/requests in/ {print $1}' <<<"$out")
        p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
        errs=$(awk '/Non-2xx|Socket errors/' <<<"$out")
        [ -z "$errs" ] || echo "  $n round $r: $errs"
        cpu=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$reqs" 'BEGIN { printf "%.2f", d / hz * 1e6 / n }')
        anon=$(awk -v k="$(cat "$W/anon")" 'BEGIN { printf "%.1f", k / 1024 }')
        printf '%-15s %5s %12s %10s %12s %10s\n' "$n" "$r" "$rps" "$p99" "$cpu" "$anon"
        echo "$n $r $rps $p99 $cpu $anon" >> "$RES"
    done
done

median() { sort -g | awk '{a[NR]=$1} END { if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2 }'; }
echo
echo "medians over $ROUNDS rounds ($SECS s each, $CONNS connections):"
printf '%-15s %12s %10s %12s %10s\n' proxy req/s p99_ms cpu_us/req anon_MiB
for n in $PROXIES; do
    printf '%-15s' "$n"
    for col in 3 4 5 6; do printf ' %12s' "$(awk -v n="$n" -v c=$col '$1 == n {print $c}' "$RES" | median)"; done
    echo
done
echo
echo "per-round ratios (shellac / peer; the plain build's in the last three columns):"
printf '%5s %10s %10s %10s %10s %10s %10s %10s %10s\n' round rps/hap rps/varn p99/hap cpu/hap probes_% plain_rps plain_p99 plain_cpu
for r in $(seq 1 "$ROUNDS"); do
    awk -v r="$r" '$2 == r { rps[$1] = $3; p99[$1] = $4; cpu[$1] = $5 }
        END { printf "%5s %10.2f %10.2f %10.2f %10.2f %10.1f %10.2f %10.2f %10.2f\n", r,
              rps["shellac"] / rps["haproxy"], rps["shellac"] / rps["varnish"], p99["shellac"] / p99["haproxy"],
              cpu["shellac"] / cpu["haproxy"], (1 - rps["shellac+probes"] / rps["shellac"]) * 100,
              rps["shellac-plain"] / rps["haproxy"], p99["shellac-plain"] / p99["haproxy"], cpu["shellac-plain"] / cpu["haproxy"] }' "$RES"
done
