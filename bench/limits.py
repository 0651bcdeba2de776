#!/usr/bin/env python3
"""Peak memory, open files and time of vpcflow on the inputs that once
exhausted them (docs/reliability.md), under the usual 1024-descriptor limit.

    bench/limits.py [--vpcflow PATH] [--dir DIR] [--timeout SECS]

Writes the inputs into DIR (default /tmp/vpcflow-limits), runs each through
the binary (default target/release/vpcflow, else target/debug/vpcflow) with
`prlimit --nofile=1024 --as=4G` under GNU time, and prints one row per input:
exit status, peak resident memory and wall time. A run still going after the
timeout (default 60 s) is stopped and reported as such. Not part of CI: the
end-to-end tests in crates/vpcflow/tests/resource_limits.rs check the bounds.
"""

import argparse
import os
import struct
import subprocess
import sys
import time

T0 = 1_700_000_000
DAY = 86_400


def udp_frame(sport):
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 36, 1, 0, 64, 17, 0,
                               bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])))
    s = sum(struct.unpack("!10H", ip))
    s = (s & 0xFFFF) + (s >> 16)
    ip[10:12] = struct.pack("!H", ~((s & 0xFFFF) + (s >> 16)) & 0xFFFF)
    eth = bytes([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0])
    return eth + bytes(ip) + struct.pack("!HHHH", sport, 53, 16, 0) + bytes(8)


def pcap(path, times):
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for i, t in enumerate(times):
        f = udp_frame(40000 + i)
        out += struct.pack("<IIII", t, 0, len(f), len(f)) + f
    open(path, "wb").write(out)


def block(kind, body):
    body += bytes(-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", kind, n) + body + struct.pack("<I", n)


def pcapng(path, interfaces, times):
    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    for _ in range(interfaces):
        out += block(1, struct.pack("<HHI", 1, 0, 0))
    for i, t in enumerate(times):
        f = udp_frame(40000 + i)
        us = t * 1_000_000
        out += block(6, struct.pack("<IIIII", 0, us >> 32, us & 0xFFFFFFFF, len(f), len(f)) + f)
    open(path, "wb").write(out)


def skydive(path, flows):
    with open(path, "w") as f:
        f.write("[" + ",".join(["{}"] * flows) + "]\n")


def config(path, gap):
    open(path, "w").write(f"[aggregation]\nnodata_max_gap = {gap}\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vpcflow")
    p.add_argument("--dir", default="/tmp/vpcflow-limits")
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--max-address-space", default=str(4 << 30),
                   help="prlimit --as (bytes) for each run, so that a run that grows without end stops (default 4 GiB)")
    a = p.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    exe = a.vpcflow or next((c for c in (f"{root}/target/release/vpcflow",
                                         f"{root}/target/debug/vpcflow") if os.path.exists(c)), None)
    if not exe:
        sys.exit("no vpcflow binary: build one or give --vpcflow")
    d = a.dir
    os.makedirs(d, exist_ok=True)
    pcap(f"{d}/far.pcap", [T0, T0 + 400 * DAY])
    pcap(f"{d}/six-days.pcap", [T0, T0 + 6 * DAY])
    pcapng(f"{d}/5000-interfaces.pcapng", 5000, [T0, T0 + DAY - 600])
    skydive(f"{d}/1m-flows.jsonl", 1_000_000)
    skydive(f"{d}/3.4m-flows.jsonl", 3_400_000)
    config(f"{d}/gap-max.toml", 2**63 - 1)
    config(f"{d}/gap-week.toml", 7 * DAY)
    cases = [
        ("nodata_max_gap = 2^63-1, packets 400 days apart",
         ["convert", f"{d}/far.pcap", "--config", f"{d}/gap-max.toml"]),
        ("nodata_max_gap = 1 week, packets 6 days apart, --interval 60",
         ["convert", f"{d}/six-days.pcap", "--config", f"{d}/gap-week.toml", "--interval", "60"]),
        ("pcapng, 5000 interfaces, packets a day apart",
         ["convert", f"{d}/5000-interfaces.pcapng"]),
        ("the same, --interval 60",
         ["convert", f"{d}/5000-interfaces.pcapng", "--interval", "60"]),
        ("Skydive line of 1,000,000 empty flows (3 MB)", ["convert", "--skydive", f"{d}/1m-flows.jsonl"]),
        ("Skydive line of 3,400,000 empty flows (10 MB)", ["convert", "--skydive", f"{d}/3.4m-flows.jsonl"]),
    ]
    print(f"binary: {exe}")
    print(f"{'input':<62} {'peak RSS':>10} {'time':>8}  exit")
    for name, args in cases:
        out = f"{d}/out"
        subprocess.run(["rm", "-rf", out])
        cmd = ["/usr/bin/time", "-f", "%M", "prlimit", "--nofile=1024",
               f"--as={a.max_address_space}", "--", exe, *args, "--out", out, "-q"]
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        try:
            _, err = proc.communicate(timeout=a.timeout)
            status = str(proc.returncode)
            lines = err.strip().splitlines()
            rss = f"{int(lines[-1]) // 1024} MB" if lines and lines[-1].isdigit() else "?"
            if proc.returncode != 0 and len(lines) > 1:
                status += f" ({lines[-2][:60]})"
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            status, rss = "killed", "?"
        print(f"{name:<62} {rss:>10} {time.monotonic() - start:>7.1f}s  {status}")


if __name__ == "__main__":
    main()
