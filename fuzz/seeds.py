#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets from the shared captures.

    fuzz/seeds.py [--shared DIR] [--out DIR]

DIR defaults to $VPCFLOW_SHARED or ../shared beside the checkout; the corpora
go to fuzz/corpus/TARGET/ (not committed: made at run time). Every capture of
DIR/pcaps gives seeds: its records (pcap), a pcapng of its frames (pcapng),
its first frames (frame), sFlow datagrams sampling its first frames (sflow),
NetFlow v5, v9 and IPFIX datagrams of its IPv4 flows (netflow),
Skydive messages of its flows (skydive_json, and
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


def sflow_seed(linktype, frames):
    """sFlow v5 datagrams (as fuzz_targets/sflow.rs splits its input) with a
    flow sample per frame: raw headers of Ethernet or raw IP frames."""
    proto = {1: 1, 228: 11, 229: 12}.get(linktype)
    if proto is None:
        return None
    out = b""
    for seq, chunk in enumerate([frames[:4], frames[4:8]]):
        samples = b""
        for i, (_, f) in enumerate(chunk):
            h = f[:128]
            rec = struct.pack(">IIII", proto, len(f) + 4, 4, len(h)) + h + b"\0" * (-len(h) % 4)
            body = struct.pack(">IIIIIIII", seq * 4 + i + 1, 3, 10, 10 * (i + 1), 0, 3, 7, 1)
            body += struct.pack(">II", 1, len(rec)) + rec
            kind = 1
            if i % 2:
                body = struct.pack(">IIIIIIIIIII", seq * 4 + i + 1, 0, 3, 10, 10 * (i + 1), 0, 0, 3, 0, 7, 1)
                body += struct.pack(">II", 1, len(rec)) + rec
                kind = 3
            samples += struct.pack(">II", kind, len(body)) + body
        d = struct.pack(">II4sIIII", 5, 1, bytes([192, 0, 2, 1]), 0, seq + 1, 1000, len(chunk)) + samples
        out += struct.pack(">H", len(d)) + d
    return out


def netflow_seed(tuples):
    """NetFlow v5, v9 and IPFIX datagrams (as fuzz_targets/netflow.rs splits
    its input: a length, an exporter byte, the datagram) of the IPv4 flows."""
    flows = []
    for (a, b, proto, ports), (n, size, first, last) in tuples.items():
        if ":" in a:
            continue
        src, dst = bytes(map(int, a.split("."))), bytes(map(int, b.split(".")))
        flows.append((src, dst, proto, ports, n, size, int(first * 1000), int(last * 1000)))
    flows = flows[:8]
    if not flows:
        return None
    t0 = min(f[6] for f in flows)
    # v5: header (uptime 1000 ms at t0), one 48-byte record a flow.
    v5 = struct.pack(">HHIIIIBBH", 5, len(flows), 1000, t0 // 1000, (t0 % 1000) * 1_000_000, 0, 0, 0, 0)
    for src, dst, proto, (sp, dp), n, size, first, last in flows:
        v5 += src + dst + bytes(4) + struct.pack(">HHIIIIHHBBBBHHBBH", 1, 2, n, size,
            1000 + first - t0, 1000 + last - t0, sp, dp, 0, 0x12 if proto == 6 else 0, proto, 0, 0, 0, 24, 24, 0)
    # IPFIX: a template (8, 12, 7, 11, 4, 2, 1, 152, 153, 61) and its data.
    fields = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (2, 8), (1, 8), (152, 8), (153, 8), (61, 1)]
    tmpl = struct.pack(">HH", 256, len(fields)) + b"".join(struct.pack(">HH", i, l) for i, l in fields)
    sets = struct.pack(">HH", 2, 4 + len(tmpl)) + tmpl
    data = b""
    for src, dst, proto, (sp, dp), n, size, first, last in flows:
        data += src + dst + struct.pack(">HHBQQQQB", sp, dp, proto, n, size, first, last, 0)
    sets += struct.pack(">HH", 256, 4 + len(data)) + data
    ipfix = struct.pack(">HHIII", 10, 16 + len(sets), t0 // 1000, 0, 7) + sets
    # v9: the same template and records (times as uptime, field 61 included).
    v9_fields = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (2, 4), (1, 4), (22, 4), (21, 4), (61, 1)]
    tmpl = struct.pack(">HH", 300, len(v9_fields)) + b"".join(struct.pack(">HH", i, l) for i, l in v9_fields)
    sets = struct.pack(">HH", 0, 4 + len(tmpl)) + tmpl
    data = b""
    for src, dst, proto, (sp, dp), n, size, first, last in flows:
        data += src + dst + struct.pack(">HHBIIIIB", sp, dp, proto, n, size, 1000 + first - t0, 1000 + last - t0, 1)
    data += bytes(-len(data) % 4)
    sets += struct.pack(">HH", 300, 4 + len(data)) + data
    v9 = struct.pack(">HHIIII", 9, 1 + len(flows), 1000, t0 // 1000, 1, 0) + sets
    out = b""
    for exporter, d in [(0, v5), (1, ipfix), (0, v9)]:
        out += struct.pack(">HB", len(d) + 1, exporter) + d
    return out


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
        seed = sflow_seed(linktype, frames)
        if seed:
            write(a.out, "sflow", seed)
        tuples = five_tuples(linktype, frames)
        seed = netflow_seed(tuples)
        if seed:
            write(a.out, "netflow", seed)
        lines, flows, stats = skydive_lines(name, tuples)
        write(a.out, "skydive_json", "\n".join(lines).encode())
        write(a.out, "skydive_protobuf", envelope("flow", "store", 0, json.dumps(flows).encode()))
        write(a.out, "skydive_protobuf", envelope("stats", "stats", 1, pb_stats(stats)))
    write(a.out, "config", open(os.path.join(ROOT, "examples", "vpcflow.toml"), "rb").read())
    write(a.out, "config", b'[flow_log]\naccount_id = "${FUZZ}"\n[aggregation]\nnodata_max_gap = 600\n')
    print(f"seeds from {count} captures in {a.out}")


if __name__ == "__main__":
    main()
