//! The EtherType chain: Ethernet, VLAN tags, MPLS, PPPoE, LLC/SNAP and PPP.

use super::{be16, Layers, Next};

/// EtherType of IPv4.
pub(crate) const IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub(crate) const IPV6: u16 = 0x86DD;
const VLAN_8021Q: u16 = 0x8100;
const VLAN_8021AD: u16 = 0x88A8;
const VLAN_9100: u16 = 0x9100;
const MPLS_UNICAST: u16 = 0x8847;
const MPLS_MULTICAST: u16 = 0x8848;
const PPPOE_SESSION: u16 = 0x8864;
/// Largest value of the 802.3 length field (above it, the field is an EtherType).
const MAX_8023_LENGTH: u16 = 1500;

/// An Ethernet II / 802.3 header at `off`.
#[inline]
pub(crate) fn ethernet(frame: &[u8], off: usize) -> Next {
    match be16(frame, off + 12) {
        Some(t) => Next::EtherType(t, off + 14),
        None => Next::Truncated,
    }
}

/// The protocol announced by EtherType `t` (or an 802.3 length) at `off`.
#[inline]
pub(crate) fn ethertype(frame: &[u8], t: u16, off: usize, layers: &mut Layers) -> Next {
    match t {
        IPV4 => Next::Ipv4(off),
        IPV6 => Next::Ipv6(off),
        VLAN_8021Q | VLAN_8021AD | VLAN_9100 => {
            layers.insert(Layers::VLAN);
            match be16(frame, off + 2) {
                Some(inner) => Next::EtherType(inner, off + 4),
                None => Next::Truncated,
            }
        }
        MPLS_UNICAST | MPLS_MULTICAST => Next::Mpls(off),
        PPPOE_SESSION => pppoe_session(frame, off, layers),
        t if t <= MAX_8023_LENGTH => Next::Llc(off),
        _ => Next::NonIp,
    }
}

/// A PPPoE session header (ver/type, code, session id, length) then the PPP
/// protocol.
fn pppoe_session(frame: &[u8], off: usize, layers: &mut Layers) -> Next {
    layers.insert(Layers::PPPOE);
    let Some(&ver_type) = frame.get(off) else {
        return Next::Truncated;
    };
    match be16(frame, off + 6) {
        None => Next::Truncated,
        Some(_) if ver_type != 0x11 => Next::NonIp,
        Some(p) => ppp_protocol(p, off + 8),
    }
}

/// An 802.2 LLC header; only SNAP (AA AA 03, OUI, EtherType) leads anywhere.
pub(crate) fn llc(frame: &[u8], off: usize, layers: &mut Layers) -> Next {
    match frame.get(off..off + 3) {
        None => Next::Truncated,
        Some([0xAA, 0xAA, 0x03]) => {
            layers.insert(Layers::LLC_SNAP);
            match be16(frame, off + 6) {
                Some(t) if t > MAX_8023_LENGTH => Next::EtherType(t, off + 8),
                Some(_) => Next::NonIp,
                None => Next::Truncated,
            }
        }
        Some(_) => Next::NonIp,
    }
}

/// An MPLS label stack; after the bottom of stack the payload is IPv4 or IPv6
/// by its first nibble, anything else (pseudowires) is not IP.
pub(crate) fn mpls(frame: &[u8], mut off: usize, layers: &mut Layers) -> Next {
    layers.insert(Layers::MPLS);
    loop {
        let Some(entry) = frame.get(off..off + 4) else {
            return Next::Truncated;
        };
        off += 4;
        if entry[2] & 0x01 != 0 {
            break;
        }
    }
    match frame.get(off).map(|b| b >> 4) {
        Some(4) => Next::Ipv4(off),
        Some(6) => Next::Ipv6(off),
        Some(_) => Next::NonIp,
        None => Next::Truncated,
    }
}

/// A PPP header: optional address/control (FF 03), then a 1- or 2-byte protocol.
pub(crate) fn ppp(frame: &[u8], mut off: usize) -> Next {
    if frame.get(off..off + 2) == Some(&[0xFF, 0x03]) {
        off += 2;
    }
    match frame.get(off) {
        None => Next::Truncated,
        // Protocol field compression: an odd first byte is a 1-byte protocol.
        Some(&p) if p & 1 == 1 => ppp_protocol(u16::from(p), off + 1),
        Some(_) => match be16(frame, off) {
            Some(p) => ppp_protocol(p, off + 2),
            None => Next::Truncated,
        },
    }
}

fn ppp_protocol(p: u16, off: usize) -> Next {
    match p {
        0x0021 => Next::Ipv4(off),
        0x0057 => Next::Ipv6(off),
        0x0281 | 0x0283 => Next::Mpls(off),
        _ => Next::NonIp,
    }
}

#[cfg(test)]
mod tests {
    use crate::decode::linktype::ETHERNET;
    use crate::decode::testutil::*;
    use crate::decode::{Layers, Outcome, Undecodable};

    fn v4_icmp() -> Vec<u8> {
        ipv4(1, A4, B4, &icmp())
    }

    #[test]
    fn single_vlan_tag() {
        let d = dec(ETHERNET, &eth_tagged(&[(0x8100, 10)], 0x0800, &v4_icmp()));
        assert!(d.layers.contains(Layers::VLAN));
        let p = ip_of(d);
        assert_eq!((p.protocol, p.bytes, p.l2_len), (1, 28, 18));
        assert_eq!((p.src_port, p.dst_port), (0, 0));
    }

    #[test]
    fn qinq_and_stacked_tags() {
        for tags in [
            vec![(0x88A8, 100), (0x8100, 10)],
            vec![(0x9100, 8), (0x8100, 10), (0x8100, 20), (0x8100, 30)],
        ] {
            let frame = eth_tagged(&tags, 0x86DD, &ipv6(58, A6, B6, &[128, 0, 0, 0]));
            let d = dec(ETHERNET, &frame);
            assert!(d.layers.contains(Layers::VLAN));
            let p = ip_of(d);
            assert_eq!((p.src, p.protocol), (ip6(A6), 58));
            assert_eq!(p.l2_len as usize, 14 + 4 * tags.len());
        }
        // A tag cut short.
        let frame = eth_tagged(&[(0x8100, 10)], 0x0800, &[]);
        let d = dec(ETHERNET, &frame[..16]);
        assert_eq!(d.outcome, Outcome::Undecodable(Undecodable::TruncatedLink));
        // ARP inside a tag is still not IP, but the tag is counted.
        let d = dec(ETHERNET, &eth_tagged(&[(0x8100, 10)], 0x0806, &[0; 28]));
        assert_eq!(d.outcome, Outcome::NonIp);
        assert!(d.layers.contains(Layers::VLAN));
    }

    #[test]
    fn mpls_label_stacks() {
        let d = dec(ETHERNET, &eth(0x8847, &mpls(&[100], &v4_icmp())));
        assert!(d.layers.contains(Layers::MPLS));
        assert_eq!(ip_of(d).l2_len, 18);
        let v6 = ipv6(17, A6, B6, &udp(1, 2, &[]));
        let d = dec(ETHERNET, &eth(0x8848, &mpls(&[100, 200, 300], &v6)));
        let p = ip_of(d);
        assert_eq!((p.src, p.src_port, p.l2_len), (ip6(A6), 1, 26));
        // A pseudowire control word (first nibble 0) then Ethernet: not IP.
        let pw = cat(&[&[0, 0, 0, 0], &eth(0x0800, &v4_icmp())]);
        assert_eq!(
            dec(ETHERNET, &eth(0x8847, &mpls(&[100], &pw))).outcome,
            Outcome::NonIp
        );
        // Label stack without bottom of stack.
        let d = dec(ETHERNET, &eth(0x8847, &[0, 0x64, 0, 64, 0, 0x65, 0, 64]));
        assert_eq!(d.outcome, Outcome::Undecodable(Undecodable::TruncatedLink));
    }

    fn pppoe(code: u8, ppp_proto: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0x11, code, 0x12, 0x34];
        v.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        v.extend_from_slice(&ppp_proto.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn pppoe_sessions() {
        let d = dec(ETHERNET, &eth(0x8864, &pppoe(0, 0x0021, &v4_icmp())));
        assert!(d.layers.contains(Layers::PPPOE));
        assert_eq!(ip_of(d).l2_len, 22);
        let v6 = ipv6(6, A6, B6, &tcp(1, 2, 0x12));
        let frame = eth_tagged(&[(0x88A8, 1), (0x8100, 2)], 0x8864, &pppoe(0, 0x0057, &v6));
        let d = dec(ETHERNET, &frame);
        assert!(d.layers.contains(Layers::PPPOE) && d.layers.contains(Layers::VLAN));
        let p = ip_of(d);
        assert_eq!((p.tcp_flags.value(), p.l2_len), (18, 30));
        // LCP in a session, and discovery, are not IP.
        let d = dec(ETHERNET, &eth(0x8864, &pppoe(0, 0xC021, &[1, 1, 0, 4])));
        assert_eq!(d.outcome, Outcome::NonIp);
        let d = dec(ETHERNET, &eth(0x8863, &pppoe(0x09, 0x0101, &[])));
        assert_eq!(d.outcome, Outcome::NonIp);
    }

    #[test]
    fn llc_snap() {
        let ip = v4_icmp();
        let snap = [0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00];
        let frame = eth((snap.len() + ip.len()) as u16, &cat(&[&snap, &ip]));
        let d = dec(ETHERNET, &frame);
        assert!(d.layers.contains(Layers::LLC_SNAP));
        assert_eq!(ip_of(d).l2_len, 22);
        // Spanning tree (LLC 42 42 03) is not IP.
        let d = dec(ETHERNET, &eth(38, &[0x42, 0x42, 0x03, 0, 0, 0, 0, 0]));
        assert_eq!(d.outcome, Outcome::NonIp);
        let d = dec(ETHERNET, &eth(38, &[0xAA, 0xAA]));
        assert_eq!(d.outcome, Outcome::Undecodable(Undecodable::TruncatedLink));
    }

    #[test]
    fn non_ip_ethertypes_and_short_frames() {
        for t in [0x0806, 0x88CC, 0x8863, 0x88E5, 0x8035] {
            assert_eq!(dec(ETHERNET, &eth(t, &[0; 46])).outcome, Outcome::NonIp);
        }
        let d = dec(ETHERNET, &[0; 13]);
        assert_eq!(d.outcome, Outcome::Undecodable(Undecodable::TruncatedLink));
    }
}
