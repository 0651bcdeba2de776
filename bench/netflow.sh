#!/usr/bin/env bash
# NetFlow/IPFIX benchmark (root, for tcpdump on loopback): pcapgen writes a
# capture of FLOWS flows, softflowd exports them as IPFIX and as NetFlow v9
# over loopback while tcpdump records the export datagrams. Then, per
# version, on the same recorded stream:
#
#   * decode+aggregate: examples/netflow_speed decodes the datagrams (held in
#     memory) into vpcflow's aggregator on one core: flow records per second
#     (best of REPEATS passes);
#   * convert: `vpcflow convert --netflow` of the recording, end to end
#     (decoding, aggregation, gzip files): wall time and peak RSS;
#   * nfcapd and vpcflow run, one after the other: the datagrams sent over
#     loopback from a second core paced at RATE records per second: the
#     records each stored (nfcapd) or received and dropped (vpcflow), and
#     each one's CPU seconds for the whole stream (vpcflow's include
#     aggregation and writing the gzip files).
#
#   bench/netflow.sh [FLOWS] [RATE] [REPEATS]
#
#   FLOWS    flows of the synthetic capture (default 1000000)
#   RATE     records per second offered to `vpcflow run` (default 200000)
#   REPEATS  passes of the decode+aggregate measure (default 3)
#
# Needs softflowd, nfdump (nfcapd), tcpdump and python3. Environment:
# CARGO_TARGET_DIR (default target), WORK (default: a temporary folder,
# removed at the end).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
FLOWS="${1:-1000000}"
RATE="${2:-200000}"
REPEATS="${3:-3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
for t in softflowd softflowctl nfcapd nfdump tcpdump python3; do
    command -v "$t" >/dev/null || { echo "bench/netflow.sh: needs $t" >&2; exit 1; }
done
cargo build --release -q -p vpcflow --bin vpcflow
cargo build --release -q -p pcapgen
cargo build --release -q -p vpcflow-sources --example netflow_speed
BIN="$CARGO_TARGET_DIR/release/vpcflow"
SPEED="$CARGO_TARGET_DIR/release/examples/netflow_speed"
PCAPGEN="$CARGO_TARGET_DIR/release/pcapgen"
KEEP_WORK=${WORK:+1}
WORK="${WORK:-$(mktemp -d)}"
mkdir -p "$WORK"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -n "$KEEP_WORK" ] || rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15)/hz}' "/proc/$1/stat"; }

# Sends the UDP payloads of a classic pcap (Ethernet, IPv4) to 127.0.0.1:PORT,
# paced to RATE records/s when RATE > 0 (RECORDS: records in the file).
SENDER='
import socket, struct, sys, time
path, port, rate, records = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
data = open(path, "rb").read()
grams = []
at = 24
while at + 16 <= len(data):
    caplen = struct.unpack_from("<I", data, at + 8)[0]
    f = data[at + 16:at + 16 + caplen]
    ihl = (f[14] & 15) * 4
    u = 14 + ihl
    n = struct.unpack_from(">H", f, u + 4)[0]
    grams.append(f[u + 8:u + n])
    at += 16 + caplen
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
per = records / max(len(grams), 1)
start = time.perf_counter()
for i, g in enumerate(grams):
    if rate > 0:
        due = start + i * per / rate
        while time.perf_counter() < due:
            pass
    s.sendto(g, ("127.0.0.1", port))
print("%d datagrams in %.2f s" % (len(grams), time.perf_counter() - start))
'

echo "== pcapgen: $FLOWS flows"
"$PCAPGEN" --out "$WORK/flows.pcap" --flows "$FLOWS" --packets "$((FLOWS * 2))" >/dev/null

record() { # VERSION OUT.pcap
    local port sink tcpd ctl sf
    port=$(free_port)
    python3 -c "
import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1<<20); s.bind(('127.0.0.1', $port))
while True: s.recv(65536)" & sink=$!; PIDS+=("$sink")
    tcpdump -i lo -n -B 524288 -U -w "$2" "udp dst port $port" 2>"$WORK/tcpdump-$1.log" & tcpd=$!; PIDS+=("$tcpd")
    until grep -q listening "$WORK/tcpdump-$1.log"; do sleep 0.1; done
    ctl="$WORK/softflowd-$1.ctl"
    softflowd -d -a -r "$WORK/flows.pcap" -m $((FLOWS * 3)) -n "127.0.0.1:$port" -v "$1" -6 \
        -p "$WORK/softflowd-$1.pid" -c "$ctl" >/dev/null 2>&1 & sf=$!
    while kill -0 "$sf" 2>/dev/null; do
        softflowctl -c "$ctl" statistics >/dev/null 2>&1 </dev/null || true
        sleep 0.2
    done
    wait "$sf" || true
    sleep 2
    kill -INT "$tcpd"; wait "$tcpd" || true
    kill "$sink"; wait "$sink" 2>/dev/null || true
    grep -E "captured|dropped by kernel" "$WORK/tcpdump-$1.log" | tr '\n' ' '; echo
}

for v in 10 9; do
    name=$([ "$v" = 10 ] && echo IPFIX || echo "NetFlow v9")
    echo
    echo "== $name: softflowd export, recorded by tcpdump"
    record "$v" "$WORK/export-$v.pcap"
    # The gigabyte of capture and the recording are written back to disk
    # first: the kernel's writeback would otherwise share the timed core.
    sync
    echo "== $name: decode + aggregate on one core (examples/netflow_speed)"
    taskset -c 0 "$SPEED" "$WORK/export-$v.pcap" --repeat "$REPEATS" | tee "$WORK/speed-$v.txt"
    records=$(grep -o '^pass 0: [0-9]*' "$WORK/speed-$v.txt" | awk '{print $3}')
    echo "== $name: vpcflow convert --netflow (end to end, files written)"
    rm -rf "$WORK/out-$v"
    /usr/bin/time -f "wall %e s, peak RSS %M KiB, CPU %P" taskset -c 0 "$BIN" convert --quiet --netflow \
        "$WORK/export-$v.pcap" --out "$WORK/out-$v/o" 2>&1 | tail -1

    echo "== $name: nfcapd, the stream paced at $RATE records/s"
    port=$(free_port)
    mkdir -p "$WORK/nfcapd-$v"
    taskset -c 0 nfcapd -b 127.0.0.1 -p "$port" -B 134217728 -w "$WORK/nfcapd-$v" >/dev/null 2>&1 & nf=$!; PIDS+=("$nf")
    sleep 1
    before=$(cpu_of "$nf")
    taskset -c 1 python3 -c "$SENDER" "$WORK/export-$v.pcap" "$port" "$RATE" "$records"
    sleep 2
    after=$(cpu_of "$nf")
    kill -TERM "$nf"; wait "$nf" 2>/dev/null || true
    stored=$(nfdump -R "$WORK/nfcapd-$v" -I | awk '/^Flows:/ {print $2}')
    python3 -c "c=$after-$before; print('nfcapd: %d of %d records stored, %.2f CPU s: %.0f records per CPU second' % ($stored, $records, c, $stored / c if c > 0 else 0))"

    echo "== $name: vpcflow run, the stream paced at $RATE records/s"
    port=$(free_port)
    cat >"$WORK/run-$v.toml" <<EOF
[output]
out = "$WORK/run-out-$v"
[state]
dir = "$WORK/state-$v"
[[netflow.listen]]
address = "127.0.0.1:$port"
EOF
    taskset -c 0 "$BIN" run --config "$WORK/run-$v.toml" 2>"$WORK/run-$v.log" & vr=$!; PIDS+=("$vr")
    sleep 2
    before=$(cpu_of "$vr")
    taskset -c 1 python3 -c "$SENDER" "$WORK/export-$v.pcap" "$port" "$RATE" "$records"
    sleep 2
    after=$(cpu_of "$vr")
    kill -TERM "$vr"; wait "$vr" 2>/dev/null || true
    grep '^netflow' "$WORK/run-$v.log" || tail -5 "$WORK/run-$v.log"
    python3 -c "print('vpcflow run: %.2f CPU s for %d records offered' % ($after-$before, $records))"
done
