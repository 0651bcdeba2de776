//! NetFlow v5, v9 and IPFIX from a second real exporter, pmacct: `pmacctd`
//! reads each shared capture and its `nfprobe` plugin exports the flows over
//! loopback, tcpdump records the datagrams, nfcapd/nfdump and tshark's cflow
//! dissector decode them independently, and `vpcflow convert --netflow` of
//! the recording must give both decoders' packets and bytes per 5-tuple
//! exactly, and the capture's truth wherever pmacct counts as the truth
//! does (its known differences: docs/netflow.md).
//!
//! Needs root (tcpdump on loopback), pmacctd, tshark, nfdump (nfcapd) and
//! tcpdump; without them the test prints `SKIPPED:` and passes, except under
//! `VPCFLOW_REQUIRE_PMACCT=1` (CI), where it must run.

mod common;
#[path = "common/exporters.rs"]
mod exporters;
#[path = "common/pmacct.rs"]
mod pmacct;
#[path = "common/tshark.rs"]
mod tshark;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use exporters::{convert, diff, truth_flows, vpcflow_totals, TruthFlow, Tuple};
use tshark::tshark_totals;
use vpcflow_testkit::shared_dir;

/// How one of pmacct's flows compares with the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Agreement {
    /// Packets and bytes equal to the truth's flow.
    Exact,
    /// An SCTP flow without ports: equal to the truth's flows summed over
    /// ports.
    SctpWithoutPorts,
    /// IPv4 fragments after the first carry the first one's ports in
    /// pmacct: equal to the truth's flow plus its port-less fragments.
    FragmentsWithPorts,
    /// A capture with packets whose IP total length is 0 (TCP segmentation
    /// offload): packets equal, bytes below the truth's, which counts the
    /// captured length for them.
    ZeroLengthPackets,
}

fn sum(flows: impl Iterator<Item = TruthFlow>) -> Option<(u64, u64)> {
    flows.fold(None, |acc, f| {
        let (p, b) = acc.unwrap_or((0, 0));
        Some((p + f.packets, b + f.bytes))
    })
}

/// Whether pmacct's counts `got` of flow `key` agree with the truth by
/// pmacct's own counting rules; `zero_length` says whether the capture has
/// IP packets with a total length of 0.
fn agrees(
    key: &Tuple,
    got: (u64, u64),
    truth: &BTreeMap<Tuple, TruthFlow>,
    zero_length: bool,
) -> Result<Agreement, String> {
    let at = |k: &Tuple| truth.get(k).map(|f| (f.packets, f.bytes));
    if at(key) == Some(got) {
        return Ok(Agreement::Exact);
    }
    let (src, dst, sport, dport, proto) = key;
    if *proto == 132 && (*sport, *dport) == (0, 0) {
        let over_ports = sum(truth
            .iter()
            .filter(|(k, _)| (&k.0, &k.1, k.4) == (src, dst, 132))
            .map(|(_, f)| *f));
        if over_ports == Some(got) {
            return Ok(Agreement::SctpWithoutPorts);
        }
    }
    let portless = (src.clone(), dst.clone(), 0, 0, *proto);
    if let (Some(first), Some(rest)) = (at(key), at(&portless)) {
        if (*sport, *dport) != (0, 0) && (first.0 + rest.0, first.1 + rest.1) == got {
            return Ok(Agreement::FragmentsWithPorts);
        }
    }
    if let Some(t) = at(key) {
        if zero_length && t.0 == got.0 && got.1 < t.1 {
            return Ok(Agreement::ZeroLengthPackets);
        }
    }
    Err(format!("{key:?}: {got:?}, truth {:?}", truth.get(key)))
}

/// Every shared capture with a truth file.
fn captures(shared: &Path) -> Vec<PathBuf> {
    exporters::truth_captures(shared)
}

/// One capture exported with one version: vpcflow's totals checked against
/// nfdump's and tshark's; the agreements with the truth, or what failed.
fn check(capture: &Path, version: &str, dir: &Path) -> Result<BTreeMap<Agreement, usize>, String> {
    let name = capture.file_stem().unwrap().to_string_lossy().into_owned();
    // tcpdump may miss a datagram nfcapd got when the machine is loaded:
    // the export is made again (at most twice). The decoders are
    // deterministic, so a decoding difference persists.
    let mut attempt = 0;
    let (ours, nfdump, pcap) = loop {
        attempt += 1;
        let pcap = dir.join(format!("{name}-v{version}-{attempt}.pcap"));
        let nfdump = pmacct::export(capture, version, &pcap, dir)
            .map_err(|e| format!("{name} v{version}: {e}\n"))?;
        let rows = convert(&pcap, dir, &format!("{name}-v{version}-{attempt}"), &[]);
        let ours = vpcflow_totals(&rows);
        if ours == nfdump || attempt == 3 {
            break (ours, nfdump, pcap);
        }
        println!("{name} v{version}: the recording differs from nfcapd's stream, exporting again");
    };
    let truth_file = capture.with_extension("truth.json");
    let (truth, linktypes) = truth_flows(&truth_file);
    if ours.is_empty() {
        // NetFlow v5 carries IPv4 only.
        let ipv6_only = truth.keys().all(|k| k.0.contains(':'));
        if version == "5" && ipv6_only && nfdump.is_empty() {
            return Ok(BTreeMap::new());
        }
        return Err(format!("{name} v{version}: no flow exported\n"));
    }
    if ours != nfdump {
        return Err(format!(
            "{name} v{version}: vpcflow vs nfdump\n{}",
            diff(&ours, &nfdump)
        ));
    }
    let tshark = tshark_totals(&pcap);
    if ours != tshark {
        return Err(format!(
            "{name} v{version}: vpcflow vs tshark\n{}",
            diff(&ours, &tshark)
        ));
    }
    let mut agreements = BTreeMap::new();
    // pmacctd reads a pcapng file whose interfaces have several link types
    // as if all had the first one's: no truth to compare with.
    if linktypes.len() > 1 {
        return Ok(agreements);
    }
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&truth_file).unwrap()).unwrap();
    let zero_length = stats["stats"]["ip_len_zero"].as_u64().unwrap_or(0) > 0;
    let mut failures = String::new();
    for (k, v) in &ours {
        match agrees(k, *v, &truth, zero_length) {
            Ok(a) => *agreements.entry(a).or_insert(0) += 1,
            Err(e) => failures += &format!("{name} v{version}: {e}\n"),
        }
    }
    if failures.is_empty() {
        Ok(agreements)
    } else {
        Err(failures)
    }
}

#[test]
fn pmacct_exports_decode_like_nfdump_tshark_and_the_truth() {
    if !pmacct::available("pmacct_exports_decode_like_nfdump_tshark_and_the_truth") {
        return;
    }
    let Some(shared) = shared_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let jobs: Vec<(PathBuf, &str)> = captures(&shared)
        .into_iter()
        .flat_map(|c| ["5", "9", "10"].map(|v| (c.clone(), v)))
        .collect();
    // pmacctd waits about four seconds per file, mostly asleep: eight
    // exports at a time keep the whole run short.
    let mut failures = String::new();
    let mut totals: BTreeMap<Agreement, usize> = BTreeMap::new();
    for chunk in jobs.chunks(8) {
        let results: Vec<Result<BTreeMap<Agreement, usize>, String>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|(capture, version)| {
                    let dir = dir.path();
                    s.spawn(move || check(capture, version, dir))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for r in results {
            match r {
                Ok(a) => a
                    .into_iter()
                    .for_each(|(k, n)| *totals.entry(k).or_insert(0) += n),
                Err(e) => failures += &e,
            }
        }
    }
    assert!(failures.is_empty(), "{failures}");
    println!("pmacct's flows against the truth: {totals:?}");
    let exact = totals.get(&Agreement::Exact).copied().unwrap_or(0);
    assert!(exact > 4500, "only {exact} flows equal to the truth");
    // Each known difference shows where the shared captures have it.
    assert!(totals.contains_key(&Agreement::SctpWithoutPorts));
    assert!(totals.contains_key(&Agreement::FragmentsWithPorts));
    assert!(totals.contains_key(&Agreement::ZeroLengthPackets));
}

/// `vpcflow convert --netflow` of `pcap` with a format of the interface,
/// addresses, flow-direction and log-status: its records.
fn directions(pcap: &Path, dir: &Path, name: &str) -> Vec<Vec<String>> {
    let out = dir.join(name);
    common::vpcflow_ok(&[
        "convert",
        "--quiet",
        "--netflow",
        pcap.to_str().unwrap(),
        "--format",
        "${interface-id} ${srcaddr} ${dstaddr} ${flow-direction} ${log-status}",
        "--out",
        out.to_str().unwrap(),
    ]);
    exporters::records(&out)
}

#[test]
fn pmacct_direction_field_gives_flow_direction() {
    if !pmacct::available("pmacct_direction_field_gives_flow_direction") {
        return;
    }
    let Some(shared) = shared_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let capture = shared.join("pcaps/suricata-sip-method.pcap");
    for (version, expected) in [("10", "ingress"), ("9", "ingress"), ("5", "-")] {
        let pcap = dir.path().join(format!("v{version}.pcap"));
        pmacct::export(&capture, version, &pcap, dir.path()).unwrap();
        let rows = directions(&pcap, dir.path(), &format!("v{version}"));
        let ok: Vec<&Vec<String>> = rows.iter().filter(|r| r[4] == "OK").collect();
        assert!(ok.len() > 100, "v{version}: {} records", ok.len());
        // pmacct's nfprobe marks its flows ingress (DIRECTION 0) in v9 and
        // IPFIX; v5 has no such field, and the exporter's interfaces have
        // no addresses to decide it from.
        for r in ok {
            assert_eq!(r[3], expected, "v{version}: {r:?}");
        }
    }
}
