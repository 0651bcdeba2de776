//! End to end: `vpcflow check` validates a configuration and reports what it
//! would produce; errors name the key and exit with status 2.

mod common;

use std::path::Path;

use common::{vpcflow, vpcflow_ok};
use vpcflow_testkit::ConfigToml;

/// AWS's ip-ranges.json format, written by the test: three prefixes, two
/// services.
const IP_RANGES: &str = r#"{
  "syncToken": "1",
  "createDate": "2026-01-01-00-00-00",
  "prefixes": [
    {"ip_prefix": "52.95.128.0/21", "region": "eu-west-1", "service": "AMAZON", "network_border_group": "eu-west-1"},
    {"ip_prefix": "52.95.128.0/21", "region": "eu-west-1", "service": "S3", "network_border_group": "eu-west-1"}
  ],
  "ipv6_prefixes": [
    {"ipv6_prefix": "2a05:d018::/36", "region": "eu-west-1", "service": "AMAZON", "network_border_group": "eu-west-1"}
  ]
}"#;

fn write_config(dir: &Path, body: &str) -> String {
    let path = dir.join("vpcflow.toml");
    std::fs::write(&path, body).unwrap();
    path.to_str().unwrap().to_string()
}

fn full_config(dir: &Path) -> String {
    let ranges = dir.join("ip-ranges.json");
    std::fs::write(&ranges, IP_RANGES).unwrap();
    let path = ConfigToml::new()
        .test_flow_log()
        .set(
            "format",
            "${version} ${interface-id} ${srcaddr} ${dstaddr} ${pkt-dstaddr} ${pkt-dst-aws-service} ${flow-direction}",
        )
        .set("traffic_type", "ACCEPT")
        .set("aws_ip_ranges", &ranges)
        .table("output")
        .set("out", dir.join("out"))
        .set("layout", "hive-hourly")
        .set("prefix", "logs")
        .array_entry("capture.interface")
        .set("name", "lo")
        .set("filter", "ip")
        .array_entry("capture.interface")
        .set("name", "vfcheck*")
        .skydive_analyzer(1)
        .array_entry("interface")
        .set("name", "ens5")
        .set("interface_id", "eni-1235b8ca123456789")
        .set("addresses", ["10.0.0.5", "10.0.0.6", "fe80::5", "2001:db8::5"])
        .set("networks", ["10.0.0.0/16"])
        .write(dir);
    path.to_str().unwrap().to_string()
}

#[test]
fn check_reports_what_a_configuration_produces() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = full_config(tmp.path());
    let out = vpcflow_ok(&["check", "--config", &cfg, "--json"]);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fl = &r["flow_log"];
    assert_eq!(fl["version"], 5);
    assert_eq!(fl["traffic_type"], "ACCEPT");
    assert_eq!(fl["interval_secs"], 60);
    let fields: Vec<_> = fl["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f["version"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [
            ("version", 2),
            ("interface-id", 2),
            ("srcaddr", 2),
            ("dstaddr", 2),
            ("pkt-dstaddr", 3),
            ("pkt-dst-aws-service", 5),
            ("flow-direction", 5)
        ]
    );
    // The key of a file of the current slot, in the Hive-compatible hourly
    // layout of spec §3.6.
    let key = r["output"]["example_key"].as_str().unwrap();
    let re = regex::Regex::new(
        r"^logs/AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=eu-west-1/year=\d{4}/month=\d{2}/day=\d{2}/hour=\d{2}/123456789012_vpcflowlogs_eu-west-1_fl-0630869f236e76872_\d{8}T\d{2}[0-5][05]Z_[0-9a-f]{8}\.log\.gz$",
    )
    .unwrap();
    assert!(re.is_match(key), "{key}");
    assert!(key.ends_with(r["output"]["example_file"].as_str().unwrap()));
    // Sources.
    let caps = r["sources"]["captures"].as_array().unwrap();
    assert_eq!(caps[0]["name"], "lo");
    assert_eq!(caps[0]["present"], serde_json::json!(["lo"]));
    assert_eq!(caps[0]["filter"], "ip");
    assert_eq!(caps[1]["pattern"], true);
    let an = &r["sources"]["analyzers"][0];
    assert_eq!(an["endpoint"], "ws://127.0.0.1:1/ws/subscriber/flow");
    // Interfaces: the configured one, then the live one with derived IDs and
    // the addresses the OS gives it.
    let ifs = r["interfaces"].as_array().unwrap();
    assert_eq!(ifs.len(), 2, "{ifs:?}");
    let ens5 = &ifs[0];
    assert_eq!(ens5["name"], "ens5");
    assert_eq!(ens5["interface_id"], "eni-1235b8ca123456789");
    assert_eq!(ens5["primary_ipv4"], "10.0.0.5");
    assert_eq!(
        ens5["primary_ipv6"], "2001:db8::5",
        "not the link-local one"
    );
    assert_eq!(ens5["networks"], serde_json::json!(["10.0.0.0/16"]));
    assert_eq!(ens5["live"], false);
    let lo = &ifs[1];
    assert_eq!((&lo["name"], &lo["live"]), (&"lo".into(), &true.into()));
    assert!(
        regex::Regex::new(r"^eni-[0-9a-f]{17}$")
            .unwrap()
            .is_match(lo["interface_id"].as_str().unwrap()),
        "{lo}"
    );
    assert!(
        lo["os_addresses"]
            .as_array()
            .unwrap()
            .contains(&"127.0.0.1".into()),
        "{lo}"
    );
    assert_eq!(lo["primary_ipv4"], "127.0.0.1");
    // The ip-ranges file.
    assert_eq!(r["aws_ip_ranges"]["prefixes"], 3);
    assert_eq!(r["aws_ip_ranges"]["services"], 2);
    assert_eq!(r["warnings"], serde_json::json!([]));

    // The same as text.
    let out = vpcflow_ok(&["check", "--config", &cfg]);
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        &format!("configuration {cfg}: valid"),
        "version         5",
        &format!("example key     {key}"),
        "capture lo (present) filter \"ip\"",
        "capture vfcheck* (pattern, matching now: none)",
        "skydive analyzer ws://127.0.0.1:1",
        "interface-id eni-1235b8ca123456789",
        "primary 10.0.0.5 / 2001:db8::5",
        "networks 10.0.0.0/16",
        ": 3 prefixes, 2 services",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
}

#[test]
fn check_warns_about_settings_that_do_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(
        tmp.path(),
        "[flow_log]\nformat = \"${srcaddr} ${pkt-src-aws-service}\"\n[output]\nout = \"-\"\n",
    );
    let out = vpcflow_ok(&["check", "--config-only", "--config", &cfg, "--json"]);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["output"]["destination"], "stdout");
    assert_eq!(r["output"]["example_key"], serde_json::Value::Null);
    let warnings = r["warnings"].to_string();
    assert!(
        warnings.contains("without flow_log.aws_ip_ranges"),
        "{warnings}"
    );
}

/// `check` fails where `vpcflow run` would fail at start-up, with the same
/// message; `--config-only` checks the configuration alone.
#[test]
fn check_fails_where_run_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let expect_error = |body: &str, args: &[&str], want: &str| {
        let cfg = write_config(tmp.path(), body);
        let mut all = args.to_vec();
        all.extend(["--config", cfg.as_str()]);
        let out = vpcflow(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?} {body}: {err}");
        assert!(err.contains(want), "{args:?} {body}: {err}");
    };
    // Nothing to run.
    let empty = "[output]\nout = \"-\"\n";
    expect_error(empty, &["check"], "nothing to run");
    expect_error(empty, &["check"], "--config-only");
    expect_error(empty, &["run"], "nothing to run");
    let cfg = write_config(tmp.path(), empty);
    vpcflow_ok(&["check", "--config-only", "--config", &cfg]);
    // An interface captured by name that this host does not have.
    let missing = "[[capture.interface]]\nname = \"vfnosuch0\"\n";
    let want = "capture.interface[0].name: there is no interface \"vfnosuch0\"";
    expect_error(missing, &["check"], want);
    expect_error(missing, &["run"], want);
    let cfg = write_config(tmp.path(), missing);
    vpcflow_ok(&["check", "--config-only", "--config", &cfg]);
    // A BPF filter libpcap cannot compile: refused with the configuration,
    // by check (even --config-only) as by run.
    let bad_filter = "[[capture.interface]]\nname = \"lo\"\nfilter = \"ip or or\"\n";
    let want = "capture.interface[0].filter: \"ip or or\": ";
    expect_error(bad_filter, &["check"], want);
    expect_error(bad_filter, &["check", "--config-only"], want);
    expect_error(bad_filter, &["run"], want);
}

#[test]
fn check_errors_name_the_key_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let bad_ranges = tmp.path().join("bad-ranges.json");
    std::fs::write(
        &bad_ranges,
        r#"{"prefixes": [{"ip_prefix": "52.95.0.0/16"}]}"#,
    )
    .unwrap();
    let cases = [
        ("[output]\nlayuot = \"hive\"\n", "layuot".to_string()),
        (
            "[[interface]]\nname = \"eth0\"\nprimary_ipv4 = \"10.0.0\"\n",
            "line 3, column 16\n  |\n3 | primary_ipv4 = \"10.0.0\"\n  |                ^^^^^^^^\ninvalid IPv4 address syntax"
                .to_string(),
        ),
        (
            "[[interface]]\nname = \"eth0\"\nnetworks = [\"10.0.0.1/8\"]\n",
            "interface[0] (eth0).networks".to_string(),
        ),
        (
            "[[capture.interface]]\nname = \"eth0\"\nsnaplen = 1\n",
            "capture.interface[0].snaplen".to_string(),
        ),
        (
            &format!("[flow_log]\naws_ip_ranges = \"{}\"\n", bad_ranges.display()),
            format!(
                "flow_log.aws_ip_ranges: AWS ip-ranges file {}: prefixes[0].service: missing",
                bad_ranges.display()
            ),
        ),
    ];
    for (body, want) in cases {
        let cfg = write_config(tmp.path(), body);
        let out = vpcflow(&["check", "--config", &cfg]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{body}: {err}");
        assert!(err.contains(&want), "{body}: {err}");
        assert!(
            out.stdout.is_empty(),
            "nothing on stdout for an invalid file"
        );
    }
    let out = vpcflow(&["check", "--config", "/nonexistent/vpcflow.toml"]);
    assert_eq!(out.status.code(), Some(2));
}

/// `${NAME}` in string values is the environment variable NAME; the
/// lower-case `${field}`s of a record format are left alone.
#[test]
fn environment_variables_in_string_values() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(
        tmp.path(),
        concat!(
            "[flow_log]\nformat = \"${version} ${srcaddr} ${dstaddr}\"\n",
            "[output]\nout = \"${VPCFLOW_TEST_OUT}/flowlogs\"\n",
            "[[skydive.analyzer]]\nurl = \"ws://127.0.0.1:1\"\nusername = \"u\"\npassword = \"${VPCFLOW_TEST_SECRET}\"\n",
        ),
    );
    let check = |vars: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vpcflow"));
        cmd.args(["check", "--config-only", "--json", "--config", &cfg])
            .env_remove("VPCFLOW_TEST_OUT")
            .env_remove("VPCFLOW_TEST_SECRET");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = check(&[
        ("VPCFLOW_TEST_OUT", "/srv/x"),
        ("VPCFLOW_TEST_SECRET", "p\"w"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["output"]["directory"], "/srv/x/flowlogs");
    assert_eq!(r["flow_log"]["format"], "${version} ${srcaddr} ${dstaddr}");
    let out = check(&[("VPCFLOW_TEST_OUT", "/srv/x")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "skydive.analyzer[0].password: environment variable VPCFLOW_TEST_SECRET is not set"
        ),
        "{err}"
    );
}

/// A state folder `vpcflow run` needs (here for its durability journal) and
/// cannot write in, such as one made by an earlier run as root: `check` and
/// `run` stop at start-up naming it, before any source opens. As root the
/// binary runs as `nobody` (root writes anywhere); otherwise the folder is
/// made read-only.
#[test]
fn a_state_folder_this_user_cannot_write_stops_check_and_run() {
    use std::os::unix::fs::{chown, PermissionsExt};
    use std::os::unix::process::CommandExt;

    let tmp = tempfile::tempdir().unwrap();
    let root = unsafe { libc::geteuid() } == 0;
    const NOBODY: u32 = 65534;
    // Everything the other user needs can be read and run by anyone: the
    // binary is copied next to the configuration.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = tmp.path().join("vpcflow");
    std::fs::copy(env!("CARGO_BIN_EXE_vpcflow"), &bin).unwrap();
    let state = tmp.path().join("state");
    std::fs::create_dir_all(state.join("journal")).unwrap();
    let cfg = write_config(
        tmp.path(),
        &format!(
            "[output]\nout = \"{}\"\n[state]\ndir = \"{}\"\n[[netflow.listen]]\naddress = \"127.0.0.1:9\"\n",
            tmp.path().join("out").display(),
            state.display()
        ),
    );
    let as_user = |args: &[&str]| {
        let mut cmd = std::process::Command::new(&bin);
        cmd.args(args)
            .args(["--config", &cfg])
            .env_remove("VPCFLOW_LOG");
        if root {
            cmd.uid(NOBODY).gid(NOBODY);
        }
        cmd.output().unwrap()
    };
    let lock = |folder: &Path| {
        if root {
            chown(folder, Some(0), Some(0)).unwrap();
        } else {
            std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o555)).unwrap();
        }
    };
    let give = |folder: &Path| {
        if root {
            chown(folder, Some(NOBODY), Some(NOBODY)).unwrap();
        } else {
            std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    };
    let refused = |folder: &Path| {
        let want = format!(
            "state.dir: {} is not writable by this user",
            folder.display()
        );
        for command in ["check", "run"] {
            let out = as_user(&[command]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{command}: {err}");
            assert!(err.contains(&want), "{command}: {err}");
        }
    };

    // The state folder and its journal folder belong to someone else.
    lock(&state);
    lock(&state.join("journal"));
    refused(&state);
    // The folder is the user's, its journal folder is not.
    give(&state);
    refused(&state.join("journal"));
    // Both are the user's: valid, and the report says what is kept there.
    give(&state.join("journal"));
    let out = as_user(&["check", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["state_dir"], state.display().to_string());
    assert_eq!(
        r["state_kept"],
        serde_json::json!(["the durability journal"])
    );
    // A folder not made yet: the closest folder above it must be writable.
    std::fs::remove_dir_all(&state).unwrap();
    let above = tmp.path().join("above");
    std::fs::create_dir(&above).unwrap();
    lock(&above);
    let cfg_body = std::fs::read_to_string(&cfg).unwrap().replace(
        &state.display().to_string(),
        &above.join("a/b").display().to_string(),
    );
    std::fs::write(&cfg, cfg_body).unwrap();
    refused(&above);
    give(&above);
    let out = as_user(&["check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
