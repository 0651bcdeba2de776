//! Real NetFlow/IPFIX exporters and an independent collector for the
//! NetFlow tests: softflowd exports a capture's flows, tcpdump records the
//! export datagrams, nfcapd/nfdump decodes the same datagrams (tshark too:
//! tshark.rs).

#![allow(dead_code)] // each test file uses its own subset

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A unidirectional 5-tuple as text: src, dst, sport, dport, protocol number.
pub type Tuple = (String, String, u16, u16, u8);

/// Packets and bytes per 5-tuple.
pub type Totals = BTreeMap<Tuple, (u64, u64)>;

/// The tools the NetFlow tests run.
pub const TOOLS: [&str; 6] = [
    "softflowd",
    "softflowctl",
    "nfcapd",
    "nfdump",
    "tcpdump",
    "tshark",
];

/// Whether the NetFlow tests can run here: root (tcpdump on loopback) and
/// [`TOOLS`]; prints why not, and panics under `VPCFLOW_REQUIRE_NETFLOW=1`
/// (set by CI, which installs them).
pub fn available(test: &str) -> bool {
    let missing = crate::common::missing_root_and(&TOOLS);
    if missing.is_empty() {
        return true;
    }
    if std::env::var("VPCFLOW_REQUIRE_NETFLOW").as_deref() == Ok("1") {
        panic!(
            "{test}: needs {} (VPCFLOW_REQUIRE_NETFLOW=1)",
            missing.join(", ")
        );
    }
    println!(
        "SKIPPED: {test}: needs {} (apt-get install softflowd nfdump tcpdump tshark; as root)",
        missing.join(", ")
    );
    false
}

/// A loopback UDP port free at the time of the call.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `vpcflow run` collecting on a fresh loopback UDP port with one
/// `[[SECTION]]` (`netflow.listen`, `sflow.listen`), writing into
/// `dir/live`, its state in `dir/state` and `/metrics` on a fresh port;
/// returned once the port is taken, with the port and the metrics address.
pub fn start_collector(dir: &Path, section: &str) -> (Child, u16, std::net::SocketAddr) {
    let port = free_udp_port();
    let metrics: std::net::SocketAddr = format!("127.0.0.1:{}", crate::common::free_port())
        .parse()
        .unwrap();
    let config = vpcflow_testkit::ConfigToml::new()
        .test_flow_log()
        .table("output")
        .set("out", dir.join("live"))
        .without_nodata()
        .table("state")
        .set("dir", dir.join("state"))
        .table("metrics")
        .set("listen", metrics.to_string())
        .array_entry(section)
        .set("address", format!("127.0.0.1:{port}"))
        .write(dir);
    let daemon = Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args(["run", "--config", config.to_str().unwrap()])
        .env_remove("VPCFLOW_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it listens (the port is taken).
    let deadline = Instant::now() + Duration::from_secs(20);
    while UdpSocket::bind(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "vpcflow run did not listen");
        thread::sleep(Duration::from_millis(50));
    }
    (daemon, port, metrics)
}

/// `tshark -r FILE ARGS…`: its standard output; panics with its error
/// output when it fails.
pub fn tshark(file: &Path, args: &[&str]) -> Vec<u8> {
    crate::common::stdout_ok(Command::new("tshark").arg("-r").arg(file).args(args))
}

/// tcpdump recording UDP datagrams to `port` on loopback.
pub struct Tcpdump(Child, PathBuf);

impl Tcpdump {
    /// Starts recording into `pcap`; returns once tcpdump listens.
    pub fn start(port: u16, pcap: &Path) -> Tcpdump {
        let mut child = Command::new("tcpdump")
            // A 128 MiB capture buffer: softflowd sends its last flows in a
            // burst, which tcpdump's default 2 MiB loses on a busy machine.
            .args([
                "-i",
                "lo",
                "-n",
                "-B",
                "131072",
                "-U",
                "--immediate-mode",
                "-w",
            ])
            .arg(pcap)
            .args(["udp", "dst", "port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tcpdump");
        let mut line = String::new();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        while !line.contains("listening") {
            line.clear();
            if err.read_line(&mut line).unwrap() == 0 {
                panic!("tcpdump did not start");
            }
        }
        // Keep draining its stderr so that it never blocks.
        thread::spawn(move || {
            let mut rest = String::new();
            let _ = err.read_to_string(&mut rest);
        });
        Tcpdump(child, pcap.to_path_buf())
    }

    /// Stops it (SIGINT: it writes out what it has) once its file has
    /// stopped growing.
    pub fn stop(mut self) {
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut last = size(&self.1);
        let mut stable = 0;
        while stable < 3 {
            thread::sleep(Duration::from_millis(200));
            let now = size(&self.1);
            stable = if now == last { stable + 1 } else { 0 };
            last = now;
        }
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        self.0.wait().unwrap();
    }
}

/// nfcapd collecting on a loopback port into a folder.
pub struct Nfcapd {
    child: Child,
    dir: PathBuf,
    /// The port it listens on.
    pub port: u16,
}

impl Nfcapd {
    /// Starts nfcapd on a free loopback port, writing into a new folder
    /// below `parent`; returns once it listens. A start that fails (nfcapd
    /// exits, or another process takes the port first) is tried again on
    /// another port, three times at most; then the panic shows nfcapd's
    /// output.
    pub fn start(parent: &Path) -> Nfcapd {
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_udp_port();
            let dir = parent.join(format!("nfcapd-{port}"));
            std::fs::create_dir_all(&dir).unwrap();
            let log = dir.with_extension("log");
            let mut child = Command::new("nfcapd")
                .args(["-b", "127.0.0.1", "-p", &port.to_string(), "-w"])
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .expect("start nfcapd");
            // nfcapd binds at once; give it a moment (longer on a loaded
            // machine).
            let deadline = Instant::now() + Duration::from_secs(30);
            let bound = loop {
                let listening = std::fs::read_to_string(&log)
                    .is_ok_and(|l| l.contains(&format!("Port: {port}\n")));
                if listening && UdpSocket::bind(("127.0.0.1", port)).is_err() {
                    break true;
                }
                if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
                    break false;
                }
                thread::sleep(Duration::from_millis(20));
            };
            if bound {
                return Nfcapd { child, dir, port };
            }
            let _ = child.kill();
            let _ = child.wait();
            last = std::fs::read_to_string(&log).unwrap_or_default();
        }
        panic!("nfcapd did not listen (three ports tried); its output:\n{last}");
    }

    /// Stops it (SIGTERM writes its file) and reads every flow it stored.
    pub fn stop(mut self) -> Totals {
        thread::sleep(Duration::from_millis(300));
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap();
        nfdump_totals(&self.dir)
    }
}

/// Per-5-tuple totals of the flows nfdump reads from the nfcapd files of
/// `dir` (`nfdump -R dir -o csv`); ports only for TCP, UDP and SCTP.
pub fn nfdump_totals(dir: &Path) -> Totals {
    let out = crate::common::stdout_ok(
        Command::new("nfdump")
            .arg("-R")
            .arg(dir)
            .args(["-q", "-N", "-o", "csv"]),
    );
    let mut totals = Totals::new();
    for line in String::from_utf8_lossy(&out).lines() {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 13 || f[0] == "ts" {
            continue;
        }
        let proto = protocol_number(f[7].trim());
        let ported = matches!(proto, 6 | 17 | 132);
        let port = |s: &str| {
            if ported {
                s.trim().parse::<f64>().unwrap_or(0.0) as u16
            } else {
                0
            }
        };
        let key = (
            f[3].trim().to_string(),
            f[4].trim().to_string(),
            port(f[5]),
            port(f[6]),
            proto,
        );
        let e = totals.entry(key).or_insert((0, 0));
        e.0 += f[11].trim().parse::<u64>().unwrap();
        e.1 += f[12].trim().parse::<u64>().unwrap();
    }
    totals
}

/// The number of a protocol nfdump names (its names are those of
/// /etc/protocols, upper-case, or the number itself).
fn protocol_number(name: &str) -> u8 {
    if let Ok(n) = name.parse() {
        return n;
    }
    if name == "ICMP6" {
        return 58;
    }
    let table = std::fs::read_to_string("/etc/protocols").unwrap_or_default();
    table
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (n, num) = (f.next()?, f.next()?.parse::<u8>().ok()?);
            (n.eq_ignore_ascii_case(name) || f.any(|a| a.eq_ignore_ascii_case(name))).then_some(num)
        })
        .next()
        .unwrap_or_else(|| panic!("nfdump protocol {name:?}"))
}

/// Runs softflowd on `capture`, exporting with `version` (5, 9 or 10) to
/// 127.0.0.1:`port` with `extra` options, until it has read the whole
/// capture and exported every flow. Flow times come from the capture (-a).
/// False when softflowd refuses the capture (a link type it does not read).
pub fn softflowd(capture: &Path, port: u16, version: &str, extra: &[&str], dir: &Path) -> bool {
    let ctl = dir.join(format!("softflowd-{port}.ctl"));
    let mut child = Command::new("softflowd")
        .args(["-d", "-a", "-r"])
        .arg(capture)
        .args(["-n", &format!("127.0.0.1:{port}"), "-v", version, "-p"])
        .arg(dir.join(format!("softflowd-{port}.pid")))
        .arg("-c")
        .arg(&ctl)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start softflowd");
    // softflowd 1.1 reading a file waits on its control socket between two
    // reads of the capture: a statistics request moves it on, until it has
    // exported everything at the end of the file and exits.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.success();
        }
        assert!(Instant::now() < deadline, "softflowd did not finish");
        let _ = Command::new("softflowctl")
            .arg("-c")
            .arg(&ctl)
            .arg("statistics")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        thread::sleep(Duration::from_millis(20));
    }
}

/// Exports `capture` with softflowd (`version`, `extra` options) to a
/// running nfcapd while tcpdump records the datagrams into `pcap`; returns
/// nfdump's totals of the stream (`None`: softflowd refused the capture).
pub fn export(
    capture: &Path,
    version: &str,
    extra: &[&str],
    pcap: &Path,
    dir: &Path,
) -> Option<Totals> {
    let nfcapd = Nfcapd::start(dir);
    let port = nfcapd.port;
    let tcpdump = Tcpdump::start(port, pcap);
    let ok = softflowd(capture, port, version, extra, dir);
    tcpdump.stop();
    let totals = nfcapd.stop();
    ok.then_some(totals)
}

/// `vpcflow convert --netflow` of `pcap` into `dir/NAME`: its records.
pub fn convert(pcap: &Path, dir: &Path, name: &str, extra: &[&str]) -> Vec<Vec<String>> {
    convert_as("--netflow", pcap, dir, name, extra)
}

/// `vpcflow convert KIND` (`--netflow`, `--sflow`) of `pcap` into
/// `dir/NAME`: its records.
pub fn convert_as(
    kind: &str,
    pcap: &Path,
    dir: &Path,
    name: &str,
    extra: &[&str],
) -> Vec<Vec<String>> {
    let out = dir.join(name);
    let mut args = vec![
        "convert",
        "--quiet",
        kind,
        pcap.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(&crate::common::IDENTITY);
    args.extend_from_slice(extra);
    crate::common::vpcflow_ok(&args);
    records(&out)
}

/// Stops a collecting `vpcflow run` started by [`start_collector`] with a
/// SIGTERM: it must exit cleanly, and its records' totals must equal those
/// of `vpcflow convert KIND` of `recording` (what it was sent, replayed;
/// one-minute windows). Returns those totals and its stderr.
pub fn stop_and_compare(
    daemon: &mut Child,
    dir: &Path,
    kind: &str,
    recording: &Path,
) -> (Totals, String) {
    crate::common::signal(daemon, "TERM");
    let (status, err) = crate::common::wait_exit(daemon);
    assert!(status.success(), "{status}: {err}");
    let live = vpcflow_totals(&records(&dir.join("live")));
    let offline = vpcflow_totals(&convert_as(
        kind,
        recording,
        dir,
        "offline",
        &["--interval", "60"],
    ));
    assert!(!live.is_empty());
    assert_eq!(live, offline);
    (live, err)
}

/// The shared captures (pcap and pcapng) that have a truth file, sorted.
pub fn truth_captures(shared: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(shared.join("pcaps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name.ends_with(".pcap") || name.ends_with(".pcapng"))
                && p.with_extension("truth.json").exists()
        })
        .collect();
    v.sort();
    v
}

/// The differences between two sets of totals, one line per 5-tuple.
pub fn diff(a: &Totals, b: &Totals) -> String {
    let mut s = String::new();
    for (k, v) in a {
        if b.get(k) != Some(v) {
            s += &format!("  {k:?}: {v:?} vs {:?}\n", b.get(k));
        }
    }
    for (k, v) in b {
        if !a.contains_key(k) {
            s += &format!("  {k:?}: missing vs {v:?}\n");
        }
    }
    s
}

/// The UDP payloads of a classic pcap file of [`Tcpdump`] (Ethernet,
/// IPv4 without options on loopback), in order.
pub fn datagrams(pcap: &Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(pcap).unwrap();
    assert_eq!(
        &data[..4],
        &[0xD4, 0xC3, 0xB2, 0xA1],
        "little-endian microsecond pcap"
    );
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= data.len() {
        let caplen = u32::from_le_bytes(data[at + 8..at + 12].try_into().unwrap()) as usize;
        let frame = &data[at + 16..at + 16 + caplen];
        let ihl = usize::from(frame[14] & 0x0F) * 4;
        let udp = 14 + ihl;
        let len = usize::from(u16::from_be_bytes([frame[udp + 4], frame[udp + 5]]));
        out.push(frame[udp + 8..udp + len].to_vec());
        at += 16 + caplen;
    }
    out
}

/// Writes a copy of the pcap file `from` into `to` without the records
/// whose index `drop` says (0-based).
pub fn filter_pcap(from: &Path, to: &Path, drop: impl Fn(usize) -> bool) -> usize {
    let data = std::fs::read(from).unwrap();
    let mut out = data[..24].to_vec();
    let mut at = 24;
    let mut i = 0;
    let mut dropped = 0;
    while at + 16 <= data.len() {
        let caplen = u32::from_le_bytes(data[at + 8..at + 12].try_into().unwrap()) as usize;
        if drop(i) {
            dropped += 1;
        } else {
            out.extend_from_slice(&data[at..at + 16 + caplen]);
        }
        at += 16 + caplen;
        i += 1;
    }
    std::fs::write(to, out).unwrap();
    dropped
}

/// Sends `datagrams` from `from` (a loopback address) to nfcapd on a fresh
/// port; nfdump's totals of them.
pub fn nfdump_of(datagrams: &[Vec<u8>], dir: &Path) -> Totals {
    let nfcapd = Nfcapd::start(dir);
    let port = nfcapd.port;
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    for d in datagrams {
        socket.send_to(d, ("127.0.0.1", port)).unwrap();
        thread::sleep(Duration::from_micros(200));
    }
    nfcapd.stop()
}

/// Per-5-tuple totals of the OK records of the default (v2) format in the
/// files below `out`.
pub fn vpcflow_totals(rows: &[Vec<String>]) -> Totals {
    let mut totals = Totals::new();
    for r in rows
        .iter()
        .filter(|r| r.get(13).map(String::as_str) == Some("OK"))
    {
        let key = (
            r[3].clone(),
            r[4].clone(),
            r[5].parse().unwrap(),
            r[6].parse().unwrap(),
            r[7].parse().unwrap(),
        );
        let e = totals.entry(key).or_insert((0, 0));
        e.0 += r[8].parse::<u64>().unwrap();
        e.1 += r[9].parse::<u64>().unwrap();
    }
    totals
}

/// A flow of a capture's truth file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TruthFlow {
    /// Packets.
    pub packets: u64,
    /// IP-layer bytes.
    pub bytes: u64,
    /// Whole-frame bytes (link layer included).
    pub frame_bytes: u64,
}

/// The capture's `NAME.truth.json` flows by 5-tuple, and its link types.
pub fn truth_flows(truth: &Path) -> (BTreeMap<Tuple, TruthFlow>, Vec<u32>) {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(truth).unwrap()).unwrap();
    let mut flows = BTreeMap::new();
    for t in v["totals"].as_array().unwrap() {
        let key = (
            t["src"].as_str().unwrap().to_string(),
            t["dst"].as_str().unwrap().to_string(),
            t["sport"].as_u64().unwrap() as u16,
            t["dport"].as_u64().unwrap() as u16,
            t["proto"].as_u64().unwrap() as u8,
        );
        let e = flows.entry(key).or_insert(TruthFlow {
            packets: 0,
            bytes: 0,
            frame_bytes: 0,
        });
        e.packets += t["packets"].as_u64().unwrap();
        e.bytes += t["bytes"].as_u64().unwrap();
        e.frame_bytes += t["frame_bytes"].as_u64().unwrap();
    }
    let linktypes = v["stats"]["linktypes"]
        .as_object()
        .map(|m| m.keys().filter_map(|k| k.parse().ok()).collect())
        .unwrap_or_default();
    (flows, linktypes)
}

/// The records of every file below `out` (none when there is no `out`),
/// split into fields, sorted.
pub fn records(out: &Path) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    if !out.is_dir() {
        return rows;
    }
    for f in crate::common::files_below(out) {
        let text = crate::common::gunzip(&out.join(f));
        rows.extend(
            text.lines()
                .skip(1)
                .map(|l| l.split(' ').map(String::from).collect()),
        );
    }
    rows.sort();
    rows
}
