#!/usr/bin/env bash
# S3 delivery benchmark: upload throughput into a real S3-compatible server on
# loopback (Garage, started by ../shared/scripts/s3-server-start.sh), and the cost
# of the durable spool next to writing straight into the directory sink.
#
# Not part of CI. For each object size (the default 75 MB cap, and small objects
# from --max-file-bytes), best of RUNS:
#   dir      convert --out DIR                      (directory sink: fsync + rename)
#   spool    convert --out s3://… with a wrong secret: every object is sealed into
#            the spool, the store refuses them, convert gives up (the spool alone)
#   deliver  vpcflow deliver of that spool          (upload only: objects/s, MB/s)
#   s3       convert --out s3://…                   (end to end: spool + upload)
# The spool's cost is (spool - dir) / s3. Object sizes: the default cap, small
# objects (--max-file-bytes), uncompressed objects (--gzip-level 0), and those
# as multipart uploads.
#
#   bench/s3.sh                  # best of 3
#   RUNS=1 bench/s3.sh           # quicker, noisier
set -euo pipefail

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
    cat <<'EOF'
Environment (defaults in brackets):
  BENCH_DIR      capture, outputs, spool, server data [/tmp/vpcflow-bench-s3]
  RUNS           runs per measurement, the fastest is kept [3]
  FLOWS PACKETS DURATION
                 capture: unidirectional flows [300000], packets [2000000],
                 seconds [2400]
  SMALL_BYTES    --max-file-bytes of the small-object runs [65536]
  S3_PORT        port of the Garage server [39200]
  VPCFLOW        vpcflow binary [target/release/vpcflow]
  BENCH_IN_CI=1  run even when CI=true
EOF
    exit 0
fi
if [[ ${CI:-} == true ]] && [[ ${BENCH_IN_CI:-0} != 1 ]]; then
    echo "bench/s3.sh: skipped in CI (set BENCH_IN_CI=1 to run it anyway)"
    exit 0
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${VPCFLOW_SHARED:-$(cd "$ROOT/.." && pwd)/shared}
[[ -x $SHARED/scripts/s3-server-start.sh || -f $SHARED/scripts/s3-server-start.sh ]] || {
    echo "bench/s3.sh: $SHARED/scripts/s3-server-start.sh not found (set VPCFLOW_SHARED)" >&2
    exit 1
}
BENCH_DIR=${BENCH_DIR:-/tmp/vpcflow-bench-s3}
RUNS=${RUNS:-3}
FLOWS=${FLOWS:-300000}
PACKETS=${PACKETS:-2000000}
DURATION=${DURATION:-2400}
SMALL_BYTES=${SMALL_BYTES:-65536}
export S3_PORT=${S3_PORT:-39200}
VPCFLOW=${VPCFLOW:-$ROOT/target/release/vpcflow}
PCAPGEN=$(dirname "$VPCFLOW")/pcapgen
mkdir -p "$BENCH_DIR"

echo "== build (release)" >&2
(cd "$ROOT" && cargo build --release -q -p vpcflow -p pcapgen)

CAP=$BENCH_DIR/capture-$FLOWS-$PACKETS-$DURATION.pcap
if [[ ! -s $CAP ]]; then
    echo "== generate $CAP" >&2
    "$PCAPGEN" --out "$CAP" --flows "$FLOWS" --packets "$PACKETS" --duration "$DURATION" --seed 1 >&2
fi

echo "== start garage on 127.0.0.1:$S3_PORT" >&2
SERVER=$BENCH_DIR/garage
eval "$(bash "$SHARED/scripts/s3-server-start.sh" "$SERVER")"
trap 'bash "$SHARED/scripts/s3-server-stop.sh" "$SERVER" --wipe >/dev/null 2>&1 || true' EXIT
# Never read a developer's own AWS files.
export AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_EC2_METADATA_DISABLED=true
COMMON=(--flow-log-id fl-0630869f236e76872 --account-id 123456789012 -q)

# seconds COMMAND…: wall seconds of one run (output discarded; failure allowed)
seconds() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || true
    t1=$(date +%s.%N)
    python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$t0" "$t1"
}
min() { printf '%s\n' "$@" | sort -g | head -1; }
du_bytes() { find "$1" -type f -name '*.obj' -printf '%s\n' 2>/dev/null | awk '{s+=$1} END {print s+0}'; }
count_objs() { find "$1" -type f -name '*.obj' 2>/dev/null | wc -l; }

run=0
measure() { # LABEL EXTRA_ARGS…
    local label=$1
    shift
    local dirs=() spools=() delivers=() s3s=() objects=0 bytes=0
    for _ in $(seq 1 "$RUNS"); do
        run=$((run + 1))
        local out=$BENCH_DIR/out-$run spool=$BENCH_DIR/spool-$run
        rm -rf "$out" "$spool"
        sync
        dirs+=("$(seconds "$VPCFLOW" convert "$CAP" --out "$out" "${COMMON[@]}" "$@")")
        # The spool alone: the store refuses every object (wrong secret).
        spools+=("$(seconds env AWS_SECRET_ACCESS_KEY=wrong "$VPCFLOW" convert "$CAP" \
            --out "s3://$S3_BUCKET/bench-$run/" --spool "$spool" --s3-endpoint "$AWS_ENDPOINT_URL" \
            "${COMMON[@]}" "$@")")
        objects=$(count_objs "$spool")
        bytes=$(du_bytes "$spool")
        [[ $objects -gt 0 ]] || { echo "bench/s3.sh: nothing was spooled" >&2; exit 1; }
        delivers+=("$(seconds "$VPCFLOW" deliver --spool "$spool" --out "s3://$S3_BUCKET/" \
            --s3-endpoint "$AWS_ENDPOINT_URL" ${DELIVER_CONFIG:+--config "$DELIVER_CONFIG"})")
        [[ $(count_objs "$spool") -eq 0 ]] || { echo "bench/s3.sh: deliver left objects in $spool" >&2; exit 1; }
        s3s+=("$(seconds "$VPCFLOW" convert "$CAP" --out "s3://$S3_BUCKET/e2e-$run/" \
            --spool "$spool-e2e" --s3-endpoint "$AWS_ENDPOINT_URL" "${COMMON[@]}" "$@")")
        rm -rf "$out" "$spool" "$spool-e2e"
    done
    local d s u e
    d=$(min "${dirs[@]}")
    s=$(min "${spools[@]}")
    u=$(min "${delivers[@]}")
    e=$(min "${s3s[@]}")
    python3 - "$label" "$objects" "$bytes" "$d" "$s" "$u" "$e" <<'EOF'
import sys
label, objects, nbytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
d, s, u, e = map(float, sys.argv[4:8])
print(f"| {label} | {objects} | {nbytes / 1e6:.1f} | {d:.2f} | {s:.2f} | {u:.2f} | "
      f"{objects / u:.0f} | {nbytes / 1e6 / u:.1f} | {e:.2f} | {100 * (s - d) / e:+.1f} % |")
EOF
}

echo
echo "capture: $CAP ($(stat -c %s "$CAP") bytes), best of $RUNS, default upload concurrency"
echo
echo "| objects of | objects | MB | dir s | spool s | deliver s | objects/s | MB/s | s3 end to end s | spool cost |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
measure "default cap (75 MB)"
measure "$SMALL_BYTES bytes" --max-file-bytes "$SMALL_BYTES"
# Larger objects: the same records without compression (gzip level 0).
measure "gzip level 0" --gzip-level 0
# The same, uploaded as multipart (5 MiB parts).
MULTIPART=$BENCH_DIR/multipart.toml
printf '[output.s3]\nmultipart_threshold = 5242880\nmultipart_part_size = 5242880\n' > "$MULTIPART"
DELIVER_CONFIG=$MULTIPART measure "gzip level 0, multipart 5 MiB" --gzip-level 0 --config "$MULTIPART"
