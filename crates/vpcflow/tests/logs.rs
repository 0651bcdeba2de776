//! Diagnostics on stderr: no colour codes when stderr is not a terminal, the
//! fatal error as JSON under `--log-style json`, and an unknown
//! `--log-level` refused.

mod common;

use common::vpcflow;

fn demo_capture(dir: &std::path::Path) -> std::path::PathBuf {
    common::synthetic_capture(dir, "demo.pcap", 20)
}

#[test]
fn logs_into_a_file_have_no_colour_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let capture = demo_capture(tmp.path());
    let out = tmp.path().join("out");
    let run = vpcflow(&[
        "--log-level",
        "debug",
        "convert",
        "--quiet",
        capture.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("DEBUG") || l.contains("INFO")),
        "no log line to look at: {stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "ANSI escape in {stderr:?}");
}

#[test]
fn the_fatal_error_is_a_json_line_under_json_logs() {
    let run = vpcflow(&[
        "--log-style",
        "json",
        "convert",
        "/nonexistent/capture.pcap",
    ]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    let last = stderr.lines().last().expect("an error line");
    let line: serde_json::Value =
        serde_json::from_str(last).unwrap_or_else(|e| panic!("not JSON ({e}): {last}"));
    assert_eq!(line["level"], "ERROR", "{line}");
    let message = line["fields"]["message"].as_str().unwrap();
    assert!(
        message.contains("/nonexistent/capture.pcap") && message.contains("does not exist"),
        "{message}"
    );
    assert!(line["timestamp"].as_str().unwrap().ends_with('Z'), "{line}");
    // Text logs keep the plain line.
    let run = vpcflow(&["convert", "/nonexistent/capture.pcap"]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.starts_with("vpcflow: error: "), "{stderr}");
}

#[test]
fn an_unknown_log_level_is_refused() {
    for bad in ["verbose", "warn,loud"] {
        let run = vpcflow(&["--log-level", bad, "fields"]);
        assert_eq!(run.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(
            stderr.contains("--log-level") && stderr.contains("is not a level"),
            "{bad}: {stderr}"
        );
        assert!(run.stdout.is_empty());
    }
    let run = vpcflow(&["--log-level", "warn,vpcflow=debug", "fields"]);
    assert_eq!(run.status.code(), Some(0));
}
