//! End to end: a generated capture spanning several 5-minute slots and a day
//! boundary, converted by the binary into a directory and to stdout, checked
//! against the generator's own ground truth.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::Path;

use common::{files_below, gunzip, vpcflow, vpcflow_ok};
use regex::Regex;
use vpcflow_core::format::LogFormat;
use vpcflow_core::name::{slot_of, FileName};
use vpcflow_core::LogStatus;

const ACCOUNT: &str = "123456789012";
const FLOW_LOG: &str = "fl-0630869f236e76872";
const FORMAT: &str = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${tcp-flags} ${type}";

const NAME_RE: &str = r"^(?P<account_id>[0-9]{12})_vpcflowlogs_(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]+)_(?P<flow_log_id>fl-[0-9a-f]{8}(?:[0-9a-f]{9})?)_(?P<ts>(?P<Y>[0-9]{4})(?P<m>0[1-9]|1[0-2])(?P<d>0[1-9]|[12][0-9]|3[01])T(?P<H>[01][0-9]|2[0-3])(?P<M>[0-5][05])Z)_(?P<hash>[0-9a-f]{8})\.log\.(?P<ext>gz|parquet)$";
const KEY_RE: &str = r"^(?:(?P<prefix>[^/]+(?:/[^/]+)*)/)?AWSLogs/(?P<account_id>[0-9]{12})/vpcflowlogs/(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]+)/(?P<Y>[0-9]{4})/(?P<m>[0-9]{2})/(?P<d>[0-9]{2})/(?:(?P<H>[0-9]{2})/)?(?P<file>[^/]+)$";

/// (src, dst, sport, dport, proto, window start)
type Key = (IpAddr, IpAddr, u16, u16, u8, u64);
/// (packets, bytes, start, end, tcp-flags)
type Totals = (u64, u64, u64, u64, u8);

fn generate(dir: &Path, interval: u64) -> (std::path::PathBuf, HashMap<Key, Totals>, u64) {
    generate_sized(dir, interval, 3000, 30_000)
}

fn generate_sized(
    dir: &Path,
    interval: u64,
    flows: u64,
    packets: u64,
) -> (std::path::PathBuf, HashMap<Key, Totals>, u64) {
    let path = dir.join("gen.pcap");
    let config = pcapgen::Config {
        flows,
        packets: Some(packets),
        // 23:50 to 00:20 UTC: six 5-minute slots on both sides of midnight.
        duration_ns: 1800 * 1_000_000_000,
        seed: 7,
        truth: true,
        truth_windows: vec![interval],
        ..pcapgen::Config::default()
    };
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let summary = pcapgen::generate(config, file).unwrap();
    let packets = summary.packets;
    let truth = summary.truth.unwrap();
    let mut expected = HashMap::new();
    for w in &truth.windows[&interval] {
        let f = &w.flow;
        expected.insert(
            (
                f.key.src,
                f.key.dst,
                f.key.sport,
                f.key.dport,
                f.key.proto,
                w.window_start,
            ),
            (
                f.packets,
                f.bytes,
                f.first_ns / 1_000_000_000,
                f.last_ns / 1_000_000_000,
                f.tcp_flags_aws,
            ),
        );
    }
    (path, expected, packets)
}

/// Sums the OK records of `lines` per key (a late packet may add a second record
/// to a window), checking each line's shape on the way.
fn totals(format: &LogFormat, lines: &[&str], interval: u64) -> HashMap<Key, Totals> {
    let mut got: HashMap<Key, Totals> = HashMap::new();
    for line in lines {
        let v = format
            .parse_line(line)
            .unwrap_or_else(|e| panic!("{e}: {line}"));
        if v.log_status != Some(LogStatus::Ok) {
            continue;
        }
        let start = v.start.unwrap();
        let end = v.end.unwrap();
        let window = start - start % interval;
        assert_eq!(
            window,
            end - end % interval,
            "record spans two windows: {line}"
        );
        let key = (
            v.srcaddr.unwrap(),
            v.dstaddr.unwrap(),
            v.srcport.unwrap(),
            v.dstport.unwrap(),
            v.protocol.unwrap(),
            window,
        );
        let e = got.entry(key).or_insert((0, 0, u64::MAX, 0, 0));
        e.0 += v.packets.unwrap();
        e.1 += v.bytes.unwrap();
        e.2 = e.2.min(start);
        e.3 = e.3.max(end);
        e.4 |= v.tcp_flags.unwrap();
    }
    got
}

#[test]
fn directory_output_matches_truth_layout_and_names() {
    let tmp = tempfile::tempdir().unwrap();
    let (capture, expected, packets) = generate(tmp.path(), 600);
    let out = tmp.path().join("out");
    let run = vpcflow_ok(&[
        "convert",
        capture.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--account-id",
        ACCOUNT,
        "--flow-log-id",
        FLOW_LOG,
        "--region",
        "eu-west-1",
        "--format",
        FORMAT,
    ]);
    let summary = String::from_utf8_lossy(&run.stderr);
    assert!(
        summary.contains(&format!("{packets} IP packets")),
        "{summary}"
    );

    let format = LogFormat::parse(FORMAT).unwrap();
    let name_re = Regex::new(NAME_RE).unwrap();
    let key_re = Regex::new(KEY_RE).unwrap();
    let mut lines_all = Vec::new();
    let mut days = BTreeMap::new();
    let files: Vec<_> = files_below(&out)
        .into_iter()
        .filter(|p| !p.starts_with(".vpcflow-staging"))
        .collect();
    assert!(
        files.len() >= 6,
        "one file per 5-minute slot at least: {files:?}"
    );
    for rel in &files {
        let key = rel.to_str().unwrap();
        let c = key_re.captures(key).unwrap_or_else(|| panic!("key {key}"));
        let n = name_re
            .captures(&c["file"])
            .unwrap_or_else(|| panic!("name {key}"));
        assert_eq!(
            (&n["Y"], &n["m"], &n["d"]),
            (&c["Y"], &c["m"], &c["d"]),
            "{key}"
        );
        assert_eq!(&n["account_id"], ACCOUNT);
        assert_eq!(&c["region"], "eu-west-1");
        *days
            .entry(format!("{}-{}-{}", &c["Y"], &c["m"], &c["d"]))
            .or_insert(0) += 1;
        let name: FileName = c["file"].parse().unwrap();

        let text = gunzip(&out.join(rel));
        assert!(text.ends_with('\n'));
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(format.header_line().trim_end()), "{key}");
        for line in lines {
            assert!(!line.starts_with("version"), "one header only: {key}");
            assert_eq!(line.split(' ').count(), 16, "{line}");
            let v = format.parse_line(line).unwrap();
            assert_eq!(
                slot_of(v.end.unwrap()),
                name.slot,
                "record in the file of its end slot: {line}"
            );
            lines_all.push(line.to_string());
        }
    }
    assert_eq!(
        days.keys().cloned().collect::<Vec<_>>(),
        vec!["2025-12-31".to_string(), "2026-01-01".to_string()],
        "the run crosses midnight"
    );
    // The output folder holds the layout only (what `aws s3 sync OUT s3://…`
    // uploads); the staging folder beside it has no temp file left.
    let outside: Vec<_> = files_below(&out)
        .into_iter()
        .filter(|p| !p.starts_with("AWSLogs"))
        .collect();
    assert!(outside.is_empty(), "files outside AWSLogs/: {outside:?}");
    let staging = vpcflow_sinks::dir::staging_dir(&out).unwrap();
    assert_eq!(
        staging,
        out.canonicalize()
            .unwrap()
            .parent()
            .unwrap()
            .join(".out.vpcflow-staging")
    );
    let left: Vec<_> = files_below(&staging)
        .into_iter()
        .filter(|p| p.to_str() != Some(".lock"))
        .collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
    let refs: Vec<&str> = lines_all.iter().map(String::as_str).collect();
    assert_eq!(totals(&format, &refs, 600), expected);
}

#[test]
fn stdout_and_one_minute_windows_match_truth() {
    let tmp = tempfile::tempdir().unwrap();
    let (capture, expected, _) = generate(tmp.path(), 60);
    let run = vpcflow_ok(&[
        "convert",
        capture.to_str().unwrap(),
        "--out",
        "-",
        "--interval",
        "60",
        "--format",
        FORMAT,
    ]);
    let text = String::from_utf8(run.stdout).unwrap();
    let format = LogFormat::parse(FORMAT).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(format.header_line().trim_end()));
    let lines: Vec<&str> = lines.collect();
    assert_eq!(totals(&format, &lines, 60), expected);
}

#[test]
fn converting_again_is_idempotent() {
    let tmp = tempfile::tempdir().unwrap();
    let (capture, _, _) = generate(tmp.path(), 600);
    let out = tmp.path().join("out");
    let args = [
        "convert",
        capture.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--account-id",
        ACCOUNT,
        "--flow-log-id",
        FLOW_LOG,
    ];
    vpcflow_ok(&args);
    let first = files_below(&out);
    let second_run = vpcflow_ok(&args);
    assert_eq!(files_below(&out), first, "same names, nothing added");
    let summary = String::from_utf8_lossy(&second_run.stderr);
    let n = first
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "gz"))
        .count();
    assert!(
        summary.contains(&format!("({n} already present)")),
        "{summary}"
    );
}

#[test]
fn size_cap_splits_a_slot_into_several_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (capture, _, _) = generate_sized(tmp.path(), 600, 40_000, 120_000);
    let out = tmp.path().join("out");
    let run = vpcflow(&[
        "convert",
        capture.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--max-file-bytes",
        "200000",
        // Stored blocks: the compressor emits as it goes, so the cap is reached
        // within a slot of this small capture.
        "--gzip-level",
        "0",
        "--account-id",
        ACCOUNT,
        "--flow-log-id",
        FLOW_LOG,
    ]);
    assert!(run.status.success());
    let files: Vec<_> = files_below(&out)
        .into_iter()
        .filter(|p| !p.starts_with(".vpcflow-staging"))
        .collect();
    let mut per_slot: HashMap<u64, usize> = HashMap::new();
    let mut records = 0;
    for rel in &files {
        let name: FileName = rel.file_name().unwrap().to_str().unwrap().parse().unwrap();
        *per_slot.entry(name.slot).or_default() += 1;
        records += gunzip(&out.join(rel)).lines().count() - 1;
    }
    assert!(per_slot.values().any(|&n| n > 1), "{per_slot:?}");
    let stdout = vpcflow_ok(&["convert", capture.to_str().unwrap(), "--out", "-"]);
    assert_eq!(
        records,
        String::from_utf8(stdout.stdout).unwrap().lines().count() - 1
    );
}
