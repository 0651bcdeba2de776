#!/usr/bin/env bash
# Live-capture benchmark (root): two network namespaces joined by a veth pair;
# examples/udpgen sends UDP from one side (pinned to CPU 1) to an address the
# other side silently drops (not its own, forwarding off); vpcflow run captures
# on the receiving veth pinned to CPU 0, then tcpdump -w /dev/null does the
# same as the capture floor. Prints packets captured, kernel drops, packets/s
# and CPU seconds per million packets for each.
#
#   bench/live.sh [SECONDS] [PPS]      (PPS 0: as fast as the generator goes)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SECS="${1:-10}"
PPS="${2:-0}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build --release -q -p vpcflow --bin vpcflow --example udpgen
BIN="$CARGO_TARGET_DIR/release/vpcflow"
GEN="$CARGO_TARGET_DIR/release/examples/udpgen"
ID=$$
A="vfbencha$ID"; B="vfbenchb$ID"; VA="vba$ID"; VB="vbb$ID"
WORK="$(mktemp -d)"
cleanup() { ip netns del "$A" 2>/dev/null || true; ip netns del "$B" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
ip netns add "$A"; ip netns add "$B"
ip link add "$VA" address 02:78:00:00:00:01 netns "$A" type veth peer name "$VB" address 02:78:00:00:00:02 netns "$B"
ip -n "$A" addr add 10.79.0.1/24 dev "$VA"; ip -n "$B" addr add 10.79.0.2/24 dev "$VB"
ip -n "$A" link set "$VA" up; ip -n "$B" link set "$VB" up
# 10.79.0.9 is reached through A's MAC address: A receives and drops it.
ip -n "$B" neigh add 10.79.0.9 lladdr 02:78:00:00:00:01 dev "$VB" nud permanent

cpu_of() { # utime+stime of a pid, in seconds
    awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15)/hz}' "/proc/$1/stat"
}

cat > "$WORK/c.toml" <<TOML
[flow_log]
account_id = "123456789012"
region = "eu-west-1"
interval = 60
[output]
out = "$WORK/out"
[capture]
idle_delay = 5
[[capture.interface]]
name = "$VA"
buffer = 33554432
TOML

echo "== vpcflow run (CPU 0), $SECS s of udpgen (CPU 1)"
ip netns exec "$A" taskset -c 0 "$BIN" run --config "$WORK/c.toml" 2> "$WORK/vpcflow.err" &
VP=$!
sleep 1.5
C0=$(cpu_of $VP)
ip netns exec "$B" taskset -c 1 "$GEN" 10.79.0.9:9 "$SECS" --pps "$PPS" --flows 16
sleep 1
C1=$(cpu_of $VP)
kill -TERM $VP; wait $VP || true
grep captured "$WORK/vpcflow.err"
FR=$(sed -n 's/.*opened, \([0-9]*\) frames.*/\1/p' "$WORK/vpcflow.err")
awk -v f="$FR" -v c0="$C0" -v c1="$C1" -v s="$SECS" 'BEGIN {printf "vpcflow: %.0f packets/s captured, %.2f CPU s per million packets\n", f/s, (c1-c0)/(f/1e6)}'

echo "== tcpdump -w /dev/null (CPU 0), $SECS s of udpgen (CPU 1)"
ip netns exec "$A" taskset -c 0 tcpdump -i "$VA" -n -s 256 -B 32768 -w /dev/null 2> "$WORK/tcpdump.err" &
TP=$!
sleep 1.5
T0=$(cpu_of $TP)
ip netns exec "$B" taskset -c 1 "$GEN" 10.79.0.9:9 "$SECS" --pps "$PPS" --flows 16
sleep 1
T1=$(cpu_of $TP)
kill -INT $TP; wait $TP || true
grep -E "captured|dropped" "$WORK/tcpdump.err"
TF=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$WORK/tcpdump.err")
awk -v f="$TF" -v c0="$T0" -v c1="$T1" -v s="$SECS" 'BEGIN {printf "tcpdump: %.0f packets/s captured, %.2f CPU s per million packets\n", f/s, (c1-c0)/(f/1e6)}'
