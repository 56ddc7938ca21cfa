#!/usr/bin/env bash
# CPU per request of two Shellac binaries on the same work, in alternating rounds: cache hits
# (one 1 KiB URL, cached) and passes (the builtin vcl_recv's checks, then pass) of a local
# nginx's answer. wrk on CPU 0; Shellac (one thread) and the origin on CPU 1. For changes that
# must not cost (issue 22: counting costs < 2 % CPU per request): A is the build before, B after.
#
#   bench/ab.sh BINARY_A BINARY_B [ROUNDS=5] [SECONDS=8] [CONNECTIONS=50]
#
# Loopback ports 18660-18664 must be free.
set -euo pipefail
cd "$(dirname "$0")/.."
A=$1; B=$2
ROUNDS=${3:-5}
SECS=${4:-8}
CONNS=${5:-50}

. bench/lib.sh
bench_need nginx:nginx-light wrk:wrk
bench_ports 18660 18661 18662 18663 18664
bench_workdir shellac-ab-bench

bench_hit_pass_origin 18664

taskset -c 1 nginx -c "$W/origin.conf" -p "$W" & PIDS+=($!)
port=18660
for bin in A B; do
    for mode in hit pass; do
        binary=$([ $bin = A ] && echo "$A" || echo "$B")
        TOKIO_WORKER_THREADS=1 RUST_LOG=warn taskset -c 1 "$binary" serve -T none -a 127.0.0.1:$port \
            -f "$W/$mode.vcl" >/dev/null & PIDS+=($!)
        eval "PID_${bin}_$mode=$!; PORT_${bin}_$mode=$port"
        port=$((port + 1))
    done
done
sleep 2
HZ=$(getconf CLK_TCK)
RES="$W/results"
: > "$RES"
printf '%-4s %-5s %5s %10s %12s\n' bin mode round req/s cpu_us/req
for r in $(seq 1 "$ROUNDS"); do
    for mode in hit pass; do
        for bin in A B; do
            pid=$(eval echo "\$PID_${bin}_$mode"); p=$(eval echo "\$PORT_${bin}_$mode")
            t0=$(bench_ticks "$pid")
            out=$(taskset -c 0 wrk -t1 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$p/1k")
            t1=$(bench_ticks "$pid")
            rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
            reqs=$(awk '/requests in/ {print $1}' <<<"$out")
            cpu=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$reqs" 'BEGIN { printf "%.3f", d / hz * 1e6 / n }')
            printf '%-4s %-5s %5s %10s %12s\n' "$bin" "$mode" "$r" "$rps" "$cpu"
            echo "$bin $mode $r $rps $cpu" >> "$RES"
        done
    done
done
echo
for mode in hit pass; do
    for bin in A B; do
        printf '%-4s %-5s median req/s %s, cpu_us/req %s\n' $bin $mode \
            "$(awk -v b=$bin -v m=$mode '$1 == b && $2 == m {print $4}' "$RES" | median)" \
            "$(awk -v b=$bin -v m=$mode '$1 == b && $2 == m {print $5}' "$RES" | median)"
    done
    echo "  $mode, B / A CPU per request by round:"
    awk -v m=$mode '$2 == m { cpu[$1, $3] = $5 } END { for (r = 1; cpu["A", r] != ""; r++) printf "    round %d: %.3f\n", r, cpu["B", r] / cpu["A", r] }' "$RES"
done
