//! End to end: the CloudWatch Logs and Firehose destinations through the
//! binary, against moto in server mode. moto is a mock of the AWS APIs,
//! used because no open-source server implements these two: it stands in
//! for the wire protocol only; AWS's limits (batch sizes, order, time span,
//! event age, record size) are enforced by vpcflow and unit-tested in
//! vpcflow-sinks at the limits.
//!
//! What we wrote is read back by a real consumer (`flowlogs-reader` over
//! the moto endpoint) and compared with the files the same input gives.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{files_below, gunzip};
use vpcflow_testkit::moto::Moto;

/// A capture of the last half hour (CloudWatch Logs refuses events older
/// than 14 days), several interfaces' worth of flows.
fn recent_capture(dir: &Path, seed: u64) -> PathBuf {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let path = dir.join("recent.pcap");
    let config = pcapgen::Config {
        flows: 400,
        packets: Some(3000),
        start_ns: (now - 1800) * 1_000_000_000,
        duration_ns: 1500 * 1_000_000_000,
        seed,
        ..pcapgen::Config::default()
    };
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    pcapgen::generate(config, file).unwrap();
    path
}

fn vpcflow_with(moto: &Moto, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vpcflow"));
    cmd.args(args).env_remove("VPCFLOW_LOG");
    moto.apply_env(&mut cmd);
    cmd
}

fn run_ok(mut cmd: Command) -> String {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{}\n{stderr}", out.status);
    stderr
}

/// The record lines (no header) of every text file below `dir`, sorted.
fn file_lines(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for f in files_below(dir) {
        let text = gunzip(&dir.join(f));
        lines.extend(text.lines().skip(1).map(str::to_string));
    }
    lines.sort();
    lines
}

/// Every event of the log group as `stream timestamp message` lines, sorted.
const READ_EVENTS: &str = r#"
import boto3, sys
c = boto3.client("logs")
group = sys.argv[1]
out = []
for s in c.describe_log_streams(logGroupName=group)["logStreams"]:
    kw = dict(logGroupName=group, logStreamName=s["logStreamName"], startFromHead=True)
    token = None
    while True:
        r = c.get_log_events(**kw, **({"nextToken": token} if token else {}))
        for e in r["events"]:
            out.append("%s %d %s" % (s["logStreamName"], e["timestamp"], e["message"]))
        if r["nextForwardToken"] == token or not r["events"]:
            break
        token = r["nextForwardToken"]
print("\n".join(sorted(out)))
"#;

/// flowlogs-reader over the log group: records, packets and bytes totals,
/// and one line per record.
const READ_FLOWLOGS: &str = r#"
import sys, datetime
from calendar import timegm
from flowlogs_reader import FlowLogsReader
now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
reader = FlowLogsReader(sys.argv[1], start_time=now - datetime.timedelta(days=1), end_time=now + datetime.timedelta(hours=3))
records = list(reader)
print(len(records), sum(r.packets or 0 for r in records), sum(r.bytes or 0 for r in records))
def v(x):
    return "-" if x is None else str(x)
def line(r):
    return " ".join([v(r.version), v(r.account_id), v(r.interface_id), v(r.srcaddr), v(r.dstaddr),
        v(r.srcport), v(r.dstport), v(r.protocol), v(r.packets), v(r.bytes),
        str(timegm(r.start.utctimetuple())), str(timegm(r.end.utctimetuple())), v(r.action), v(r.log_status)])
for l in sorted(line(r) for r in records):
    print(l)
"#;

fn events(moto: &Moto, group: &str) -> Vec<String> {
    moto.python(READ_EVENTS, &[group])
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Totals (records, packets, bytes) of record lines in the default format.
fn totals(lines: &[String]) -> (u64, u64, u64) {
    let mut t = (lines.len() as u64, 0, 0);
    for l in lines {
        let f: Vec<&str> = l.split(' ').collect();
        t.1 += f[8].parse::<u64>().unwrap_or(0);
        t.2 += f[9].parse::<u64>().unwrap_or(0);
    }
    t
}

#[test]
fn cloudwatch_events_read_back_by_flowlogs_reader_equal_the_files() {
    let Some(moto) = Moto::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let pcap = recent_capture(tmp.path(), 3);
    let files = tmp.path().join("out/files");
    let spool = tmp.path().join("spool");
    let stderr = run_ok(vpcflow_with(
        &moto,
        &[
            "convert",
            pcap.to_str().unwrap(),
            "--out",
            files.to_str().unwrap(),
            "--out",
            "arn:aws:logs:us-east-1:123456789012:log-group:vpc/flow-logs",
            "--spool",
            spool.to_str().unwrap(),
            "--account-id",
            "123456789012",
        ],
    ));
    assert!(stderr.contains("left in the spool"), "{stderr}");
    let expected = file_lines(&files);
    assert!(expected.len() > 100, "{}", expected.len());

    // The events: one stream per interface named <interface-id>-all, the
    // message the record line, the timestamp its start in milliseconds.
    let got = events(&moto, "vpc/flow-logs");
    let mut messages: Vec<String> = Vec::new();
    for e in &got {
        let (stream, rest) = e.split_once(' ').unwrap();
        let (ts, message) = rest.split_once(' ').unwrap();
        let fields: Vec<&str> = message.split(' ').collect();
        assert_eq!(stream, format!("{}-all", fields[2]), "{e}");
        assert_eq!(ts, format!("{}000", fields[10]), "{e}");
        messages.push(message.to_string());
    }
    messages.sort();
    assert_eq!(messages, expected);

    // A real consumer: flowlogs-reader reading the log group.
    let out = moto.python(READ_FLOWLOGS, &["vpc/flow-logs"]);
    let mut lines = out.lines();
    let head: Vec<u64> = lines
        .next()
        .unwrap()
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect();
    let (records, packets, bytes) = totals(&expected);
    assert_eq!(head, [records, packets, bytes]);
    let mut reread: Vec<String> = lines.map(str::to_string).collect();
    reread.sort();
    assert_eq!(reread, expected);
    // Nothing is left in the spool of the log group.
    let left = files_below(&spool.join("cloudwatch-vpc_flow-logs/ready"));
    assert!(left.is_empty(), "{left:?}");
}

const FIREHOSE_SETUP: &str = r#"
import boto3, sys
boto3.client("s3").create_bucket(Bucket=sys.argv[2])
boto3.client("firehose").create_delivery_stream(
    DeliveryStreamName=sys.argv[1],
    DeliveryStreamType="DirectPut",
    ExtendedS3DestinationConfiguration={
        "RoleARN": "arn:aws:iam::123456789012:role/firehose",
        "BucketARN": "arn:aws:s3:::" + sys.argv[2],
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
    },
)
"#;

const READ_BUCKET: &str = r#"
import boto3, sys
s3 = boto3.client("s3")
data = b""
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[1]):
    for o in page.get("Contents", []):
        data += s3.get_object(Bucket=sys.argv[1], Key=o["Key"])["Body"].read()
sys.stdout.write(data.decode())
"#;

#[test]
fn firehose_records_land_in_s3_as_the_file_lines() {
    let Some(moto) = Moto::start() else { return };
    moto.python(FIREHOSE_SETUP, &["flow-logs", "firehose-out"]);
    let tmp = tempfile::tempdir().unwrap();
    let pcap = recent_capture(tmp.path(), 5);
    let files = tmp.path().join("out/files");
    run_ok(vpcflow_with(
        &moto,
        &[
            "convert",
            pcap.to_str().unwrap(),
            "--out",
            "arn:aws:firehose:us-east-1:123456789012:deliverystream/flow-logs",
            "--out",
            files.to_str().unwrap(),
            "--spool",
            tmp.path().join("spool").to_str().unwrap(),
        ],
    ));
    let expected = file_lines(&files);
    let body = moto.python(READ_BUCKET, &["firehose-out"]);
    // One Firehose record per flow log record, each LF-terminated, no
    // header.
    assert!(body.ends_with('\n'));
    assert!(!body.contains("version account-id"));
    let mut got: Vec<String> = body.lines().map(str::to_string).collect();
    got.sort();
    assert_eq!(got, expected);
}

/// A proxy in front of moto: answers the first `throttle` PutLogEvents
/// calls with ThrottlingException, holds every PutLogEvents call when
/// `hold` is set (never answering), forwards only the first half of the
/// records of the first `fail_half` PutRecordBatch calls and reports the
/// other half failed (`FailedPutCount`), forwards the rest.
struct Proxy {
    port: u16,
    throttled: Arc<AtomicUsize>,
    held: Arc<AtomicUsize>,
}

fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse::<usize>().unwrap_or(0));
            if data.len() >= end + 4 + length {
                return Some(data);
            }
        }
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
    }
}

/// Forwards the first half of the records of a PutRecordBatch request and
/// answers as Firehose does when the others failed.
fn fail_half_of(request: &[u8], upstream: u16) -> Vec<u8> {
    use serde_json::{json, Value};
    let end = request.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let mut body: Value = serde_json::from_slice(&request[end + 4..]).unwrap();
    let records = body["Records"].as_array().unwrap().clone();
    let keep = records.len() / 2;
    body["Records"] = Value::Array(records[..keep].to_vec());
    let new_body = serde_json::to_vec(&body).unwrap();
    let head = String::from_utf8_lossy(&request[..end]).into_owned();
    let head: Vec<&str> = head
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("content-length:"))
        .collect();
    let mut forwarded = format!(
        "{}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        head.join("\r\n"),
        new_body.len()
    )
    .into_bytes();
    forwarded.extend_from_slice(&new_body);
    let mut up = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
    up.write_all(&forwarded).unwrap();
    let mut response = Vec::new();
    up.read_to_end(&mut response).unwrap();
    assert!(
        response.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&response)
    );
    let answers: Vec<Value> = (0..records.len())
        .map(|i| {
            if i < keep {
                json!({"RecordId": format!("r{i}")})
            } else {
                json!({"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."})
            }
        })
        .collect();
    let body = json!({
        "FailedPutCount": records.len() - keep,
        "Encrypted": false,
        "RequestResponses": answers,
    })
    .to_string();
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\nx-amzn-requestid: p\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

impl Proxy {
    fn start(upstream: u16, throttle: usize, hold: bool, fail_half: usize) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let throttled = Arc::new(AtomicUsize::new(0));
        let held = Arc::new(AtomicUsize::new(0));
        let (t, h) = (throttled.clone(), held.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let (t, h) = (t.clone(), h.clone());
                std::thread::spawn(move || {
                    while let Some(request) = read_request(&mut conn) {
                        let text = String::from_utf8_lossy(&request);
                        let put = text.contains("Logs_20140328.PutLogEvents");
                        if put && hold {
                            h.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_secs(3600));
                            return;
                        }
                        let batch = text.contains("Firehose_20150804.PutRecordBatch");
                        if batch && t.load(Ordering::SeqCst) < fail_half {
                            t.fetch_add(1, Ordering::SeqCst);
                            let response = fail_half_of(&request, upstream);
                            if conn.write_all(&response).is_err() {
                                return;
                            }
                            continue;
                        }
                        if put && t.load(Ordering::SeqCst) < throttle {
                            t.fetch_add(1, Ordering::SeqCst);
                            let body =
                                r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;
                            let response = format!("HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.1\r\nx-amzn-requestid: t\r\ncontent-length: {}\r\n\r\n{body}", body.len());
                            if conn.write_all(response.as_bytes()).is_err() {
                                return;
                            }
                            continue;
                        }
                        // Forward on a fresh connection that closes after
                        // the response.
                        let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)) else {
                            return;
                        };
                        let end = request.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
                        let mut forwarded = request[..end].to_vec();
                        forwarded.extend_from_slice(b"\r\nconnection: close\r\n\r\n");
                        forwarded.extend_from_slice(&request[end + 4..]);
                        let _ = up.write_all(&forwarded);
                        let mut response = Vec::new();
                        let _ = up.read_to_end(&mut response);
                        if conn.write_all(&response).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Proxy {
            port,
            throttled,
            held,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn config(dir: &Path, endpoint: &str, extra: &str) -> PathBuf {
    let path = dir.join("vpcflow.toml");
    std::fs::write(
        &path,
        format!(
            "[output]\nout = \"cloudwatch://faults\"\nspool_dir = \"{}\"\n\n[output.cloudwatch]\nendpoint_url = \"{endpoint}\"\n{extra}",
            dir.join("spool").display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn firehose_records_failed_inside_a_batch_are_sent_again_alone() {
    let Some(moto) = Moto::start() else { return };
    moto.python(FIREHOSE_SETUP, &["partial", "partial-out"]);
    let proxy = Proxy::start(moto.port(), 0, false, 2);
    let tmp = tempfile::tempdir().unwrap();
    let pcap = recent_capture(tmp.path(), 17);
    let path = tmp.path().join("vpcflow.toml");
    std::fs::write(
        &path,
        format!(
            "[output]\nout = \"firehose://partial\"\nspool_dir = \"{}\"\n\n[output.firehose]\nendpoint_url = \"{}\"\n",
            tmp.path().join("spool").display(),
            proxy.endpoint()
        ),
    )
    .unwrap();
    let out = vpcflow_with(
        &moto,
        &[
            "convert",
            pcap.to_str().unwrap(),
            "--config",
            path.to_str().unwrap(),
        ],
    )
    .env("VPCFLOW_LOG", "warn")
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(proxy.throttled.load(Ordering::SeqCst), 2);
    assert!(err.contains("FailedPutCount"), "{err}");
    let files = tmp.path().join("out/files");
    run_ok(vpcflow_with(
        &moto,
        &[
            "convert",
            pcap.to_str().unwrap(),
            "--out",
            files.to_str().unwrap(),
        ],
    ));
    // Every record once: the accepted half is not sent again.
    let mut got: Vec<String> = moto
        .python(READ_BUCKET, &["partial-out"])
        .lines()
        .map(str::to_string)
        .collect();
    got.sort();
    assert_eq!(got, file_lines(&files));
}

#[test]
fn throttling_is_retried_and_nothing_is_lost() {
    let Some(moto) = Moto::start() else { return };
    let proxy = Proxy::start(moto.port(), 3, false, 0);
    let tmp = tempfile::tempdir().unwrap();
    let pcap = recent_capture(tmp.path(), 7);
    let cfg = config(tmp.path(), &proxy.endpoint(), "");
    let files = tmp.path().join("out/files");
    run_ok(vpcflow_with(
        &moto,
        &[
            "convert",
            pcap.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ],
    ));
    assert_eq!(proxy.throttled.load(Ordering::SeqCst), 3);
    run_ok(vpcflow_with(
        &moto,
        &[
            "convert",
            pcap.to_str().unwrap(),
            "--out",
            files.to_str().unwrap(),
        ],
    ));
    let mut got: Vec<String> = events(&moto, "faults")
        .iter()
        .map(|e| e.splitn(3, ' ').nth(2).unwrap().to_string())
        .collect();
    got.sort();
    assert_eq!(got, file_lines(&files));
}

#[test]
fn a_missing_log_group_that_may_not_be_created_stops_a_conversion() {
    let Some(moto) = Moto::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let pcap = recent_capture(tmp.path(), 13);
    let cfg = config(tmp.path(), moto.endpoint(), "create_log_group = false\n");
    let out = vpcflow_with(
        &moto,
        &[
            "convert",
            pcap.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ],
    )
    .env("VPCFLOW_LOG", "error")
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("does not exist and output.cloudwatch.create_log_group is false"),
        "{err}"
    );
    assert!(
        err.contains("were not delivered to cloudwatch://faults"),
        "{err}"
    );
    // What was sealed waits in the spool.
    assert!(!files_below(&tmp.path().join("spool/cloudwatch-faults/ready")).is_empty());
}

#[test]
fn endpoint_down_then_up_and_a_kill_during_a_send_lose_nothing() {
    let Some(mut moto) = Moto::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let pcap = recent_capture(tmp.path(), 11);
    let files = tmp.path().join("out/files");
    run_ok(vpcflow_with(
        &moto,
        &[
            "convert",
            pcap.to_str().unwrap(),
            "--out",
            files.to_str().unwrap(),
        ],
    ));
    let expected = file_lines(&files);

    // 1. A send that never returns, then SIGKILL: the batches stay in the
    // spool.
    let proxy = Proxy::start(moto.port(), 0, true, 0);
    let cfg = config(tmp.path(), &proxy.endpoint(), "");
    let mut child = vpcflow_with(
        &moto,
        &[
            "convert",
            pcap.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ],
    )
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while proxy.held.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "no PutLogEvents reached the proxy"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The writer seals the rest of the input meanwhile: wait until the
    // spool stops growing, then kill.
    let ready = tmp.path().join("spool/cloudwatch-faults/ready");
    let mut last = (0, Instant::now());
    while last.1.elapsed() < Duration::from_millis(1500) {
        let n = files_below(&ready).len();
        if n != last.0 {
            last = (n, Instant::now());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let mut sealed: Vec<String> = Vec::new();
    for f in files_below(&ready) {
        if f.extension().is_some_and(|e| e == "obj") {
            let body = std::fs::read_to_string(ready.join(f)).unwrap();
            sealed.extend(
                body.lines()
                    .map(|l| l.split_once(' ').unwrap().1.to_string()),
            );
        }
    }
    sealed.sort();
    assert_eq!(sealed, expected, "every record was sealed before the kill");

    // 2. The endpoint down: `vpcflow deliver` keeps trying (connection
    // refused is transient) until it is back, then delivers everything.
    moto.kill();
    let cfg = config(tmp.path(), moto.endpoint(), "");
    let mut deliver = vpcflow_with(&moto, &["deliver", "--config", cfg.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        deliver.try_wait().unwrap().is_none(),
        "deliver gave up while the endpoint was down"
    );
    moto.restart();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = deliver.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "deliver did not finish");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    deliver
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{err}");
    assert!(files_below(&ready).is_empty());
    let mut got: Vec<String> = events(&moto, "faults")
        .iter()
        .map(|e| e.splitn(3, ' ').nth(2).unwrap().to_string())
        .collect();
    got.sort();
    assert_eq!(got, expected);
}

#[test]
fn old_events_rejected_by_the_service_are_counted_and_not_retried() {
    let Some(moto) = Moto::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    // A batch spooled 20 days ago, as an outage that long would leave it:
    // written in the spool's own format, delivered by `vpcflow deliver`.
    let ready = tmp.path().join("spool/cloudwatch-old/ready");
    std::fs::create_dir_all(&ready).unwrap();
    let old = (SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 20 * 86_400)
        * 1000;
    let body = format!(
        "{old} 2 123456789012 eni-0a1b2c3d4e5f60718 10.0.0.1 10.0.0.2 443 50000 6 10 4000 {s} {s} ACCEPT OK\n{old} 2 123456789012 eni-0a1b2c3d4e5f60718 10.0.0.2 10.0.0.1 50000 443 6 8 900 {s} {s} ACCEPT OK\n",
        s = old / 1000
    );
    std::fs::write(ready.join("00000000000000000000.obj"), &body).unwrap();
    let out = Command::new("sha256sum")
        .arg(ready.join("00000000000000000000.obj"))
        .output()
        .unwrap();
    let sha = String::from_utf8_lossy(&out.stdout)
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    std::fs::write(
        ready.join("00000000000000000000.json"),
        format!(
            r#"{{"bucket":"old","keys":["eni-0a1b2c3d4e5f60718-all"],"bytes":{},"sha256":"{sha}","created":0}}"#,
            body.len()
        ),
    )
    .unwrap();
    let path = tmp.path().join("vpcflow.toml");
    std::fs::write(
        &path,
        format!(
            "[output]\nout = \"cloudwatch://old\"\nspool_dir = \"{}\"\n",
            tmp.path().join("spool").display()
        ),
    )
    .unwrap();
    let out = vpcflow_with(&moto, &["deliver", "--config", path.to_str().unwrap()])
        .env("VPCFLOW_LOG", "warn")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("refused events"), "{err}");
    assert!(
        err.contains("rejected=2") || err.contains("\"rejected\":2"),
        "{err}"
    );
    assert!(
        files_below(&ready).is_empty(),
        "the refused batch is not kept for ever"
    );
    assert!(events(&moto, "old").is_empty());
}

#[test]
fn insights_parse_patterns_read_our_own_lines_for_every_field() {
    // Not against moto: the `parse` glob of each format, translated to a
    // regex as Logs Insights applies it (each `*` any text, the whole
    // message), must give back every field of lines vpcflow wrote.
    let tmp = tempfile::tempdir().unwrap();
    let pcap = common::synthetic_capture(tmp.path(), "insights", 40);
    let fields = vpcflow_core::fields::Field::ALL;
    // Every field alone, the default format, and all fields at once.
    let mut formats: Vec<Vec<&str>> = fields.iter().map(|f| vec![f.name()]).collect();
    formats.push(
        vpcflow_core::format::LogFormat::default()
            .fields()
            .iter()
            .map(|f| f.name())
            .collect(),
    );
    formats.push(fields.iter().map(|f| f.name()).collect());
    for (i, names) in formats.iter().enumerate() {
        let format: Vec<String> = names.iter().map(|n| format!("${{{n}}}")).collect();
        let format = format.join(" ");
        let out = tmp.path().join(format!("out/{i}"));
        common::vpcflow_ok(&[
            "convert",
            pcap.to_str().unwrap(),
            "--format",
            &format,
            "--out",
            out.to_str().unwrap(),
        ]);
        let text = String::from_utf8(common::vpcflow_ok(&["insights", "--format", &format]).stdout)
            .unwrap();
        let parse = text
            .lines()
            .find(|l| l.starts_with("parse @message "))
            .unwrap_or_else(|| panic!("no parse command for {format}:\n{text}"));
        let (glob, columns) = parse
            .strip_prefix("parse @message \"")
            .unwrap()
            .split_once("\" as ")
            .unwrap();
        let columns: Vec<&str> = columns.split(", ").collect();
        let pattern = format!(
            "^{}$",
            glob.split('*')
                .map(regex::escape)
                .collect::<Vec<_>>()
                .join("(.*?)")
        );
        let re = regex::Regex::new(&pattern).unwrap();
        let expected_columns: Vec<String> = names.iter().map(|n| n.replace('-', "_")).collect();
        assert_eq!(columns, expected_columns, "{format}");
        let lines = file_lines(&out);
        assert!(!lines.is_empty());
        for line in &lines {
            let caps = re
                .captures(line)
                .unwrap_or_else(|| panic!("{pattern} does not match {line:?}"));
            let values: Vec<&str> = caps.iter().skip(1).map(|c| c.unwrap().as_str()).collect();
            let original: Vec<&str> = line.split(' ').collect();
            assert_eq!(values, original, "{format}");
        }
    }
}

#[test]
fn check_shows_every_destination() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("vpcflow.toml");
    std::fs::write(
        &path,
        format!(
            "[output]\nout = [\"{}\", \"arn:aws:logs:eu-west-1:123456789012:log-group:flow\", \"arn:aws:firehose:eu-west-1:123456789012:deliverystream/fh\"]\nspool_dir = \"{}\"\n\n[output.cloudwatch]\nretention_days = 30\n",
            tmp.path().join("out/files").display(),
            tmp.path().join("spool").display()
        ),
    )
    .unwrap();
    let out = common::vpcflow_ok(&["check", "--config-only", "--config", path.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "destination     cloudwatch arn:aws:logs:eu-west-1:123456789012:log-group:flow",
        "log streams   <interface-id>-all (one per interface)",
        "region        eu-west-1",
        &format!(
            "spool         {}",
            tmp.path().join("spool/cloudwatch-flow").display()
        ),
        "destination     firehose arn:aws:firehose:eu-west-1:123456789012:deliverystream/fh",
        &format!(
            "spool         {}",
            tmp.path().join("spool/firehose-fh").display()
        ),
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    // Bad values name their key.
    std::fs::write(
        &path,
        "[output]\nout = \"cloudwatch://g\"\n\n[output.cloudwatch]\nretention_days = 2\n",
    )
    .unwrap();
    let out = common::vpcflow(&["check", "--config-only", "--config", path.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("output.cloudwatch.retention_days: 2 "),
        "{err}"
    );
    let out = common::vpcflow(&["convert", "x.pcap", "--out", "-", "--out", "-"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("output.out: \"-\" is given twice"));
}

#[test]
fn the_daemon_writes_files_and_the_log_group_and_counts_per_destination() {
    use common::analyzer::{analyzer, flow_of, now_ms, store};
    use vpcflow_testkit::{ConfigToml, RawToml};
    let Some(moto) = Moto::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (port, tx, server) = analyzer();
    let mport = common::free_port();
    let out = dir.path().join("out/files");
    let config = ConfigToml::new()
        .test_flow_log()
        .table("output")
        .set(
            "out",
            RawToml(&format!("[\"{}\", \"cloudwatch://daemon\"]", out.display())),
        )
        .set("spool_dir", dir.path().join("spool"))
        .without_nodata()
        .table("skydive")
        .set("idle_delay", 120)
        .skydive_analyzer(port)
        .set("host_id", "vpcflow-test")
        .table("metrics")
        .set("listen", format!("127.0.0.1:{mport}"))
        .table("state")
        .set("dir", dir.path().join("state"))
        .array_entry("interface")
        .set("name", "node-1")
        .set("interface_id", "eni-0000000000000000a")
        .write(dir.path());
    let mut child = vpcflow_with(&moto, &["run", "--config", config.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], mport));
    // Traffic of an hour ago: its windows close on the wall clock.
    let old = now_ms() - 3_600_000;
    tx.send(store(&[
        flow_of("node-1", "a", "10.0.0.1", 3, old),
        flow_of("node-2", "b", "10.0.0.2", 5, old),
    ]))
    .unwrap();
    let sent =
        "vpcflow_destination_events_total{destination=\"cloudwatch://daemon\",result=\"sent\"}";
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = common::http_get(addr, "/metrics")
            .map(|r| r.body)
            .unwrap_or_default();
        // The batch leaves the spool just after the service confirmed it.
        let spooled = "vpcflow_destination_spool_files{destination=\"cloudwatch://daemon\"}";
        if common::metric(&text, sent) == Some(2) && common::metric(&text, spooled) == Some(0) {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no {sent} 2 and an empty spool in\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    for (sample, value) in [
        ("vpcflow_destination_spool_files{destination=\"cloudwatch://daemon\"}", 0),
        ("vpcflow_destination_delivered_total{destination=\"cloudwatch://daemon\"}", 2),
        ("vpcflow_destination_events_total{destination=\"cloudwatch://daemon\",result=\"rejected\"}", 0),
        ("vpcflow_destination_errors_total{destination=\"cloudwatch://daemon\",kind=\"permanent\"}", 0),
    ] {
        assert_eq!(common::metric(&text, sample), Some(value), "{sample} in\n{text}");
    }
    let mut got: Vec<String> = events(&moto, "daemon")
        .iter()
        .map(|e| e.splitn(3, ' ').nth(2).unwrap().to_string())
        .collect();
    got.sort();
    assert_eq!(got, file_lines(&out));
    assert_eq!(got.len(), 2);
    common::signal(&child, "TERM");
    let (status, stderr) = common::wait_exit(&mut child);
    assert!(status.success(), "{status}: {stderr}");
    drop(tx);
    server.join().unwrap();
}
