//! Tunnels: recognised on an IP header, followed inward to the innermost IP
//! header (which gives the packet-level addresses). The flow key always stays
//! the outer header's.

use vpcflow_core::PacketAddrs;

use super::ip::{self, IpHeader};
use super::transport::{self, UDP};
use super::{be16, be32, locate, Fragment, Layers, Next, TunnelKind};

const GRE: u8 = 47;
const IPIP: u8 = 4;
const IPV6_IN_IP: u8 = 41;
const VXLAN_PORT: u16 = 4789;
const GENEVE_PORT: u16 = 6081;
const TEREDO_PORT: u16 = 3544;
/// Transparent Ethernet bridging (Ethernet in GRE, Geneve).
const TEB: u16 = 0x6558;
const ERSPAN_1_2: u16 = 0x88BE;
const ERSPAN_3: u16 = 0x22EB;
const PPP: u16 = 0x880B;
/// Most tunnels nested inside one another that are followed.
const MAX_DEPTH: usize = 8;

/// The tunnel the header `h` (with ports `sport`/`dport`) is, if any, and
/// where its payload starts.
#[inline]
fn detect(datagram: &[u8], h: &IpHeader, sport: u16, dport: u16) -> Option<(TunnelKind, Next)> {
    if matches!(h.fragment, Fragment::NonFirst { .. }) {
        return None;
    }
    match h.protocol {
        GRE => Some((TunnelKind::Gre, gre(datagram, h.l4))),
        IPIP => Some((TunnelKind::IpInIp, Next::Ipv4(h.l4))),
        IPV6_IN_IP => Some((TunnelKind::Ipv6InIp, Next::Ipv6(h.l4))),
        UDP => match dport {
            // VXLAN: 8-byte header (flags, VNI), then Ethernet.
            VXLAN_PORT => Some((TunnelKind::Vxlan, Next::Ethernet(h.l4 + 16))),
            GENEVE_PORT => Some((TunnelKind::Geneve, geneve(datagram, h.l4 + 8))),
            _ if sport == TEREDO_PORT || dport == TEREDO_PORT => {
                teredo(datagram, h.l4 + 8).map(|n| (TunnelKind::Teredo, n))
            }
            _ => None,
        },
        _ => None,
    }
}

/// Follow the tunnel the outer header `outer` may be: its kind, and the
/// addresses of the innermost IP header found inside.
#[inline]
pub(crate) fn follow(
    datagram: &[u8],
    outer: &IpHeader,
    sport: u16,
    dport: u16,
) -> (Option<TunnelKind>, Option<PacketAddrs>) {
    // Fast path: most packets are plain TCP/UDP.
    if !matches!(outer.protocol, GRE | IPIP | IPV6_IN_IP | UDP) {
        return (None, None);
    }
    let Some((kind, mut next)) = detect(datagram, outer, sport, dport) else {
        return (None, None);
    };
    (Some(kind), innermost(datagram, &mut next))
}

#[cold]
fn innermost(datagram: &[u8], next: &mut Next) -> Option<PacketAddrs> {
    let mut inner = None;
    let mut frame = datagram;
    for _ in 0..MAX_DEPTH {
        let mut scratch = Layers::empty();
        let (off, version) = match locate(frame, *next, &mut scratch) {
            Next::Ip(off) => (off, None),
            Next::Ipv4(off) => (off, Some(4)),
            Next::Ipv6(off) => (off, Some(6)),
            _ => break,
        };
        let Ok(h) = ip::parse(frame, off, version) else {
            break;
        };
        inner = Some(PacketAddrs {
            src: h.src,
            dst: h.dst,
        });
        frame = &frame[..h.end];
        let (s, d) = transport::ports(frame, &h).unwrap_or((0, 0));
        match detect(frame, &h, s, d) {
            Some((_, n)) => *next = n,
            None => break,
        }
    }
    inner
}

/// A GRE header at `off` (RFC 2784/2890 version 0, or the PPTP version 1).
fn gre(datagram: &[u8], off: usize) -> Next {
    let (Some(flags), Some(protocol)) = (be16(datagram, off), be16(datagram, off + 2)) else {
        return Next::Truncated;
    };
    let checksum = flags & 0x8000 != 0;
    let routing = flags & 0x4000 != 0;
    let key = flags & 0x2000 != 0;
    let sequence = flags & 0x1000 != 0;
    let payload = match flags & 0x0007 {
        0 if !routing => {
            off + 4 + 4 * (usize::from(checksum) + usize::from(key) + usize::from(sequence))
        }
        // Enhanced GRE (PPTP): key always present, sequence and ack optional.
        1 if protocol == PPP => {
            let ack = flags & 0x0080 != 0;
            off + 8 + 4 * (usize::from(sequence) + usize::from(ack))
        }
        _ => return Next::NonIp,
    };
    match protocol {
        TEB => Next::Ethernet(payload),
        PPP => Next::Ppp(payload),
        // ERSPAN type II has a sequence number and an 8-byte header; type I has
        // neither, the mirrored frame follows GRE directly.
        ERSPAN_1_2 if sequence => Next::Ethernet(payload + 8),
        ERSPAN_1_2 => Next::Ethernet(payload),
        ERSPAN_3 => erspan3(datagram, payload),
        // IPv4, IPv6, MPLS; anything else (Aruba, WCCP...) ends as not IP.
        t => Next::EtherType(t, payload),
    }
}

/// ERSPAN type III: 12-byte header, an 8-byte platform-specific subheader when
/// the O flag is set; frame type 0 is Ethernet, 2 is IP.
fn erspan3(datagram: &[u8], off: usize) -> Next {
    let Some(word) = be32(datagram, off + 8) else {
        return Next::Truncated;
    };
    let payload = off + 12 + if word & 1 != 0 { 8 } else { 0 };
    match (word >> 10) & 0x1F {
        0 => Next::Ethernet(payload),
        2 => Next::Ip(payload),
        _ => Next::NonIp,
    }
}

/// Geneve: 8-byte base header with the options length (4-byte words) and the
/// protocol type of the payload.
fn geneve(datagram: &[u8], off: usize) -> Next {
    let (Some(&first), Some(protocol)) = (datagram.get(off), be16(datagram, off + 2)) else {
        return Next::Truncated;
    };
    if first >> 6 != 0 {
        return Next::NonIp;
    }
    let payload = off + 8 + usize::from(first & 0x3F) * 4;
    match protocol {
        TEB => Next::Ethernet(payload),
        t => Next::EtherType(t, payload),
    }
}

/// Teredo: optional authentication and origin indications, then IPv6. `None`
/// when no IPv6 header follows (the UDP packet is then not counted as Teredo).
fn teredo(datagram: &[u8], mut off: usize) -> Option<Next> {
    if be16(datagram, off)? == 0x0001 {
        // Authentication: 0x0001, id length, auth length, id, auth, nonce (8),
        // confirmation (1).
        let id_len = usize::from(*datagram.get(off + 2)?);
        let auth_len = usize::from(*datagram.get(off + 3)?);
        off += 4 + id_len + auth_len + 9;
    }
    if be16(datagram, off)? == 0x0000 {
        // Origin indication: 0x0000, port (2), address (4).
        off += 8;
    }
    (datagram.get(off)? >> 4 == 6).then_some(Next::Ipv6(off))
}

#[cfg(test)]
mod tests {
    use vpcflow_core::PacketAddrs;

    use crate::decode::linktype::{ETHERNET, RAW};
    use crate::decode::testutil::*;
    use crate::decode::{decode, TunnelKind};

    fn inner_v4() -> Vec<u8> {
        ipv4(6, C4, D4, &tcp(80, 1234, 0x02))
    }

    fn inner_addrs() -> Option<PacketAddrs> {
        Some(PacketAddrs {
            src: ip(C4),
            dst: ip(D4),
        })
    }

    /// Decode an outer IPv4 packet of protocol `proto` around `payload`.
    fn outer(proto: u8, payload: &[u8]) -> crate::decode::IpPacket {
        ip_of(dec(ETHERNET, &eth(0x0800, &ipv4(proto, A4, B4, payload))))
    }

    #[test]
    fn gre_carrying_ip() {
        for flags in [0x0000, 0x2000, 0x8000 | 0x2000 | 0x1000] {
            let p = outer(47, &gre(flags, 0x0800, &inner_v4()));
            assert_eq!((p.src, p.dst, p.protocol), (ip(A4), ip(B4), 47));
            assert_eq!((p.src_port, p.dst_port, p.tcp_flags.value()), (0, 0, 0));
            assert_eq!((p.tunnel, p.inner), (Some(TunnelKind::Gre), inner_addrs()));
        }
        let v6 = ipv6(17, A6, B6, &udp(1, 2, &[]));
        let p = outer(47, &gre(0, 0x86DD, &v6));
        assert_eq!(p.inner.unwrap().src, ip6(A6));
    }

    #[test]
    fn gre_carrying_ethernet_mpls_and_erspan() {
        let l2 = eth_tagged(&[(0x8100, 7)], 0x0800, &inner_v4());
        let cases = [
            gre(0, 0x6558, &l2),
            gre(0x2000, 0x8847, &mpls(&[16, 17], &inner_v4())),
            // ERSPAN type I: no sequence number, no ERSPAN header.
            gre(0, 0x88BE, &l2),
            // ERSPAN type II: sequence number and an 8-byte header.
            gre(0x1000, 0x88BE, &cat(&[&[0x10, 0, 0, 1, 0, 0, 0, 0], &l2])),
            // ERSPAN type III, frame type Ethernet, without and with the
            // platform subheader.
            gre(
                0x1000,
                0x22EB,
                &cat(&[&[0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0], &l2]),
            ),
            gre(
                0x1000,
                0x22EB,
                &cat(&[&[0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1], &[0; 8], &l2]),
            ),
            // ERSPAN type III, frame type IP.
            gre(
                0x1000,
                0x22EB,
                &cat(&[&[0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x08, 0], &inner_v4()]),
            ),
        ];
        for (i, payload) in cases.iter().enumerate() {
            let p = outer(47, payload);
            assert_eq!(p.tunnel, Some(TunnelKind::Gre), "case {i}");
            assert_eq!(p.inner, inner_addrs(), "case {i}");
        }
        // PPTP enhanced GRE (version 1) carrying PPP.
        let mut pptp = vec![0x30, 0x81, 0x88, 0x0B, 0, 40, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0];
        pptp.extend_from_slice(&[0xFF, 0x03, 0x00, 0x21]);
        pptp.extend_from_slice(&inner_v4());
        assert_eq!(outer(47, &pptp).inner, inner_addrs());
        // Aruba and other payloads: a GRE tunnel with nothing IP found.
        let p = outer(47, &gre(0, 0x8200, &[0; 40]));
        assert_eq!((p.tunnel, p.inner), (Some(TunnelKind::Gre), None));
    }

    #[test]
    fn vxlan_geneve_and_their_ports() {
        let l2 = eth(0x0800, &inner_v4());
        let vxlan = cat(&[&[0x08, 0, 0, 0, 0, 0, 42, 0], &l2]);
        let p = outer(17, &udp(55555, 4789, &vxlan));
        assert_eq!((p.src_port, p.dst_port, p.protocol), (55555, 4789, 17));
        assert_eq!(
            (p.tunnel, p.inner),
            (Some(TunnelKind::Vxlan), inner_addrs())
        );
        // Only the destination port says VXLAN.
        let p = outer(17, &udp(4789, 55555, &vxlan));
        assert_eq!((p.tunnel, p.inner), (None, None));
        // Geneve with 8 bytes of options, Ethernet payload; and IP payload.
        let geneve = cat(&[&[0x02, 0, 0x65, 0x58, 0, 0, 1, 0], &[0; 8], &l2]);
        let p = outer(17, &udp(1000, 6081, &geneve));
        assert_eq!(
            (p.tunnel, p.inner),
            (Some(TunnelKind::Geneve), inner_addrs())
        );
        let geneve_ip = cat(&[&[0, 0, 0x08, 0x00, 0, 0, 1, 0], &inner_v4()]);
        let p = outer(17, &udp(1000, 6081, &geneve_ip));
        assert_eq!(p.inner, inner_addrs());
    }

    #[test]
    fn ip_in_ip_and_teredo() {
        let p = outer(4, &inner_v4());
        assert_eq!(
            (p.tunnel, p.inner),
            (Some(TunnelKind::IpInIp), inner_addrs())
        );
        let v6 = ipv6(58, A6, B6, &[128, 0, 0, 0]);
        let p = outer(41, &v6);
        assert_eq!(p.tunnel, Some(TunnelKind::Ipv6InIp));
        assert_eq!(p.inner.unwrap().dst, ip6(B6));
        // Teredo with an authentication and an origin indication.
        let auth = [0, 1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0];
        let origin = [0, 0, 0x12, 0x34, 1, 2, 3, 4];
        let p = outer(17, &udp(3544, 50000, &cat(&[&auth, &origin, &v6])));
        assert_eq!((p.src_port, p.tunnel), (3544, Some(TunnelKind::Teredo)));
        assert_eq!(p.inner.unwrap().src, ip6(A6));
        // Port 3544 without IPv6 inside is plain UDP.
        let p = outer(17, &udp(50000, 3544, &[0x45; 40]));
        assert_eq!((p.tunnel, p.inner), (None, None));
    }

    #[test]
    fn nested_tunnels_give_the_innermost_addresses() {
        let l2 = eth(0x0800, &inner_v4());
        let vxlan = cat(&[&[0x08, 0, 0, 0, 0, 0, 42, 0], &l2]);
        let middle = ipv4(17, B4, A4, &udp(1, 4789, &vxlan));
        let p = outer(47, &gre(0, 0x0800, &middle));
        assert_eq!((p.tunnel, p.inner), (Some(TunnelKind::Gre), inner_addrs()));
        // Cut inside the innermost header: the middle one is the innermost found.
        let frame = eth(0x0800, &ipv4(47, A4, B4, &gre(0, 0x0800, &middle)));
        let cut = frame.len() - 30;
        let p = ip_of(decode(ETHERNET, &frame[..cut], frame.len() as u32));
        assert_eq!(p.tunnel, Some(TunnelKind::Gre));
        assert_eq!(
            p.inner,
            Some(PacketAddrs {
                src: ip(B4),
                dst: ip(A4)
            })
        );
    }

    #[test]
    fn later_fragments_are_not_tunnels() {
        let pkt = ipv4_full(47, A4, B4, 1, 0x0010, &[], &gre(0, 0x0800, &inner_v4()));
        let p = ip_of(dec(RAW, &pkt));
        assert_eq!((p.tunnel, p.inner), (None, None));
    }
}
