//! Network namespaces for the live-capture tests: two namespaces joined by a
//! veth pair, `vpcflow run` started in one of them, and the records it wrote.
//!
//! Included by the tests that need root (`#[path = "common/netns.rs"]`), next
//! to `mod common;`.

use std::io::{BufRead, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::Duration;

use vpcflow_testkit::ConfigToml;

use crate::common::{files_below, signal, wait_exit};

/// Whether the tests can run here: root and every command of `tools`;
/// prints why not (and panics under `CI=true`, where they must run).
pub fn can_run(test: &str, tools: &[&str]) -> bool {
    let missing = crate::common::missing_root_and(tools);
    if missing.is_empty() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: needs {} under CI=true", missing.join(", "));
    }
    println!("SKIPPED: {test}: needs {}", missing.join(", "));
    false
}

/// Runs `cmd` with `sh -c`, fails the test with its stderr unless it
/// succeeds; its stdout.
pub fn sh(cmd: &str) -> String {
    let out = crate::common::stdout_ok(Command::new("sh").args(["-c", cmd]));
    String::from_utf8_lossy(&out).into_owned()
}

/// Two namespaces `a` and `b` joined by veth `va` (in a, `{v4}.1`, `{v6}1`)
/// and `vb` (in b, `{v4}.2`, `{v6}2`), with permanent neighbour entries so
/// no ARP or neighbour discovery mixes into the flows; removed on drop.
pub struct Netns {
    pub a: String,
    pub b: String,
    pub va: String,
    pub vb: String,
}

impl Netns {
    /// The pair on the /24 `{v4}.0` and the /64 `{v6}`, e.g. `"10.77.0"`
    /// and `"fd77::"`; `va` has MAC address 02:77:00:00:00:01, `vb`
    /// 02:77:00:00:00:02.
    pub fn new(v4: &str, v6: &str) -> Netns {
        static N: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{}x{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let n = Netns {
            a: format!("vfa{id}"),
            b: format!("vfb{id}"),
            va: format!("va{id}"),
            vb: format!("vb{id}"),
        };
        let (a, b, va, vb) = (&n.a, &n.b, &n.va, &n.vb);
        sh(&format!("ip netns add {a} && ip netns add {b}"));
        sh(&format!(
            "ip link add {va} address 02:77:00:00:00:01 netns {a} type veth peer name {vb} address 02:77:00:00:00:02 netns {b}"
        ));
        for (ns, dev, me, peer, mac) in [
            (a, va, "1", "2", "02:77:00:00:00:02"),
            (b, vb, "2", "1", "02:77:00:00:00:01"),
        ] {
            sh(&format!(
                "ip -n {ns} link set lo up && \
                 ip -n {ns} addr add {v4}.{me}/24 dev {dev} && \
                 ip -n {ns} addr add {v6}{me}/64 dev {dev} nodad && \
                 ip netns exec {ns} sysctl -qw net.ipv6.conf.{dev}.router_solicitations=0 && \
                 ip -n {ns} link set {dev} up && \
                 ip -n {ns} neigh add {v4}.{peer} lladdr {mac} dev {dev} nud permanent && \
                 ip -n {ns} -6 neigh add {v6}{peer} lladdr {mac} dev {dev} nud permanent"
            ));
        }
        n
    }

    /// `sh -c cmd` in namespace `ns`, to be run.
    pub fn exec(&self, ns: &str, cmd: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, "sh", "-c", cmd]);
        c
    }

    /// Runs `cmd` in namespace `ns`, failing the test with its output unless
    /// it succeeds.
    pub fn run(&self, ns: &str, cmd: &str) {
        let out = self.exec(ns, cmd).output().unwrap();
        assert!(
            out.status.success(),
            "{cmd}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the Python `script` in namespace `ns` and waits until it
    /// prints `ready`.
    pub fn python_ready(&self, ns: &str, script: &str) -> Child {
        let mut child = self
            .exec(ns, &format!("python3 -c '{script}'"))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
        child
    }

    /// Starts tcpdump on `va` in `a`, writing the capture to `pcap`; stop it
    /// with [`stop_tcpdump`].
    pub fn tcpdump(&self, pcap: &Path) -> Child {
        self.exec(
            &self.a,
            &format!(
                "exec tcpdump -i {} -n -s 256 -w {} --immediate-mode -U",
                self.va,
                pcap.display()
            ),
        )
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Stops a tcpdump of [`Netns::tcpdump`] (SIGINT: it writes out what it has).
pub fn stop_tcpdump(mut tcpdump: Child) {
    sh(&format!("kill -INT {}", tcpdump.id()));
    tcpdump.wait().unwrap();
}

/// The configuration of the live tests: the test flow log with `format`,
/// files below `dir/out`, the state (durability journal) in `dir/state`,
/// flows idle for 5 s closed; capture interfaces and other tables follow.
pub fn config(dir: &Path, format: &str) -> ConfigToml {
    ConfigToml::new()
        .test_flow_log()
        .set("format", format)
        .table("output")
        .set("out", dir.join("out"))
        .table("state")
        .set("dir", dir.join("state"))
        .table("capture")
        .set("idle_delay", 5)
}

/// Starts `vpcflow run` in namespace `ns` and waits until it captures.
pub fn start(n: &Netns, ns: &str, config: &Path) -> Child {
    start_with(n, ns, config, &[])
}

/// [`start`] with extra global options.
pub fn start_with(n: &Netns, ns: &str, config: &Path, options: &[&str]) -> Child {
    let child = Command::new("ip")
        .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_vpcflow")])
        .args(options)
        .args(["run", "--config", config.to_str().unwrap()])
        .env("VPCFLOW_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = n;
    thread::sleep(Duration::from_millis(1500));
    child
}

/// SIGTERM, then waits (up to 20 s) for a successful exit; its stderr.
pub fn stop(mut child: Child) -> String {
    signal(&child, "TERM");
    let (status, err) = wait_exit(&mut child);
    assert!(status.success(), "{status}: {err}");
    err
}

/// The records of every file below `out` (none when there is no `out`),
/// split into fields, sorted.
pub fn records(out: &Path) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    if !out.is_dir() {
        return rows;
    }
    for f in files_below(out) {
        if f.starts_with(".vpcflow-staging") {
            continue;
        }
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(out.join(f)).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        rows.extend(
            text.lines()
                .skip(1)
                .map(|l| l.split(' ').map(String::from).collect()),
        );
    }
    rows.sort();
    rows
}

/// `rows`, one record a line, for failure messages.
pub fn show(rows: &[Vec<String>]) -> String {
    rows.iter()
        .map(|r| r.join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}
