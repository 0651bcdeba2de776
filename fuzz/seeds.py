#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets from the shared captures.

    fuzz/seeds.py [--shared DIR] [--out DIR]

DIR defaults to $VPCFLOW_SHARED or ../shared beside the checkout; the corpora
go to fuzz/corpus/TARGET/ (not committed: made at run time). Every capture of
DIR/pcaps gives seeds: its records (pcap), a pcapng of its frames (pcapng),
its first frames (frame), Skydive messages of its flows (skydive_json, and
the same in protobuf envelopes for skydive_protobuf); the example
configuration seeds the config target.
"""

import argparse
import hashlib
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# As in fuzz_targets/pcap.rs and frame.rs.
PCAP_LINKTYPES = [1, 0, 101, 113, 276, 12, 228, 229]
FRAME_LINKTYPES = [1, 101, 0, 113, 276, 12, 228, 229, 9, 104, 108, 0xFFFF]


def read_pcap(path):
    """(variant byte for fuzz_targets/pcap.rs, linktype, [(ts, frame)])."""
    data = open(path, "rb").read()
    if len(data) < 24:
        return None
    magic_le = struct.unpack("<I", data[:4])[0]
    if magic_le in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    elif struct.unpack(">I", data[:4])[0] in (0xA1B2C3D4, 0xA1B23C4D):
        e = ">"
    else:
        return None
    magic = struct.unpack(e + "I", data[:4])[0]
    nanos = magic == 0xA1B23C4D
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0xFFFF
    frames = []
    off = 24
    while off + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack(e + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + caplen]
        if len(frame) < caplen:
            break
        frames.append((sec + frac / (1e9 if nanos else 1e6), frame))
        off += 16 + caplen
    idx = PCAP_LINKTYPES.index(linktype) if linktype in PCAP_LINKTYPES else 0
    variant = (1 if e == ">" else 0) | (2 if nanos else 0) | (idx << 2)
    return variant, linktype, data[24:], frames


def pcapng_of(linktype, frames):
    def block(kind, body):
        body += bytes(-len(body) % 4)
        n = 12 + len(body)
        return struct.pack("<II", kind, n) + body + struct.pack("<I", n)

    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", linktype, 0, 0))
    for ts, f in frames:
        us = int(ts * 1e6)
        out += block(6, struct.pack("<IIIII", 0, us >> 32, us & 0xFFFFFFFF, len(f), len(f)) + f)
    return out


def five_tuples(linktype, frames):
    """Addresses, protocol and ports of the IPv4/IPv6 packets (Ethernet and raw)."""
    seen = {}
    for ts, f in frames:
        if linktype == 1 and len(f) >= 14:
            ethertype = struct.unpack("!H", f[12:14])[0]
            ip = f[14:]
            if ethertype == 0x8100 and len(f) >= 18:
                ethertype = struct.unpack("!H", f[16:18])[0]
                ip = f[18:]
        elif linktype in (101, 12, 228, 229):
            ip = f
            ethertype = 0x0800 if f[:1] and f[0] >> 4 == 4 else 0x86DD
        else:
            continue
        if ethertype == 0x0800 and len(ip) >= 20:
            ihl = (ip[0] & 15) * 4
            proto, a, b, l4 = ip[9], ".".join(map(str, ip[12:16])), ".".join(map(str, ip[16:20])), ip[ihl:]
        elif ethertype == 0x86DD and len(ip) >= 40:
            proto = ip[6]
            a = ":".join(f"{x:x}" for x in struct.unpack("!8H", ip[8:24]))
            b = ":".join(f"{x:x}" for x in struct.unpack("!8H", ip[24:40]))
            l4 = ip[40:]
        else:
            continue
        ports = struct.unpack("!HH", l4[:4]) if proto in (6, 17) and len(l4) >= 4 else (0, 0)
        key = (a, b, proto, ports)
        n, size, first, _ = seen.get(key, (0, 0, ts, ts))
        seen[key] = (n + 1, size + len(f), first, ts)
    return seen


def skydive_lines(name, tuples):
    names = {6: "TCP", 17: "UDP"}
    flows = []
    for i, ((a, b, proto, ports), (n, size, first, last)) in enumerate(sorted(tuples.items())[:50]):
        ms = lambda t: int(t * 1000)
        f = {
            "UUID": f"{name}-{i}",
            "LayersPath": "Ethernet/IPv4/" + names.get(proto, "ICMPv4"),
            "NodeTID": f"node-{i % 3}",
            "CaptureID": "cap",
            "Network": {"Protocol": "IPV6" if ":" in a else "IPV4", "A": a, "B": b},
            "Metric": {"ABPackets": n, "ABBytes": size, "Start": ms(first), "Last": ms(last)},
            "LastUpdateMetric": {"ABPackets": n, "ABBytes": size, "Start": ms(first), "Last": ms(last)},
            "Start": ms(first),
            "Last": ms(last),
        }
        if proto in names:
            f["Transport"] = {"Protocol": names[proto], "A": ports[0], "B": str(ports[1])}
        if proto == 6:
            f["TCPMetric"] = {"ABSynStart": ms(first), "BASynStart": ms(first) + 1}
        flows.append(f)
    stats = {"CaptureID": "cap", "PacketsDropped": 3, "PacketsReceived": 100}
    return [
        json.dumps({"Namespace": "flow", "Type": "store", "Obj": flows[: len(flows) // 2]}),
        json.dumps(flows[len(flows) // 2:]),
        json.dumps({"Namespace": "stats", "Type": "stats", "Obj": stats}),
    ], flows, stats


def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(tag, wire, value):
    key = varint(tag << 3 | wire)
    if wire == 0:
        return key + varint(value)
    return key + varint(len(value)) + value


def envelope(namespace, kind, fmt, obj):
    return (field(1, 2, namespace.encode()) + field(2, 2, kind.encode())
            + field(5, 0, fmt) + field(6, 2, obj))


def pb_stats(s):
    return (field(1, 2, s["CaptureID"].encode()) + field(5, 0, s["PacketsDropped"])
            + field(6, 0, s["PacketsReceived"]))


def write(out, target, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shared", default=os.environ.get("VPCFLOW_SHARED", os.path.join(os.path.dirname(ROOT), "shared")))
    p.add_argument("--out", default=os.path.join(HERE, "corpus"))
    a = p.parse_args()
    pcaps = os.path.join(a.shared, "pcaps")
    if not os.path.isdir(pcaps):
        raise SystemExit(f"no captures at {pcaps}: give --shared or set VPCFLOW_SHARED")
    count = 0
    for name in sorted(os.listdir(pcaps)):
        path = os.path.join(pcaps, name)
        if name.endswith(".pcapng"):
            write(a.out, "pcapng", open(path, "rb").read())
            continue
        if not name.endswith(".pcap"):
            continue
        parsed = read_pcap(path)
        if not parsed:
            continue
        variant, linktype, records, frames = parsed
        count += 1
        write(a.out, "pcap", bytes([variant]) + records)
        write(a.out, "pcapng", pcapng_of(linktype, frames))
        pick = FRAME_LINKTYPES.index(linktype) if linktype in FRAME_LINKTYPES else 0
        for _, f in frames[:8]:
            write(a.out, "frame", bytes([pick]) + f)
        lines, flows, stats = skydive_lines(name, five_tuples(linktype, frames))
        write(a.out, "skydive_json", "\n".join(lines).encode())
        write(a.out, "skydive_protobuf", envelope("flow", "store", 0, json.dumps(flows).encode()))
        write(a.out, "skydive_protobuf", envelope("stats", "stats", 1, pb_stats(stats)))
    write(a.out, "config", open(os.path.join(ROOT, "examples", "vpcflow.toml"), "rb").read())
    write(a.out, "config", b'[flow_log]\naccount_id = "${FUZZ}"\n[aggregation]\nnodata_max_gap = 600\n')
    print(f"seeds from {count} captures in {a.out}")


if __name__ == "__main__":
    main()
