//! AWS's names of `aws ec2 create-flow-logs` give the same files as
//! vpcflow's own: `--log-format`, `--max-aggregation-interval`,
//! `--log-destination`, `--destination-options`, and their configuration keys.

mod common;

use std::path::Path;

use common::{files_below, vpcflow, vpcflow_ok};
use vpcflow_testkit::ConfigToml;

const FORMAT: &str = "${version} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${flow-direction}";

fn demo_capture(dir: &std::path::Path) -> std::path::PathBuf {
    common::synthetic_capture(dir, "demo.pcap", 200)
}

/// Every file below `dir` with its bytes, by relative path.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = files_below(dir)
        .into_iter()
        .filter(|f| f.starts_with("AWSLogs"))
        .map(|f| {
            let bytes = std::fs::read(dir.join(&f)).unwrap();
            (f.display().to_string(), bytes)
        })
        .collect();
    files.sort();
    files
}

fn convert(capture: &Path, args: &[&str]) {
    let mut all = vec!["convert", "--quiet", capture.to_str().unwrap()];
    all.extend(common::IDENTITY);
    all.extend(args);
    vpcflow_ok(&all);
}

#[test]
fn aws_flags_give_the_same_files() {
    let tmp = tempfile::tempdir().unwrap();
    let capture = demo_capture(tmp.path());
    let ours = tmp.path().join("ours");
    let aws = tmp.path().join("aws");
    convert(
        &capture,
        &[
            "--format",
            FORMAT,
            "--interval",
            "60",
            "--file-format",
            "parquet",
            "--layout",
            "hive-hourly",
            "--out",
            ours.to_str().unwrap(),
        ],
    );
    convert(
        &capture,
        &[
            "--log-format",
            FORMAT,
            "--max-aggregation-interval",
            "60",
            "--destination-options",
            "FileFormat=parquet,HiveCompatiblePartitions=true,PerHourPartition=true",
            "--log-destination",
            aws.to_str().unwrap(),
        ],
    );
    let expected = tree(&ours);
    assert!(expected.len() > 1, "{} files", expected.len());
    assert!(expected[0].0.contains("/year="), "{}", expected[0].0);
    assert!(expected[0].0.ends_with(".log.parquet"), "{}", expected[0].0);
    assert_eq!(tree(&aws), expected);

    // The JSON form of the options, and only some of them (AWS's defaults for
    // the rest: plain text, daily, not Hive).
    let json = tmp.path().join("json");
    convert(
        &capture,
        &[
            "--destination-options",
            r#"{"FileFormat":"plain-text"}"#,
            "--out",
            json.to_str().unwrap(),
        ],
    );
    let plain = tmp.path().join("plain");
    convert(&capture, &["--out", plain.to_str().unwrap()]);
    assert_eq!(tree(&json), tree(&plain));
}

#[test]
fn aws_configuration_keys_give_the_same_files() {
    let tmp = tempfile::tempdir().unwrap();
    let capture = demo_capture(tmp.path());
    let ours_dir = tmp.path().join("ours");
    let aws_dir = tmp.path().join("aws");
    let ours = ConfigToml::new()
        .table("flow_log")
        .set("format", FORMAT)
        .set("interval", 60)
        .table("output")
        .set("out", ours_dir.clone())
        .set("file_format", "parquet")
        .set("layout", "hive")
        .write_as(&tmp.path().join("ours.toml"));
    let aws = ConfigToml::new()
        .table("flow_log")
        .set("log_format", FORMAT)
        .set("max_aggregation_interval", 60)
        .table("output")
        .set("log_destination", aws_dir.clone())
        .raw(r#"destination_options = { FileFormat = "parquet", HiveCompatiblePartitions = true }"#)
        .write_as(&tmp.path().join("aws.toml"));
    convert(&capture, &["--config", ours.to_str().unwrap()]);
    convert(&capture, &["--config", aws.to_str().unwrap()]);
    let expected = tree(&ours_dir);
    assert!(!expected.is_empty());
    assert_eq!(tree(&aws_dir), expected);
}

#[test]
fn contradicting_names_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let capture = demo_capture(tmp.path());
    let out = tmp.path().join("out");
    let mut args = vec![
        "convert",
        capture.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--layout",
        "hive",
        "--destination-options",
        "FileFormat=parquet",
    ];
    let run = vpcflow(&args);
    assert_eq!(run.status.code(), Some(2));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains(
            "--destination-options: the layout they give (default) differs from --layout hive"
        ),
        "{err}"
    );
    args.truncate(4);
    args.extend(["--destination-options", "FileFormat=csv"]);
    let run = vpcflow(&args);
    assert_eq!(run.status.code(), Some(2));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("--destination-options") && err.contains("FileFormat: "),
        "{err}"
    );
    assert!(!out.exists(), "nothing written");
}

#[test]
fn athena_takes_the_aws_names_too() {
    let ours = vpcflow_ok(&[
        "athena",
        "--format",
        FORMAT,
        "--file-format",
        "parquet",
        "--layout",
        "hive-hourly",
    ]);
    let aws = vpcflow_ok(&[
        "athena",
        "--log-format",
        FORMAT,
        "--destination-options",
        "FileFormat=parquet,HiveCompatiblePartitions=true,PerHourPartition=true",
    ]);
    assert!(String::from_utf8_lossy(&ours.stdout).contains("PARTITIONED BY"));
    assert_eq!(ours.stdout, aws.stdout);
}
