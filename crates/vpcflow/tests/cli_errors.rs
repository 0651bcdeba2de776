//! The binary's handling of bad input: clear errors naming what and where, and
//! good input still converted.

mod common;

use common::{files_below, vpcflow, vpcflow_ok};

fn demo_capture(dir: &std::path::Path) -> std::path::PathBuf {
    common::synthetic_capture(dir, "ok.pcap", 50)
}

#[test]
fn bad_configuration_names_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let capture = demo_capture(tmp.path());
    let config = tmp.path().join("bad.toml");
    std::fs::write(&config, "[output]\nprefix = \"logs/AWSLogs\"\n").unwrap();
    let run = vpcflow(&[
        "convert",
        capture.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("output.prefix") && err.contains("AWSLogs is reserved"),
        "{err}"
    );

    std::fs::write(&config, "[output]\nlayuot = \"hive\"\n").unwrap();
    let run = vpcflow(&[
        "convert",
        capture.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("layuot") && err.contains("bad.toml"), "{err}");

    let run = vpcflow(&[
        "convert",
        capture.to_str().unwrap(),
        "--format",
        "${version} ${bogus}",
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("unknown field \"bogus\""));

    let run = vpcflow(&["convert", capture.to_str().unwrap(), "--interval", "120"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("60 or 600"));
}

#[test]
fn a_file_that_is_not_a_capture_is_named_and_the_others_are_converted() {
    let tmp = tempfile::tempdir().unwrap();
    let capture = demo_capture(tmp.path());
    let junk = tmp.path().join("notes.txt");
    std::fs::write(&junk, "this is not a capture file at all").unwrap();
    let out = tmp.path().join("out");
    let run = vpcflow(&[
        "convert",
        junk.to_str().unwrap(),
        capture.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(1));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("notes.txt"), "{err}");
    assert!(err.contains("1 failed"), "{err}");
    assert!(
        !files_below(&out).is_empty(),
        "the good capture was converted"
    );
}

#[test]
fn missing_file_is_an_error_naming_it() {
    let run = vpcflow(&["convert", "/nonexistent/x.pcap", "--out", "-"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("/nonexistent/x.pcap"));
}

#[test]
fn truncated_capture_keeps_what_was_read() {
    let tmp = tempfile::tempdir().unwrap();
    let capture = demo_capture(tmp.path());
    let bytes = std::fs::read(&capture).unwrap();
    let cut = tmp.path().join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 37]).unwrap();
    let full = vpcflow_ok(&["convert", capture.to_str().unwrap(), "--out", "-"]);
    let partial = vpcflow_ok(&["convert", cut.to_str().unwrap(), "--out", "-"]);
    let err = String::from_utf8_lossy(&partial.stderr);
    assert!(err.contains("truncated"), "{err}");
    let count = |o: &std::process::Output| -> u64 {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .skip(1)
            .filter_map(|l| l.split(' ').nth(8)?.parse::<u64>().ok())
            .sum()
    };
    assert_eq!(
        count(&partial),
        count(&full) - 1,
        "only the cut packet is lost"
    );
}

#[test]
fn fields_lists_all_forty() {
    let run = vpcflow_ok(&["fields"]);
    let text = String::from_utf8(run.stdout).unwrap();
    assert_eq!(text.lines().count(), 41);
    assert!(text.contains("pkt-dst-aws-service"));
}

#[test]
fn a_closed_pipe_ends_the_run_quietly_but_not_as_success() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("many.pcap");
    let config = pcapgen::Config {
        flows: 20_000,
        ..pcapgen::Config::default()
    };
    pcapgen::generate(config, std::fs::File::create(&path).unwrap()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args(["convert", path.to_str().unwrap(), "--out", "-", "-q"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap(); // then drop the pipe
    let out = child.wait_with_output().unwrap();
    // Records were not written: 141 (128 + SIGPIPE), as `set -o pipefail`
    // expects, and no message.
    assert_eq!(
        out.status.code(),
        Some(141),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn errors_name_the_output_path() {
    let tmp = tempfile::tempdir().unwrap();
    let capture = demo_capture(tmp.path());
    let blocker = tmp.path().join("file-not-dir");
    std::fs::write(&blocker, "x").unwrap();
    let run = vpcflow(&[
        "convert",
        capture.to_str().unwrap(),
        "--out",
        blocker.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("file-not-dir"), "{err}");
}

#[test]
fn bad_s3_destinations_and_a_busy_spool_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let capture = demo_capture(tmp.path());
    let spool = tmp.path().join("spool");
    let convert = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "convert",
            capture.to_str().unwrap(),
            "--out",
            out,
            "--spool",
            spool.to_str().unwrap(),
        ];
        args.extend(extra);
        let run = vpcflow(&args);
        assert_eq!(run.status.code(), Some(2));
        String::from_utf8_lossy(&run.stderr).into_owned()
    };
    let err = convert("s3://Bad_Bucket/logs/", &[]);
    assert!(
        err.contains("output.out") && err.contains("lower-case"),
        "{err}"
    );
    let err = convert("arn:aws:s3:::bucket/AWSLogs/", &[]);
    assert!(err.contains("AWSLogs is reserved"), "{err}");
    let err = convert("s3://bucket/logs/", &["--prefix", "other"]);
    assert!(
        err.contains("output.prefix") && err.contains("differs"),
        "{err}"
    );
    let err = convert("s3://bucket/", &["--s3-endpoint", "127.0.0.1:3900"]);
    assert!(err.contains("output.s3.endpoint"), "{err}");

    // A spool is one process's: a second one is refused, naming the folder.
    let lock = {
        use std::os::fd::AsRawFd;
        std::fs::create_dir_all(&spool).unwrap();
        let f = std::fs::File::create(spool.join("lock")).unwrap();
        // SAFETY: the descriptor is open for the duration of the call.
        assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) }, 0);
        f
    };
    let err = convert("s3://bucket/", &["--s3-endpoint", "http://127.0.0.1:9"]);
    assert!(err.contains("in use by another process"), "{err}");
    assert!(err.contains(spool.to_str().unwrap()), "{err}");
    drop(lock);
}
