//! S3 without credentials: a conversion stops at once with exit status 2 and
//! a message saying where the SDK looked; a daemon keeps running, spools,
//! reports itself unhealthy and logs the error once, not in a loop.
//!
//! No server is needed: the credentials are checked before any request. The
//! instance metadata service is turned off (AWS_EC2_METADATA_DISABLED), so
//! nothing leaves the machine.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, http_get, signal, wait_exit};
use vpcflow_testkit::ConfigToml;

/// `vpcflow ARGS` on a machine with no AWS credentials anywhere.
fn without_credentials(home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vpcflow"));
    cmd.args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") {
            cmd.env_remove(name);
        }
    }
    cmd.env_remove("VPCFLOW_LOG")
        .env("HOME", home)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

fn demo_capture(dir: &std::path::Path) -> std::path::PathBuf {
    common::synthetic_capture(dir, "demo.pcap", 20)
}

#[test]
fn a_conversion_without_credentials_stops_at_once_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let capture = demo_capture(tmp.path());
    let spool = tmp.path().join("spool");
    let started = Instant::now();
    let out = without_credentials(
        tmp.path(),
        &[
            "convert",
            "--quiet",
            capture.to_str().unwrap(),
            "--out",
            "arn:aws:s3:::my-bucket/pfx/",
            // Nothing listens there: no request is made before the check.
            "--s3-endpoint",
            "http://127.0.0.1:9",
            "--spool",
            spool.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert!(stderr.contains("no AWS credentials found"), "{stderr}");
    assert!(
        stderr.contains("the SDK looked in the environment (AWS_ACCESS_KEY_ID")
            && stderr.contains("instance metadata service"),
        "{stderr}"
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line, no SDK dumps: {stderr}"
    );
}

#[test]
fn a_daemon_without_credentials_is_unhealthy_and_logs_it_once() {
    let tmp = tempfile::tempdir().unwrap();
    let mport = free_port();
    let metrics: SocketAddr = format!("127.0.0.1:{mport}").parse().unwrap();
    let config = ConfigToml::new()
        .test_flow_log()
        .table("output")
        .set("out", "s3://my-bucket/pfx/")
        .set("spool_dir", tmp.path().join("spool"))
        .table("output.s3")
        .set("endpoint", "http://127.0.0.1:9")
        .set("permanent_error_retry", 1)
        .table("metrics")
        .set("listen", metrics.to_string())
        .table("state")
        .set("dir", tmp.path().join("state"))
        // A source is needed to run; nothing listens on this port, which
        // only matters after the analyzers' grace period.
        .skydive_analyzer(free_port())
        .write(tmp.path());
    let mut child = without_credentials(tmp.path(), &["run", "--config", config.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let health = loop {
        if let Some(r) = http_get(metrics, "/healthz").filter(|r| r.status == 503) {
            break r;
        }
        assert!(Instant::now() < deadline, "never unhealthy");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        health.body.contains("permanent upload errors"),
        "{}",
        health.body
    );
    // Several retries (one a second) pass before the stop.
    std::thread::sleep(Duration::from_secs(3));
    signal(&child, "TERM");
    let (status, stderr) = wait_exit(&mut child);
    assert!(status.success(), "{status}: {stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("no AWS credentials found"))
        .collect();
    assert_eq!(errors.len(), 1, "logged once, not in a loop:\n{stderr}");
    assert!(errors[0].contains("ERROR"), "{}", errors[0]);
}
