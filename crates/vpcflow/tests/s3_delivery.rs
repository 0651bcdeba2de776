//! End to end into a real S3-compatible server (Garage on loopback, see
//! `vpcflow_testkit::garage`): what lands in the bucket is byte for byte what
//! the directory sink writes, and faults — server down or killed, exporter
//! killed, a full spool, wrong credentials, a missing bucket, several
//! exporters, a replicated store losing a node — lose nothing and duplicate
//! nothing: the packets and bytes in the bucket always equal the input's.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{files_below, gunzip, vpcflow_ok};
use vpcflow_testkit::garage::Garage;
use vpcflow_testkit::ConfigToml;

const FLOW_LOG: &str = "fl-0630869f236e76872";
const ACCOUNT: &str = "123456789012";

/// A generated capture and its totals.
struct Input {
    path: PathBuf,
    packets: u64,
    bytes: u64,
}

/// A capture of `flows` flows over 30 minutes (seven 5-minute slots).
fn generate(dir: &Path, seed: u64, flows: u64, packets: u64) -> Input {
    let path = dir.join(format!("gen-{seed}.pcap"));
    let config = pcapgen::Config {
        flows,
        packets: Some(packets),
        duration_ns: 1800 * 1_000_000_000,
        seed,
        truth: true,
        truth_windows: vec![600],
        ..pcapgen::Config::default()
    };
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let summary = pcapgen::generate(config, file).unwrap();
    let truth = summary.truth.unwrap();
    let (packets, bytes) = truth.windows[&600]
        .iter()
        .fold((0, 0), |(p, b), w| (p + w.flow.packets, b + w.flow.bytes));
    Input {
        path,
        packets,
        bytes,
    }
}

/// `vpcflow convert INPUT… --out s3://BUCKET/logs/ --spool SPOOL` with `extra`
/// arguments, reaching `garage`, as a command to spawn or run.
fn convert_to_s3(garage: &Garage, inputs: &[&Path], spool: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vpcflow"));
    cmd.arg("convert")
        .args(inputs)
        .args(["--out", &format!("s3://{}/logs/", garage.bucket())])
        .arg("--spool")
        .arg(spool)
        .args(["--s3-endpoint", garage.endpoint()])
        .args(["--flow-log-id", FLOW_LOG, "--account-id", ACCOUNT])
        .args(extra)
        .env_remove("VPCFLOW_LOG");
    garage.apply_env(&mut cmd);
    cmd
}

/// A running vpcflow whose stderr goes to a file (a long retry log would
/// fill a pipe nobody reads).
struct Running {
    child: Child,
    stderr: tempfile::NamedTempFile,
}

fn spawn(mut cmd: Command) -> Running {
    let stderr = tempfile::NamedTempFile::new().unwrap();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(stderr.reopen().unwrap())
        .spawn()
        .unwrap();
    Running { child, stderr }
}

/// What a finished run left: its exit status and stderr.
struct Finished {
    status: std::process::ExitStatus,
    stderr: String,
}

/// The same conversion into a local directory: the reference output.
fn convert_to_dir(inputs: &[&Path], out: &Path, extra: &[&str]) {
    let mut args = vec!["convert"];
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    let out = out.to_str().unwrap();
    args.extend(["--out", out, "--prefix", "logs", "-q"]);
    args.extend(["--flow-log-id", FLOW_LOG, "--account-id", ACCOUNT]);
    args.extend(extra);
    vpcflow_ok(&args);
}

/// Converts `inputs` into the directory `dir` (the reference output) and
/// returns how many files it published.
fn reference_files(inputs: &[&Path], dir: &Path, extra: &[&str]) -> usize {
    convert_to_dir(inputs, dir, extra);
    files_below(dir)
        .iter()
        .filter(|p| !p.starts_with(".vpcflow-staging"))
        .count()
}

/// Waits for `run` up to `limit`; kills it and fails the test past that.
fn wait(mut run: Running, limit: Duration) -> Finished {
    let start = Instant::now();
    loop {
        if let Some(status) = run.child.try_wait().unwrap() {
            let stderr = std::fs::read_to_string(run.stderr.path()).unwrap();
            return Finished { status, stderr };
        }
        if start.elapsed() > limit {
            run.child.kill().unwrap();
            run.child.wait().unwrap();
            panic!(
                "vpcflow still running after {limit:?}; stderr:\n{}",
                std::fs::read_to_string(run.stderr.path()).unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kills `run` with SIGKILL.
fn kill(mut run: Running) {
    run.child.kill().unwrap();
    run.child.wait().unwrap();
}

fn assert_success(out: &Finished) {
    assert!(
        out.status.success(),
        "vpcflow failed: {}\n{}",
        out.status,
        out.stderr
    );
}

/// Polls `condition` every 50 ms for up to `limit`.
fn eventually(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sizes of the sealed objects (`*.obj`) below `spool`, read while vpcflow
/// is renaming and removing files there: anything gone meanwhile is skipped.
fn spooled_sizes(spool: &Path) -> Vec<u64> {
    fn walk(dir: &Path, out: &mut Vec<u64>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "obj") {
                out.push(meta.len());
            }
        }
    }
    let mut out = Vec::new();
    walk(spool, &mut out);
    out
}

/// Number of sealed objects in `spool`.
fn spooled_objects(spool: &Path) -> usize {
    spooled_sizes(spool).len()
}

/// (packets, bytes, OK records) of every `.log.gz` below `root`, default format.
fn totals_below(root: &Path) -> (u64, u64, u64) {
    let mut t = (0, 0, 0);
    for rel in files_below(root) {
        if !rel.to_string_lossy().ends_with(".log.gz") {
            continue;
        }
        let text = gunzip(&root.join(&rel));
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
        );
        for line in lines {
            let f: Vec<&str> = line.split(' ').collect();
            assert_eq!(f.len(), 14, "{line}");
            if f[13] == "OK" {
                t.0 += f[8].parse::<u64>().unwrap();
                t.1 += f[9].parse::<u64>().unwrap();
                t.2 += 1;
            }
        }
    }
    t
}

/// Downloads the bucket and checks its totals against `inputs`; returns the
/// number of objects.
fn assert_bucket_holds(garage: &Garage, inputs: &[&Input]) -> usize {
    let copy = tempfile::tempdir().unwrap();
    let objects = garage.download_to(copy.path());
    let (packets, bytes, _) = totals_below(copy.path());
    let want = inputs
        .iter()
        .fold((0, 0), |(p, b), i| (p + i.packets, b + i.bytes));
    assert_eq!(
        (packets, bytes),
        want,
        "packets and bytes in the bucket vs the input"
    );
    objects
}

fn stderr_of(out: &Finished) -> String {
    out.stderr.clone()
}

#[test]
fn bucket_holds_the_directory_sinks_files_byte_for_byte() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let input = generate(tmp.path(), 3, 2000, 20_000);
    let dir = tmp.path().join("dir");
    convert_to_dir(&[&input.path], &dir, &[]);
    let spool = tmp.path().join("spool");
    let mut cmd = convert_to_s3(&garage, &[&input.path], &spool, &[]);
    cmd.arg("-q");
    let out = wait(spawn(cmd), Duration::from_secs(120));
    assert_success(&out);
    assert!(
        !out.stderr.contains("s3        "),
        "-q: no summary: {}",
        out.stderr
    );

    let objects = garage.objects();
    let local: BTreeMap<String, Vec<u8>> = files_below(&dir)
        .into_iter()
        .filter(|p| !p.starts_with(".vpcflow-staging"))
        .map(|p| {
            (
                p.to_string_lossy().into_owned(),
                std::fs::read(dir.join(&p)).unwrap(),
            )
        })
        .collect();
    assert!(local.len() >= 6, "{} files", local.len());
    assert_eq!(
        objects.keys().collect::<Vec<_>>(),
        local.keys().collect::<Vec<_>>(),
        "same keys in the bucket as in the directory"
    );
    for (key, o) in &objects {
        assert!(
            key.starts_with("logs/AWSLogs/123456789012/vpcflowlogs/"),
            "{key}"
        );
        assert!(o.body == local[key], "{key}: the bodies differ");
        assert_eq!(
            o.content_type.as_deref(),
            Some("application/octet-stream"),
            "{key}"
        );
        assert_eq!(o.content_encoding, None, "{key}");
    }
    assert_eq!(
        spooled_objects(&spool),
        0,
        "the spool is empty after delivery"
    );

    // Converting the same input again delivers nothing new.
    let again = wait(
        spawn(convert_to_s3(&garage, &[&input.path], &spool, &[])),
        Duration::from_secs(120),
    );
    assert_success(&again);
    assert_eq!(garage.objects().len(), objects.len());
    assert_bucket_holds(&garage, &[&input]);
}

#[test]
fn parquet_objects_equal_the_directory_sinks() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let input = generate(tmp.path(), 4, 500, 5000);
    let dir = tmp.path().join("dir");
    convert_to_dir(
        &[&input.path],
        &dir,
        &["--file-format", "parquet", "--layout", "hive"],
    );
    let spool = tmp.path().join("spool");
    let args = ["--file-format", "parquet", "--layout", "hive"];
    let out = wait(
        spawn(convert_to_s3(&garage, &[&input.path], &spool, &args)),
        Duration::from_secs(120),
    );
    assert_success(&out);
    let objects = garage.objects();
    let local = files_below(&dir)
        .into_iter()
        .filter(|p| !p.starts_with(".vpcflow-staging"))
        .collect::<Vec<_>>();
    assert_eq!(objects.len(), local.len());
    for p in local {
        let key = p.to_string_lossy();
        assert!(key.contains("aws-account-id=123456789012"), "{key}");
        let o = &objects[key.as_ref()];
        assert!(
            o.body == std::fs::read(dir.join(&p)).unwrap(),
            "{key} differs"
        );
    }
}

#[test]
fn server_down_at_start_files_wait_in_the_spool_then_arrive() {
    let Some(mut garage) = Garage::start() else {
        return;
    };
    garage.kill();
    let tmp = tempfile::tempdir().unwrap();
    let input = generate(tmp.path(), 5, 1500, 15_000);
    let files = reference_files(&[&input.path], &tmp.path().join("dir"), &[]);
    let spool = tmp.path().join("spool");
    let child = spawn(convert_to_s3(&garage, &[&input.path], &spool, &[]));
    eventually(Duration::from_secs(60), "every file in the spool", || {
        spooled_objects(&spool) == files
    });
    std::thread::sleep(Duration::from_secs(2));
    garage.restart();
    let out = wait(child, Duration::from_secs(180));
    assert_success(&out);
    assert_eq!(spooled_objects(&spool), 0);
    assert_bucket_holds(&garage, &[&input]);
}

#[test]
fn server_killed_mid_run_and_restarted_loses_and_duplicates_nothing() {
    let Some(mut garage) = Garage::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let input = generate(tmp.path(), 6, 4000, 60_000);
    let spool = tmp.path().join("spool");
    // Small files: many objects, so the server dies between deliveries.
    let args = ["--max-file-bytes", "20000"];
    let expected_objects = reference_files(&[&input.path], &tmp.path().join("dir"), &args);
    let child = spawn(convert_to_s3(&garage, &[&input.path], &spool, &args));
    eventually(
        Duration::from_secs(60),
        "the first delivered object",
        || !garage.objects().is_empty(),
    );
    garage.kill();
    std::thread::sleep(Duration::from_secs(3));
    garage.restart();
    let out = wait(child, Duration::from_secs(180));
    assert_success(&out);
    let objects = assert_bucket_holds(&garage, &[&input]);
    assert_eq!(objects, expected_objects, "one object per file, none twice");
}

#[test]
fn exporter_killed_with_sigkill_then_the_next_start_delivers_the_spool() {
    let Some(mut garage) = Garage::start() else {
        return;
    };
    garage.kill();
    let tmp = tempfile::tempdir().unwrap();
    let input = generate(tmp.path(), 7, 1500, 15_000);
    let files = reference_files(&[&input.path], &tmp.path().join("dir"), &[]);
    let spool = tmp.path().join("spool");
    let child = spawn(convert_to_s3(&garage, &[&input.path], &spool, &[]));
    eventually(
        Duration::from_secs(60),
        "every file sealed into the spool",
        || spooled_objects(&spool) == files,
    );
    kill(child); // SIGKILL
    garage.restart();

    // The next start, with nothing new to convert, delivers the leftovers.
    let empty = tmp.path().join("empty.pcap");
    let config = pcapgen::Config {
        flows: 0,
        packets: Some(0),
        ..pcapgen::Config::default()
    };
    pcapgen::generate(config, std::fs::File::create(&empty).unwrap()).unwrap();
    let out = wait(
        spawn(convert_to_s3(&garage, &[&empty], &spool, &[])),
        Duration::from_secs(120),
    );
    assert_success(&out);
    assert_eq!(spooled_objects(&spool), 0);
    assert_eq!(assert_bucket_holds(&garage, &[&input]), files);
}

#[test]
fn exporter_killed_during_uploads_then_rerun_duplicates_nothing() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let input = generate(tmp.path(), 8, 4000, 60_000);
    let args = ["--max-file-bytes", "20000"];
    let files = reference_files(&[&input.path], &tmp.path().join("dir"), &args);
    let spool = tmp.path().join("spool");
    let child = spawn(convert_to_s3(&garage, &[&input.path], &spool, &args));
    eventually(
        Duration::from_secs(60),
        "the first delivered object",
        || !garage.objects().is_empty(),
    );
    kill(child);

    // Converting the whole input again: the spool's leftovers first, then the
    // same files again, which land on the same keys.
    let out = wait(
        spawn(convert_to_s3(&garage, &[&input.path], &spool, &args)),
        Duration::from_secs(180),
    );
    assert_success(&out);
    assert_eq!(assert_bucket_holds(&garage, &[&input]), files);
}

#[test]
fn a_full_spool_holds_the_conversion_back_until_deliveries_free_it() {
    let Some(mut garage) = Garage::start() else {
        return;
    };
    garage.kill();
    let tmp = tempfile::tempdir().unwrap();
    let input = generate(tmp.path(), 9, 4000, 60_000);
    let args = ["--max-file-bytes", "20000"];
    let dir = tmp.path().join("dir");
    convert_to_dir(&[&input.path], &dir, &args);
    let sizes: Vec<u64> = files_below(&dir)
        .iter()
        .filter(|p| !p.starts_with(".vpcflow-staging"))
        .map(|p| std::fs::metadata(dir.join(p)).unwrap().len())
        .collect();
    let biggest = *sizes.iter().max().unwrap();
    let limit = biggest * 2;
    assert!(
        sizes.iter().sum::<u64>() > 2 * limit,
        "the input must overflow the spool"
    );

    let spool = tmp.path().join("spool");
    let config = ConfigToml::new()
        .table("output")
        .set("spool_max_bytes", limit)
        .write_as(&tmp.path().join("spool-limit.toml"));
    let mut extra = args.to_vec();
    extra.extend(["--config", config.to_str().unwrap()]);
    let child = spawn(convert_to_s3(&garage, &[&input.path], &spool, &extra));
    let spool_bytes = || -> u64 { spooled_sizes(&spool).iter().sum() };
    eventually(Duration::from_secs(60), "a full spool", || {
        spool_bytes() + biggest > limit
    });
    // Held back: the spool stays within its limit while the store is down.
    for _ in 0..20 {
        assert!(spool_bytes() <= limit, "{} > {limit}", spool_bytes());
        std::thread::sleep(Duration::from_millis(100));
    }
    garage.restart();
    let out = wait(child, Duration::from_secs(180));
    assert_success(&out);
    assert_eq!(assert_bucket_holds(&garage, &[&input]), sizes.len());
}

#[test]
fn wrong_credentials_are_reported_and_the_files_kept() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let input = generate(tmp.path(), 10, 300, 3000);
    let spool = tmp.path().join("spool");
    let mut cmd = convert_to_s3(&garage, &[&input.path], &spool, &[]);
    cmd.env(
        "AWS_SECRET_ACCESS_KEY",
        "0000000000000000000000000000000000000000000000000000000000000000",
    );
    let out = wait(spawn(cmd), Duration::from_secs(120));
    assert!(
        !out.status.success(),
        "wrong credentials must fail the conversion"
    );
    let err = stderr_of(&out);
    assert!(
        err.contains(garage.bucket()),
        "the log names the bucket: {err}"
    );
    // A refused HEAD has no body, so the store's reason may be only the status.
    assert!(
        [
            "SignatureDoesNotMatch",
            "AccessDenied",
            "InvalidAccessKeyId",
            "403"
        ]
        .iter()
        .any(|code| err.contains(code)),
        "the log names the store's reason: {err}"
    );
    assert!(
        err.contains("not delivered"),
        "the run ends with an error: {err}"
    );
    assert!(spooled_objects(&spool) > 0, "the files stay in the spool");
    assert!(garage.objects().is_empty());

    // With the right credentials the next start delivers them.
    let out = wait(
        spawn(convert_to_s3(&garage, &[&input.path], &spool, &[])),
        Duration::from_secs(120),
    );
    assert_success(&out);
    assert_eq!(spooled_objects(&spool), 0);
    assert_bucket_holds(&garage, &[&input]);
}

#[test]
fn a_missing_bucket_stops_the_conversion_before_it_starts() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let input = generate(tmp.path(), 11, 300, 3000);
    let spool = tmp.path().join("spool");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vpcflow"));
    cmd.arg("convert")
        .arg(&input.path)
        .args(["--out", "s3://no-such-bucket-here/logs/", "--spool"])
        .arg(&spool)
        .args(["--s3-endpoint", garage.endpoint()])
        .args(["--flow-log-id", FLOW_LOG, "--account-id", ACCOUNT])
        .env_remove("VPCFLOW_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    garage.apply_env(&mut cmd);
    let out = wait(spawn(cmd), Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("the bucket no-such-bucket-here does not exist (HeadBucket: 404)"),
        "{err}"
    );
    // Checked before anything was converted: nothing waits in the spool.
    assert_eq!(spooled_objects(&spool), 0);
}

#[test]
fn three_exporters_into_one_bucket_collide_nowhere() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let inputs: Vec<Input> = (0..3)
        .map(|i| generate(tmp.path(), 20 + i, 1500, 15_000))
        .collect();
    let expected_files: usize = inputs
        .iter()
        .enumerate()
        .map(|(i, input)| reference_files(&[&input.path], &tmp.path().join(format!("dir{i}")), &[]))
        .sum();
    let children: Vec<Running> = inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let spool = tmp.path().join(format!("spool{i}"));
            spawn(convert_to_s3(&garage, &[&input.path], &spool, &[]))
        })
        .collect();
    for child in children {
        assert_success(&wait(child, Duration::from_secs(180)));
    }
    let refs: Vec<&Input> = inputs.iter().collect();
    assert_eq!(assert_bucket_holds(&garage, &refs), expected_files);
}

#[test]
fn replicated_store_losing_a_node_mid_run_loses_nothing() {
    let Some(mut cluster) = Garage::start_cluster() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let input = generate(tmp.path(), 30, 4000, 60_000);
    let args = ["--max-file-bytes", "20000"];
    let files = reference_files(&[&input.path], &tmp.path().join("dir"), &args);
    let spool = tmp.path().join("spool");
    let child = spawn(convert_to_s3(&cluster, &[&input.path], &spool, &args));
    eventually(
        Duration::from_secs(60),
        "the first delivered object",
        || !cluster.objects().is_empty(),
    );
    cluster.kill_node(2);
    let out = wait(child, Duration::from_secs(180));
    assert_success(&out);
    cluster.restart();
    assert_eq!(assert_bucket_holds(&cluster, &[&input]), files);
}

/// `vpcflow run` into S3: a closed window's file is delivered while running
/// and `/metrics` shows the delivery; SIGTERM seals the open window's file
/// into the spool and delivers it before exiting.
#[test]
fn the_daemon_delivers_while_running_and_flushes_on_sigterm() {
    use common::analyzer::{analyzer, flow, now_ms, store};
    use common::{free_port, http_get, metric};

    let Some(garage) = Garage::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (port, tx, server) = analyzer();
    let metrics_port = free_port();
    let config = ConfigToml::new()
        .table("flow_log")
        .set("account_id", ACCOUNT)
        .set("flow_log_id", FLOW_LOG)
        .set("interval", 60)
        .table("output")
        .set("out", format!("s3://{}/daemon/", garage.bucket()))
        .set("spool_dir", dir.path().join("spool"))
        .table("output.s3")
        .set("endpoint", garage.endpoint())
        .set("shutdown_timeout", 60)
        .without_nodata()
        .table("skydive")
        .set("idle_delay", 120)
        .skydive_analyzer(port)
        .table("metrics")
        .set("listen", format!("127.0.0.1:{metrics_port}"))
        .table("state")
        .set("dir", dir.path().join("state"))
        .write(dir.path());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vpcflow"));
    cmd.args(["run", "--config", config.to_str().unwrap()]);
    garage.apply_env(&mut cmd);
    let daemon = spawn(cmd);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], metrics_port));
    eventually(Duration::from_secs(20), "the metrics endpoint", || {
        http_get(addr, "/healthz").is_some()
    });

    // An hour-old flow: its window closes at once and its file is delivered
    // while the daemon runs. A current one stays open until SIGTERM.
    tx.send(store(&[
        flow("old", "10.0.0.1", 3, now_ms() - 3_600_000),
        flow("new", "10.0.0.2", 5, now_ms()),
    ]))
    .unwrap();
    eventually(
        Duration::from_secs(60),
        "the closed window's object",
        || garage.objects().len() == 1,
    );
    let mut text = String::new();
    eventually(Duration::from_secs(20), "delivery metrics", || {
        text = http_get(addr, "/metrics")
            .map(|r| r.body)
            .unwrap_or_default();
        metric(&text, "vpcflow_objects_delivered_total") == Some(1)
    });
    assert_eq!(metric(&text, "vpcflow_spool_files"), Some(0), "{text}");
    assert_eq!(
        metric(&text, "vpcflow_upload_errors_total{kind=\"permanent\"}"),
        Some(0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "vpcflow_upload_latency_seconds_count"),
        Some(1),
        "{text}"
    );

    Command::new("kill")
        .args(["-TERM", &daemon.child.id().to_string()])
        .status()
        .unwrap();
    let out = wait(daemon, Duration::from_secs(90));
    assert_success(&out);
    assert!(out.stderr.contains("0 left in the spool"), "{}", out.stderr);
    let copy = tempfile::tempdir().unwrap();
    assert_eq!(garage.download_to(copy.path()), 2);
    let (packets, bytes, records) = totals_below(copy.path());
    // 114-byte Ethernet frames carry 100 bytes of IP.
    assert_eq!((packets, bytes, records), (8, 8 * 100, 2));
    drop(tx);
    server.join().unwrap();
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `bytes` at `dir`, or `None` (after saying why) when
    /// this is not root; under `CI=true` that is a failure.
    fn mount(dir: &Path, bytes: u64) -> Option<Tmpfs> {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if !root {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI runs as root: the full-disk test must run"
            );
            eprintln!("SKIPPED: mounting a tmpfs needs root");
            return None;
        }
        std::fs::create_dir_all(dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success(), "mount a tmpfs at {}", dir.display());
        Some(Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A real full disk: the spool on a tmpfs too small for the output while the
/// store is down. Writing waits for space instead of failing; once the store
/// is back, deliveries free the disk and every record arrives once.
#[test]
fn a_full_disk_under_the_spool_is_waited_out() {
    let Some(mut garage) = Garage::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let spool = tmp.path().join("spool");
    let Some(_tmpfs) = Tmpfs::mount(&spool, 24 * 1024) else {
        return;
    };
    garage.kill();
    let input = generate(tmp.path(), 12, 4000, 60_000);
    let files = reference_files(&[&input.path], &tmp.path().join("dir"), &[]);
    let mut run = spawn(convert_to_s3(&garage, &[&input.path], &spool, &[]));
    let log = run.stderr.path().to_path_buf();
    eventually(Duration::from_secs(60), "the disk-full warning", || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("disk full"))
    });
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        run.child.try_wait().unwrap().is_none(),
        "a full disk is waited out, not an error"
    );
    assert!(
        spooled_objects(&spool) < files,
        "the spool could not hold everything"
    );
    garage.restart();
    let out = wait(run, Duration::from_secs(180));
    assert_success(&out);
    assert!(
        out.stderr.contains("disk space available again"),
        "{}",
        out.stderr
    );
    assert_eq!(assert_bucket_holds(&garage, &[&input]), files);
}
