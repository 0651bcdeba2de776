#!/usr/bin/env bash
# Live-capture benchmark (root): two network namespaces joined by a veth pair;
# examples/udpgen in raw mode (AF_PACKET + sendmmsg, prebuilt Ethernet/IPv4/UDP
# frames, 16 flows) sends from one side (pinned to CPU 1) to an address the
# other side silently drops (not its own, forwarding off); vpcflow run
# captures on the receiving veth pinned to CPU 0, then tcpdump -w /dev/null
# does the same as the capture floor. Each tool is run once per offered rate
# and repeat (a fresh process each time) and the script prints, per run: the
# rate asked for, sent, delivered to the receiving veth (its rx_packets), the
# packets captured, the packets lost (kernel drops, and for vpcflow also the
# ones lost behind its pipeline), the capture process's CPU seconds per
# million packets captured, and CPU 0's busy time as a whole (every task,
# interrupts, softirqs: other load on the machine shows up there) per million
# packets delivered. It ends with, per tool, the highest delivered rate
# captured with no loss and the CPU per million packets at that rate.
#
#   bench/live.sh [SECONDS] [RATES] [REPEATS]
#
#   SECONDS  length of each run (default 5)
#   RATES    comma-separated offered rates in packets/s, 0 meaning as fast as
#            the generator goes (default 250000,500000,750000,1000000,0)
#   REPEATS  runs per tool and rate (default 1)
#
# Environment: CARGO_TARGET_DIR (default target); UDPGEN_MODE=udp to drive
# the veth with UDP sockets (one sendto per datagram, far slower) instead.
#
# RPS=1 (default) steers the receiving veth's softirq work (IP input and the
# copy into the capture ring) to CPU 0 with RPS, as a NIC interrupting the
# capture core would; RPS=0 leaves it on the sender's core, CPU 1, where it
# also slows the generator. Softirq time is charged to whatever task it
# interrupts, so with RPS=1 part of it lands in the capture process's CPU.
# Rows where "sent" falls short of "asked" are the generator's ceiling.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SECS="${1:-5}"
RATES="${2:-250000,500000,750000,1000000,0}"
REPEATS="${3:-1}"
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
# RPS: the receiving veth's softirq work (IP input, the copy into the capture
# ring) moves from the sender's core to CPU 0, the capture core.
if [ "${RPS:-1}" = 1 ]; then
    ip netns exec "$A" sh -c "echo 1 > /sys/class/net/$VA/queues/rx-0/rps_cpus"
fi

cpu_of() { # utime+stime of a pid, in seconds
    awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15)/hz}' "/proc/$1/stat"
}
core_of() { # busy seconds of CPU 0 so far (all tasks, interrupts, softirqs)
    awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu0" {print ($2+$3+$4+$7+$8+$9)/hz}' /proc/stat
}
rx_of() { # packets received by the capturing veth
    ip netns exec "$A" cat "/sys/class/net/$VA/statistics/rx_packets"
}
gen() { # gen PPS: one run of the generator on CPU 1; prints packets sent
    local out
    if [ "${UDPGEN_MODE:-raw}" = udp ]; then
        out=$(ip netns exec "$B" taskset -c 1 "$GEN" 10.79.0.9:9 "$SECS" --pps "$1" --flows 16)
    else
        out=$(ip netns exec "$B" taskset -c 1 "$GEN" 10.79.0.9:9 "$SECS" --pps "$1" --flows 16 \
            --raw "$VB" --dst-mac 02:78:00:00:00:01 --src 10.79.0.2)
    fi
    echo "$out" >&2
    echo "$out" | sed -n 's/^sent \([0-9]*\) .*/\1/p'
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

# One run of TOOL (vpcflow or tcpdump) at PPS; appends a row to $WORK/rows:
# tool asked sent delivered captured lost cpu_seconds core0_seconds
run() {
    local tool=$1 pps=$2 pid c0 c1 k0 k1 r0 r1 sent cap lost
    rm -rf "$WORK/out"
    if [ "$tool" = vpcflow ]; then
        ip netns exec "$A" taskset -c 0 "$BIN" run --config "$WORK/c.toml" 2> "$WORK/err" &
    else
        ip netns exec "$A" taskset -c 0 tcpdump -i "$VA" -n -s 256 -B 32768 -w /dev/null 2> "$WORK/err" &
    fi
    pid=$!
    sleep 1.5
    c0=$(cpu_of $pid); k0=$(core_of); r0=$(rx_of)
    sent=$(gen "$pps")
    sleep 1
    c1=$(cpu_of $pid); k1=$(core_of); r1=$(rx_of)
    if [ "$tool" = vpcflow ]; then
        kill -TERM $pid; wait $pid || true
        grep captured "$WORK/err" >&2
        cap=$(sed -n 's/.*opened, \([0-9]*\) frames.*/\1/p' "$WORK/err")
        lost=$(sed -n 's/.*lost \([0-9]*\) in the kernel, \([0-9]*\) behind.*/\1 \2/p' "$WORK/err" | awk '{print $1+$2}')
    else
        kill -INT $pid; wait $pid || true
        grep -E "captured|dropped" "$WORK/err" >&2
        cap=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$WORK/err")
        lost=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$WORK/err")
    fi
    echo "$tool $pps $sent $((r1 - r0)) $cap $lost $(awk -v a="$c0" -v b="$c1" 'BEGIN {print b-a}') $(awk -v a="$k0" -v b="$k1" 'BEGIN {print b-a}')" >> "$WORK/rows"
}

: > "$WORK/rows"
for rep in $(seq "$REPEATS"); do
    for tool in vpcflow tcpdump; do
        for pps in ${RATES//,/ }; do
            echo "== $tool (CPU 0), run $rep, ${SECS} s at ${pps} pps asked (0: unpaced), generator on CPU 1" >&2
            run "$tool" "$pps"
        done
    done
done

echo
awk -v s="$SECS" '
    BEGIN { printf "%-8s %10s %10s %11s %10s %9s %12s %12s\n", "tool", "asked/s", "sent/s", "delivered/s", "captured/s", "lost", "CPU s/Mpkt", "CPU0 s/Mpkt" }
    {
        printf "%-8s %10s %10.0f %11.0f %10.0f %9d %12.3f %12.3f\n", $1, ($2 == 0 ? "max" : $2), $3/s, $4/s, $5/s, $6, $7/($5/1e6), $8/($4/1e6)
        # no loss: no drop counted and every delivered packet captured
        if ($6 == 0 && $5 >= $4 && $4/s > best[$1]) { best[$1] = $4/s; cpu[$1] = $7/($5/1e6) }
        if ($6 > 0 || $5 < $4) lossy[$1]++
    }
    END {
        print ""
        for (t in best) printf "%s: highest rate captured without loss %.0f packets/s (%.3f CPU s per million packets); %d lossy run(s)\n", t, best[t], cpu[t], lossy[t]
    }' "$WORK/rows"
