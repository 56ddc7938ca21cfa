#!/usr/bin/env bash
# User-space instructions per request, Shellac against HAProxy 2.6, under valgrind's callgrind:
# the same round-robin pass-through over three local nginx origins as bench/proxy.sh. Instruction
# counts do not move with the machine's noise, so this tells a change to the request path's own
# code from the run-to-run spread of proxy.sh (whose CPU figure is three-quarters kernel time).
# Each proxy runs under callgrind, is warmed up, has its counters zeroed, takes SECONDS of wrk
# load, and is dumped; the figure is instructions / requests served. Kernel time is not counted.
# "shellac" is the release binary (`./dev release`, profile-guided), "shellac-plain" cargo's
# release profile without a profile.
#
#   bench/instructions.sh [ROUNDS=3] [SECONDS=5]
#
# Loopback ports 18090-18092 and 18101-18103 must be free.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SECS=${2:-5}

. bench/lib.sh
bench_need nginx:nginx-light haproxy:haproxy wrk:wrk valgrind:valgrind
bench_builds
bench_ports 18090 18091 18092 18101 18102 18103

bench_workdir shellac-instr
bench_origins
bench_rr_vcl > "$W/pass.vcl"
chmod 644 "$W/pass.vcl"
bench_haproxy 18091

taskset -c 1 nginx -c "$W/nginx.conf" -p "$W" & PIDS+=($!)
sleep 0.5

# One measurement: $1 = name, $2 = port, rest = the command. Prints "name instructions/request".
measure() {
    local name=$1 port=$2; shift 2
    valgrind --tool=callgrind --callgrind-out-file="$W/cg.$name.%p" "$@" >/dev/null 2>"$W/vg.$name" &
    local pid=$!
    local up=""
    for _ in $(seq 1 100); do
        if curl -s -o /dev/null "http://127.0.0.1:$port/"; then up=1; break; fi
        sleep 0.2
    done
    [ -n "$up" ] || { echo "$name did not answer on $port under valgrind" >&2; cat "$W/vg.$name" >&2; exit 1; }
    taskset -c 0 wrk -t1 -c50 -d2s "http://127.0.0.1:$port/" >/dev/null
    callgrind_control -z "$pid" >/dev/null 2>&1
    local out
    out=$(taskset -c 0 wrk -t1 -c50 -d"${SECS}s" "http://127.0.0.1:$port/")
    callgrind_control -d "$pid" >/dev/null 2>&1
    sleep 0.5
    kill "$pid"; wait "$pid" 2>/dev/null || true
    local reqs ir
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    # The dump taken after the load (the largest part file) holds the load's counts.
    ir=$(awk '/^summary:/ {print $2}' "$(ls -S "$W"/cg."$name".* | head -1)")
    rm -f "$W"/cg."$name".*
    echo "$name $((ir / reqs))"
}

RES="$W/results"
: > "$RES"
printf '%-13s %5s %14s\n' proxy round instr/req
for r in $(seq 1 "$ROUNDS"); do
    set -- $(TOKIO_WORKER_THREADS=1 RUST_LOG=warn measure shellac 18090 \
        "$SHELLAC" serve -T none -a 127.0.0.1:18090 -f "$W/pass.vcl")
    printf '%-13s %5s %14s\n' "$1" "$r" "$2"; echo "$r $1 $2" >> "$RES"
    set -- $(TOKIO_WORKER_THREADS=1 RUST_LOG=warn measure shellac-plain 18092 \
        "$SHELLAC_PLAIN" serve -T none -a 127.0.0.1:18092 -f "$W/pass.vcl")
    printf '%-13s %5s %14s\n' "$1" "$r" "$2"; echo "$r $1 $2" >> "$RES"
    set -- $(measure haproxy 18091 haproxy -f "$W/haproxy.cfg" -db)
    printf '%-13s %5s %14s\n' "$1" "$r" "$2"; echo "$r $1 $2" >> "$RES"
done

echo
echo "medians over $ROUNDS rounds ($SECS s of load each, 50 connections):"
python3 - "$RES" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
by = {}
for r, name, v in rows:
    by.setdefault(name, {})[r] = int(v)
for name in ("shellac", "shellac-plain", "haproxy"):
    print(f"{name:13s} {statistics.median(by[name].values()):12.0f} instructions/request")
for name in ("shellac", "shellac-plain"):
    ratios = [by[name][r] / by["haproxy"][r] for r in by[name]]
    print(f"{name} / haproxy per round:", " ".join(f"{x:.3f}" for x in ratios), f"median {statistics.median(ratios):.3f}")
PY
