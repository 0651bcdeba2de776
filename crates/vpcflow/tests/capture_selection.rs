//! `--filter`, `--since` and `--until` on capture files give the records of
//! the packets an independent tool selects: tcpdump applying the same BPF
//! filter, and a time cut written by Python from the pcap format itself.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{records, synthetic_capture};

/// Whether `tool` runs here; under `CI=true` it must.
fn have(tool: &str, test: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: needs {tool} under CI=true"
        );
        println!("SKIPPED: {test}: needs {tool}");
    }
    ok
}

fn capture(dir: &Path) -> PathBuf {
    synthetic_capture(dir, "mixed.pcap", 400)
}

#[test]
fn a_filter_gives_the_records_of_the_packets_tcpdump_selects() {
    if !have("tcpdump", "capture_selection::filter") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let input = capture(tmp.path());
    let all = records(&input, &[]);
    for filter in [
        "tcp",
        "udp and not port 53",
        "icmp or ip6",
        "net 10.0.0.0/8 and tcp[tcpflags] & tcp-syn != 0",
    ] {
        let selected = tmp.path().join("selected.pcap");
        let out = Command::new("tcpdump")
            .args(["-Z", "root", "-r"])
            .arg(&input)
            .arg("-w")
            .arg(&selected)
            .arg(filter)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tcpdump {filter}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let expected = records(&selected, &[]);
        let got = records(&input, &["--filter", filter]);
        assert_eq!(got, expected, "--filter {filter:?}");
        assert!(got.lines().count() > 1 || expected.lines().count() <= 1);
        assert_ne!(got, all, "{filter:?} selects a part only");
    }
}

#[test]
fn a_time_range_gives_the_records_of_the_packets_inside_it() {
    if !have("python3", "capture_selection::time") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let input = capture(tmp.path());
    // The first and last packet times, and a cut between them, from the file.
    let script = r#"
import struct, sys
src, dst, since, until = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
data = open(src, "rb").read()
magic = struct.unpack("<I", data[:4])[0]
end = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
nano = magic in (0xa1b23c4d, 0x4d3cb2a1)
out = [data[:24]]
times = []
at = 24
while at + 16 <= len(data):
    sec, frac, incl, orig = struct.unpack(end + "IIII", data[at:at + 16])
    ns = sec * 10**9 + (frac if nano else frac * 1000)
    times.append(ns)
    if (since == "-" or ns >= int(since)) and (until == "-" or ns < int(until)):
        out.append(data[at:at + 16 + incl])
    at += 16 + incl
open(dst, "wb").write(b"".join(out))
print(min(times), max(times))
"#;
    let python = |dst: &Path, since: &str, until: &str| -> (u64, u64) {
        let out = Command::new("python3")
            .args(["-c", script])
            .arg(&input)
            .arg(dst)
            .args([since, until])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let (a, b) = text.trim().split_once(' ').unwrap();
        (a.parse().unwrap(), b.parse().unwrap())
    };
    let (first, last) = python(&tmp.path().join("all.pcap"), "-", "-");
    let third = (last - first) / 3;
    let since_ns = first + third;
    let until_ns = first + 2 * third;
    let cut = tmp.path().join("cut.pcap");
    python(&cut, &since_ns.to_string(), &until_ns.to_string());
    let expected = records(&cut, &[]);
    let secs = |ns: u64| format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000);
    let got = records(
        &input,
        &["--since", &secs(since_ns), "--until", &secs(until_ns)],
    );
    assert_eq!(got, expected);
    assert!(expected.lines().count() > 2, "{expected}");
    assert_ne!(got, records(&input, &[]));
    // RFC 3339 gives the same cut as Unix seconds.
    let rfc = |ns: u64| {
        time::OffsetDateTime::from_unix_timestamp_nanos(ns as i128)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    assert_eq!(
        records(
            &input,
            &["--since", &rfc(since_ns), "--until", &rfc(until_ns)]
        ),
        expected
    );
}

#[test]
fn bad_selections_are_refused_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let input = capture(tmp.path());
    for (args, want) in [
        (vec!["--filter", "tcp or or"], "capture.filter: \"tcp or or\": "),
        (vec!["--since", "yesterday"], "'--since <TIME>': \"yesterday\" is not a time"),
        (
            vec!["--since", "1700000100", "--until", "1700000000"],
            "capture.until: 1700000000.000000000 s is not after capture.since (1700000100.000000000 s)",
        ),
    ] {
        let mut all = vec!["convert", input.to_str().unwrap(), "--out", "-"];
        all.extend(args.iter());
        let out = common::vpcflow(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
