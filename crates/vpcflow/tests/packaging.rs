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
    let out = common::vpcflow_ok(&[
        "check",
        "--config-only",
        "--config",
        cfg.to_str().unwrap(),
        "--json",
    ]);
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

/// The example's commented S3 and policy blocks are valid too: with their
/// keys uncommented (and the directory `out` dropped), `vpcflow check` accepts
/// the file and reports them.
#[test]
fn example_configurations_commented_s3_and_policy_blocks_are_valid() {
    let text = std::fs::read_to_string(repo_file("examples/vpcflow.toml")).unwrap();
    let mut block = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.starts_with("# S3 delivery instead")
            || line.starts_with("# REJECT policy, modelled")
        {
            block = true;
        } else if !line.starts_with('#') {
            block = false;
        }
        let key_or_table = line.strip_prefix("# ").filter(|rest| {
            let head = rest.trim_start();
            head.starts_with('[')
                || head.starts_with('{')
                || head.split_once('=').is_some_and(|(k, _)| {
                    !k.trim().is_empty()
                        && k.trim().chars().all(|c| c.is_ascii_lowercase() || c == '_')
                })
        });
        match key_or_table {
            Some(rest) if block => lines.push(rest.to_string()),
            _ if line == r#"out = "/var/lib/vpcflow/flowlogs""# => {}
            _ => lines.push(line.to_string()),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("full.toml");
    std::fs::write(&cfg, lines.join("\n")).unwrap();
    let out = common::vpcflow_ok(&[
        "check",
        "--config-only",
        "--config",
        cfg.to_str().unwrap(),
        "--json",
    ]);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["output"]["destination"], "s3");
    assert_eq!(r["output"]["s3_url"], "s3://my-flow-logs/vpc/");
    assert_eq!(r["output"]["spool_dir"], "/var/lib/vpcflow/spool");
    assert_eq!(r["policy"]["security_groups"][0]["name"], "web");
    assert_eq!(r["policy"]["network_acls"][0]["inbound_rules"], 1);
    assert_eq!(r["metrics_listen"], "127.0.0.1:9808");
}

#[test]
fn systemd_unit_is_complete_and_verifies() {
    let unit = std::fs::read_to_string(repo_file("packaging/systemd/vpcflow.service")).unwrap();
    for line in [
        "Type=simple",
        "ExecStart=/usr/local/bin/vpcflow run --config /etc/vpcflow/vpcflow.toml --log-style json",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "StateDirectory=vpcflow",
        "User=vpcflow",
        "Group=vpcflow",
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

#[test]
fn completions_and_the_manual_page_come_from_the_command_line_definitions() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = common::vpcflow_ok(&["completions", shell]);
        let script = String::from_utf8(out.stdout).unwrap();
        for word in ["convert", "athena", "destination-options", "log-style"] {
            assert!(script.contains(word), "{shell}: {word} missing");
        }
    }
    let bad = common::vpcflow(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));
    let out = common::vpcflow_ok(&["man"]);
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH vpcflow 1"), "{page}");
    for word in [
        "convert",
        "run",
        "check",
        "deliver",
        "athena",
        "log\\-level",
    ] {
        assert!(page.contains(word), "{word} missing from the manual page");
    }
}

#[test]
fn the_version_names_the_commit_of_a_git_build() {
    let out = common::vpcflow_ok(&["--version"]);
    let version = String::from_utf8(out.stdout).unwrap();
    assert!(
        version.starts_with(&format!("vpcflow {}", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8(o.stdout).unwrap().trim().to_string());
    match head {
        Some(commit) => assert!(version.contains(&format!("(git {commit})")), "{version}"),
        None => assert!(!version.contains("(git "), "{version}"),
    }
}

#[test]
fn the_license_file_is_the_license_the_crates_declare() {
    let manifest = std::fs::read_to_string(repo_file("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("license = \"Apache-2.0\""),
        "workspace license changed"
    );
    let license = std::fs::read_to_string(repo_file("LICENSE")).unwrap();
    assert!(
        license.contains("Apache License") && license.contains("Version 2.0, January 2004"),
        "LICENSE is not the Apache License 2.0"
    );
    assert!(license.contains("TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION"));
}
