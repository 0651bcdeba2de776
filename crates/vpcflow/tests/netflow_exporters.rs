//! NetFlow v5, v9 and IPFIX from a real exporter: softflowd exports the
//! shared captures' flows over loopback, tcpdump records the datagrams,
//! nfcapd/nfdump and tshark's cflow dissector decode the same datagrams
//! independently, and `vpcflow convert --netflow` of the recording must give
//! their packets and bytes per 5-tuple exactly, and the capture's truth
//! wherever softflowd counts as the truth does.
//!
//! Needs root (tcpdump on loopback), softflowd, nfdump (nfcapd), tshark and
//! tcpdump; without them the tests print `SKIPPED:` and pass, except under
//! `VPCFLOW_REQUIRE_NETFLOW=1` (CI), where they must run.

mod common;
#[path = "common/exporters.rs"]
mod exporters;
#[path = "common/tshark.rs"]
mod tshark;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use exporters::{
    available, convert, diff, export, records, truth_flows, vpcflow_totals, Totals, TruthFlow,
    Tuple,
};
use tshark::tshark_totals;
use vpcflow_testkit::shared_dir;

/// The shared captures softflowd can read (every link type it knows).
fn captures(shared: &Path) -> Vec<PathBuf> {
    exporters::truth_captures(shared)
}

/// Whether softflowd's counts of one flow agree with the truth's, by
/// softflowd's own counting rules: its packets are the truth's; its bytes
/// are the frame after the link-layer header (`linktype_header`, plus 4 a
/// VLAN tag), so Ethernet padding and trailers count; SCTP flows carry no
/// ports.
fn agrees(
    key: &Tuple,
    got: (u64, u64),
    truth: &BTreeMap<Tuple, TruthFlow>,
    linktype_header: u64,
) -> Result<bool, String> {
    let flow = if key.4 == 132 {
        truth
            .iter()
            .filter(|(k, _)| (&k.0, &k.1, k.4) == (&key.0, &key.1, key.4))
            .fold(None, |acc: Option<TruthFlow>, (_, f)| {
                let a = acc.unwrap_or(TruthFlow {
                    packets: 0,
                    bytes: 0,
                    frame_bytes: 0,
                });
                Some(TruthFlow {
                    packets: a.packets + f.packets,
                    bytes: a.bytes + f.bytes,
                    frame_bytes: a.frame_bytes + f.frame_bytes,
                })
            })
    } else {
        truth.get(key).copied()
    };
    let Some(t) = flow else {
        return Err(format!("{key:?}: {got:?}, not in the truth"));
    };
    if got.0 != t.packets {
        return Err(format!("{key:?}: {got:?}, truth {t:?}"));
    }
    if got.1 == t.bytes {
        return Ok(true);
    }
    let framed = (0..=4).any(|tags| {
        t.frame_bytes
            .checked_sub((linktype_header + 4 * tags) * t.packets)
            == Some(got.1)
    });
    if framed {
        Ok(false)
    } else {
        Err(format!("{key:?}: {got:?}, truth {t:?}"))
    }
}

/// softflowd's link-layer header length for a pcap link type.
fn link_header(linktypes: &[u32]) -> u64 {
    match linktypes {
        [1] => 14,
        [0] | [108] => 4,
        [113] => 16,
        [276] => 20,
        _ => 0,
    }
}

#[test]
fn softflowd_exports_decode_like_nfdump_and_the_truth() {
    if !available("softflowd_exports_decode_like_nfdump_and_the_truth") {
        return;
    }
    let Some(shared) = shared_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut failures = String::new();
    let (mut exact, mut framed, mut refused) = (0, 0, 0);
    for capture in captures(&shared) {
        let name = capture.file_stem().unwrap().to_string_lossy().into_owned();
        let (truth, linktypes) = truth_flows(&capture.with_extension("truth.json"));
        let header = link_header(&linktypes);
        for (version, extra) in [("5", &[][..]), ("9", &["-6"][..]), ("10", &["-6"][..])] {
            // tcpdump may miss a datagram nfcapd got when the machine is
            // loaded: the export is made again (at most twice). The decoder
            // is deterministic, so a decoding difference persists.
            let mut attempt = 0;
            let (ours, nfdump, pcap) = loop {
                attempt += 1;
                let pcap = dir.path().join(format!("{name}-v{version}-{attempt}.pcap"));
                let Some(nfdump) = export(&capture, version, extra, &pcap, dir.path()) else {
                    break (Totals::new(), None, pcap);
                };
                let rows = convert(
                    &pcap,
                    dir.path(),
                    &format!("{name}-v{version}-{attempt}"),
                    &[],
                );
                let ours = vpcflow_totals(&rows);
                if ours == nfdump || attempt == 3 {
                    break (ours, Some(nfdump), pcap);
                }
                println!("{name} v{version}: the recording differs from nfcapd's stream, exporting again");
            };
            let Some(nfdump) = nfdump else {
                println!("{name}: softflowd does not read this capture (link type)");
                refused += 1;
                continue;
            };
            if ours != nfdump {
                failures += &format!(
                    "{name} v{version}: vpcflow vs nfdump\n{}",
                    diff(&ours, &nfdump)
                );
                continue;
            }
            // softflowd's v9 header counts the data records only, not the
            // templates as RFC 3954 says: tshark stops reading its first
            // datagram after that many records (the templates) and decodes
            // no flow (nfcapd and vpcflow read every flowset).
            let tshark = if version == "9" {
                ours.clone()
            } else {
                tshark_totals(&pcap)
            };
            if ours != tshark {
                failures += &format!(
                    "{name} v{version}: vpcflow vs tshark\n{}",
                    diff(&ours, &tshark)
                );
                continue;
            }
            for (k, v) in &ours {
                match agrees(k, *v, &truth, header) {
                    Ok(true) => exact += 1,
                    Ok(false) => framed += 1,
                    Err(e) => failures += &format!("{name} v{version}: {e}\n"),
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures}");
    println!("{exact} flows equal to the truth, {framed} with link-layer padding counted by softflowd, {refused} exports refused");
    assert!(exact > 100, "only {exact} flows equal to the truth");
    assert!(refused <= 3, "softflowd refused {refused} captures");
}

/// The export time of a v5, v9 or IPFIX message (Unix seconds).
fn export_secs(d: &[u8]) -> u64 {
    let at = if d[1] == 10 { 4 } else { 8 };
    u64::from(u32::from_be_bytes(d[at..at + 4].try_into().unwrap()))
}

#[test]
fn dropped_export_datagrams_are_skipdata_in_their_windows_and_never_double_counted() {
    if !available("dropped_export_datagrams_are_skipdata_in_their_windows_and_never_double_counted")
    {
        return;
    }
    let Some(shared) = shared_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    // 500 one-packet flows: many datagrams in every version. softflowd
    // expires flows after 10 s idle, so the export times spread over
    // several of the capture's 60-second windows.
    let capture = shared.join("pcaps/zeek-dhcp_flood.pcap");
    for version in ["5", "9", "10"] {
        let pcap = dir.path().join(format!("all-v{version}.pcap"));
        export(
            &capture,
            version,
            &["-t", "general=10s", "-t", "udp=10s"],
            &pcap,
            dir.path(),
        )
        .expect("softflowd reads the capture");
        let all = exporters::datagrams(&pcap);
        assert!(all.len() >= 8, "v{version}: only {} datagrams", all.len());
        // Drop every fourth datagram, never the first (templates) nor the
        // last (a loss at the very end cannot be seen).
        let dropped = |i: usize| i % 4 == 2 && i + 1 < all.len();
        let kept_pcap = dir.path().join(format!("kept-v{version}.pcap"));
        let n = exporters::filter_pcap(&pcap, &kept_pcap, dropped);
        assert!(n >= 2);
        let kept: Vec<Vec<u8>> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| !dropped(*i))
            .map(|(_, d)| d.clone())
            .collect();
        // The loss shows at the datagram after each dropped one.
        let expected: std::collections::BTreeSet<u64> = (0..all.len())
            .filter(|&i| dropped(i))
            .map(|i| export_secs(&all[i + 1]) / 60 * 60)
            .collect();
        let rows = convert(
            &kept_pcap,
            dir.path(),
            &format!("kept-v{version}"),
            &["--interval", "60"],
        );
        let nfdump = exporters::nfdump_of(&kept, dir.path());
        assert_eq!(
            vpcflow_totals(&rows),
            nfdump,
            "v{version}: the kept datagrams, counted once"
        );
        let skipdata: std::collections::BTreeSet<u64> = rows
            .iter()
            .filter(|r| r[13] == "SKIPDATA")
            .map(|r| r[10].parse::<u64>().unwrap() / 60 * 60)
            .collect();
        assert_eq!(skipdata, expected, "v{version}: SKIPDATA windows");
        // Without the drops: no SKIPDATA at all.
        let whole = convert(
            &pcap,
            dir.path(),
            &format!("all-v{version}"),
            &["--interval", "60"],
        );
        assert!(whole.iter().all(|r| r[13] != "SKIPDATA"), "v{version}");
    }
}

#[test]
fn live_collection_from_two_exporters_equals_the_offline_replay() {
    if !available("live_collection_from_two_exporters_equals_the_offline_replay") {
        return;
    }
    let Some(shared) = shared_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (mut daemon, port, metrics) = exporters::start_collector(dir.path(), "netflow.listen");
    let recording = dir.path().join("live.pcap");
    let tcpdump = exporters::Tcpdump::start(port, &recording);
    // Exporter 1: softflowd, IPFIX, from 127.0.0.1.
    assert!(exporters::softflowd(
        &shared.join("pcaps/suricata-sip-method.pcap"),
        port,
        "10",
        &[],
        dir.path()
    ));
    // Exporter 2: a v9 stream of another capture, from 127.0.0.2, and
    // garbage datagrams in between.
    let v9 = dir.path().join("v9.pcap");
    export(
        &shared.join("pcaps/suricata-smb-length-5770.pcap"),
        "9",
        &[],
        &v9,
        dir.path(),
    )
    .expect("softflowd reads the capture");
    let second = std::net::UdpSocket::bind("127.0.0.2:0").unwrap();
    let v9_datagrams = exporters::datagrams(&v9);
    let garbage: [&[u8]; 3] = [b"\x00\x09garbage", b"\x00\x0a\x00\x05", b"\xff"];
    for d in &v9_datagrams {
        second.send_to(d, ("127.0.0.1", port)).unwrap();
        for g in garbage {
            second.send_to(g, ("127.0.0.1", port)).unwrap();
        }
    }
    tcpdump.stop();
    // The metrics count every garbage datagram as malformed, and no drop.
    let scrape = common::wait_metric(
        metrics,
        r#"vpcflow_netflow_datagrams_total{result="malformed"}"#,
        (v9_datagrams.len() * garbage.len()) as u64,
    );
    assert_eq!(
        common::metric(
            &scrape,
            r#"vpcflow_netflow_datagrams_total{result="kernel_drop"}"#
        ),
        Some(0)
    );
    assert!(common::metric(&scrape, "vpcflow_netflow_records_total").unwrap() > 100);
    let (live, err) = exporters::stop_and_compare(&mut daemon, dir.path(), "--netflow", &recording);
    assert!(err.contains("malformed export datagram"), "{err}");
    // Both exporters' flows are there.
    assert!(
        live.keys().any(|k| k.0 == "192.168.0.29"),
        "the SMB capture's flows"
    );
    assert!(live.len() > 100, "the SIP capture's flows: {}", live.len());
}

#[test]
fn an_exporters_name_pattern_names_its_interfaces_for_their_metadata() {
    if !available("an_exporters_name_pattern_names_its_interfaces_for_their_metadata") {
        return;
    }
    let Some(shared) = shared_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("ipfix.pcap");
    export(
        &shared.join("pcaps/suricata-sip-method.pcap"),
        "10",
        &[],
        &pcap,
        dir.path(),
    )
    .expect("softflowd reads the capture");
    // softflowd exports ifIndex 0 from 127.0.0.1.
    let config = |pattern: &str| {
        vpcflow_testkit::ConfigToml::new()
            .test_flow_log()
            .array_entry("netflow.exporter")
            .set("address", "127.0.0.1")
            .set("interface_name", pattern)
            .array_entry("interface")
            .set("name", "rtr1-0")
            .set("interface_id", "eni-0a1b2c3d4e5f60718")
            .set("vpc_id", "vpc-0a1b2c3d4e5f60718")
            .write_as(&dir.path().join(format!("{}.toml", pattern.len())))
    };
    let good = config("rtr1-{ifindex}");
    let out = dir.path().join("named");
    common::vpcflow_ok(&[
        "convert",
        "--quiet",
        "--netflow",
        pcap.to_str().unwrap(),
        "--config",
        good.to_str().unwrap(),
        "--format",
        "${interface-id} ${vpc-id} ${log-status}",
        "--out",
        out.to_str().unwrap(),
    ]);
    let rows = records(&out);
    assert!(rows.len() > 100, "{} records", rows.len());
    for r in &rows {
        assert_eq!(
            r[..2],
            ["eni-0a1b2c3d4e5f60718", "vpc-0a1b2c3d4e5f60718"],
            "{r:?}"
        );
    }
    // A pattern without {ifindex}: an error naming the key.
    let bad = config("rtr1");
    let out = common::vpcflow(&[
        "convert",
        "--quiet",
        "--netflow",
        pcap.to_str().unwrap(),
        "--config",
        bad.to_str().unwrap(),
        "--out",
        dir.path().join("bad").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("netflow.exporter[0].interface_name") && err.contains("{ifindex}"),
        "{err}"
    );
}
