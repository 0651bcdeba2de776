//! The REJECT policy against a real firewall: two namespaces joined by a veth
//! pair, `vpcflow run` capturing in `a` with a `[policy]`, and an nftables
//! rule set that mirrors the policy dropping the same traffic. The REJECT
//! records must count exactly what nftables counted as dropped; the ACCEPT
//! records the traffic that was delivered.
//!
//! Where the mirror drops: packets into `a` are captured on `a`'s veth before
//! `a`'s input hook drops them (security group and ACL inbound rules), while
//! a packet dropped by `a`'s output hook would never reach the wire, so what
//! `a`'s outbound rules reject is dropped by `b`'s input hook instead.
//!
//! Needs root, `ip` (iproute2), `nft` (nftables), `ping`, `python3` and
//! `tcpdump`; without them the test prints `SKIPPED:` and passes, except
//! under `CI=true`, where it must run.

mod common;
#[path = "common/netns.rs"]
mod netns;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use netns::{can_run, records, show, start, stop, stop_tcpdump, Netns};

/// What the tests need besides root.
const TOOLS: &[&str] = &["ip", "nft", "ping", "python3", "tcpdump"];

const FORMAT: &str = "${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${action} ${log-status} ${tcp-flags} ${flow-direction} ${reject-reason}";

/// The policy of `a`'s veth. Inbound: TCP 8080 (IPv4 and IPv6), UDP 5353
/// and ICMP from the subnet; outbound: TCP 8000-8999 to the subnet and all
/// IPv6. The network ACL allows everything but outbound ICMP (spec §2.5's
/// example: the ping is ACCEPT, its replies REJECT).
fn policy(va: &str) -> String {
    format!(
        r#"
[[policy.security_group]]
name = "server"
interfaces = ["{va}"]
inbound = [ {{ protocol = "tcp", ports = "8080", cidr = "10.77.0.0/24" }},
            {{ protocol = "tcp", ports = 8080, cidr = "fd77::/64" }},
            {{ protocol = "udp", ports = "5353", cidr = "10.77.0.0/24" }},
            {{ protocol = "icmp", cidr = "10.77.0.0/24" }} ]
outbound = [ {{ protocol = "tcp", ports = "8000-8999", cidr = "10.77.0.0/24" }},
             {{ protocol = "all", cidr = "::/0" }} ]

[[policy.network_acl]]
name = "subnet"
interfaces = ["{va}"]
inbound = [ {{ rule = 100, action = "allow", protocol = "all", cidr = "0.0.0.0/0" }},
            {{ rule = 110, action = "allow", protocol = "all", cidr = "::/0" }} ]
outbound = [ {{ rule = 100, action = "deny", protocol = "icmp", cidr = "0.0.0.0/0" }},
             {{ rule = 200, action = "allow", protocol = "all", cidr = "0.0.0.0/0" }},
             {{ rule = 210, action = "allow", protocol = "all", cidr = "::/0" }} ]
"#
    )
}

/// `a`'s input hook: the security group's inbound rules (stateful), then a
/// counted drop of everything else from `b`.
const NFT_A: &str = r#"
table inet mirror {
  chain input {
    type filter hook input priority 0; policy accept;
    ct state established,related accept
    ip saddr 10.77.0.0/24 tcp dport 8080 accept
    ip6 saddr fd77::/64 tcp dport 8080 accept
    ip saddr 10.77.0.0/24 udp dport 5353 accept
    ip saddr 10.77.0.0/24 meta l4proto icmp accept
    ip saddr 10.77.0.2 meta l4proto tcp counter drop comment "in-tcp"
    ip saddr 10.77.0.2 meta l4proto udp counter drop comment "in-udp"
    ip saddr 10.77.0.2 counter drop comment "in-other"
    ip6 saddr fd77::2 counter drop comment "in-v6"
  }
}
"#;

/// `b`'s input hook, for what leaves `a`: the ACL's outbound ICMP deny
/// (stateless: before connection state), then the security group's outbound
/// rules (stateful) and a counted drop of the rest.
const NFT_B: &str = r#"
table inet mirror {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr 10.77.0.1 meta l4proto icmp counter drop comment "out-icmp"
    ip saddr 10.77.0.1 ct state established,related accept
    ip saddr 10.77.0.1 tcp dport 8000-8999 accept
    ip saddr 10.77.0.1 meta l4proto tcp counter drop comment "out-tcp"
    ip saddr 10.77.0.1 counter drop comment "out-other"
  }
}
"#;

/// Counters of the rules with a comment: comment → (packets, bytes).
fn counters(n: &Netns, ns: &str) -> BTreeMap<String, (u64, u64)> {
    let out = n.exec(ns, "nft -j list ruleset").output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut m = BTreeMap::new();
    for item in v["nftables"].as_array().unwrap() {
        let rule = &item["rule"];
        let Some(comment) = rule["comment"].as_str() else {
            continue;
        };
        let counter = rule["expr"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|e| e.get("counter"))
            .unwrap();
        m.insert(
            comment.to_string(),
            (
                counter["packets"].as_u64().unwrap(),
                counter["bytes"].as_u64().unwrap(),
            ),
        );
    }
    m
}

const SERVER_A: &str = r#"
import socket, threading
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("10.77.0.1", 5353))
def echo():
    while True:
        d, a = u.recvfrom(65535); u.sendto(d, a)
threading.Thread(target=echo, daemon=True).start()
def serve(t):
    c, _ = t.accept()
    got = 0
    while got < 1000:
        d = c.recv(65536)
        if not d: break
        got += len(d)
    c.sendall(b"y" * 2000); c.shutdown(socket.SHUT_WR)
    while c.recv(65536): pass
    c.close()
ts = []
for fam, addr in ((socket.AF_INET, "10.77.0.1"), (socket.AF_INET6, "fd77::1")):
    t = socket.socket(fam, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind((addr, 8080)); t.listen(4)
    th = threading.Thread(target=serve, args=(t,)); th.start(); ts.append(th)
print("ready", flush=True)
for th in ts: th.join()
"#;

const CLIENT_B: &str = r#"
import socket, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("10.77.0.2", 41001)); u.settimeout(5)
for _ in range(3):
    u.sendto(b"x" * 100, ("10.77.0.1", 5353)); u.recvfrom(65535)
for _ in range(2):
    u.sendto(b"x" * 100, ("10.77.0.1", 5354))
for fam, addr, src in ((socket.AF_INET, "10.77.0.1", ("10.77.0.2", 41003)), (socket.AF_INET6, "fd77::1", ("fd77::2", 41004))):
    c = socket.create_connection((addr, 8080), source_address=src)
    c.sendall(b"x" * 1000); c.shutdown(socket.SHUT_WR)
    got = 0
    while True:
        d = c.recv(65536)
        if not d: break
        got += len(d)
    assert got == 2000, got
    c.close()
try:
    socket.create_connection(("10.77.0.1", 8081), timeout=2.5, source_address=("10.77.0.2", 41005))
    raise SystemExit("port 8081 must be filtered")
except socket.timeout:
    pass
time.sleep(0.3)
"#;

const CLIENT_A: &str = r#"
import socket
try:
    socket.create_connection(("10.77.0.2", 9000), timeout=2.5, source_address=("10.77.0.1", 41006))
    raise SystemExit("port 9000 must be filtered")
except socket.timeout:
    pass
"#;

/// A configuration capturing on `va`, with `extra` sections.
fn config(dir: &Path, va: &str, extra: &str) -> PathBuf {
    netns::config(dir, FORMAT)
        .array_entry("capture.interface")
        .set("name", va)
        .raw(extra)
        .write(dir)
}

/// The OK records of every file below `out`, split into fields.
fn ok_records(out: &Path) -> Vec<Vec<String>> {
    records(out).into_iter().filter(|r| r[9] == "OK").collect()
}

/// (packets, bytes) of the records `pick` selects.
fn total(rows: &[Vec<String>], pick: impl Fn(&[String]) -> bool) -> (u64, u64) {
    rows.iter().filter(|r| pick(r)).fold((0, 0), |(p, b), r| {
        (
            p + r[6].parse::<u64>().unwrap(),
            b + r[7].parse::<u64>().unwrap(),
        )
    })
}

/// Traffic of the test (not the kernel's IPv6 chatter: link-local, multicast).
fn ours(r: &[String]) -> bool {
    let test_addr = |a: &str| {
        ["10.77.0.", "fd77::", "198.51.100.", "2001:db8:77::"]
            .iter()
            .any(|p| a.starts_with(p))
    };
    test_addr(&r[1]) && test_addr(&r[2])
}

#[test]
fn policy_rejects_match_an_nftables_mirror() {
    if !can_run("policy_rejects_match_an_nftables_mirror", TOOLS) {
        return;
    }
    let n = Netns::new("10.77.0", "fd77::");
    let dir = tempfile::tempdir().unwrap();
    // Capture files have no OS addresses: `a`'s are configured too.
    let extra = format!(
        "[[interface]]\nname = \"{}\"\naddresses = [\"10.77.0.1\", \"fd77::1\"]\n{}",
        n.va,
        policy(&n.va)
    );
    let cfg = config(dir.path(), &n.va, &extra);
    std::fs::write(dir.path().join("a.nft"), NFT_A).unwrap();
    std::fs::write(dir.path().join("b.nft"), NFT_B).unwrap();
    n.run(
        &n.a,
        &format!("nft -f {}", dir.path().join("a.nft").display()),
    );
    n.run(
        &n.b,
        &format!("nft -f {}", dir.path().join("b.nft").display()),
    );

    let mut server = n.python_ready(&n.a, SERVER_A);
    let pcap = dir.path().join("ref.pcap");
    let tcpdump = n.tcpdump(&pcap);
    let daemon = start(&n, &n.a, &cfg);

    // Replies of the IPv4 ping are dropped (ACL), the IPv6 echo requests too
    // (no security group rule): ping fails, on purpose.
    let _ = n
        .exec(&n.b, "ping -n -q -c 3 -i 0.2 -W 1 -s 56 10.77.0.1")
        .output()
        .unwrap();
    let _ = n
        .exec(&n.b, "ping -6 -n -q -c 3 -i 0.2 -W 1 -s 56 fd77::1")
        .output()
        .unwrap();
    n.run(&n.b, &format!("python3 -c '{CLIENT_B}'"));
    n.run(&n.a, &format!("python3 -c '{CLIENT_A}'"));
    assert!(server.wait().unwrap().success());
    thread::sleep(Duration::from_millis(500));
    let stderr = stop(daemon);
    stop_tcpdump(tcpdump);

    let in_a = counters(&n, &n.a);
    let in_b = counters(&n, &n.b);
    let rows: Vec<_> = ok_records(&dir.path().join("out"))
        .into_iter()
        .filter(|r| ours(r))
        .collect();
    let all = show(&rows);
    let ctx = format!("{all}\nnft a: {in_a:?}\nnft b: {in_b:?}\n{stderr}");
    let (a4, b4) = ("10.77.0.1", "10.77.0.2");
    let reject = |r: &[String]| r[8] == "REJECT";
    let accept = |r: &[String]| r[8] == "ACCEPT";
    // No reason but BPA is defined: `-` everywhere here.
    assert!(rows.iter().all(|r| r[12] == "-"), "{ctx}");

    // REJECT, inbound: what `a` dropped, by protocol.
    assert_eq!(
        total(&rows, |r| reject(r) && r[1] == b4 && r[5] == "6"),
        in_a["in-tcp"],
        "{ctx}"
    );
    assert_eq!(
        total(&rows, |r| reject(r) && r[1] == b4 && r[5] == "17"),
        in_a["in-udp"],
        "{ctx}"
    );
    assert_eq!(in_a["in-udp"], (2, 256), "{ctx}");
    assert!(in_a["in-tcp"].0 >= 2, "the SYNs to port 8081: {ctx}");
    assert_eq!(in_a["in-other"], (0, 0), "{ctx}");
    assert_eq!(
        total(&rows, |r| reject(r) && r[1] == "fd77::2"),
        in_a["in-v6"],
        "{ctx}"
    );
    assert_eq!(in_a["in-v6"], (3, 312), "3 ICMPv6 echo requests: {ctx}");
    // REJECT, outbound: what `b` dropped of `a`'s packets.
    assert_eq!(
        total(&rows, |r| reject(r) && r[1] == a4 && r[5] == "1"),
        in_b["out-icmp"],
        "{ctx}"
    );
    assert_eq!(in_b["out-icmp"], (3, 252), "3 echo replies: {ctx}");
    assert_eq!(
        total(&rows, |r| reject(r) && r[1] == a4 && r[5] == "6"),
        in_b["out-tcp"],
        "{ctx}"
    );
    assert!(in_b["out-tcp"].0 >= 2, "the SYNs to port 9000: {ctx}");
    assert_eq!(in_b["out-other"], (0, 0), "{ctx}");
    // Every REJECT is one of those.
    let counted: u64 = in_a.values().chain(in_b.values()).map(|c| c.0).sum();
    assert_eq!(total(&rows, reject).0, counted, "{ctx}");

    // ACCEPT: the delivered traffic.
    assert_eq!(
        total(&rows, |r| accept(r) && r[1] == b4 && r[5] == "1"),
        (3, 252),
        "the echo requests: {ctx}"
    );
    assert_eq!(
        total(&rows, |r| accept(r) && r[1] == b4 && r[4] == "5353"),
        (3, 384),
        "{ctx}"
    );
    assert_eq!(
        total(&rows, |r| accept(r) && r[1] == a4 && r[3] == "5353"),
        (3, 384),
        "UDP responses pass by connection tracking: {ctx}"
    );
    for (client, server) in [(b4, a4), ("fd77::2", "fd77::1")] {
        let flags = |src: &str, dst: &str| {
            let m: Vec<_> = rows
                .iter()
                .filter(|r| accept(r) && r[1] == src && r[2] == dst && r[5] == "6")
                .collect();
            assert!(!m.is_empty(), "{src} > {dst}: {ctx}");
            m.iter().fold(0, |f, r| f | r[10].parse::<u8>().unwrap())
        };
        assert_eq!(flags(client, server), 3, "{ctx}");
        assert_eq!(flags(server, client), 19, "{ctx}");
        let (_, sent) = total(&rows, |r| accept(r) && r[1] == client && r[5] == "6");
        let (_, back) = total(&rows, |r| accept(r) && r[1] == server && r[5] == "6");
        assert!(sent > 1000 && back > 2000, "{ctx}");
    }
    assert!(
        !rows
            .iter()
            .any(|r| accept(r) && (r[4] == "8081" || r[4] == "9000" || r[4] == "5354")),
        "{ctx}"
    );

    // The same traffic captured by tcpdump and converted with
    // `--traffic-type REJECT`: the same REJECT records and nothing else.
    let conv = dir.path().join("conv");
    common::vpcflow_ok(&[
        "convert",
        pcap.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        conv.to_str().unwrap(),
        "--interface-name",
        &n.va,
        "--traffic-type",
        "REJECT",
    ]);
    let converted: Vec<_> = ok_records(&conv).into_iter().filter(|r| ours(r)).collect();
    let live_rejects: Vec<_> = rows.iter().filter(|r| reject(r)).cloned().collect();
    assert_eq!(converted, live_rejects, "{ctx}");
}

/// `a`'s input hook for Block Public Access in `ingress` mode: responses of
/// `a`'s own connections pass, everything else from `b` is dropped.
const NFT_BPA: &str = r#"
table inet mirror {
  chain input {
    type filter hook input priority 0; policy accept;
    ct state established,related accept
    ip saddr 198.51.100.2 counter drop comment "bpa-v4"
    ip6 saddr 2001:db8:77::2 counter drop comment "bpa-v6"
  }
}
"#;

const SERVER_B: &str = r#"
import socket
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(("198.51.100.2", 8080)); t.listen(4)
print("ready", flush=True)
c, _ = t.accept()
c.sendall(b"y" * 3000); c.shutdown(socket.SHUT_WR)
while c.recv(65536): pass
c.close()
"#;

const BPA_CLIENTS: &str = r#"
import socket, sys
if sys.argv[1] == "a":
    c = socket.create_connection(("198.51.100.2", 8080), source_address=("198.51.100.1", 42001))
    c.shutdown(socket.SHUT_WR)
    got = 0
    while True:
        d = c.recv(65536)
        if not d: break
        got += len(d)
    assert got == 3000, got
    c.close()
else:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("198.51.100.2", 42002))
    for _ in range(4):
        u.sendto(b"x" * 50, ("198.51.100.1", 7))
"#;

/// Block Public Access (ingress-only) between public addresses (the
/// documentation blocks count as public): the REJECT records carry
/// `reject-reason` `BPA` and count what the mirror dropped; `a`'s own
/// connection out, and its responses, are ACCEPT. The interface's addresses
/// come from the operating system only.
#[test]
fn block_public_access_rejects_match_an_nftables_mirror() {
    if !can_run(
        "block_public_access_rejects_match_an_nftables_mirror",
        TOOLS,
    ) {
        return;
    }
    let n = Netns::new("198.51.100", "2001:db8:77::");
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &n.va,
        "[policy]\nblock_public_access = \"ingress\"\n",
    );
    std::fs::write(dir.path().join("a.nft"), NFT_BPA).unwrap();
    n.run(
        &n.a,
        &format!("nft -f {}", dir.path().join("a.nft").display()),
    );
    let mut server = n.python_ready(&n.b, SERVER_B);
    let daemon = start(&n, &n.a, &cfg);
    n.run(&n.a, &format!("python3 -c '{BPA_CLIENTS}' a"));
    n.run(&n.b, &format!("python3 -c '{BPA_CLIENTS}' b"));
    let _ = n
        .exec(&n.b, "ping -n -q -c 2 -i 0.2 -W 1 198.51.100.1")
        .output()
        .unwrap();
    let _ = n
        .exec(&n.b, "ping -6 -n -q -c 2 -i 0.2 -W 1 2001:db8:77::1")
        .output()
        .unwrap();
    assert!(server.wait().unwrap().success());
    thread::sleep(Duration::from_millis(500));
    let stderr = stop(daemon);

    let dropped = counters(&n, &n.a);
    let rows: Vec<_> = ok_records(&dir.path().join("out"))
        .into_iter()
        .filter(|r| ours(r))
        .collect();
    let ctx = format!("{}\nnft a: {dropped:?}\n{stderr}", show(&rows));
    let bpa = |r: &[String]| r[8] == "REJECT" && r[12] == "BPA";
    assert!(
        rows.iter()
            .all(|r| bpa(r) || (r[8] == "ACCEPT" && r[12] == "-")),
        "{ctx}"
    );
    assert_eq!(
        total(&rows, |r| bpa(r) && r[1] == "198.51.100.2"),
        dropped["bpa-v4"],
        "{ctx}"
    );
    // 4 UDP datagrams (20 + 8 + 50) and 2 echo requests (84).
    assert_eq!(dropped["bpa-v4"], (6, 4 * 78 + 2 * 84), "{ctx}");
    assert_eq!(
        total(&rows, |r| bpa(r) && r[1] == "2001:db8:77::2"),
        dropped["bpa-v6"],
        "{ctx}"
    );
    assert_eq!(dropped["bpa-v6"], (2, 2 * 104), "{ctx}");
    // `a`'s own connection: both directions ACCEPT, nothing of it rejected.
    let conn = |r: &[String]| r[5] == "6" && (r[3] == "42001" || r[4] == "42001");
    assert!(
        rows.iter().filter(|r| conn(r)).all(|r| r[8] == "ACCEPT"),
        "{ctx}"
    );
    let (_, back) = total(&rows, |r| conn(r) && r[1] == "198.51.100.2");
    assert!(back > 3000, "{ctx}");
    assert!(rows.iter().any(|r| conn(r) && r[11] == "egress"), "{ctx}");
}
