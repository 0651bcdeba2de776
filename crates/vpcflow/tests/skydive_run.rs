//! `vpcflow run`: the daemon against a Skydive-protocol test server on
//! loopback, stopped by a real signal.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::analyzer::{analyzer, flow, now_ms, store};
use common::{files_below, gunzip, signal, wait_exit};
use vpcflow_testkit::ConfigToml;

fn start(dir: &Path, port: u16) -> Child {
    let config = ConfigToml::new()
        .test_flow_log()
        .table("output")
        .set("out", dir.join("out"))
        .without_nodata()
        .table("skydive")
        .set("idle_delay", 120)
        .skydive_analyzer(port)
        .set("host_id", "vpcflow-test")
        .table("state")
        .set("dir", dir.join("state"))
        .write(dir);
    Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args(["run", "--config", config.to_str().unwrap()])
        .env_remove("VPCFLOW_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn records(dir: &Path) -> Vec<String> {
    let out = dir.join("out");
    if !out.is_dir() {
        return Vec::new();
    }
    let mut lines = Vec::new();
    for f in files_below(&out) {
        if f.starts_with(".vpcflow-staging") {
            continue;
        }
        let text = gunzip(&out.join(f));
        lines.extend(text.lines().skip(1).map(String::from));
    }
    lines.sort();
    lines
}

#[test]
fn quiet_windows_close_on_the_clock_and_sigterm_flushes_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (port, tx, server) = analyzer();
    let mut child = start(dir.path(), port);
    // Traffic of an hour ago: its windows close on the wall clock while the
    // daemon runs.
    let old = now_ms() - 3_600_000;
    tx.send(store(&[flow("old", "10.0.0.1", 3, old)])).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while records(dir.path()).is_empty() {
        assert!(Instant::now() < deadline, "no file published while running");
        thread::sleep(Duration::from_millis(100));
    }
    let running = records(dir.path());
    assert_eq!(running.len(), 1);
    assert!(
        running[0].contains(" 10.0.0.1 10.9.9.9 1000 53 17 3 300 "),
        "{running:?}"
    );
    // Recent traffic: its window is still open when SIGTERM comes.
    tx.send(store(&[flow("new", "10.0.0.2", 2, now_ms() - 1_000)]))
        .unwrap();
    thread::sleep(Duration::from_millis(700));
    signal(&child, "TERM");
    let (status, stderr) = wait_exit(&mut child);
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("1 connections"), "{stderr}");
    let all = records(dir.path());
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(
        all.iter()
            .any(|r| r.contains(" 10.0.0.2 10.9.9.9 1000 53 17 2 200 ")),
        "{all:?}"
    );
    drop(tx);
    server.join().unwrap();
}

#[test]
fn sigint_flushes_open_windows() {
    let dir = tempfile::tempdir().unwrap();
    let (port, tx, server) = analyzer();
    let mut child = start(dir.path(), port);
    tx.send(store(&[flow("a", "10.0.0.3", 1, now_ms())]))
        .unwrap();
    thread::sleep(Duration::from_millis(1000));
    assert!(records(dir.path()).is_empty());
    signal(&child, "INT");
    let (status, stderr) = wait_exit(&mut child);
    assert!(status.success(), "{status}: {stderr}");
    let all = records(dir.path());
    assert_eq!(all.len(), 1, "{all:?}\n{stderr}");
    drop(tx);
    server.join().unwrap();
}

#[test]
fn run_without_analyzers_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[output]\nout = \"x\"\n").unwrap();
    let out = common::vpcflow(&["run", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("skydive.analyzer"));
}
