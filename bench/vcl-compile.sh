#!/usr/bin/env bash
# Compile-time benchmark: in-process median (cargo bench), then whole-process `shellac check`
# against `varnishd -C` on the same generated 500-backend VCL, medians and ratio.
# Needs: the Rust toolchain; varnishd (apt-get install varnish) for the comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-11}
file=$(mktemp --suffix=.vcl)
chmod 644 "$file"  # varnishd reads it as its own user
trap 'rm -f "$file"; rm -rf "${work:-}"' EXIT

cargo bench --quiet -p shellac-vcl --bench compile
cargo bench --quiet -p shellac-vcl --bench compile -- --write "$file"
cargo build --quiet --release -p shellac

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }

shellac_ms=$(for _ in $(seq "$runs"); do time_ms ./target/release/shellac check --no-resolve -f "$file"; done | median)
echo "shellac check (whole process): median ${shellac_ms} ms over ${runs} runs"
if command -v varnishd >/dev/null 2>&1; then
    work=$(mktemp -d)
    chmod 755 "$work"  # varnishd drops to its own user and must write here
    vruns=${VARNISH_RUNS:-3}
    varnish_ms=$(for _ in $(seq "$vruns"); do time_ms varnishd -C -n "$work" -f "$file"; done | median)
    echo "varnishd -C (same file):       median ${varnish_ms} ms over ${vruns} runs"
    awk -v a="$varnish_ms" -v b="$shellac_ms" 'BEGIN { printf "ratio varnishd/shellac: %.1fx\n", a / (b > 0 ? b : 1) }'
else
    echo "varnishd not installed: apt-get install varnish for the comparison"
fi
