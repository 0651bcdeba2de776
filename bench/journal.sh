#!/usr/bin/env bash
# Cost of the durability journal of `vpcflow run` (not part of CI): the
# ingest thread's work on the bench capture (bench/run.sh's main capture)
# and on the Skydive bench recording (bench/skydive.sh's), fed as fast as it
# goes, without the journal and with it synced every SYNC_MS (the journal
# writing on a thread of its own, as in `vpcflow run`); best of RUNS each.
# The cost is given per CPU second (user + system time of the ingest and
# journal threads, what a shared machine does not distort much) and in
# wall-clock throughput.
# See examples/journal_cost.rs in vpcflow-sources.
#
#   bench/journal.sh
#
# Environment: BENCH_DIR [/tmp/vpcflow-bench] (the capture; made with
# bench/run.sh's parameters when missing), SKYDIVE_DIR
# [/tmp/vpcflow-bench-skydive], FLOWS [200000] and TICKS [10] (the Skydive
# recording), SYNC_MS [1000], RUNS [3], REPEAT [8] (the capture is fed
# this many times, moved in time, so a run lasts many syncs), MODES
# [capture skydive], CORE [none: pin the runs to these
# CPUs with taskset, e.g. 0,1], JOURNAL_DIR [a temporary
# folder on the same disk as BENCH_DIR].
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BENCH_DIR="${BENCH_DIR:-/tmp/vpcflow-bench}"
SKYDIVE_DIR="${SKYDIVE_DIR:-/tmp/vpcflow-bench-skydive}"
FLOWS="${FLOWS:-200000}"
TICKS="${TICKS:-10}"
SYNC_MS="${SYNC_MS:-1000}"
RUNS="${RUNS:-3}"
REPEAT="${REPEAT:-8}"
MODES="${MODES:-capture skydive}"
CORE="${CORE:-}"
TARGET="${CARGO_TARGET_DIR:-target}"

cargo build --release -q -p pcapgen --bin pcapgen >&2
cargo build --release -q -p vpcflow-sources --example journal_cost --example skydive_bench >&2
COST="$TARGET/release/examples/journal_cost"
SKY="$TARGET/release/examples/skydive_bench"

# bench/run.sh's main capture (its cached copy when there is one).
capture=$(ls "$BENCH_DIR"/main-*.pcap 2>/dev/null | head -n1 || true)
if [[ -z $capture ]]; then
    mkdir -p "$BENCH_DIR"
    capture="$BENCH_DIR/journal-main.pcap"
    [[ -s $capture ]] || "$TARGET/release/pcapgen" --out "$capture" --flows 900000 \
        --packets 6500000 --bytes 1500000000 --start 1767225000 --duration 2400 --seed 1 >&2
fi
mkdir -p "$SKYDIVE_DIR"
rec="$SKYDIVE_DIR/flows-$FLOWS-$TICKS.jsonl"
[[ -f $rec ]] || "$SKY" gen "$rec" "$FLOWS" "$TICKS"
JOURNAL_DIR="${JOURNAL_DIR:-$(mktemp -d "$BENCH_DIR/journal.XXXXXX")}"
trap 'rm -rf "$JOURNAL_DIR"' EXIT

# best MODE INPUT SYNC: the best of RUNS runs by updates per CPU second
# (its full output) and the best wall-clock rate of them.
best() {
    local out best_out="" best_cpu=0 best_wall=0 cpu wall
    for _ in $(seq "$RUNS"); do
        rm -rf "${JOURNAL_DIR:?}"/*
        if [[ -n $CORE ]]; then out=$(REPEAT=$REPEAT taskset -c "$CORE" "$COST" "$1" "$2" "$JOURNAL_DIR" "$3"); else out=$(REPEAT=$REPEAT "$COST" "$1" "$2" "$JOURNAL_DIR" "$3"); fi
        wall=$(sed -n 's/.*= \([0-9]*\) updates\/s.*/\1/p' <<<"$out")
        cpu=$(sed -n 's/.*= \([0-9]*\) updates per CPU s.*/\1/p' <<<"$out")
        if (( wall > best_wall )); then best_wall=$wall; fi
        if (( cpu > best_cpu )); then best_cpu=$cpu; best_out=$out; fi
    done
    printf '%s\nbest wall-clock rate: %s updates/s\n' "$best_out" "$best_wall"
}

for mode in $MODES; do
    input=$capture
    [[ $mode == skydive ]] && input=$rec
    echo "== $mode: $(basename "$input") ($(du -h "$input" | cut -f1))"
    off=$(best "$mode" "$input" 0)
    on=$(best "$mode" "$input" "$SYNC_MS")
    printf '%s\n%s\n' "$off" "$on"
    c0=$(sed -n 's/.*= \([0-9]*\) updates per CPU s.*/\1/p' <<<"$off")
    c1=$(sed -n 's/.*= \([0-9]*\) updates per CPU s.*/\1/p' <<<"$on")
    w0=$(sed -n 's/^best wall-clock rate: \([0-9]*\).*/\1/p' <<<"$off")
    w1=$(sed -n 's/^best wall-clock rate: \([0-9]*\).*/\1/p' <<<"$on")
    awk -v a="$c0" -v b="$c1" 'BEGIN { printf "cost of the journal: %.1f %% of throughput per CPU second (ingest + journal threads)\n", (a - b) * 100 / a }'
    awk -v a="$w0" -v b="$w1" 'BEGIN { printf "                     %.1f %% of wall-clock throughput (noisy on a busy machine)\n", (a - b) * 100 / a }'
done
