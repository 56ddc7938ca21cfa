#!/usr/bin/env bash
# What reading the transaction log costs (issue 22, point 8): three Shellac processes of the same
# build (the plain release build `./dev run` uses), one whose log nobody reads, one read by
# `shellac log -g raw` and `shellac ncsa` (both to /dev/null), and one `marked`: its readers'
# mark on the shared file is kept fresh but nothing reads it, so that it records and writes the
# file as when read, and what it costs is the server's part alone. They serve the same work in
# alternating rounds: cache hits (one 1 KiB URL) and passes (the builtin vcl_recv's checks,
# then pass) of a local nginx's answer. wrk on CPU 0 with the readers; each Shellac (one
# thread) and the origin on CPU 1. Then the cache hits with varnishd 7.1 (-s malloc,256m),
# bare and with varnishlog and varnishncsa attached, for comparison. (On two CPUs the readers
# share the load generator's: what they cost shows in req/s as much as in the server's CPU.)
# Prints per round req/s and the server's CPU per request, then the medians and the ratios.
#
#   bench/log.sh [ROUNDS=5] [SECONDS=8] [CONNECTIONS=50]
#
# Loopback ports 18668, 18678-18685 and 18690-18695 must be free.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
SECS=${2:-8}
CONNS=${3:-50}

. bench/lib.sh
bench_need nginx:nginx-light wrk:wrk varnishd:varnish
cargo build --release -q -p shellac
BIN=target/release/shellac
bench_ports 18668 18678 18679 18680 18681 18682 18683 18684 18685 18690 18691 18692 18693 18694 18695
bench_workdir shellac-log-bench

bench_hit_pass_origin 18679
taskset -c 1 nginx -c "$W/origin.conf" -p "$W" & PIDS+=($!)

# Shellac: bare, read and marked, for hits and passes (ports 18680-18685, management
# 18690-18695).
port=18680
for side in bare read marked; do
    for mode in hit pass; do
        admin=$((port + 10))
        mkdir -p "$W/n-$side-$mode"
        TOKIO_WORKER_THREADS=1 RUST_LOG=warn taskset -c 1 "$BIN" serve -a 127.0.0.1:$port -T 127.0.0.1:$admin \
            -S none -n "$W/n-$side-$mode" -f "$W/$mode.vcl" >/dev/null & PIDS+=($!)
        eval "PID_${side}_$mode=$!; PORT_${side}_$mode=$port; ADMIN_${side}_$mode=$admin"
        port=$((port + 1))
    done
done
sleep 2
# The readers read the shared file (-n), as they do on the server's machine.
for mode in hit pass; do
    taskset -c 0 "$BIN" log -n "$W/n-read-$mode" -g raw >/dev/null 2>&1 & PIDS+=($!)
    taskset -c 0 "$BIN" ncsa -n "$W/n-read-$mode" >/dev/null 2>&1 & PIDS+=($!)
done
# The marked ones: a fresh mark, as readers leave it every second, and no reader. (`-c`: as
# readers do, never making the file, which a loop outliving its server would leave behind.)
for mode in hit pass; do
    shm=$(cat "$W/n-marked-$mode/_.vsl")
    (while true; do touch -c "$shm.readers"; sleep 0.5; done) & PIDS+=($!)
done
sleep 1

HZ=$(getconf CLK_TCK)
RES="$W/results"
: > "$RES"
run() { # run NAME MODE PID PORT ROUND
    local t0 t1 out rps reqs cpu
    t0=$(bench_ticks "$3")
    out=$(taskset -c 0 wrk -t1 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$4/1k")
    t1=$(bench_ticks "$3")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    cpu=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$reqs" 'BEGIN { printf "%.3f", d / hz * 1e6 / n }')
    printf '%-14s %-5s %5s %10s %12s\n' "$1" "$2" "$5" "$rps" "$cpu"
    echo "$1 $2 $5 $rps $cpu" >> "$RES"
}
printf '%-14s %-5s %5s %10s %12s\n' server mode round req/s cpu_us/req
for mode in hit pass; do
    for r in $(seq 1 "$ROUNDS"); do
        for side in bare marked read; do
            run "shellac-$side" $mode "$(eval echo "\$PID_${side}_$mode")" "$(eval echo "\$PORT_${side}_$mode")" "$r"
        done
    done
done

# varnishd, bare then read (it records always; the readers cost only their reading).
for mode in hit; do
    rm -rf "$W/v-$mode"
    taskset -c 1 varnishd -n "$W/v-$mode" -a 127.0.0.1:18678 -T 127.0.0.1:18668 -f "$W/$mode.vcl" -s malloc,256m \
        -p thread_pools=1 -p thread_pool_min=10 >/dev/null
    sleep 2
    vpid=$(cat "$W/v-$mode/_.pid" 2>/dev/null || pgrep -n -f "varnishd -n $W/v-$mode")
    # The worker process, whose CPU counts.
    cpid=$(pgrep -P "$vpid" | head -1)
    for r in $(seq 1 "$ROUNDS"); do
        run varnish-bare $mode "$cpid" 18678 "$r"
        taskset -c 0 varnishlog -n "$W/v-$mode" -g raw >/dev/null 2>&1 & L=$!
        taskset -c 0 varnishncsa -n "$W/v-$mode" >/dev/null 2>&1 & N=$!
        sleep 0.5
        run varnish-read $mode "$cpid" 18678 "$r"
        kill $L $N 2>/dev/null || true
    done
    pkill -f "varnishd -n $W/v-$mode" || true
    sleep 1
done

echo
for server in shellac varnish; do
    for mode in hit pass; do
        [ $server = varnish ] && [ $mode = pass ] && continue
        for side in bare marked read; do
            [ $server = varnish ] && [ $side = marked ] && continue
            printf '%-14s %-5s median req/s %s, cpu_us/req %s\n' "$server-$side" $mode \
                "$(awk -v s="$server-$side" -v m=$mode '$1 == s && $2 == m {print $4}' "$RES" | median)" \
                "$(awk -v s="$server-$side" -v m=$mode '$1 == s && $2 == m {print $5}' "$RES" | median)"
        done
        echo "  $server $mode, by round: read / bare req/s, CPU per request$([ $server = shellac ] && echo '; marked / bare the same')"
        awk -v s=$server -v m=$mode '$2 == m && index($1, s "-") == 1 { side = substr($1, length(s) + 2); rps[side, $3] = $4; cpu[side, $3] = $5 }
            END { for (r = 1; rps["bare", r] != ""; r++) {
                printf "    round %d: %.3f %.3f", r, rps["read", r] / rps["bare", r], cpu["read", r] / cpu["bare", r]
                if (rps["marked", r] != "") printf "   %.3f %.3f", rps["marked", r] / rps["bare", r], cpu["marked", r] / cpu["bare", r]
                printf "\n" } }' "$RES"
    done
done
