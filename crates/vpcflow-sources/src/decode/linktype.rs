//! Link-layer types (the pcap `LINKTYPE_*` numbers) and their first header.

use super::{be16, Next};

/// BSD loopback: a 4-byte address family in the capturing host's byte order.
pub const NULL: u32 = 0;
/// Ethernet (and 802.3).
pub const ETHERNET: u32 = 1;
/// PPP, with or without the HDLC address/control bytes.
pub const PPP: u32 = 9;
/// Raw IP on most systems (`DLT_RAW` is 12 outside OpenBSD).
pub const RAW_12: u32 = 12;
/// Raw IP on OpenBSD (`DLT_RAW` is 14 there).
pub const RAW_14: u32 = 14;
/// PPP in HDLC-like framing.
pub const PPP_HDLC: u32 = 50;
/// Raw IP, version by the first nibble.
pub const RAW: u32 = 101;
/// Cisco HDLC.
pub const C_HDLC: u32 = 104;
/// OpenBSD loopback: like [`NULL`] with the family in network byte order.
pub const LOOP: u32 = 108;
/// Linux "cooked" capture, version 1.
pub const LINUX_SLL: u32 = 113;
/// Raw IPv4.
pub const IPV4: u32 = 228;
/// Raw IPv6.
pub const IPV6: u32 = 229;
/// Linux "cooked" capture, version 2.
pub const LINUX_SLL2: u32 = 276;

/// Whether [`decode`](super::decode) understands link type `linktype`.
pub fn is_supported(linktype: u32) -> bool {
    matches!(
        linktype,
        NULL | ETHERNET
            | PPP
            | RAW_12
            | RAW_14
            | PPP_HDLC
            | RAW
            | C_HDLC
            | LOOP
            | LINUX_SLL
            | IPV4
            | IPV6
            | LINUX_SLL2
    )
}

/// The first header of a frame of this link type.
#[inline]
pub(crate) fn first_header(linktype: u32, frame: &[u8]) -> Next {
    match linktype {
        ETHERNET => Next::Ethernet(0),
        RAW | RAW_12 | RAW_14 => Next::Ip(0),
        NULL | LOOP => null_family(frame),
        LINUX_SLL => sll(frame),
        LINUX_SLL2 => sll2(frame),
        IPV4 => Next::Ipv4(0),
        IPV6 => Next::Ipv6(0),
        PPP | PPP_HDLC => Next::Ppp(0),
        C_HDLC => match be16(frame, 2) {
            Some(t) => Next::EtherType(t, 4),
            None => Next::Truncated,
        },
        _ => Next::Unsupported,
    }
}

/// BSD `AF_*` values of the family word (NULL: host byte order; LOOP: network
/// byte order, but both orders are accepted for both).
fn family(v: u32) -> Option<Next> {
    match v {
        2 => Some(Next::Ipv4(4)),
        // AF_INET6 on NetBSD/OpenBSD (24), FreeBSD/DragonFly (28), macOS (30).
        24 | 28 | 30 => Some(Next::Ipv6(4)),
        _ => None,
    }
}

fn null_family(frame: &[u8]) -> Next {
    let Some(w) = frame.get(..4) else {
        return Next::Truncated;
    };
    let w = [w[0], w[1], w[2], w[3]];
    family(u32::from_le_bytes(w))
        .or_else(|| family(u32::from_be_bytes(w)))
        .unwrap_or(Next::NonIp)
}

/// The protocol field of SLL/SLL2: an EtherType, or a small value telling
/// what follows (4: an 802.2 LLC frame; others are not IP).
fn sll_protocol(protocol: u16, off: usize) -> Next {
    match protocol {
        0x0004 => Next::Llc(off),
        p if p >= 0x0600 => Next::EtherType(p, off),
        _ => Next::NonIp,
    }
}

/// SLL: packet type (2), ARPHRD type (2), address length (2), address (8),
/// protocol (2).
fn sll(frame: &[u8]) -> Next {
    if frame.len() < 16 {
        return Next::Truncated;
    }
    match be16(frame, 14) {
        Some(p) => sll_protocol(p, 16),
        None => Next::Truncated,
    }
}

/// SLL2: protocol (2), reserved (2), interface index (4), ARPHRD type (2),
/// packet type (1), address length (1), address (8).
fn sll2(frame: &[u8]) -> Next {
    if frame.len() < 20 {
        return Next::Truncated;
    }
    match be16(frame, 0) {
        Some(p) => sll_protocol(p, 20),
        None => Next::Truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::testutil::*;
    use crate::decode::{Layers, Outcome, Undecodable};

    fn v4_tcp() -> Vec<u8> {
        ipv4(6, A4, B4, &tcp(1234, 80, 0x02))
    }

    fn v6_udp() -> Vec<u8> {
        ipv6(17, A6, B6, &udp(5353, 53, b"hello"))
    }

    #[test]
    fn ethernet_ipv4_tcp() {
        let p = ip_of(dec(ETHERNET, &eth(0x0800, &v4_tcp())));
        assert_eq!((p.src, p.dst), (ip(A4), ip(B4)));
        assert_eq!((p.src_port, p.dst_port, p.protocol), (1234, 80, 6));
        assert_eq!((p.bytes, p.l2_len, p.tcp_flags.value()), (40, 14, 2));
        assert_eq!((p.tunnel, p.inner), (None, None));
    }

    #[test]
    fn raw_ip_link_types() {
        for lt in [RAW, RAW_12, RAW_14] {
            let p = ip_of(dec(lt, &v4_tcp()));
            assert_eq!((p.protocol, p.l2_len, p.bytes), (6, 0, 40));
            let p = ip_of(dec(lt, &v6_udp()));
            assert_eq!((p.src, p.dst_port, p.bytes), (ip6(A6), 53, 53));
        }
        assert_eq!(ip_of(dec(IPV4, &v4_tcp())).src, ip(A4));
        assert_eq!(ip_of(dec(IPV6, &v6_udp())).src, ip6(A6));
        // The link type announces the version: a mismatch is undecodable.
        let d = dec(IPV4, &v6_udp());
        assert_eq!(d.outcome, Outcome::Undecodable(Undecodable::BadIpVersion));
        let d = dec(RAW, &[0x50; 40]);
        assert_eq!(d.outcome, Outcome::Undecodable(Undecodable::BadIpVersion));
        assert_eq!(
            dec(RAW, &[]).outcome,
            Outcome::Undecodable(Undecodable::TruncatedIp)
        );
    }

    #[test]
    fn null_and_loop_family_in_both_byte_orders() {
        for lt in [NULL, LOOP] {
            for family in [2u32.to_le_bytes(), 2u32.to_be_bytes()] {
                let p = ip_of(dec(lt, &cat(&[&family, &v4_tcp()])));
                assert_eq!((p.src, p.l2_len), (ip(A4), 4));
            }
            for af in [24u32, 28, 30] {
                for family in [af.to_le_bytes(), af.to_be_bytes()] {
                    let p = ip_of(dec(lt, &cat(&[&family, &v6_udp()])));
                    assert_eq!((p.src, p.l2_len), (ip6(A6), 4));
                }
            }
            // AF_APPLETALK and friends are not IP.
            let d = dec(lt, &cat(&[&16u32.to_le_bytes(), &v4_tcp()]));
            assert_eq!(d.outcome, Outcome::NonIp);
            let d = dec(lt, &[2, 0, 0]);
            assert_eq!(d.outcome, Outcome::Undecodable(Undecodable::TruncatedLink));
        }
    }

    fn sll_header(protocol: u16) -> Vec<u8> {
        let mut h = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
        h.extend_from_slice(&protocol.to_be_bytes());
        h
    }

    fn sll2_header(protocol: u16) -> Vec<u8> {
        let mut h = protocol.to_be_bytes().to_vec();
        h.extend_from_slice(&[0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
        h
    }

    #[test]
    fn linux_cooked_v1_and_v2() {
        let p = ip_of(dec(LINUX_SLL, &cat(&[&sll_header(0x0800), &v4_tcp()])));
        assert_eq!((p.src_port, p.l2_len), (1234, 16));
        let p = ip_of(dec(LINUX_SLL, &cat(&[&sll_header(0x86DD), &v6_udp()])));
        assert_eq!((p.src, p.l2_len), (ip6(A6), 16));
        let p = ip_of(dec(LINUX_SLL2, &cat(&[&sll2_header(0x0800), &v4_tcp()])));
        assert_eq!((p.dst_port, p.l2_len), (80, 20));
        // VLAN tags may be left in by some drivers.
        let tagged = cat(&[&sll_header(0x8100), &[0, 5, 0x08, 0x00], &v4_tcp()]);
        let d = dec(LINUX_SLL, &tagged);
        assert!(d.layers.contains(Layers::VLAN));
        assert_eq!(ip_of(d).l2_len, 20);
        // Protocol 4: an 802.2 frame, here LLC/SNAP carrying IPv4.
        let snap = [0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00];
        let p = ip_of(dec(LINUX_SLL, &cat(&[&sll_header(4), &snap, &v4_tcp()])));
        assert_eq!(p.l2_len, 24);
        for lt_frame in [
            (LINUX_SLL, cat(&[&sll_header(0x0806), &[0; 28]])),
            (LINUX_SLL, cat(&[&sll_header(0x0001), &[0; 28]])),
            (LINUX_SLL2, cat(&[&sll2_header(0x88CC), &[0; 28]])),
        ] {
            assert_eq!(dec(lt_frame.0, &lt_frame.1).outcome, Outcome::NonIp);
        }
        assert_eq!(
            dec(LINUX_SLL, &sll_header(0x0800)[..15]).outcome,
            Outcome::Undecodable(Undecodable::TruncatedLink)
        );
        assert_eq!(
            dec(LINUX_SLL2, &sll2_header(0x0800)[..19]).outcome,
            Outcome::Undecodable(Undecodable::TruncatedLink)
        );
    }

    #[test]
    fn ppp_and_hdlc() {
        let p = ip_of(dec(PPP, &cat(&[&[0xFF, 0x03, 0x00, 0x21], &v4_tcp()])));
        assert_eq!(p.l2_len, 4);
        // Address/control omitted, protocol compressed to one byte.
        let p = ip_of(dec(PPP, &cat(&[&[0x21], &v4_tcp()])));
        assert_eq!(p.l2_len, 1);
        let p = ip_of(dec(PPP_HDLC, &cat(&[&[0xFF, 0x03, 0x00, 0x57], &v6_udp()])));
        assert_eq!((p.src, p.l2_len), (ip6(A6), 4));
        // LCP is not IP.
        let d = dec(PPP_HDLC, &[0xFF, 0x03, 0xC0, 0x21, 1, 1, 0, 4]);
        assert_eq!(d.outcome, Outcome::NonIp);
        let p = ip_of(dec(C_HDLC, &cat(&[&[0x0F, 0x00, 0x08, 0x00], &v4_tcp()])));
        assert_eq!(p.l2_len, 4);
        let d = dec(C_HDLC, &[0x8F, 0x00, 0x80]);
        assert_eq!(d.outcome, Outcome::Undecodable(Undecodable::TruncatedLink));
    }

    #[test]
    fn unsupported_link_type() {
        assert!(!is_supported(127));
        let d = dec(127, &v4_tcp());
        assert_eq!(
            d.outcome,
            Outcome::Undecodable(Undecodable::UnsupportedLinktype)
        );
    }
}
