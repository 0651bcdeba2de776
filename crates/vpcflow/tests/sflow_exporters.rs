//! sFlow v5 from a real agent: pmacct's pmacctd (sfprobe plugin, sampling
//! rate 1) samples the shared captures and exports sFlow over loopback,
//! tcpdump records the datagrams, tshark's sFlow dissector decodes the
//! same recording independently, and `vpcflow convert --sflow` of the
//! recording must give tshark's packets and bytes per 5-tuple exactly, and
//! the capture's truth wherever pmacct samples as the truth counts.
//!
//! Needs root (tcpdump on loopback), pmacctd, tshark and tcpdump; without
//! them the tests print `SKIPPED:` and pass, except under
//! `VPCFLOW_REQUIRE_SFLOW=1` (CI), where they must run.

mod common;
#[path = "common/exporters.rs"]
mod exporters;
#[path = "common/sfprobe.rs"]
mod sfprobe;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::{vpcflow_ok, IDENTITY};
use exporters::{diff, records, truth_flows, vpcflow_totals};
use vpcflow_testkit::shared_dir;

/// `vpcflow convert --sflow` of `pcap` into `dir/NAME`: its records.
fn convert(pcap: &Path, dir: &Path, name: &str, extra: &[&str]) -> Vec<Vec<String>> {
    exporters::convert_as("--sflow", pcap, dir, name, extra)
}

/// The shared Ethernet captures with a truth file (pmacctd's sfprobe
/// exports the frames it reads as Ethernet headers).
fn captures(shared: &Path) -> Vec<PathBuf> {
    exporters::truth_captures(shared)
        .into_iter()
        .filter(|p| truth_flows(&p.with_extension("truth.json")).1 == [1])
        .collect()
}

/// Whether the datagram sequence numbers are 1, 2, 3, ...: tcpdump
/// recorded the whole stream.
fn complete(sequences: &[u64]) -> bool {
    sequences
        .iter()
        .enumerate()
        .all(|(i, &s)| s == i as u64 + 1)
}

#[test]
fn pmacct_sflow_decodes_like_tshark_and_the_truth() {
    if !sfprobe::available("pmacct_sflow_decodes_like_tshark_and_the_truth") {
        return;
    }
    let Some(shared) = shared_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut failures = String::new();
    let (mut exact, mut differing, mut streams) = (0, 0, 0);
    let mut differences = BTreeMap::new();
    for capture in captures(&shared) {
        let name = capture.file_stem().unwrap().to_string_lossy().into_owned();
        let (truth, _) = truth_flows(&capture.with_extension("truth.json"));
        // tcpdump may miss a datagram when the machine is loaded, and
        // pmacctd sometimes stops before sending more than its last, partial
        // datagram: the export is made again (at most twice) for the truth
        // comparison.
        let mut attempt = 0;
        let (dissected, rows, ours, missing) = loop {
            attempt += 1;
            let pcap = dir.path().join(format!("{name}-{attempt}.pcap"));
            let port = sfprobe::record(&capture, &pcap, dir.path())
                .unwrap_or_else(|| panic!("{name}: pmacctd failed"));
            let d = sfprobe::dissect(&pcap, port);
            let rows = convert(&pcap, dir.path(), &format!("{name}-{attempt}"), &[]);
            let ours = vpcflow_totals(&rows);
            let missing: u64 = truth
                .iter()
                .map(|(k, t)| t.packets - ours.get(k).map_or(0, |v| v.0.min(t.packets)))
                .sum();
            let whole = complete(&d.sequences) && missing <= d.max_per_datagram as u64;
            if whole || attempt == 3 {
                break (d, rows, ours, missing);
            }
            println!("{name}: the export misses datagrams, exporting again");
        };
        let tshark = sfprobe::totals(&dissected.samples, dir.path());
        if ours != tshark {
            failures += &format!("{name}: vpcflow vs tshark\n{}", diff(&ours, &tshark));
            continue;
        }
        assert!(
            rows.iter().all(|r| r[13] != "SKIPDATA"),
            "{name}: SKIPDATA without a loss"
        );
        if !complete(&dissected.sequences) {
            println!("{name}: the recording stays incomplete: no truth comparison");
            continue;
        }
        streams += 1;
        for (k, v) in &ours {
            match truth.get(k) {
                Some(t) if (t.packets, t.bytes) == *v => exact += 1,
                Some(t) if t.packets > v.0 && t.bytes > v.1 => {
                    differing += 1;
                    differences.insert(
                        format!("{name} {k:?}"),
                        format!("{v:?} truth {:?}", (t.packets, t.bytes)),
                    );
                }
                t => failures += &format!("{name} {k:?}: {v:?}, truth {t:?}\n"),
            }
        }
        // pmacctd's sfprobe does not send its last, partial datagram when
        // the capture file ends: at most the samples of one datagram are
        // missing at the end of each capture, never more.
        if missing > dissected.max_per_datagram as u64 {
            failures += &format!("{name}: {missing} packets of the truth missing\n");
        }
    }
    for (k, v) in &differences {
        println!("differs from the truth: {k}: {v}");
    }
    println!(
        "{exact} flows equal to the truth, {differing} differing, in {streams} complete streams"
    );
    assert!(failures.is_empty(), "{failures}");
    assert!(streams >= 5, "only {streams} complete recordings");
    assert!(exact > 1000, "only {exact} flows equal to the truth");
    assert!(
        differing * 20 <= exact,
        "{differing} flows differ from the truth"
    );
}

#[test]
fn lost_sflow_datagrams_are_skipdata_in_their_windows_and_never_double_counted() {
    if !sfprobe::available(
        "lost_sflow_datagrams_are_skipdata_in_their_windows_and_never_double_counted",
    ) {
        return;
    }
    let Some(shared) = shared_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let capture = shared.join("pcaps/suricata-sip-method.pcap");
    let recorded = dir.path().join("recorded.pcap");
    let port = sfprobe::record(&capture, &recorded, dir.path()).expect("pmacctd");
    let all = sfprobe::dissect(&recorded, port);
    assert!(complete(&all.sequences), "the recording misses datagrams");
    let n = all.sequences.len();
    assert!(n >= 12, "only {n} datagrams");
    // Datagram i arrives at START + 20 i seconds: three per 60-second
    // window. Every fifth is dropped, never the first nor the last.
    const START: u32 = 1_700_000_040;
    let dropped = |i: usize| i % 5 == 3 && i + 1 < n;
    let whole = dir.path().join("whole.pcap");
    sfprobe::retime(&recorded, &whole, START, 20, |_| false);
    let kept = dir.path().join("kept.pcap");
    sfprobe::retime(&recorded, &kept, START, 20, dropped);
    // The loss shows at the datagram after each dropped one.
    let window = |i: usize| u64::from(START + 20 * i as u32) / 60 * 60;
    let expected: BTreeSet<u64> = (0..n)
        .filter(|&i| dropped(i))
        .map(|i| window(i + 1))
        .collect();
    assert!(expected.len() >= 2);
    let rows = convert(&kept, dir.path(), "kept", &["--interval", "60"]);
    let tshark = sfprobe::totals(&sfprobe::dissect(&kept, port).samples, dir.path());
    assert_eq!(
        vpcflow_totals(&rows),
        tshark,
        "the kept datagrams, counted once"
    );
    let skipdata: BTreeSet<u64> = rows
        .iter()
        .filter(|r| r[13] == "SKIPDATA")
        .map(|r| r[10].parse::<u64>().unwrap() / 60 * 60)
        .collect();
    assert_eq!(skipdata, expected, "SKIPDATA windows");
    let whole_rows = convert(&whole, dir.path(), "whole", &["--interval", "60"]);
    assert!(whole_rows.iter().all(|r| r[13] != "SKIPDATA"));
    // Windows follow the datagrams' capture times.
    let windows: BTreeSet<u64> = whole_rows
        .iter()
        .filter(|r| r[13] == "OK")
        .map(|r| r[10].parse::<u64>().unwrap() / 60 * 60)
        .collect();
    assert_eq!(windows, (0..n).map(window).collect());
}

#[test]
fn garbage_datagrams_are_counted_and_the_rest_decoded() {
    if !sfprobe::available("garbage_datagrams_are_counted_and_the_rest_decoded") {
        return;
    }
    let Some(shared) = shared_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let recorded = dir.path().join("recorded.pcap");
    let port = sfprobe::record(
        &shared.join("pcaps/suricata-sip-method.pcap"),
        &recorded,
        dir.path(),
    )
    .expect("pmacctd");
    // Every datagram followed by damaged copies: cut, with a huge sample
    // count, with another version.
    let datagrams = exporters::datagrams(&recorded);
    let mut mixed = Vec::new();
    for d in &datagrams {
        mixed.push(d.clone());
        mixed.push(d[..d.len() / 2].to_vec());
        let mut huge = d.clone();
        huge[24..28].copy_from_slice(&u32::MAX.to_be_bytes());
        mixed.push(huge);
        let mut v4 = d.clone();
        v4[3] = 4;
        mixed.push(v4);
    }
    let pcap = dir.path().join("mixed.pcap");
    write_udp_pcap(&pcap, port, &mixed);
    let port_text = port.to_string();
    let out_dir = dir.path().join("mixed");
    let mut args = vec![
        "convert",
        "--sflow",
        pcap.to_str().unwrap(),
        "--port",
        &port_text,
        "--out",
        out_dir.to_str().unwrap(),
    ];
    args.extend_from_slice(&IDENTITY);
    let out = vpcflow_ok(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{} malformed datagrams", 3 * datagrams.len())),
        "{stderr}"
    );
    assert!(stderr.contains("malformed frame"), "{stderr}");
    let ours = vpcflow_totals(&records(&dir.path().join("mixed")));
    let clean = vpcflow_totals(&convert(&recorded, dir.path(), "clean", &[]));
    // The half datagrams' first samples count: more than the clean stream,
    // never less.
    for (k, v) in &clean {
        let got = ours.get(k).copied().unwrap_or_default();
        assert!(got.0 >= v.0 && got.1 >= v.1, "{k:?}: {got:?} < {v:?}");
    }
}

/// A classic pcap of `datagrams` from 127.0.0.1 to 127.0.0.1:`port`
/// (Ethernet, IPv4, UDP), one a millisecond.
fn write_udp_pcap(path: &Path, port: u16, datagrams: &[Vec<u8>]) {
    let mut f = sfprobe::pcap_header(1);
    for (i, d) in datagrams.iter().enumerate() {
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        let ip_len = (20 + 8 + d.len()) as u16;
        frame.extend_from_slice(&[0x45, 0]);
        frame.extend_from_slice(&ip_len.to_be_bytes());
        frame.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
        frame.extend_from_slice(&40_000u16.to_be_bytes());
        frame.extend_from_slice(&port.to_be_bytes());
        frame.extend_from_slice(&((8 + d.len()) as u16).to_be_bytes());
        frame.extend_from_slice(&[0, 0]);
        frame.extend_from_slice(d);
        for v in [
            1_700_000_000u32,
            (i as u32 * 1000) % 1_000_000,
            frame.len() as u32,
            frame.len() as u32,
        ] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.extend_from_slice(&frame);
    }
    std::fs::write(path, f).unwrap();
}

#[test]
fn live_collection_from_pmacct_equals_the_offline_replay() {
    if !sfprobe::available("live_collection_from_pmacct_equals_the_offline_replay") {
        return;
    }
    let Some(shared) = shared_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (mut daemon, port, metrics) = exporters::start_collector(dir.path(), "sflow.listen");
    let recording = dir.path().join("live.pcap");
    let tcpdump = exporters::Tcpdump::start(port, &recording);
    for capture in ["suricata-sip-method.pcap", "skydive-simple-tcpv6.pcap"] {
        assert!(sfprobe::pmacctd(
            &shared.join("pcaps").join(capture),
            port,
            dir.path()
        ));
    }
    // Garbage from another sender in between.
    let other = std::net::UdpSocket::bind("127.0.0.2:0").unwrap();
    let garbage: [&[u8]; 3] = [
        b"\x00\x00\x00\x05garbage",
        b"\x00\x00\x00\x05\x00\x00\x00\x01",
        b"\xff",
    ];
    for g in garbage {
        other.send_to(g, ("127.0.0.1", port)).unwrap();
    }
    tcpdump.stop();
    let scrape = common::wait_metric(
        metrics,
        r#"vpcflow_sflow_datagrams_total{result="malformed"}"#,
        garbage.len() as u64,
    );
    assert_eq!(
        common::metric(
            &scrape,
            r#"vpcflow_sflow_datagrams_total{result="kernel_drop"}"#
        ),
        Some(0)
    );
    assert!(common::metric(&scrape, "vpcflow_sflow_flow_samples_total").unwrap() > 600);
    let (live, err) = exporters::stop_and_compare(&mut daemon, dir.path(), "--sflow", &recording);
    assert!(err.contains("malformed export datagram"), "{err}");
    // Both captures' flows, IPv4 and IPv6.
    assert!(live.keys().any(|k| k.0.contains(':')), "the IPv6 capture");
    assert!(live.len() > 100, "the SIP capture's flows: {}", live.len());
}
