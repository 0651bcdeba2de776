//! Hand-built frames for the decoder's tests.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const A4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const B4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const C4: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
pub const D4: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 2);
pub const A6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
pub const B6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

pub fn ip(a: Ipv4Addr) -> IpAddr {
    IpAddr::V4(a)
}

pub fn ip6(a: Ipv6Addr) -> IpAddr {
    IpAddr::V6(a)
}

/// An IPv4 header (with `options`, a multiple of 4 bytes) and its payload.
pub fn ipv4_full(
    proto: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    id: u16,
    flags_frag: u16,
    options: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let hl = 20 + options.len();
    let total = (hl + payload.len()) as u16;
    let mut v = vec![0x40 | (hl / 4) as u8, 0];
    v.extend_from_slice(&total.to_be_bytes());
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&flags_frag.to_be_bytes());
    v.extend_from_slice(&[64, proto, 0, 0]);
    v.extend_from_slice(&src.octets());
    v.extend_from_slice(&dst.octets());
    v.extend_from_slice(options);
    v.extend_from_slice(payload);
    v
}

pub fn ipv4(proto: u8, src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    ipv4_full(proto, src, dst, 0x1234, 0x4000, &[], payload)
}

/// An IPv6 header with next header `next` and `payload` (extension headers
/// included).
pub fn ipv6(next: u8, src: Ipv6Addr, dst: Ipv6Addr, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0];
    v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    v.extend_from_slice(&[next, 64]);
    v.extend_from_slice(&src.octets());
    v.extend_from_slice(&dst.octets());
    v.extend_from_slice(payload);
    v
}

/// A 20-byte TCP header.
pub fn tcp(sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    v
}

/// A UDP header and payload.
pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(payload);
    v
}

/// An ICMP echo request.
pub fn icmp() -> Vec<u8> {
    vec![8, 0, 0, 0, 0, 1, 0, 1]
}

/// An Ethernet header with EtherType `t`, then `payload`.
pub fn eth(t: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
    v.extend_from_slice(&t.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// An Ethernet header with the VLAN tags `tags` (TPID, VID), then EtherType `t`.
pub fn eth_tagged(tags: &[(u16, u16)], t: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
    for &(tpid, vid) in tags {
        v.extend_from_slice(&tpid.to_be_bytes());
        v.extend_from_slice(&vid.to_be_bytes());
    }
    v.extend_from_slice(&t.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// An MPLS label stack of `labels` (bottom-of-stack set on the last).
pub fn mpls(labels: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for (i, &l) in labels.iter().enumerate() {
        let bos = u32::from(i + 1 == labels.len());
        v.extend_from_slice(&((l << 12) | (bos << 8) | 64).to_be_bytes());
    }
    v.extend_from_slice(payload);
    v
}

/// A GRE header with `flags` (C/K/S bits; the optional fields are zero-filled)
/// and protocol `proto`.
pub fn gre(flags: u16, proto: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&flags.to_be_bytes());
    v.extend_from_slice(&proto.to_be_bytes());
    for bit in [0x8000, 0x2000, 0x1000] {
        if flags & bit != 0 {
            v.extend_from_slice(&[0, 0, 0, 0]);
        }
    }
    v.extend_from_slice(payload);
    v
}

pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

use super::{decode, Decoded, IpPacket, Outcome};

/// Decode a frame that was captured whole.
pub fn dec(linktype: u32, frame: &[u8]) -> Decoded {
    decode(linktype, frame, frame.len() as u32)
}

/// The IP packet of a decoded frame (panics otherwise).
pub fn ip_of(d: Decoded) -> IpPacket {
    match d.outcome {
        Outcome::Ip(p) => p,
        other => panic!("not an IP packet: {other:?}"),
    }
}
