//! The files users install: the example configuration must stay valid, and
//! the systemd unit must be one systemd accepts.

mod common;

use std::path::PathBuf;
use std::process::Command;

fn repo_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

#[test]
fn example_configuration_is_valid() {
    let cfg = repo_file("examples/vpcflow.toml");
    let out = common::vpcflow_ok(&["check", "--config", cfg.to_str().unwrap(), "--json"]);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // What the unit and the README promise about it.
    assert_eq!(
        r["output"]["directory"], "/var/lib/vpcflow/flowlogs",
        "inside the unit's StateDirectory"
    );
    assert!(!r["sources"]["captures"].as_array().unwrap().is_empty());
    // Only the capture interface missing on this machine may be warned about.
    for w in r["warnings"].as_array().unwrap() {
        assert!(w.as_str().unwrap().contains("does not exist now"), "{w}");
    }
}

#[test]
fn systemd_unit_is_complete_and_verifies() {
    let unit = std::fs::read_to_string(repo_file("packaging/systemd/vpcflow.service")).unwrap();
    for line in [
        "Type=simple",
        "ExecStart=/usr/local/bin/vpcflow run --config /etc/vpcflow/vpcflow.toml --log-format json",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "StateDirectory=vpcflow",
        "AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN",
        "CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN",
        "KillSignal=SIGTERM",
        "NoNewPrivileges=yes",
    ] {
        assert!(unit.lines().any(|l| l == line), "missing {line:?}");
    }
    let has_analyze = Command::new("sh")
        .args(["-c", "command -v systemd-analyze"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_analyze {
        println!("SKIPPED: systemd_unit_is_complete_and_verifies: systemd-analyze not found, the unit was not verified");
        return;
    }
    // systemd-analyze verify also checks that the programs exist: point them
    // at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vpcflow.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/vpcflow", env!("CARGO_BIN_EXE_vpcflow")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // Unknown keys and bad values are only warnings (exit status 0): any
    // message about the unit fails the test.
    let about_unit: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("vpcflow.service"))
        .collect();
    assert!(
        out.status.success() && about_unit.is_empty(),
        "systemd-analyze verify: {err}"
    );
}
