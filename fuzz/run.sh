#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 30) on seeds made from the shared
# captures, and prints the runs per target. Needs a nightly toolchain and
# cargo-fuzz (fuzz/README.md). Exit status 1 if a target crashed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
SECONDS_PER_TARGET="${1:-30}"
python3 seeds.py >/dev/null
targets=$(sed -n 's/^name = "\([a-z_0-9]*\)"$/\1/p' Cargo.toml | grep -v '^vpcflow-fuzz$')
cargo +nightly fuzz build ${FUZZ_BUILD_FLAGS:-}
status=0
for t in $targets; do
    mkdir -p "corpus/$t"
    log="$(mktemp)"
    if cargo +nightly fuzz run ${FUZZ_BUILD_FLAGS:-} "$t" "corpus/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        echo "fuzz $t: ${runs:-?} runs in ${SECONDS_PER_TARGET} s, no crash"
    else
        echo "fuzz $t: FAILED (artifacts in fuzz/artifacts/$t)"
        tail -40 "$log"
        status=1
    fi
    rm -f "$log"
done
exit $status
