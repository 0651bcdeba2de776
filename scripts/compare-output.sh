#!/usr/bin/env bash
# Converts every capture of a folder with two vpcflow binaries and compares
# the output trees byte for byte: the check that a change of code alone (a
# refactoring, a dependency update) changes no output.
#
#   scripts/compare-output.sh OLD_BIN NEW_BIN [CAPTURE_DIR]
#   scripts/compare-output.sh --skydive OLD_BIN NEW_BIN RECORDING_DIR
#
# CAPTURE_DIR defaults to ../shared/pcaps beside the checkout. With --skydive
# the inputs are the Skydive recordings (*.jsonl, *.json) of RECORDING_DIR,
# converted with `convert --skydive` (for example the recordings
# bench/skydive.sh generates, with lines not every version can decode). Each
# input is
# converted with several settings: both aggregation windows, text and Parquet
# files, the default format and two custom ones (every field of version 5; the
# version-8 fields), three key layouts, records on stdout, and a configuration
# file with interface metadata, a REJECT policy and a traffic-type filter.
# Exit status 0 when every tree is identical, 1 at the first difference.
set -euo pipefail

usage="usage: compare-output.sh [--skydive] OLD_BIN NEW_BIN [DIR]"
# How an input is named on the command line, and which files are inputs.
input=()
patterns=("*.pcap" "*.pcapng")
if [ "${1:-}" = "--skydive" ]; then
    shift
    input=(--skydive)
    patterns=("*.jsonl" "*.json")
    [ -n "${3:-}" ] || { echo "$usage (--skydive needs RECORDING_DIR)" >&2; exit 2; }
fi
old="${1:?$usage}"
new="${2:?$usage}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
captures="${3:-$here/../shared/pcaps}"
[ -x "$old" ] || { echo "error: $old is not an executable" >&2; exit 2; }
[ -x "$new" ] || { echo "error: $new is not an executable" >&2; exit 2; }
[ -d "$captures" ] || { echo "error: capture folder $captures not found" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cat > "$work/config.toml" <<'TOML'
[flow_log]
traffic_type = "ALL"
[[interface]]
name = "capture0"
interface_id = "eni-0123456789abcdef0"
vpc_id = "vpc-0123456789abcdef0"
addresses = ["10.0.0.1", "192.168.1.1", "fe80::1"]
networks = ["172.16.0.0/12"]
[interface.ecs]
cluster_name = "prod"
task_id = "0123456789abcdef"
[[policy.security_group]]
name = "web"
interfaces = ["*"]
inbound = [ { protocol = "tcp", ports = "80", cidr = "0.0.0.0/0" },
            { protocol = "icmp", cidr = "10.0.0.0/8" } ]
outbound = [ { protocol = "all", cidr = "0.0.0.0/0" } ]
TOML

v5='${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${vpc-id} ${subnet-id} ${instance-id} ${tcp-flags} ${type} ${pkt-srcaddr} ${pkt-dstaddr} ${region} ${az-id} ${sublocation-type} ${sublocation-id} ${pkt-src-aws-service} ${pkt-dst-aws-service} ${flow-direction} ${traffic-path}'
v8='${version} ${interface-id} ${srcaddr} ${dstaddr} ${ecs-cluster-name} ${ecs-task-id} ${reject-reason} ${flow-direction} ${action}'

# name|arguments (one case a line; {} is the output folder)
cases=$(cat <<CASES
default-600|--out {}
default-60|--interval 60 --out {}
parquet-600|--file-format parquet --out {}
parquet-60-hive|--interval 60 --file-format parquet --layout hive --out {}
v5-hourly|--format '$v5' --layout hive-hourly --out {}
v5-parquet|--format '$v5' --file-format parquet --layout hourly --out {}
prefix|--prefix logs/vpc --out {}
config-v8|--config $work/config.toml --format '$v8' --out {}
config-reject|--config $work/config.toml --traffic-type REJECT --file-format parquet --out {}
CASES
)

run() { # BIN OUTDIR ARGS... (the conversion itself; stderr kept for a failure)
    local bin="$1" out="$2"
    shift 2
    "$bin" convert --quiet --account-id 123456789012 --region eu-west-1 \
        --flow-log-id fl-0630869f236e76872 "$@" >"$out.stdout" 2>"$out.stderr" || echo "exit $?" >>"$out.stderr"
}

compared=0
objects=0
inputs=()
for pattern in "${patterns[@]}"; do
    for capture in "$captures"/$pattern; do
        [ -e "$capture" ] && inputs+=("$capture")
    done
done
for capture in "${inputs[@]}"; do
    while IFS='|' read -r name args; do
        [ -n "$name" ] || continue
        for side in old new; do
            bin=$old; [ "$side" = new ] && bin=$new
            dir="$work/$side"
            rm -rf "$dir" "$dir.stdout" "$dir.stderr" "$work/.$side.vpcflow-staging"
            eval "set -- ${args//\{\}/$dir}"
            run "$bin" "$dir" "$@" "${input[@]}" "$capture"
        done
        # The staging folder is not output (older versions kept it inside).
        if ! diff -r --exclude=.vpcflow-staging "$work/old" "$work/new" >/dev/null 2>&1 \
            || ! cmp -s "$work/old.stdout" "$work/new.stdout" \
            || [ "$(grep -c '^exit' "$work/old.stderr")" != "$(grep -c '^exit' "$work/new.stderr")" ]; then
            echo "DIFFERENT: $(basename "$capture") [$name]" >&2
            diff -r --exclude=.vpcflow-staging "$work/old" "$work/new" | head -20 >&2 || true
            exit 1
        fi
        compared=$((compared + 1))
        files=$(find "$work/old" -type f -path '*AWSLogs*' 2>/dev/null | wc -l)
        objects=$((objects + files))
    done <<<"$cases"
    # Records on stdout.
    "$old" convert --quiet --account-id 123456789012 --region eu-west-1 \
        --flow-log-id fl-0630869f236e76872 --out - "${input[@]}" "$capture" >"$work/old.txt" 2>/dev/null || true
    "$new" convert --quiet --account-id 123456789012 --region eu-west-1 \
        --flow-log-id fl-0630869f236e76872 --out - "${input[@]}" "$capture" >"$work/new.txt" 2>/dev/null || true
    if ! cmp -s "$work/old.txt" "$work/new.txt"; then
        echo "DIFFERENT: $(basename "$capture") [stdout]" >&2
        exit 1
    fi
    compared=$((compared + 1))
done
[ "$compared" -gt 0 ] || { echo "error: no input in $captures" >&2; exit 2; }
[ "$objects" -gt 0 ] || { echo "error: no conversion wrote a file" >&2; exit 2; }
echo "identical: $compared conversions of ${#inputs[@]} inputs, $objects files"
