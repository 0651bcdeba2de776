//! A second independent decoder of NetFlow v5, v9 and IPFIX export streams:
//! tshark's cflow dissector reads a recording of export datagrams, and its
//! flow records are summed per 5-tuple like vpcflow's and nfdump's.

use std::net::IpAddr;
use std::path::Path;

use serde_json::Value;

use crate::exporters::Totals;

/// The UDP destination port of the first datagram of a recording of
/// [`crate::exporters::Tcpdump`] (Ethernet, IPv4 without options); `None`
/// when it recorded nothing.
fn destination_port(pcap: &Path) -> Option<u16> {
    let data = std::fs::read(pcap).unwrap();
    if data.len() <= 24 {
        return None;
    }
    let frame = &data[24 + 16..];
    let udp = 14 + usize::from(frame[14] & 0x0F) * 4;
    Some(u16::from_be_bytes([frame[udp + 2], frame[udp + 3]]))
}

/// Per-5-tuple packets and bytes of every flow record tshark decodes from
/// the export datagrams recorded in `pcap` (all to one UDP port, decoded as
/// cflow); ports only for TCP, UDP and SCTP, addresses in their canonical
/// text form.
pub fn tshark_totals(pcap: &Path) -> Totals {
    let Some(port) = destination_port(pcap) else {
        return Totals::new();
    };
    let out = crate::exporters::tshark(
        pcap,
        &[
            "-d",
            &format!("udp.port=={port},cflow"),
            "-T",
            "json",
            "--no-duplicate-keys",
        ],
    );
    let packets: Value = serde_json::from_slice(&out).expect("tshark's JSON");
    let mut totals = Totals::new();
    for packet in packets.as_array().expect("a list of packets") {
        let layers = &packet["_source"]["layers"];
        assert!(
            layers.get("cflow").is_some(),
            "{}: tshark did not decode a datagram as cflow: {layers}",
            pcap.display()
        );
        add_flows(&layers["cflow"], &mut totals);
    }
    totals
}

/// Adds the flow records below `node` (objects with `cflow.packets`).
fn add_flows(node: &Value, totals: &mut Totals) {
    let Some(map) = node.as_object() else {
        if let Some(list) = node.as_array() {
            list.iter().for_each(|v| add_flows(v, totals));
        }
        return;
    };
    if !map.contains_key("cflow.packets") {
        map.values().for_each(|v| add_flows(v, totals));
        return;
    }
    let text = |key: &str| -> Option<&str> {
        match map.get(key)? {
            Value::String(s) => Some(s),
            other => panic!("tshark field {key}: one value expected, got {other}"),
        }
    };
    let number = |key: &str| -> u64 {
        text(key)
            .unwrap_or_else(|| panic!("tshark flow without {key}: {node}"))
            .parse()
            .unwrap()
    };
    let address = |v4: &str, v6: &str| -> String {
        let s = text(v4)
            .or_else(|| text(v6))
            .unwrap_or_else(|| panic!("tshark flow without {v4}/{v6}: {node}"));
        s.parse::<IpAddr>().unwrap().to_string()
    };
    let proto = number("cflow.protocol") as u8;
    let ported = matches!(proto, 6 | 17 | 132);
    let port = |key: &str| {
        if ported {
            text(key).map_or(0, |s| s.parse().unwrap())
        } else {
            0
        }
    };
    let key = (
        address("cflow.srcaddr", "cflow.srcaddrv6"),
        address("cflow.dstaddr", "cflow.dstaddrv6"),
        port("cflow.srcport"),
        port("cflow.dstport"),
        proto,
    );
    let e = totals.entry(key).or_insert((0, 0));
    e.0 += number("cflow.packets");
    e.1 += number("cflow.octets");
}
