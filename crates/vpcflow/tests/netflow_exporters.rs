//! NetFlow v5, v9 and IPFIX from a real exporter: softflowd exports the
//! shared captures' flows over loopback, tcpdump records the datagrams,
//! nfcapd/nfdump decodes the same datagrams independently, and
//! `vpcflow convert --netflow` of the recording must give nfdump's packets
//! and bytes per 5-tuple exactly, and the capture's truth wherever
//! softflowd counts as the truth does.
//!
//! Needs root (tcpdump on loopback), softflowd, nfdump (nfcapd) and
//! tcpdump; without them the tests print `SKIPPED:` and pass, except under
//! `VPCFLOW_REQUIRE_NETFLOW=1` (CI), where they must run.

mod common;
#[path = "common/exporters.rs"]
mod exporters;
#[path = "common/netns.rs"]
mod netns;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{vpcflow_ok, IDENTITY};
use exporters::{available, export, truth_flows, vpcflow_totals, Totals, TruthFlow, Tuple};
use netns::records;
use vpcflow_testkit::shared_dir;

/// `vpcflow convert --netflow` of `pcap` into `dir/NAME`: its records.
fn convert(pcap: &Path, dir: &Path, name: &str, extra: &[&str]) -> Vec<Vec<String>> {
    let out = dir.join(name);
    let mut args = vec![
        "convert",
        "--quiet",
        "--netflow",
        pcap.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(&IDENTITY);
    args.extend_from_slice(extra);
    vpcflow_ok(&args);
    records(&out)
}

/// The shared captures softflowd can read (every link type it knows).
fn captures(shared: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(shared.join("pcaps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name.ends_with(".pcap") || name.ends_with(".pcapng"))
                && p.with_extension("truth.json").exists()
        })
        .collect();
    v.sort();
    v
}

fn diff(a: &Totals, b: &Totals) -> String {
    let mut s = String::new();
    for (k, v) in a {
        if b.get(k) != Some(v) {
            s += &format!("  {k:?}: {v:?} vs {:?}\n", b.get(k));
        }
    }
    for (k, v) in b {
        if !a.contains_key(k) {
            s += &format!("  {k:?}: missing vs {v:?}\n");
        }
    }
    s
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
            let pcap = dir.path().join(format!("{name}-v{version}.pcap"));
            let Some(nfdump) = export(&capture, version, extra, &pcap, dir.path()) else {
                println!("{name}: softflowd does not read this capture (link type)");
                refused += 1;
                continue;
            };
            let rows = convert(&pcap, dir.path(), &format!("{name}-v{version}"), &[]);
            let ours = vpcflow_totals(&rows);
            if ours != nfdump {
                failures += &format!(
                    "{name} v{version}: vpcflow vs nfdump\n{}",
                    diff(&ours, &nfdump)
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
