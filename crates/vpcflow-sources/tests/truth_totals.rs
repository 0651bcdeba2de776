//! Every shared capture, read with the default options, against its truth file:
//! per-flow totals (packets, bytes, first/last timestamps, AWS TCP flags, the set
//! of keys) and the statistics the truth file has.
//!
//! The shared folder is `$VPCFLOW_SHARED/pcaps`, by default `shared/pcaps` next to
//! the workspace. When it is missing the test prints a `SKIPPED:` line and
//! passes, unless `VPCFLOW_REQUIRE_SHARED=1`, where it fails.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;
use vpcflow_core::FlowKey;
use vpcflow_sources::{read_capture, CaptureStats, PcapOptions};
use vpcflow_testkit::{shared_dir, FlowTotals, RecordingConsumer};

/// The shared captures folder, or `None` (see [`shared_dir`]).
fn shared_pcaps() -> Option<PathBuf> {
    shared_dir().map(|d| d.join("pcaps"))
}

fn truth_totals(truth: &Value) -> BTreeMap<FlowKey, FlowTotals> {
    let mut out = BTreeMap::new();
    for t in truth["totals"].as_array().expect("totals array") {
        let ip = |f: &str| t[f].as_str().unwrap().parse::<IpAddr>().unwrap();
        let n = |f: &str| t[f].as_u64().unwrap_or_else(|| panic!("field {f} in {t}"));
        let key = FlowKey {
            src: ip("src"),
            dst: ip("dst"),
            src_port: n("sport") as u16,
            dst_port: n("dport") as u16,
            protocol: n("proto") as u8,
        };
        let tot = FlowTotals {
            packets: n("packets"),
            bytes: n("bytes"),
            first_ns: n("first_ns"),
            last_ns: n("last_ns"),
            tcp_flags: n("tcp_flags_aws") as u8,
        };
        assert!(
            out.insert(key, tot).is_none(),
            "duplicate truth key {key:?}"
        );
    }
    out
}

/// Our statistics by the truth files' names.
fn our_stats(s: &CaptureStats) -> BTreeMap<&'static str, u64> {
    BTreeMap::from([
        ("frames", s.frames),
        ("ip_packets", s.ip_packets),
        ("ipv4_packets", s.ipv4_packets),
        ("ipv6_packets", s.ipv6_packets),
        ("ip_bytes", s.ip_bytes),
        ("non_ip", s.non_ip),
        ("snapped_frames", s.snapped_frames),
        ("fragments_first", s.fragments_first),
        ("fragments_nonfirst", s.fragments_nonfirst),
        ("vlan_tagged_packets", s.vlan_tagged_packets),
        ("mpls_packets", s.mpls_packets),
        ("pppoe_packets", s.pppoe_packets),
        ("ip_len_zero", s.ip_len_zero),
        ("ipv6_ext_headers", s.ipv6_ext_headers),
        ("ts_backwards", s.ts_backwards),
        ("pcapng_simple_packet_no_ts", s.pcapng_simple_packet_no_ts),
        ("first_ns", s.first_ts.unwrap_or(0)),
        ("last_ns", s.last_ts.unwrap_or(0)),
        ("flows", 0), // replaced by the caller
    ])
}

/// Compare one capture with its truth; returns the differences.
fn check(pcap: &Path, truth: &Value) -> Vec<String> {
    let name = pcap.file_name().unwrap().to_string_lossy().into_owned();
    let mut diffs = Vec::new();
    let mut consumer = RecordingConsumer::default();
    let mut last_progress = 0;
    let stats = read_capture(pcap, &PcapOptions::default(), &mut consumer, &mut |b| {
        last_progress = b
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let size = std::fs::metadata(pcap).unwrap().len();
    if last_progress != size {
        diffs.push(format!(
            "{name}: progress ended at {last_progress}, file has {size} bytes"
        ));
    }
    if stats.truncated_file || !stats.warnings.is_empty() {
        diffs.push(format!("{name}: unexpected warnings {:?}", stats.warnings));
    }
    if stats.undecodable != 0 || consumer.lost() != 0 {
        diffs.push(format!(
            "{name}: {} undecodable frames, {} losses",
            stats.undecodable,
            consumer.lost()
        ));
    }
    if stats.accounted_frames() != stats.frames {
        diffs.push(format!("{name}: frames do not add up: {stats:?}"));
    }

    // Totals per 5-tuple.
    let mut want = truth_totals(truth);
    if name == "gopacket-le-test100.pcapng" {
        // The one deliberate difference (see the test below): the first simple
        // packet block takes the next packet's time, not 0.
        for t in want.values_mut().filter(|t| t.first_ns == 0) {
            t.first_ns = 1_340_954_905_298_858_000;
        }
    }
    let ours = &consumer.totals();
    let want_keys: BTreeSet<_> = want.keys().collect();
    let our_keys: BTreeSet<_> = ours.keys().collect();
    for k in want_keys.difference(&our_keys) {
        diffs.push(format!("{name}: missing flow {k:?} {:?}", want[*k]));
    }
    for k in our_keys.difference(&want_keys) {
        diffs.push(format!("{name}: extra flow {k:?} {:?}", ours[*k]));
    }
    for (k, w) in &want {
        if let Some(o) = ours.get(k) {
            if o != w {
                diffs.push(format!("{name}: flow {k:?}: ours {o:?}, truth {w:?}"));
            }
        }
    }

    // Statistics: keys the truth omits are 0 there.
    let ts = &truth["stats"];
    let mut mine = our_stats(&stats);
    mine.insert("flows", ours.len() as u64);
    for (k, v) in &mine {
        let mut t = ts.get(*k).and_then(Value::as_u64).unwrap_or(0);
        if name == "gopacket-le-test100.pcapng" && *k == "first_ns" && t == 0 {
            t = 1_340_954_905_298_858_000; // the simple packet block rule
        }
        if t != *v {
            diffs.push(format!("{name}: stats.{k}: ours {v}, truth {t}"));
        }
    }
    let map = |v: &Value| -> BTreeMap<String, u64> {
        v.as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let tunnels: BTreeMap<String, u64> = stats
        .tunnel_outer_packets
        .iter()
        .map(|(k, n)| (k.as_str().to_owned(), n))
        .collect();
    let linktypes: BTreeMap<String, u64> = stats
        .linktypes
        .iter()
        .map(|(k, n)| (k.to_string(), *n))
        .collect();
    let protocols: BTreeMap<String, u64> = stats
        .ip_protocols
        .iter()
        .map(|(k, n)| (k.to_string(), *n))
        .collect();
    for (field, ours) in [
        ("tunnel_outer_packets", tunnels),
        ("linktypes", linktypes),
        ("ip_protocols", protocols),
    ] {
        let t = map(&ts[field]);
        if t != ours {
            diffs.push(format!("{name}: stats.{field}: ours {ours:?}, truth {t:?}"));
        }
    }
    diffs
}

#[test]
fn every_shared_capture_matches_its_truth_file() {
    let Some(dir) = shared_pcaps() else {
        return;
    };
    let mut captures: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    captures.sort();
    assert!(!captures.is_empty(), "no captures in {}", dir.display());
    let mut diffs = Vec::new();
    for pcap in &captures {
        let truth_path = pcap.with_extension("truth.json");
        let text = std::fs::read_to_string(&truth_path)
            .unwrap_or_else(|e| panic!("{}: {e}", truth_path.display()));
        let truth: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            truth["policy"]["fragments"],
            "zero",
            "{}",
            truth_path.display()
        );
        diffs.extend(check(pcap, &truth));
    }
    assert!(
        diffs.is_empty(),
        "{} differences over {} captures:\n{}",
        diffs.len(),
        captures.len(),
        diffs.join("\n")
    );
    eprintln!("{} captures match their truth files", captures.len());
}

/// gopacket's test100.pcapng: several IDBs with their own names and link types,
/// and two simple packet blocks (SPB), which carry no timestamp.
///
/// Our rule: an SPB gets the timestamp of the previous packet of the file, or,
/// when it comes before any timestamped packet, that of the first timestamped
/// packet after it (so it does not land in 1970 and stretch the capture over 42
/// years of NODATA windows). The truth file (`pcapng_simple_packet_no_ts: 2`)
/// gives its second SPB the preceding EPB's time (1340954905298858000), like
/// us, but its first SPB time 0: this is the one deliberate difference, and the
/// test checks it explicitly.
#[test]
fn gopacket_pcapng_simple_packets_and_interfaces() {
    let Some(dir) = shared_pcaps() else {
        return;
    };
    let path = dir.join("gopacket-le-test100.pcapng");
    let mut consumer = RecordingConsumer::default();
    let stats = read_capture(&path, &PcapOptions::default(), &mut consumer, &mut |_| {}).unwrap();
    assert_eq!(consumer.names, ["eth0", "null1", "wifi2?"]);
    assert_eq!(stats.pcapng_simple_packet_no_ts, 2);
    assert_eq!(stats.linktypes, BTreeMap::from([(0, 1), (1, 4)]));
    let dhcp_discover = FlowKey {
        src: "0.0.0.0".parse().unwrap(),
        dst: "255.255.255.255".parse().unwrap(),
        src_port: 68,
        dst_port: 67,
        protocol: 17,
    };
    let t = consumer.totals()[&dhcp_discover];
    // First SPB: no packet before it, so the time of the first EPB after it,
    // which is also the EPB just before the second SPB.
    assert_eq!(t.first_ns, 1_340_954_905_298_858_000);
    assert_eq!(t.last_ns, 1_340_954_905_298_858_000);
    let text = std::fs::read_to_string(path.with_extension("truth.json")).unwrap();
    let truth: Value = serde_json::from_str(&text).unwrap();
    let mut expected = truth_totals(&truth)[&dhcp_discover];
    assert_eq!(
        expected.first_ns, 0,
        "the truth counter puts the first SPB at 0"
    );
    expected.first_ns = t.first_ns;
    assert_eq!(expected, t);

    // With an override, the first IDB takes the given name, the others keep
    // theirs.
    let options = PcapOptions {
        interface_name: Some("eni-test".into()),
        ..PcapOptions::default()
    };
    let mut consumer = RecordingConsumer::default();
    read_capture(&path, &options, &mut consumer, &mut |_| {}).unwrap();
    assert_eq!(consumer.names, ["eni-test", "null1", "wifi2?"]);
}

/// `FragmentPolicy::TrackFirst` on the capture full of UDP fragments: the same
/// packets and bytes, but later fragments join the flow of their first one.
#[test]
fn track_first_fragments_on_tcpdump_afs() {
    let Some(dir) = shared_pcaps() else {
        return;
    };
    let path = dir.join("tcpdump-afs.pcap");
    let mut zero = RecordingConsumer::default();
    let z = read_capture(&path, &PcapOptions::default(), &mut zero, &mut |_| {}).unwrap();
    let options = PcapOptions {
        fragments: vpcflow_sources::FragmentPolicy::TrackFirst,
        ..PcapOptions::default()
    };
    let mut tracked = RecordingConsumer::default();
    let t = read_capture(&path, &options, &mut tracked, &mut |_| {}).unwrap();
    let (zero, tracked) = (zero.totals(), tracked.totals());
    let sum = |flows: &BTreeMap<FlowKey, FlowTotals>| {
        flows
            .values()
            .fold((0, 0), |(p, b), t| (p + t.packets, b + t.bytes))
    };
    assert_eq!(sum(&zero), sum(&tracked));
    assert_eq!((t.fragments_nonfirst, z.fragments_tracked), (149, 0));
    eprintln!(
        "tracked {} of {} later fragments; flows {} -> {}",
        t.fragments_tracked,
        t.fragments_nonfirst,
        zero.len(),
        tracked.len()
    );
    assert_eq!(t.fragments_tracked, t.fragments_nonfirst);
    // No later fragment is left in a port-0 UDP flow.
    assert!(tracked
        .keys()
        .all(|k| k.protocol != 17 || (k.src_port, k.dst_port) != (0, 0)));
    assert!(zero
        .keys()
        .any(|k| k.protocol == 17 && (k.src_port, k.dst_port) == (0, 0)));
}
