//! `vpcflow convert --skydive`: recorded Skydive messages through the binary,
//! and the equivalence of Skydive-shaped update sequences with the pcap path.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;

use common::vpcflow;
use serde_json::{json, Value};
use vpcflow_core::FlowUpdate;
use vpcflow_sources::pcap::{read_capture, PcapOptions};
use vpcflow_testkit::{shared_dir, ConfigToml, RecordingConsumer};

const FORMAT: &str = "${version} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${tcp-flags}";

/// With the packet-level addresses of tunnels.
const FORMAT_PKT: &str = "${version} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${pkt-srcaddr} ${pkt-dstaddr} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${tcp-flags}";

fn flow(uuid: &str, a: &str, b: &str, ports: (u16, u16), lum: [i64; 6], metric: [i64; 6]) -> Value {
    let m = |v: [i64; 6]| json!({"ABPackets": v[0], "ABBytes": v[1], "BAPackets": v[2], "BABytes": v[3], "Start": v[4], "Last": v[5]});
    json!({
        "UUID": uuid,
        "LayersPath": "Ethernet/IPv4/TCP",
        "NodeTID": "node-a",
        "CaptureID": "cap",
        "Network": {"Protocol": "IPV4", "A": a, "B": b},
        "Transport": {"Protocol": "TCP", "A": ports.0, "B": ports.1.to_string()},
        "Metric": m(metric),
        "LastUpdateMetric": m(lum),
        "Start": metric[4],
        "Last": metric[5],
    })
}

#[test]
fn recorded_messages_become_records_and_malformed_lines_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.jsonl");
    let t0 = 1_800_000_000_000i64;
    let f1 = flow(
        "f1",
        "10.0.0.1",
        "10.0.0.2",
        (40000, 443),
        [3, 3 * 114, 2, 2 * 74, t0 + 1_000, t0 + 60_000],
        [3, 3 * 114, 2, 2 * 74, t0 + 1_000, t0 + 30_000],
    );
    let f1_next = flow(
        "f1",
        "10.0.0.1",
        "10.0.0.2",
        (40000, 443),
        [1, 54, 0, 0, t0 + 60_000, t0 + 120_000],
        [4, 3 * 114 + 54, 2, 2 * 74, t0 + 1_000, t0 + 61_000],
    );
    let msg = |flows: Vec<Value>| {
        json!({"Namespace": "flow", "Type": "store", "UUID": "m", "Status": 200, "Obj": flows})
            .to_string()
    };
    let lines = [
        msg(vec![f1.clone()]),
        msg(vec![f1]), // a repeated delta
        "{\"Namespace\":\"flow\",\"Type\":\"store\",\"Obj\":[{\"UUID\":".to_string(),
        Value::Array(vec![f1_next]).to_string(),
    ];
    std::fs::write(&rec, lines.join("\n") + "\n").unwrap();
    let run = vpcflow(&[
        "convert",
        "--skydive",
        rec.to_str().unwrap(),
        "--out",
        "-",
        "--interval",
        "60",
        "--format",
        FORMAT,
        "--no-nodata",
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(
        run.status.code(),
        Some(1),
        "malformed lines: exit 1\n{stderr}"
    );
    // File, line and column; not the JSON parser's own "line 1 column 50".
    assert!(
        stderr.contains("rec.jsonl:3:50: not a Skydive message: EOF while parsing a value\n"),
        "{stderr}"
    );
    assert!(!stderr.contains(" column "), "{stderr}");
    assert!(
        stderr.contains("1 malformed lines, 1 repeated deltas"),
        "{stderr}"
    );
    let text = String::from_utf8(run.stdout).unwrap();
    let records: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(' ').skip(2).collect())
        .collect();
    let t = t0 / 1000;
    let expect = |s: &str| -> Vec<String> { s.split(' ').map(String::from).collect() };
    let got: Vec<Vec<String>> = records
        .iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect();
    assert_eq!(
        got,
        vec![
            expect(&format!(
                "10.0.0.1 10.0.0.2 40000 443 6 3 300 {} {} ACCEPT OK 0",
                t + 1,
                t + 30
            )),
            expect(&format!(
                "10.0.0.2 10.0.0.1 443 40000 6 2 120 {} {} ACCEPT OK 0",
                t + 1,
                t + 30
            )),
            expect(&format!(
                "10.0.0.1 10.0.0.2 40000 443 6 1 40 {} {} ACCEPT OK 0",
                t + 60,
                t + 61
            )),
        ]
    );
}

#[test]
fn missing_recording_is_an_error_naming_it() {
    let run = vpcflow(&[
        "convert",
        "--skydive",
        "/nonexistent/rec.jsonl",
        "--out",
        "-",
    ]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("Skydive recording /nonexistent/rec.jsonl"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------
// Equivalence with the pcap path.

/// One Skydive flow being built: cumulative counters and what was sent.
struct Building {
    uuid: String,
    parent: Option<String>,
    node: String,
    a: (IpAddr, u16),
    b: (IpAddr, u16),
    protocol: u8,
    layers: String,
    /// Per packet: bytes Skydive adds (link header) or removes (IPv6 header).
    link: i64,
    metric: [i64; 4],
    sent: [i64; 4],
    start_ms: i64,
    last_ms: i64,
    updated: bool,
    tcp: [i64; 6],
}

fn layer_name(protocol: u8, v6: bool) -> &'static str {
    match protocol {
        6 => "TCP",
        17 => "UDP",
        132 => "SCTP",
        1 => "ICMPv4",
        58 => "ICMPv6",
        47 => "GRE",
        4 => "IPv4",
        41 => "IPv6",
        _ if v6 => "IPv6",
        _ => "Unknown",
    }
}

impl Building {
    fn new(
        uuid: String,
        parent: Option<String>,
        node: &str,
        u: &FlowUpdate,
        inner: bool,
        n: usize,
    ) -> Building {
        let v6 = u.key.src.is_ipv6();
        let (a, b) = match (inner, u.packet_addrs) {
            (true, Some(p)) => ((p.src, 0), (p.dst, 0)),
            _ => ((u.key.src, u.key.src_port), (u.key.dst, u.key.dst_port)),
        };
        let protocol = if inner {
            if a.0.is_ipv6() {
                58
            } else {
                1
            }
        } else {
            u.key.protocol
        };
        let ip = if a.0.is_ipv6() { "IPv6" } else { "IPv4" };
        // Alternate between Ethernet captures and captures without a link
        // layer, to exercise both byte rules.
        let (layers, link) = if inner {
            (format!("{ip}/{}", layer_name(protocol, v6)), 0)
        } else if n % 2 == 0 {
            (format!("Ethernet/{ip}/{}", layer_name(protocol, v6)), 14)
        } else {
            (
                format!("/{ip}/{}", layer_name(protocol, v6)),
                if v6 { -40 } else { 0 },
            )
        };
        Building {
            uuid,
            parent,
            node: node.to_string(),
            a,
            b,
            protocol,
            layers,
            link,
            metric: [0; 4],
            sent: [0; 4],
            start_ms: 0,
            last_ms: 0,
            updated: false,
            tcp: [0; 6],
        }
    }

    fn add(&mut self, u: &FlowUpdate, forward: bool) {
        let at = (u.last / 1_000_000) as i64;
        if self.start_ms == 0 {
            self.start_ms = at;
        }
        self.last_ms = self.last_ms.max(at);
        let bytes = u.bytes as i64 + self.link * u.packets as i64;
        let i = if forward { 0 } else { 2 };
        self.metric[i] += u.packets as i64;
        self.metric[i + 1] += bytes;
        let f = u.tcp_flags.value();
        let side = if forward { 0 } else { 1 };
        for (bit, slot) in [(2u8, 0usize), (1, 2), (4, 4)] {
            if f & bit != 0 && self.tcp[slot + side] == 0 {
                self.tcp[slot + side] = at.max(1);
            }
        }
    }

    fn json(&self, tick_ms: i64, prev_tick: i64) -> Value {
        let m = self.metric;
        let s = self.sent;
        let lum_start = if s == [0; 4] {
            self.start_ms
        } else {
            prev_tick
        };
        let mut f = json!({
            "UUID": self.uuid,
            "LayersPath": self.layers,
            "NodeTID": self.node,
            "CaptureID": "cap",
            "Network": {
                "Protocol": if self.a.0.is_ipv6() { "IPV6" } else { "IPV4" },
                "A": self.a.0.to_string(),
                "B": self.b.0.to_string(),
            },
            "Metric": {"ABPackets": m[0], "ABBytes": m[1], "BAPackets": m[2], "BABytes": m[3], "Start": self.start_ms, "Last": self.last_ms},
            "LastUpdateMetric": {"ABPackets": m[0] - s[0], "ABBytes": m[1] - s[1], "BAPackets": m[2] - s[2], "BABytes": m[3] - s[3], "Start": lum_start, "Last": tick_ms},
            "Start": self.start_ms,
            "Last": self.last_ms,
        });
        if let Some(p) = &self.parent {
            f["ParentUUID"] = json!(p);
        }
        match self.protocol {
            6 | 17 | 132 => {
                f["Transport"] = json!({
                    "Protocol": layer_name(self.protocol, false),
                    "A": self.a.1,
                    "B": self.b.1,
                });
            }
            1 | 58 => f["ICMP"] = json!({"Type": "ECHO", "Code": 0}),
            _ => {}
        }
        if self.protocol == 6 {
            let t = self.tcp;
            f["TCPMetric"] = json!({
                "ABSynStart": t[0], "BASynStart": t[1],
                "ABFinStart": t[2], "BAFinStart": t[3],
                "ABRstStart": t[4], "BARstStart": t[5],
            });
        }
        f
    }
}

type Pair = (String, IpAddr, u16, IpAddr, u16, u8);

/// Turns packet updates into Skydive messages: a flow table updated every
/// second (at each whole second), sending each changed flow with its
/// cumulative Metric and the delta since the previous update; every third
/// update is sent twice; at most 100 flows per message.
fn skydive_recording(c: &RecordingConsumer) -> String {
    let mut table: Vec<Building> = Vec::new();
    let mut index: BTreeMap<Pair, usize> = BTreeMap::new();
    let mut inner_index: BTreeMap<(usize, IpAddr, IpAddr), usize> = BTreeMap::new();
    let mut lines = Vec::new();
    let mut updates = c.updates.clone();
    updates.sort_by_key(|u| u.last);
    let mut sent_count = 0usize;
    let mut flush = |table: &mut Vec<Building>, tick: i64, lines: &mut Vec<String>| {
        let mut batch = Vec::new();
        for b in table.iter_mut().filter(|b| b.updated) {
            let f = b.json(tick, tick - 1000);
            sent_count += 1;
            if sent_count % 3 == 0 {
                batch.push(f.clone());
            }
            batch.push(f);
            b.sent = b.metric;
            b.updated = false;
        }
        for chunk in batch.chunks(100) {
            lines.push(
                json!({"Namespace": "flow", "Type": "store", "UUID": "m", "Status": 200, "Obj": chunk})
                    .to_string(),
            );
        }
    };
    let mut tick: Option<i64> = None;
    for u in &updates {
        let at = (u.last / 1_000_000) as i64;
        let this_tick = (at / 1000 + 1) * 1000;
        if let Some(t) = tick {
            if this_tick > t {
                flush(&mut table, t, &mut lines);
            }
        }
        tick = Some(this_tick);
        let node = c.names[u.interface.0 as usize].clone();
        let k = &u.key;
        let fwd = (
            node.clone(),
            k.src,
            k.src_port,
            k.dst,
            k.dst_port,
            k.protocol,
        );
        let rev = (
            node.clone(),
            k.dst,
            k.dst_port,
            k.src,
            k.src_port,
            k.protocol,
        );
        let (i, forward) = match (index.get(&fwd), index.get(&rev)) {
            (Some(&i), _) => (i, true),
            (None, Some(&i)) => (i, false),
            (None, None) => {
                let n = table.len();
                table.push(Building::new(format!("flow-{n}"), None, &node, u, false, n));
                index.insert(fwd, n);
                (n, true)
            }
        };
        table[i].add(u, forward);
        table[i].updated = true;
        if let Some(p) = u.packet_addrs {
            let (x, y) = if forward {
                (p.src, p.dst)
            } else {
                (p.dst, p.src)
            };
            let j = match (inner_index.get(&(i, x, y)), inner_index.get(&(i, y, x))) {
                (Some(&j), _) | (None, Some(&j)) => j,
                (None, None) => {
                    let n = table.len();
                    let parent = table[i].uuid.clone();
                    table.push(Building::new(
                        format!("flow-{n}"),
                        Some(parent),
                        &node,
                        u,
                        true,
                        n,
                    ));
                    inner_index.insert((i, x, y), n);
                    n
                }
            };
            let inner_forward = table[j].a.0 == p.src;
            let mut inner = *u;
            inner.bytes = u.bytes.saturating_sub(20);
            table[j].add(&inner, inner_forward);
            table[j].updated = true;
        }
    }
    if let Some(t) = tick {
        flush(&mut table, t, &mut lines);
    }
    lines.join("\n") + "\n"
}

fn records(args: &[&str]) -> String {
    let run = vpcflow(args);
    assert!(
        run.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8(run.stdout).unwrap()
}

#[test]
fn skydive_shaped_captures_give_the_records_of_the_pcap_path() {
    let Some(shared) = shared_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for name in [
        "skydive-simple-tcpv4",
        "skydive-simple-tcpv6",
        "skydive-dns",
        "skydive-icmpv4-symetric",
        "skydive-eth-ip4-arp-dns-req-http-google",
        "skydive-iperf-same-L2L3",
        "skydive-gre-mpls-icmpv4",
        "skydive-vxlan-src-port",
        "skydive-geneve",
        "suricata-nfs3-01",
    ] {
        let pcap = shared.join("pcaps").join(format!("{name}.pcap"));
        let mut c = RecordingConsumer::default();
        read_capture(&pcap, &PcapOptions::default(), &mut c, &mut |_| {}).unwrap();
        assert!(c.losses.is_empty(), "{name}");
        let rec = dir.path().join(format!("{name}.jsonl"));
        std::fs::write(&rec, skydive_recording(&c)).unwrap();
        for (interval, format) in [("60", FORMAT), ("600", FORMAT), ("600", FORMAT_PKT)] {
            let common = ["--out", "-", "--interval", interval, "--format", format];
            let mut a = vec!["convert", pcap.to_str().unwrap()];
            a.extend(common);
            let mut b = vec!["convert", "--skydive", rec.to_str().unwrap()];
            b.extend(common);
            let from_pcap = records(&a);
            let from_skydive = records(&b);
            assert!(from_pcap.lines().count() > 1, "{name}");
            assert_eq!(
                from_skydive, from_pcap,
                "{name}, interval {interval}, {format}"
            );
        }
        compared += 1;
    }
    assert_eq!(compared, 10);
}

#[test]
fn reject_from_two_capture_points_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = 1_800_000_000_000i64;
    let point = |uuid: &str, node: &str, tracking: &str, packets: i64, at: i64| {
        let mut f = flow(
            uuid,
            "10.0.0.1",
            "10.0.0.2",
            (40000, 443),
            [packets, packets * 114, 0, 0, at, at],
            [packets, packets * 114, 0, 0, at, at],
        );
        f["NodeTID"] = json!(node);
        f["L3TrackingID"] = json!(tracking);
        f
    };
    let lines = [
        // Passed the firewall.
        Value::Array(vec![
            point("o1", "fw-out", "ok", 2, t0 + 1_000),
            point("i1", "fw-in", "ok", 2, t0 + 1_000),
        ]),
        // Blocked: only seen outside.
        Value::Array(vec![point("o2", "fw-out", "blocked", 3, t0 + 2_000)]),
        // Later traffic moves event time past the timeout.
        Value::Array(vec![point("o3", "elsewhere", "", 1, t0 + 300_000)]),
    ];
    let rec = dir.path().join("rec.jsonl");
    std::fs::write(&rec, lines.map(|l| l.to_string()).join("\n")).unwrap();
    let config = ConfigToml::new()
        .table("skydive.reject")
        .set("outside", "fw-out")
        .set("inside", "fw-in")
        .set("timeout", 60)
        .array_entry("interface")
        .set("name", "fw-out")
        .set("interface_id", "eni-0000000000000000a")
        .write_as(&dir.path().join("c.toml"));
    let text = records(&[
        "convert",
        "--skydive",
        rec.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--out",
        "-",
        "--no-nodata",
        "--format",
        "${interface-id} ${packets} ${action}",
    ]);
    let mut lines: Vec<&str> = text.lines().skip(1).collect();
    lines.sort();
    assert!(
        lines.contains(&"eni-0000000000000000a 2 ACCEPT"),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"eni-0000000000000000a 3 REJECT"),
        "{lines:?}"
    );
    assert_eq!(lines.len(), 4, "{lines:?}"); // + fw-in ACCEPT, elsewhere ACCEPT
}

/// A one-connection analyzer on loopback that sends `lines` (as text
/// messages, answering pings) and keeps the connection until the client goes.
fn analyzer(lines: Vec<String>) -> (u16, std::thread::JoinHandle<()>) {
    use tungstenite::Message;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let (tcp, _) = l.accept().unwrap();
        let mut ws = tungstenite::accept(tcp).unwrap();
        for line in lines {
            ws.send(Message::text(line)).unwrap();
        }
        while ws.read().is_ok() {}
    });
    (port, t)
}

#[test]
fn skydive_shaped_captures_through_a_live_analyzer_give_the_pcap_records() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let Some(shared) = shared_dir() else { return };
    for name in ["skydive-simple-tcpv4", "skydive-dns", "skydive-geneve"] {
        let dir = tempfile::tempdir().unwrap();
        let pcap = shared.join("pcaps").join(format!("{name}.pcap"));
        let mut c = RecordingConsumer::default();
        read_capture(&pcap, &PcapOptions::default(), &mut c, &mut |_| {}).unwrap();
        let recording = skydive_recording(&c);
        let lines: Vec<String> = recording.lines().map(String::from).collect();
        let messages = lines.len();
        let (port, server) = analyzer(lines);
        let identity = ConfigToml::new().test_flow_log().without_nodata();
        let config = identity
            .clone()
            .table("output")
            .set("out", dir.path().join("out"))
            .skydive_analyzer(port)
            .table("state")
            .set("dir", dir.path().join("state"))
            .write_as(&dir.path().join("run.toml"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_vpcflow"))
            .args(["run", "--config", config.to_str().unwrap()])
            .env_remove("VPCFLOW_LOG")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The same configuration, reading the capture.
        let config2 = identity
            .table("output")
            .set("out", dir.path().join("out-pcap"))
            .write_as(&dir.path().join("pcap.toml"));
        let run = vpcflow(&[
            "convert",
            pcap.to_str().unwrap(),
            "--config",
            config2.to_str().unwrap(),
        ]);
        assert!(run.status.success());
        let read_all = |root: &std::path::Path| {
            let mut lines: Vec<String> = Vec::new();
            if !root.is_dir() {
                return lines;
            }
            for f in common::files_below(root) {
                if f.starts_with(".vpcflow-staging") {
                    continue;
                }
                lines.extend(
                    common::gunzip(&root.join(f))
                        .lines()
                        .skip(1)
                        .map(String::from),
                );
            }
            lines.sort();
            lines
        };
        let from_pcap = read_all(&dir.path().join("out-pcap"));
        assert!(!from_pcap.is_empty());
        // The capture's windows are long past: they close on the wall clock
        // while the daemon runs. Then SIGTERM.
        let deadline = Instant::now() + Duration::from_secs(20);
        while read_all(&dir.path().join("out")) != from_pcap && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let status = child.wait().unwrap();
        let mut stderr = String::new();
        use std::io::Read;
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(status.success(), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("read      {messages} messages")),
            "{name}: all {messages} messages read: {stderr}"
        );
        server.join().unwrap();
        let live = read_all(&dir.path().join("out"));
        let from_pcap = read_all(&dir.path().join("out-pcap"));
        assert!(!from_pcap.is_empty());
        assert_eq!(live, from_pcap, "{name}");
    }
}
