//! What one Skydive flow says in VPC terms: its addresses, protocol number,
//! link-layer overhead, tcp-flags, counters and times.

use std::net::IpAddr;

use vpcflow_core::{PacketAddrs, Timestamp};

use crate::skydive::message::{Flow, FlowMetric, TcpMetric};

const NANOS_PER_MS: u64 = 1_000_000;

/// The latest time (Unix ms) a [`Timestamp`] holds: in the year 2554.
pub(super) const MAX_MS: i64 = (u64::MAX / NANOS_PER_MS) as i64;

/// The counters of a metric: AB packets, AB bytes, BA packets, BA bytes.
pub(super) fn counters(m: &FlowMetric) -> [i64; 4] {
    [m.ab_packets, m.ab_bytes, m.ba_packets, m.ba_bytes]
}

/// Unix milliseconds as a [`Timestamp`] (nanoseconds; negative is 0).
pub(super) fn ms_to_ns(ms: i64) -> Timestamp {
    (ms.max(0) as u64).saturating_mul(NANOS_PER_MS)
}

/// The flow's network addresses, A as `src`, B as `dst` (`None` when they
/// are not addresses of one family: no packet has those).
pub(super) fn addresses(f: &Flow) -> Option<PacketAddrs> {
    let n = f.network.as_ref()?;
    let src: IpAddr = n.a.parse().ok()?;
    let dst: IpAddr = n.b.parse().ok()?;
    (src.is_ipv4() == dst.is_ipv4()).then_some(PacketAddrs { src, dst })
}

/// The IANA protocol number: from the transport layer for TCP, UDP and SCTP, 1
/// or 58 when an ICMP layer is present, else the layer after the first IP
/// layer in the LayersPath.
pub fn protocol_number(f: &Flow, src: IpAddr) -> Option<u8> {
    if let Some(t) = &f.transport {
        let name = &*t.protocol;
        if name.eq_ignore_ascii_case("TCP") {
            return Some(6);
        }
        if name.eq_ignore_ascii_case("UDP") {
            return Some(17);
        }
        if name.eq_ignore_ascii_case("SCTP") {
            return Some(132);
        }
    }
    if f.icmp.is_some() {
        return Some(if src.is_ipv4() { 1 } else { 58 });
    }
    let mut layers = f.layers_path.split('/').filter(|l| !l.is_empty());
    layers.find(|l| *l == "IPv4" || *l == "IPv6")?;
    for l in layers {
        let n = match l {
            "TCP" => 6,
            "UDP" => 17,
            "SCTP" => 132,
            "ICMPv4" => 1,
            "ICMPv6" => 58,
            "GRE" => 47,
            "IPv4" => 4,
            "IPv6" => 41,
            "IGMP" => 2,
            "IPSecESP" => 50,
            "IPSecAH" => 51,
            "OSPF" => 89,
            "VRRPv2" => 112,
            "EtherIP" => 97,
            // IPv6 extension headers: the protocol is the next layer.
            "IPv6HopByHop" | "IPv6Routing" | "IPv6Destination" | "IPv6Fragment" => continue,
            _ => return None,
        };
        return Some(n);
    }
    None
}

/// Bytes per packet to remove (link headers before the first IP layer) and to
/// add (40 for an IPv6 flow captured without a link layer, whose bytes are the
/// payload length) to turn Skydive's bytes into IP-layer bytes.
pub fn link_overhead(layers_path: &str, ipv6: bool) -> (u64, u64) {
    let mut overhead = 0;
    for l in layers_path.split('/').filter(|l| !l.is_empty()) {
        overhead += match l {
            "IPv4" | "IPv6" => break,
            "Ethernet" => 14,
            "Dot1Q" => 4,
            "MPLS" => 4,
            "LinuxSLL" => 16,
            "Loopback" => 4,
            "PPPoE" => 6,
            "PPP" => 2,
            _ => 0,
        };
    }
    let first_is_ip = layers_path
        .split('/')
        .find(|l| !l.is_empty())
        .is_some_and(|l| l == "IPv4" || l == "IPv6");
    (overhead, if first_is_ip && ipv6 { 40 } else { 0 })
}

/// AWS tcp-flags per direction (AB, BA) derived from the extra TCP metrics: SYN
/// (2) for a side that sent a SYN, SYN-ACK (18) for the side whose SYN came
/// second (the answer), FIN (1), RST (4).
pub fn tcp_flags(t: &TcpMetric) -> [u8; 2] {
    let mut ab = 0;
    let mut ba = 0;
    match (t.ab_syn_start > 0, t.ba_syn_start > 0) {
        (true, true) if t.ba_syn_start >= t.ab_syn_start => {
            ab |= 2;
            ba |= 18;
        }
        (true, true) => {
            ab |= 18;
            ba |= 2;
        }
        (true, false) => ab |= 2,
        (false, true) => ba |= 2,
        (false, false) => {}
    }
    if t.ab_fin_start > 0 {
        ab |= 1;
    }
    if t.ba_fin_start > 0 {
        ba |= 1;
    }
    if t.ab_rst_start > 0 {
        ab |= 4;
    }
    if t.ba_rst_start > 0 {
        ba |= 4;
    }
    [ab, ba]
}
