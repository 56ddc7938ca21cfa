#!/usr/bin/env bash
# What a cache miss costs against a pass: the same 1 KiB answer from a local nginx, through two
# Shellac processes (the plain release build `./dev run` uses; with BUILD=pgo, the profile-guided
# binary `./dev release` makes for production), one passing every request after
# the builtin vcl_recv's checks, one looking each up (a new URL every time: every request misses,
# fetches, stores the object and streams it; `-s malloc,64m` evicts as it goes). Both are sent the
# same kind of URLs (`/m/ID/N`, a new one every request), so that what differs is what each does
# with a request, not the request. wrk on CPU 0, Shellac and the origin on CPU 1.
# A third Shellac misses the same way into `-s malloc,1m` (`small`): its store stays in the CPU's
# caches, so the gap between `miss` and `small` is what storing into (and evicting from) memory
# the caches do not hold costs, and the gap between `small` and `pass` the miss path's own work.
# Prints per round req/s and CPU per request of each (and the part of it in user space: the
# kernel's part, two reads and two writes a request, is the same work for all three, so the
# gap between them is nearly all there), then the medians and the ratios.
# With INSTRUCTIONS=1, then also the user-space instructions per request of a pass and of a miss
# under valgrind's callgrind (a figure the machine's noise does not move; valgrind hides the CPU's
# SHA instructions, so the key's hash runs in software there: some 3,500 instructions a miss
# spends on real hardware in about 60 ns).
#
#   [BUILD=pgo] [INSTRUCTIONS=1] bench/miss.sh [ROUNDS=5] [SECONDS=10] [CONNECTIONS=50]
#
# Loopback ports 18600-18603 must be free.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
SECS=${2:-10}
CONNS=${3:-50}

. bench/lib.sh
bench_need nginx:nginx-light wrk:wrk
[ "${INSTRUCTIONS:-0}" = 1 ] && bench_need valgrind:valgrind
if [ "${BUILD:-plain}" = pgo ]; then
    bench_builds
    BIN=$SHELLAC
else
    cargo build --release -q -p shellac
    BIN=target/release/shellac
fi
echo "build: $BIN"
bench_ports 18600 18601 18602 18603
bench_workdir shellac-miss-bench

mkdir -p "$W/www"
head -c 768 /dev/urandom | base64 -w0 > "$W/www/1k"
bench_origin origin 18602 "root $W/www; location / { add_header Cache-Control \"max-age=3600\"; try_files /1k =404; }"
# Both run the builtin vcl_recv's checks; the pass then skips the lookup.
printf 'vcl 4.1;\nbackend origin { .host = "127.0.0.1"; .port = "18602"; }\nsub vcl_recv { call vcl_builtin_recv; return (pass); }\n' > "$W/pass.vcl"
printf 'vcl 4.1;\nbackend origin { .host = "127.0.0.1"; .port = "18602"; }\n' > "$W/miss.vcl"
cat > "$W/unique.lua" <<'LUA'
local n = 0
-- Seeded: every round's wrk asks for URLs no round asked for before (all misses).
math.randomseed(os.time() * 1000 + math.floor(os.clock() * 1e6))
local id = tostring(math.random(1, 1e9))
function request()
    n = n + 1
    return wrk.format("GET", "/m/" .. id .. "/" .. n)
end
LUA
chmod -R a+rX "$W"

taskset -c 1 nginx -c "$W/origin.conf" -p "$W" & PIDS+=($!)
port_of() { case $1 in pass) echo 18600 ;; miss) echo 18601 ;; small) echo 18603 ;; esac; }
for mode in pass miss small; do
    vcl=$([ $mode = pass ] && echo pass || echo miss)
    size=$([ $mode = small ] && echo 1m || echo 64m)
    TOKIO_WORKER_THREADS=1 RUST_LOG=warn taskset -c 1 "$BIN" serve -T none -a 127.0.0.1:"$(port_of $mode)" \
        -f "$W/$vcl.vcl" -s malloc,$size >/dev/null & PIDS+=($!)
    eval "PID_$mode=$!"
done
sleep 2
HZ=$(getconf CLK_TCK)
RES="$W/results"
: > "$RES"
printf '%-5s %5s %10s %12s %13s\n' mode round req/s cpu_us/req user_us/req
for r in $(seq 1 "$ROUNDS"); do
    for mode in pass miss small; do
        port=$(port_of $mode)
        pid=$(eval echo "\$PID_$mode")
        t0=$(bench_ticks "$pid"); u0=$(bench_user_ticks "$pid")
        out=$(taskset -c 0 wrk -t1 -c"$CONNS" -d"${SECS}s" -s "$W/unique.lua" "http://127.0.0.1:$port/1k")
        t1=$(bench_ticks "$pid"); u1=$(bench_user_ticks "$pid")
        rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
        reqs=$(awk '/requests in/ {print $1}' <<<"$out")
        errs=$(awk '/Non-2xx|Socket errors/' <<<"$out")
        [ -z "$errs" ] || echo "  $mode round $r: $errs"
        cpu=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$reqs" 'BEGIN { printf "%.2f", d / hz * 1e6 / n }')
        user=$(awk -v d=$((u1 - u0)) -v hz="$HZ" -v n="$reqs" 'BEGIN { printf "%.2f", d / hz * 1e6 / n }')
        printf '%-5s %5s %10s %12s %13s\n' "$mode" "$r" "$rps" "$cpu" "$user"
        echo "$mode $r $rps $cpu $user" >> "$RES"
    done
done
echo
for mode in pass miss small; do
    printf '%-5s median req/s %s, cpu_us/req %s, user_us/req %s\n' $mode \
        "$(awk -v m=$mode '$1 == m {print $3}' "$RES" | median)" "$(awk -v m=$mode '$1 == m {print $4}' "$RES" | median)" \
        "$(awk -v m=$mode '$1 == m {print $5}' "$RES" | median)"
done
echo "per round, CPU per request of miss / pass (the figure) and of small / pass:"
awk '{ cpu[$1, $2] = $4 } END { for (r = 1; cpu["pass", r] != ""; r++) printf "  round %d: %.3f   %.3f\n", r, cpu["miss", r] / cpu["pass", r], cpu["small", r] / cpu["pass", r] }' "$RES"

[ "${INSTRUCTIONS:-0}" = 1 ] || exit 0
# Instructions: one more Shellac at a time under callgrind (port 18603, the `small` one stopped
# first; `-s malloc,4m`, which the warm-up fills, so that the misses evict), warmed up, counters
# zeroed, SECONDS of load, dumped.
kill "$PID_small"; wait "$PID_small" 2>/dev/null || true
echo
printf '%-5s %10s\n' mode instr/req
for mode in pass miss; do
    vcl=$mode
    TOKIO_WORKER_THREADS=1 RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$W/cg.$mode.%p" \
        "$BIN" serve -T none -a 127.0.0.1:18603 -f "$W/$vcl.vcl" -s malloc,4m >/dev/null 2>"$W/vg.$mode" &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:18603/1k && break; sleep 0.2; done
    taskset -c 0 wrk -t1 -c10 -d3s -s "$W/unique.lua" http://127.0.0.1:18603/1k >/dev/null
    callgrind_control -z "$pid" >/dev/null 2>&1
    out=$(taskset -c 0 wrk -t1 -c10 -d"${SECS}s" -s "$W/unique.lua" http://127.0.0.1:18603/1k)
    callgrind_control -d "$pid" >/dev/null 2>&1
    sleep 0.5
    kill "$pid"; wait "$pid" 2>/dev/null || true
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    ir=$(awk '/^summary:/ {print $2}' "$(ls -S "$W"/cg."$mode".* | head -1)")
    rm -f "$W"/cg."$mode".*
    printf '%-5s %10s\n' "$mode" "$((ir / reqs))"
    eval "IR_$mode=$((ir / reqs))"
done
awk -v p="$IR_pass" -v m="$IR_miss" 'BEGIN { printf "instructions of a miss / a pass: %.3f (%d more)\n", m / p, m - p }'
