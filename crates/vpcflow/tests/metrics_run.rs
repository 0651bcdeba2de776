//! `vpcflow run` with `[metrics] listen`: `/metrics` and `/healthz` scraped over
//! a real socket while the daemon converts the flows of a Skydive-protocol
//! test server, and configuration reloads by a real SIGHUP.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::analyzer::{analyzer, flow, flow_of, now_ms, store};
use common::{files_below, free_port, gunzip, http_get, metric, signal, wait_exit};
use vpcflow_testkit::{ConfigToml, RawToml};

const ENI_A: &str = "eni-0000000000000000a";
const ENI_B: &str = "eni-0000000000000000b";

/// The configuration: Skydive analyzer on `port`, metrics on `metrics`,
/// files below `out`; it ends with the entry reporting node-1 as `eni`, so
/// more keys of that entry may follow.
fn config(dir: &Path, out: &str, port: u16, metrics: u16, eni: &str) -> ConfigToml {
    ConfigToml::new()
        .test_flow_log()
        .table("output")
        .set("out", dir.join(out))
        .without_nodata()
        .table("skydive")
        .set("idle_delay", 120)
        .skydive_analyzer(port)
        .set("host_id", "vpcflow-test")
        .table("metrics")
        .set("listen", format!("127.0.0.1:{metrics}"))
        .table("state")
        .set("dir", dir.join("state"))
        .array_entry("interface")
        .set("name", "node-1")
        .set("interface_id", eni)
}

struct Daemon {
    child: Child,
    config: PathBuf,
    metrics: SocketAddr,
}

impl Daemon {
    /// Starts `vpcflow run` on `config` and waits until its endpoint answers.
    fn start(dir: &Path, config: &ConfigToml, metrics: u16) -> Daemon {
        let config = config.write(dir);
        let child = Command::new(env!("CARGO_BIN_EXE_vpcflow"))
            .args(["run", "--config", config.to_str().unwrap()])
            .env("VPCFLOW_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let d = Daemon {
            child,
            config,
            metrics: SocketAddr::from(([127, 0, 0, 1], metrics)),
        };
        d.wait_for("the endpoint", || http_get(d.metrics, "/healthz").is_some());
        d
    }

    fn signal(&self, name: &str) {
        signal(&self.child, name);
    }

    fn scrape(&self) -> String {
        let r = http_get(self.metrics, "/metrics").expect("the endpoint answers");
        assert_eq!(r.status, 200, "{r:?}");
        r.body
    }

    /// Polls `ready` for up to 20 s.
    fn wait_for(&self, what: &str, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ready() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the scraped `sample` has `value`; returns the scrape.
    fn wait_metric(&self, sample: &str, value: u64) -> String {
        common::wait_metric(self.metrics, sample, value)
    }

    /// SIGTERM, then the exit status and stderr.
    fn stop(mut self) -> (ExitStatus, String) {
        self.signal("TERM");
        wait_exit(&mut self.child)
    }
}

impl Drop for Daemon {
    /// A failed test does not leave the daemon running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Published files below `out`: (path, size).
fn files(out: &Path) -> Vec<(PathBuf, u64)> {
    if !out.is_dir() {
        return Vec::new();
    }
    files_below(out)
        .into_iter()
        .filter(|f| !f.starts_with(".vpcflow-staging"))
        .map(|f| {
            let size = std::fs::metadata(out.join(&f)).unwrap().len();
            (out.join(f), size)
        })
        .collect()
}

/// The records of the published files, split into fields.
fn records(out: &Path) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = files(out)
        .iter()
        .flat_map(|(f, _)| {
            gunzip(f)
                .lines()
                .skip(1)
                .map(|l| l.split(' ').map(String::from).collect())
                .collect::<Vec<_>>()
        })
        .collect();
    rows.sort();
    rows
}

/// Default format: interface-id is field 2, srcaddr 3, packets 8, bytes 9.
fn packets(rows: &[Vec<String>]) -> u64 {
    rows.iter().map(|r| r[8].parse::<u64>().unwrap()).sum()
}

#[test]
fn scraped_counters_match_the_records_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let (port, tx, server) = analyzer();
    let mport = free_port();
    let d = Daemon::start(
        dir.path(),
        &config(dir.path(), "out", port, mport, ENI_A),
        mport,
    );
    let out = dir.path().join("out");
    // Traffic of an hour ago on two nodes: its windows close on the wall
    // clock while the daemon runs, and their file is published.
    let old = now_ms() - 3_600_000;
    tx.send(store(&[
        flow_of("node-1", "a", "10.0.0.1", 3, old),
        flow_of("node-2", "b", "10.0.0.2", 5, old),
    ]))
    .unwrap();
    d.wait_for("two records", || records(&out).len() == 2);
    // The writer publishes its counters right after the file.
    let ok = |node: &str| {
        format!("vpcflow_records_total{{interface=\"{node}\",log_status=\"OK\",action=\"ACCEPT\"}}")
    };
    d.wait_metric(&ok("node-1"), 1);
    d.wait_metric(&ok("node-2"), 1);
    // The ingest thread publishes every 250 ms.
    let text = d.wait_metric("vpcflow_open_flows", 0);
    let rows = records(&out);
    let on_disk = files(&out);
    let sample = |s: &str| metric(&text, s).unwrap_or_else(|| panic!("no {s} in\n{text}"));
    for (node, src) in [("node-1", "10.0.0.1"), ("node-2", "10.0.0.2")] {
        let row = rows.iter().find(|r| r[3] == src).unwrap();
        let labels = format!("{{source=\"skydive\",interface=\"{node}\"}}");
        assert_eq!(
            sample(&format!("vpcflow_packets_total{labels}")),
            row[8].parse::<u64>().unwrap(),
            "{row:?}"
        );
        assert_eq!(
            sample(&format!("vpcflow_bytes_total{labels}")),
            row[9].parse::<u64>().unwrap(),
            "{row:?}"
        );
        assert_eq!(sample(&format!("vpcflow_flow_updates_total{labels}")), 1);
    }
    assert_eq!(packets(&rows), 8);
    assert_eq!(
        sample("vpcflow_files_published_total"),
        on_disk.len() as u64
    );
    assert_eq!(
        sample("vpcflow_published_bytes_total"),
        on_disk.iter().map(|(_, size)| size).sum::<u64>()
    );
    assert_eq!(sample("vpcflow_open_files"), 0);
    assert_eq!(sample("vpcflow_skydive_analyzers_connected"), 1);
    assert_eq!(
        sample("vpcflow_skydive_messages_total{result=\"accepted\"}"),
        1
    );
    assert_eq!(sample("vpcflow_config_reloads_total{result=\"ok\"}"), 0);

    let r = http_get(d.metrics, "/metrics").unwrap();
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let health = http_get(d.metrics, "/healthz").unwrap();
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    assert_eq!(http_get(d.metrics, "/nope").unwrap().status, 404);

    let (status, stderr) = d.stop();
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("records   2 written"), "{stderr}");
    drop(tx);
    server.join().unwrap();
}

#[test]
fn sighup_applies_new_interface_metadata_to_open_windows_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let (port, tx, server) = analyzer();
    let mport = free_port();
    let d = Daemon::start(
        dir.path(),
        &config(dir.path(), "out", port, mport, ENI_A),
        mport,
    );
    let out = dir.path().join("out");
    let node1 = "vpcflow_packets_total{source=\"skydive\",interface=\"node-1\"}";
    // A window closed before the reload keeps the old interface-id.
    tx.send(store(&[flow("old", "10.0.0.1", 3, now_ms() - 3_600_000)]))
        .unwrap();
    d.wait_for("the old window's record", || records(&out).len() == 1);
    // Traffic in a window still open at the reload.
    tx.send(store(&[flow("open", "10.0.0.2", 2, now_ms() - 1_000)]))
        .unwrap();
    d.wait_metric(node1, 5);

    config(dir.path(), "out", port, mport, ENI_B).write_as(&d.config);
    d.signal("HUP");
    d.wait_metric("vpcflow_config_reloads_total{result=\"ok\"}", 1);
    // Traffic after the reload, in the same open window.
    tx.send(store(&[flow("after", "10.0.0.3", 4, now_ms())]))
        .unwrap();
    d.wait_metric(node1, 9);
    assert_eq!(records(&out).len(), 1, "the open window stayed open");

    let (status, stderr) = d.stop();
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("configuration reloaded"), "{stderr}");
    let rows = records(&out);
    let by_source: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r[3].as_str(), r[2].as_str()))
        .collect();
    assert_eq!(
        by_source,
        [
            ("10.0.0.1", ENI_A),
            ("10.0.0.2", ENI_B),
            ("10.0.0.3", ENI_B)
        ],
        "{rows:?}"
    );
    assert_eq!(packets(&rows), 3 + 2 + 4, "no traffic lost: {rows:?}");
    drop(tx);
    server.join().unwrap();
}

#[test]
fn a_broken_configuration_is_rejected_and_restart_only_keys_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (port, tx, server) = analyzer();
    let mport = free_port();
    let d = Daemon::start(
        dir.path(),
        &config(dir.path(), "out", port, mport, ENI_A),
        mport,
    );
    tx.send(store(&[flow("a", "10.0.0.1", 2, now_ms() - 1_000)]))
        .unwrap();
    let node1 = "vpcflow_packets_total{source=\"skydive\",interface=\"node-1\"}";
    d.wait_metric(node1, 2);

    // An invalid interface id: rejected, the run goes on as it was.
    config(dir.path(), "out", port, mport, "eni-XYZ").write_as(&d.config);
    d.signal("HUP");
    d.wait_metric("vpcflow_config_reloads_total{result=\"failed\"}", 1);
    let health = http_get(d.metrics, "/healthz").unwrap();
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));

    // A valid file that moves the output: the output stays where it is.
    config(dir.path(), "elsewhere", port, mport, ENI_A).write_as(&d.config);
    d.signal("HUP");
    d.wait_metric("vpcflow_config_reloads_total{result=\"ok\"}", 1);
    tx.send(store(&[flow("b", "10.0.0.2", 3, now_ms())]))
        .unwrap();
    d.wait_metric(node1, 5);

    let (status, stderr) = d.stop();
    assert!(status.success(), "{status}: {stderr}");
    assert!(
        stderr.contains("configuration reload failed")
            && stderr.contains("interface[0] (node-1).interface_id"),
        "{stderr}"
    );
    assert!(
        stderr.contains("need a restart") && stderr.contains("output.out"),
        "{stderr}"
    );
    let rows = records(&dir.path().join("out"));
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r[2] == ENI_A), "{rows:?}");
    assert_eq!(packets(&rows), 5);
    assert!(!dir.path().join("elsewhere").exists());
    drop(tx);
    server.join().unwrap();
}

#[test]
fn healthz_reports_an_unreachable_analyzer() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on.
    let closed = free_port();
    let mport = free_port();
    let d = Daemon::start(
        dir.path(),
        &config(dir.path(), "out", closed, mport, ENI_A),
        mport,
    );
    let first = http_get(d.metrics, "/healthz").unwrap();
    assert_eq!(first.status, 200, "within the grace period: {first:?}");
    let mut last = None;
    d.wait_for("an unhealthy verdict", || {
        last = http_get(d.metrics, "/healthz");
        last.as_ref().is_some_and(|r| r.status == 503)
    });
    let body = last.unwrap().body;
    assert_eq!(
        body.lines().next().unwrap_or_default(),
        body.trim_end(),
        "one line: {body}"
    );
    assert!(
        body.starts_with("unhealthy: skydive.analyzer: 1 of 1 analyzers not connected for "),
        "{body}"
    );
    let text = d.scrape();
    assert_eq!(
        metric(&text, "vpcflow_skydive_analyzers_connected"),
        Some(0)
    );
    let (status, stderr) = d.stop();
    assert!(status.success(), "{status}: {stderr}");
}

#[test]
fn a_port_in_use_is_a_start_up_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let mport = taken.local_addr().unwrap().port();
    let config =
        config(dir.path(), "out", free_port(), mport, ENI_A).write_as(&dir.path().join("c.toml"));
    let out = common::vpcflow(&["run", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "metrics.listen: cannot listen on 127.0.0.1:{mport}: "
        )),
        "{stderr}"
    );
}

#[test]
fn sighup_applies_a_new_reject_policy_to_open_windows_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let (port, tx, server) = analyzer();
    let mport = free_port();
    // node-1 owns 10.9.9.9, so the flows to it are ingress.
    let base = config(dir.path(), "out", port, mport, ENI_A).set("addresses", ["10.9.9.9"]);
    let d = Daemon::start(dir.path(), &base, mport);
    let out = dir.path().join("out");
    let node1 = "vpcflow_packets_total{source=\"skydive\",interface=\"node-1\"}";
    tx.send(store(&[flow("before", "10.0.0.1", 3, now_ms() - 1_000)]))
        .unwrap();
    d.wait_metric(node1, 3);

    // A security group that lets nothing in: later flows are REJECT.
    base.array_entry("policy.security_group")
        .set("name", "closed")
        .set("interfaces", ["node-1"])
        .set("inbound", RawToml("[]"))
        .set(
            "outbound",
            RawToml(r#"[ { protocol = "all", cidr = "0.0.0.0/0" } ]"#),
        )
        .write_as(&d.config);
    d.signal("HUP");
    d.wait_metric("vpcflow_config_reloads_total{result=\"ok\"}", 1);
    tx.send(store(&[flow("after", "10.0.0.2", 4, now_ms())]))
        .unwrap();
    d.wait_metric(node1, 7);
    assert!(records(&out).is_empty(), "the open window stayed open");

    let (status, stderr) = d.stop();
    assert!(status.success(), "{status}: {stderr}");
    let rows = records(&out);
    let actions: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r[3].as_str(), r[8].as_str(), r[12].as_str()))
        .collect();
    assert_eq!(
        actions,
        [("10.0.0.1", "3", "ACCEPT"), ("10.0.0.2", "4", "REJECT")],
        "{rows:?}"
    );
    drop(tx);
    server.join().unwrap();
}
