#!/usr/bin/env bash
# Skydive source benchmark (not part of CI): flow updates per second from
# recorded analyzer messages to gzip files, on one core, against the floors of
# only decoding the same messages (vpcflow's decoder, and serde_json's derived
# decoder into the same flow type); and peak RSS with one million live flow
# UUIDs.
#
#   bench/skydive.sh
#
# Environment: BENCH_DIR [/tmp/vpcflow-bench-skydive], CORE [0],
# FLOWS [200000] and TICKS [10] for the throughput recording,
# LIVE_FLOWS [1000000] for the memory run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BENCH_DIR="${BENCH_DIR:-/tmp/vpcflow-bench-skydive}"
CORE="${CORE:-0}"
FLOWS="${FLOWS:-200000}"
TICKS="${TICKS:-10}"
LIVE_FLOWS="${LIVE_FLOWS:-1000000}"
TARGET="${CARGO_TARGET_DIR:-target}"
mkdir -p "$BENCH_DIR"

# --bin too: with --example alone cargo builds no binary.
cargo build --release -p vpcflow --bin vpcflow -p vpcflow-sources --example skydive_bench >&2
BENCH="$TARGET/release/examples/skydive_bench"
VPCFLOW="$TARGET/release/vpcflow"

rec="$BENCH_DIR/flows-$FLOWS-$TICKS.jsonl"
live="$BENCH_DIR/live-$LIVE_FLOWS.jsonl"
[ -f "$rec" ] || "$BENCH" gen "$rec" "$FLOWS" "$TICKS"
[ -f "$live" ] || "$BENCH" gen "$live" "$LIVE_FLOWS" 2
echo "recording: $(du -h "$rec" | cut -f1), $((FLOWS * TICKS)) flow updates"

one_core() { taskset -c "$CORE" "$@"; }

echo "== peer floor: serde_json's derived decoder only (one core)"
one_core "$BENCH" serde "$rec"
echo "== floor: vpcflow's decoder only (one core)"
one_core "$BENCH" decode "$rec"
echo "== decode + convert to flow updates (one core)"
one_core "$BENCH" convert "$rec"
echo "== vpcflow convert --skydive to gzip files (one core for everything)"
rm -rf "$BENCH_DIR/out"
one_core /usr/bin/time -f "wall %e s, user %U s, peak RSS %M KB" \
    "$VPCFLOW" convert --skydive "$rec" --out "$BENCH_DIR/out" --quiet
echo "== 1M live UUIDs: convert (one core)"
one_core "$BENCH" convert "$live"
echo "== 1M live UUIDs: vpcflow convert --skydive to gzip files"
rm -rf "$BENCH_DIR/out"
/usr/bin/time -f "wall %e s, user %U s, peak RSS %M KB" \
    "$VPCFLOW" convert --skydive "$live" --out "$BENCH_DIR/out" --quiet
