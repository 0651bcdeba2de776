//! Counters that cannot wrap and errors that help, through the binary
//! (docs/reliability.md): each case was once a wrong count, a silent clamp or
//! an unreadable error.

mod common;

use common::vpcflow;
use serde_json::{json, Value};
use vpcflow_testkit::{hostile, ConfigToml};

const FORMAT: &str =
    "${interface-id} ${srcaddr} ${dstaddr} ${packets} ${bytes} ${start} ${end} ${log-status}";
const T0: i64 = 1_800_000_000_000;

/// A Skydive UDP flow with a cumulative `Metric` of `packets` (when given)
/// and a `LastUpdateMetric` of `delta` packets (when given), last seen at
/// `last` ms.
fn flow(uuid: &str, metric: Option<i64>, delta: Option<(i64, i64, i64)>, last: i64) -> Value {
    let mut f = json!({
        "UUID": uuid,
        "LayersPath": "IPv4/UDP",
        "NodeTID": "node-a",
        "CaptureID": "cap",
        "Network": {"Protocol": "IPV4", "A": "10.0.0.1", "B": "10.0.0.2"},
        "Transport": {"Protocol": "UDP", "A": 4000, "B": 53},
        "Start": T0,
        "Last": last,
    });
    if let Some(p) = metric {
        f["Metric"] =
            json!({"ABPackets": p, "ABBytes": p.saturating_mul(100), "Start": T0, "Last": last});
    }
    if let Some((p, start, end)) = delta {
        f["LastUpdateMetric"] = json!({"ABPackets": p, "ABBytes": p, "Start": start, "Last": end});
    }
    f
}

fn store(flows: Vec<Value>) -> String {
    json!({"Namespace": "flow", "Type": "store", "Obj": flows}).to_string()
}

fn stats(dropped: i64) -> String {
    json!({"Namespace": "stats", "Type": "stats", "Obj": {"CaptureID": "cap", "PacketsDropped": dropped, "PacketsReceived": 1000}}).to_string()
}

/// `convert --skydive` of `lines` to stdout: (exit code, records, stderr).
fn convert_skydive(lines: &[String], extra: &[&str]) -> (Option<i32>, Vec<String>, String) {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.jsonl");
    std::fs::write(&rec, lines.join("\n") + "\n").unwrap();
    let mut args = vec![
        "convert",
        "--skydive",
        rec.to_str().unwrap(),
        "--out",
        "-",
        "--interval",
        "60",
        "--format",
        FORMAT,
        "--no-nodata",
    ];
    args.extend(extra);
    let run = vpcflow(&args);
    let out = String::from_utf8(run.stdout).unwrap();
    let records = out.lines().skip(1).map(str::to_string).collect();
    (
        run.status.code(),
        records,
        String::from_utf8_lossy(&run.stderr).into_owned(),
    )
}

fn packets(records: &[String]) -> u64 {
    records
        .iter()
        .map(|r| r.split(' ').nth(3).unwrap().parse::<u64>().unwrap())
        .sum()
}

#[test]
fn a_cumulative_counter_that_turns_negative_is_rejected_not_written_as_2_pow_63() {
    let lines = [
        store(vec![flow("m", Some(5), None, T0 + 1_000)]),
        store(vec![flow("m", Some(i64::MIN), None, T0 + 2_000)]),
        store(vec![flow("m", Some(8), None, T0 + 3_000)]),
    ];
    let (code, records, stderr) = convert_skydive(&lines, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(packets(&records), 8, "{records:?}");
    assert!(
        stderr.contains("rejected  1 updates with impossible counters"),
        "{stderr}"
    );
}

#[test]
fn huge_deltas_are_rejected_so_that_a_record_cannot_wrap_to_a_small_count() {
    let lines = [
        store(vec![flow(
            "d",
            None,
            Some((i64::MAX, T0, T0 + 1_000)),
            T0 + 1_000,
        )]),
        store(vec![flow(
            "d",
            None,
            Some((i64::MAX, T0 + 1_000, T0 + 2_000)),
            T0 + 2_000,
        )]),
        store(vec![flow(
            "d",
            None,
            Some((5, T0 + 2_000, T0 + 3_000)),
            T0 + 3_000,
        )]),
    ];
    let (code, records, stderr) = convert_skydive(&lines, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(packets(&records), 5, "{records:?}");
    assert!(
        stderr.contains("rejected  2 updates with impossible counters"),
        "{stderr}"
    );
}

#[test]
fn a_huge_state_ttl_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ConfigToml::new()
        .test_flow_log()
        .table("skydive")
        .set("state_ttl", 10_000_000_000_000_000u64)
        .write(dir.path());
    let run = vpcflow(&["check", "--config", cfg.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "skydive.state_ttl: 10000000000000000 s is more than the maximum of 2592000 s"
        ),
        "{stderr}"
    );
}

#[test]
fn capture_drops_are_per_period_and_all_count() {
    // Skydive's flow table sends each period's drops and resets: 75 in all.
    let mut lines = vec![store(vec![flow(
        "s",
        None,
        Some((3, T0, T0 + 1_000)),
        T0 + 1_000,
    )])];
    for d in [10, 0, 25, 5, 20, 15] {
        lines.push(stats(d));
    }
    let (code, records, stderr) = convert_skydive(&lines, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("drops     75 reported by captures (0 not attributable"),
        "{stderr}"
    );
    assert!(
        records.iter().any(|r| r.ends_with("SKIPDATA")),
        "{records:?}"
    );
}

#[test]
fn times_beyond_2554_are_rejected_and_counted_not_clamped() {
    let far = 20_000_000_000_000_000i64; // year 2603
    let lines = [
        store(vec![flow(
            "t",
            None,
            Some((2, far, far + 1_000)),
            far + 1_000,
        )]),
        store(vec![flow("u", None, Some((3, T0, T0 + 1_000)), T0 + 1_000)]),
    ];
    let (code, records, stderr) = convert_skydive(&lines, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(packets(&records), 3, "{records:?}");
    assert!(
        stderr.contains("1 flows with times outside 1970-2554"),
        "{stderr}"
    );
}

#[test]
fn objects_that_are_not_messages_are_named_and_a_bom_is_not_an_error() {
    let lines = [
        format!(
            "\u{feff}{}",
            store(vec![flow("b", None, Some((4, T0, T0 + 1_000)), T0 + 1_000)])
        ),
        r#"{"hello": "world"}"#.to_string(),
    ];
    let (code, records, stderr) = convert_skydive(&lines, &[]);
    assert_eq!(code, Some(1), "a malformed line: exit 1\n{stderr}");
    assert_eq!(packets(&records), 4, "{records:?}");
    assert!(
        stderr.contains(r#"rec.jsonl:2: not a Skydive message: a JSON object without "Type""#),
        "{stderr}"
    );
    assert!(stderr.contains("1 malformed lines"), "{stderr}");
}

#[test]
fn an_unreadable_pcapng_section_header_is_one_short_line() {
    // 85 KB after a section header that names a block longer than the file:
    // 327 KB of stderr before (the rest of the file in decimal).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.pcapng");
    let mut data = vec![0x0A, 0x0D, 0x0D, 0x0A];
    data.extend_from_slice(&0x00FF_FFF0u32.to_le_bytes());
    data.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
    data.extend_from_slice(&[1, 0, 0, 0]);
    data.extend(std::iter::repeat_n(0x5A, 85_000));
    std::fs::write(&path, &data).unwrap();
    let out = dir.path().join("out");
    let run = vpcflow(&[
        "convert",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_ne!(run.status.code(), Some(0), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("bad.pcapng"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        line.contains("unreadable pcapng section header block at byte 0: block length 16777200 runs past the end of the file (85016 bytes)"),
        "{line}"
    );
    assert!(stderr.len() < 1_000, "{} bytes of stderr", stderr.len());
}

#[test]
fn zero_bytes_after_a_classic_pcap_are_warned_not_a_1970_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("padded.pcap");
    hostile::write_pcap(&path, &[1_700_000_000]).unwrap();
    let mut data = std::fs::read(&path).unwrap();
    data.extend_from_slice(&[0; 16]);
    std::fs::write(&path, &data).unwrap();
    let run = vpcflow(&[
        "convert",
        path.to_str().unwrap(),
        "--out",
        "-",
        "--format",
        FORMAT,
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(stderr.contains("record header of zero bytes"), "{stderr}");
    assert!(!out.contains("SKIPDATA"), "{out}");
    assert_eq!(out.lines().count(), 2, "{out}");
}

#[test]
fn a_10_mb_bad_configuration_value_is_not_echoed_whole() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ConfigToml::new()
        .table("flow_log")
        .set("account_id", "x".repeat(10_000_000))
        .write(dir.path());
    let run = vpcflow(&["check", "--config", cfg.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(
        run.status.code(),
        Some(2),
        "{}",
        &stderr[..stderr.len().min(500)]
    );
    assert!(stderr.len() < 6_000, "{} bytes of stderr", stderr.len());
    assert!(stderr.contains("more bytes)"), "{stderr}");
}
