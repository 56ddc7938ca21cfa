#!/usr/bin/env bash
# Reload benchmark: `vcl.load` + `vcl.use` of the generated 500-backend VCL (the front end's
# benchmark file) through the management port, Shellac (driven by `shellac adm`) against varnishd
# (driven by `varnishadm`) in the same run. Each timing is the whole client process, medians.
#
#   bench/vcl-reload.sh [RUNS=11]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-11}
W=$(mktemp -d /tmp/shellac-reload.XXXXXX)
chmod 755 "$W"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.3; rm -rf "$W"; }
trap cleanup EXIT

cargo build --quiet --release -p shellac
cargo bench --quiet -p shellac-vcl --bench compile -- --write "$W/big.vcl" >/dev/null
printf 'bench-secret\n' > "$W/secret"
chmod 644 "$W/big.vcl" "$W/secret"

RUST_LOG=error target/release/shellac serve -a 127.0.0.1:0 -T 127.0.0.1:18199 -S "$W/secret" -n "$W/shellac" --no-resolve \
    -f "$W/big.vcl" > "$W/shellac.out" 2>&1 & PIDS+=($!)
varnishd -j none -n "$W/varnish" -a 127.0.0.1:18198 -T 127.0.0.1:18197 -S "$W/secret" -f "$W/big.vcl" \
    -s malloc,16m > /dev/null 2>&1
PIDS+=("$(cat "$W/varnish/_.pid" 2>/dev/null || pgrep -n varnishd)")
sleep 2

ms() { local s e; s=$(date +%s%N); "$@" > /dev/null || { echo "failed: $*" >&2; exit 1; }; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
sadm() { target/release/shellac adm -T 127.0.0.1:18199 -S "$W/secret" "$@"; }
vadm() { varnishadm -T 127.0.0.1:18197 -S "$W/secret" "$@"; }

: > "$W/s"; : > "$W/v"
for i in $(seq 1 "$RUNS"); do
    echo $(( $(ms sadm vcl.load "r$i" "$W/big.vcl") + $(ms sadm vcl.use "r$i") )) >> "$W/s"
    echo $(( $(ms vadm vcl.load "r$i" "$W/big.vcl") + $(ms vadm vcl.use "r$i") )) >> "$W/v"
    prev=$([ "$i" = 1 ] && echo boot || echo "r$((i - 1))")
    sadm vcl.discard "$prev" > /dev/null; vadm vcl.discard "$prev" > /dev/null
done
s=$(median < "$W/s"); v=$(median < "$W/v")
echo "vcl.load + vcl.use, 500 backends, $RUNS runs (medians, whole client processes):"
echo "  shellac  ${s} ms   (runs: $(tr '\n' ' ' < "$W/s"))"
echo "  varnishd ${v} ms   (runs: $(tr '\n' ' ' < "$W/v"))"
awk -v a="$v" -v b="$s" 'BEGIN { printf "  ratio varnishd/shellac: %.1fx\n", a / (b > 0 ? b : 1) }'
