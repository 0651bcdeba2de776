//! End to end over every real capture in `../shared/pcaps`: the binary's records,
//! per 5-tuple and window, agree with the independent counter's truth file for
//! both aggregation intervals.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use common::vpcflow;
use serde_json::Value;
use vpcflow_core::format::LogFormat;
use vpcflow_core::LogStatus;
use vpcflow_testkit::shared_dir;

const FORMAT: &str = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${tcp-flags}";

/// (window start, src, dst, sport, dport, proto)
type Key = (u64, IpAddr, IpAddr, u16, u16, u8);
/// (packets, bytes, start second, end second, tcp-flags)
type Totals = (u64, u64, u64, u64, u8);

fn truth(doc: &Value, interval: u64) -> BTreeMap<Key, Totals> {
    let mut out = BTreeMap::new();
    for w in doc["windows"][interval.to_string()].as_array().unwrap() {
        let key = (
            w["window_start"].as_u64().unwrap(),
            w["src"].as_str().unwrap().parse().unwrap(),
            w["dst"].as_str().unwrap().parse().unwrap(),
            w["sport"].as_u64().unwrap() as u16,
            w["dport"].as_u64().unwrap() as u16,
            w["proto"].as_u64().unwrap() as u8,
        );
        let totals = (
            w["packets"].as_u64().unwrap(),
            w["bytes"].as_u64().unwrap(),
            w["first_ns"].as_u64().unwrap() / 1_000_000_000,
            w["last_ns"].as_u64().unwrap() / 1_000_000_000,
            w["tcp_flags_aws"].as_u64().unwrap() as u8,
        );
        assert!(out.insert(key, totals).is_none());
    }
    out
}

/// Our records summed over interfaces (the truth has none) and over records of
/// the same window (a late packet gets a record of its own).
fn ours(capture: &Path, interval: u64) -> (BTreeMap<Key, Totals>, String) {
    let run = vpcflow(&[
        "convert",
        capture.to_str().unwrap(),
        "--out",
        "-",
        "--interval",
        &interval.to_string(),
        "--format",
        FORMAT,
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(run.status.success(), "{}: {stderr}", capture.display());
    let text = String::from_utf8(run.stdout).unwrap();
    let format = LogFormat::parse(FORMAT).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(format.header_line().trim_end()));
    let mut out: BTreeMap<Key, Totals> = BTreeMap::new();
    for line in lines {
        let v = format
            .parse_line(line)
            .unwrap_or_else(|e| panic!("{e}: {line}"));
        if v.log_status != Some(LogStatus::Ok) {
            continue;
        }
        let start = v.start.unwrap();
        let key = (
            start - start % interval,
            v.srcaddr.unwrap(),
            v.dstaddr.unwrap(),
            v.srcport.unwrap(),
            v.dstport.unwrap(),
            v.protocol.unwrap(),
        );
        let e = out.entry(key).or_insert((0, 0, u64::MAX, 0, 0));
        e.0 += v.packets.unwrap();
        e.1 += v.bytes.unwrap();
        e.2 = e.2.min(start);
        e.3 = e.3.max(v.end.unwrap());
        e.4 |= v.tcp_flags.unwrap();
    }
    (out, stderr)
}

/// The one deliberate difference: pcapng simple packet blocks carry no
/// timestamp. The truth counter puts one that comes before any timestamped
/// packet at 0 (1970); vpcflow gives it the timestamp of the first timestamped
/// packet after it. Moves those packets from the truth's 1970 window into our
/// window of the same flow.
fn apply_simple_packet_block_rule(
    name: &str,
    interval: u64,
    truth: &mut BTreeMap<Key, Totals>,
    ours: &BTreeMap<Key, Totals>,
) {
    if name != "gopacket-le-test100.pcapng" {
        return;
    }
    let epoch: Vec<Key> = truth.keys().filter(|k| k.0 == 0).copied().collect();
    assert!(
        !epoch.is_empty(),
        "the truth file counts simple packet blocks at time 0"
    );
    for k in epoch {
        let (packets, bytes, _, _, flags) = truth.remove(&k).unwrap();
        // Our record of the same 5-tuple outside 1970 holds those packets too.
        let ours_key = ours
            .keys()
            .find(|o| o.0 != 0 && (o.1, o.2, o.3, o.4, o.5) == (k.1, k.2, k.3, k.4, k.5))
            .copied()
            .unwrap_or_else(|| {
                panic!("no record for the simple packet blocks' flow at {interval}s")
            });
        let t = truth.entry(ours_key).or_insert((0, 0, u64::MAX, 0, 0));
        t.0 += packets;
        t.1 += bytes;
        t.2 = t.2.min(ours[&ours_key].2);
        t.3 = t.3.max(ours[&ours_key].3);
        t.4 |= flags;
    }
    assert!(ours.keys().all(|k| k.0 != 0), "nothing is dated 1970");
}

#[test]
fn every_shared_capture_agrees_with_its_truth_per_window() {
    let Some(shared) = shared_dir() else { return };
    let mut captures: Vec<_> = std::fs::read_dir(shared.join("pcaps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    captures.sort();
    assert!(captures.len() >= 38, "found {} captures", captures.len());
    let mut failures = Vec::new();
    for capture in &captures {
        let name = capture.file_name().unwrap().to_str().unwrap().to_string();
        let truth_path = capture.with_extension("truth.json");
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(&truth_path).unwrap()).unwrap();
        for interval in [60, 600] {
            let mut expected = truth(&doc, interval);
            let (got, stderr) = ours(capture, interval);
            apply_simple_packet_block_rule(&name, interval, &mut expected, &got);
            if got != expected {
                let missing: Vec<_> = expected
                    .iter()
                    .filter(|(k, v)| got.get(k) != Some(v))
                    .take(3)
                    .collect();
                let extra: Vec<_> = got
                    .iter()
                    .filter(|(k, v)| expected.get(k) != Some(v))
                    .take(3)
                    .collect();
                failures.push(format!(
                    "{name} @ {interval}s: {} truth records, {} ours; expected {missing:?}, got {extra:?}\n{stderr}",
                    expected.len(),
                    got.len()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
