//! `vpcflow convert --out s3://…` into a real S3-compatible server (Garage):
//! the objects equal the directory sink's files byte for byte, at the same
//! keys, and a spool left by an earlier run is delivered by the next one.
//!
//! Skipped with a message when Garage or the shared scripts are missing,
//! unless `VPCFLOW_REQUIRE_S3=1`.

mod common;
#[path = "../../vpcflow-sinks/tests/common/mod.rs"]
mod s3;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

use s3::{set_profile, Garage, Reader};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/demo.pcap");

/// One server for the file; each test writes below its own prefix.
fn server() -> Option<&'static Garage> {
    static SERVER: OnceLock<Option<Garage>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let g = Garage::start_or_skip()?;
            set_profile("test", &g.key_id, &g.secret);
            Some(g)
        })
        .as_ref()
}

/// Runs `vpcflow` with the server's credentials (or `secret` instead).
fn vpcflow_s3(g: &Garage, secret: Option<&str>, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args(args)
        .env_remove("VPCFLOW_LOG")
        .env_remove("AWS_PROFILE")
        .env("AWS_ACCESS_KEY_ID", &g.key_id)
        .env("AWS_SECRET_ACCESS_KEY", secret.unwrap_or(&g.secret))
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run vpcflow")
}

fn as_str(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Checks that every file below `dir` is in the bucket at the same key with
/// the same bytes, and nothing else is below `prefix/`.
fn assert_bucket_equals_dir(g: &Garage, reader: &Reader, dir: &Path, prefix: &str) {
    let files: Vec<String> = common::files_below(dir)
        .into_iter()
        .filter(|p| p.starts_with("AWSLogs"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    assert!(!files.is_empty());
    let mut keys = reader.keys(&g.bucket, &format!("{prefix}/"));
    keys.sort();
    let want: Vec<String> = files.iter().map(|f| format!("{prefix}/{f}")).collect();
    assert_eq!(keys, want);
    for f in &files {
        let stored = reader.get(&g.bucket, &format!("{prefix}/{f}")).unwrap();
        assert!(
            stored.body == std::fs::read(dir.join(f)).unwrap(),
            "{f} differs"
        );
        assert_eq!(
            stored.content_type.as_deref(),
            Some("application/octet-stream")
        );
        assert_eq!(stored.content_encoding, None);
    }
}

#[test]
fn convert_into_s3_stores_the_directory_sinks_files_at_the_same_keys() {
    let Some(g) = server() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dir");
    let spool = tmp.path().join("spool");
    common::vpcflow_ok(&["convert", DEMO, "--out", dir.to_str().unwrap(), "-q"]);
    let out = vpcflow_s3(
        g,
        None,
        &[
            "convert",
            DEMO,
            "--out",
            &format!("s3://{}/e2e/", g.bucket),
            "--spool",
            spool.to_str().unwrap(),
            "--s3-endpoint",
            &g.endpoint,
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let files = common::files_below(&dir)
        .iter()
        .filter(|p| p.starts_with("AWSLogs"))
        .count();
    assert!(
        stderr.contains(&format!(
            "s3        {files} objects delivered (0 already present)"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("0 left in the spool"), "{stderr}");
    assert_bucket_equals_dir(g, &Reader::new(&g.options("test")), &dir, "e2e");
}

#[test]
fn a_spool_left_by_a_failed_run_is_delivered_by_the_next_one_without_input() {
    let Some(g) = server() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dir");
    let spool = tmp.path().join("spool");
    common::vpcflow_ok(&["convert", DEMO, "--out", dir.to_str().unwrap(), "-q"]);
    let out_url = format!("s3://{}/later/", g.bucket);
    let args = |input: &str| {
        vec![
            "convert".to_string(),
            input.to_string(),
            "--out".into(),
            out_url.clone(),
            "--spool".into(),
            spool.to_str().unwrap().into(),
            "--s3-endpoint".into(),
            g.endpoint.clone(),
        ]
    };
    // Wrong credentials: a permanent error, the files stay in the spool.
    let bad = vpcflow_s3(g, Some(&"0".repeat(64)), &as_str(&args(DEMO)));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("were not delivered"), "{stderr}");
    assert!(stderr.contains(spool.to_str().unwrap()), "{stderr}");
    let reader = Reader::new(&g.options("test"));
    assert!(reader.keys(&g.bucket, "later/").is_empty());
    // A capture file without packets: the run only delivers the leftovers.
    let empty = tmp.path().join("empty.pcap");
    let mut header = Vec::new();
    for part in [
        &0xa1b2_c3d4u32.to_le_bytes()[..],
        &2u16.to_le_bytes(),
        &4u16.to_le_bytes(),
        &[0; 8],
        &65_535u32.to_le_bytes(),
        &1u32.to_le_bytes(),
    ] {
        header.extend_from_slice(part);
    }
    std::fs::write(&empty, header).unwrap();
    let good = vpcflow_s3(g, None, &as_str(&args(empty.to_str().unwrap())));
    let stderr = String::from_utf8_lossy(&good.stderr);
    assert!(good.status.success(), "{stderr}");
    assert!(stderr.contains("0 left in the spool"), "{stderr}");
    assert_bucket_equals_dir(g, &reader, &dir, "later");
}
