//! IPv4 and IPv6 headers, IPv6 extension headers, fragments.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{be16, be32, Fragment, Undecodable};

/// What the flow needs from one IP header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IpHeader {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Upper-layer protocol (after IPv6 extension headers; the header type where
    /// the extension chain was cut short, 50 for ESP, 59 for no next header).
    pub protocol: u8,
    /// IPv4 total length, or IPv6 payload length + 40; 0 when the field is 0.
    pub length: u32,
    /// Offset of the upper-layer header in the frame.
    pub l4: usize,
    /// End of the datagram's captured bytes in the frame (never past the frame).
    pub end: usize,
    pub fragment: Fragment,
    /// IPv6 extension headers were present.
    pub ext_headers: bool,
}

/// Parse the IP header at `off`. `version` is the version announced by the
/// encapsulation (`None`: by the first nibble).
#[inline]
pub(crate) fn parse(
    frame: &[u8],
    off: usize,
    version: Option<u8>,
) -> Result<IpHeader, Undecodable> {
    let Some(&first) = frame.get(off) else {
        return Err(Undecodable::TruncatedIp);
    };
    let found = first >> 4;
    match (version, found) {
        (None | Some(4), 4) => ipv4(frame, off),
        (None | Some(6), 6) => ipv6(frame, off),
        _ => Err(Undecodable::BadIpVersion),
    }
}

/// End of a datagram of `length` bytes at `off`, clipped to what was captured;
/// a length field smaller than the header (including 0) means "all captured".
#[inline]
fn datagram_end(frame: &[u8], off: usize, header: usize, length: usize) -> usize {
    if length >= header {
        frame.len().min(off + length)
    } else {
        frame.len()
    }
}

#[inline]
fn ipv4(frame: &[u8], off: usize) -> Result<IpHeader, Undecodable> {
    let Some(h) = frame.get(off..off + 20) else {
        return Err(Undecodable::TruncatedIp);
    };
    let ihl = usize::from(h[0] & 0x0F) * 4;
    if ihl < 20 {
        return Err(Undecodable::BadIhl);
    }
    if frame.len() < off + ihl {
        return Err(Undecodable::TruncatedIp);
    }
    let length = u16::from_be_bytes([h[2], h[3]]);
    let id = u16::from_be_bytes([h[4], h[5]]);
    let flags_offset = u16::from_be_bytes([h[6], h[7]]);
    let more_fragments = flags_offset & 0x2000 != 0;
    let fragment = if flags_offset & 0x1FFF != 0 {
        Fragment::NonFirst { id: u32::from(id) }
    } else if more_fragments {
        Fragment::First { id: u32::from(id) }
    } else {
        Fragment::None
    };
    let src = Ipv4Addr::new(h[12], h[13], h[14], h[15]);
    let dst = Ipv4Addr::new(h[16], h[17], h[18], h[19]);
    Ok(IpHeader {
        src: IpAddr::V4(src),
        dst: IpAddr::V4(dst),
        protocol: h[9],
        length: u32::from(length),
        l4: off + ihl,
        end: datagram_end(frame, off, ihl, usize::from(length)),
        fragment,
        ext_headers: false,
    })
}

const HOP_BY_HOP: u8 = 0;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const DESTINATION: u8 = 60;
const AUTH: u8 = 51;
/// Most IPv6 extension headers followed.
const MAX_EXT_HEADERS: usize = 16;

#[inline]
fn ipv6(frame: &[u8], off: usize) -> Result<IpHeader, Undecodable> {
    let Some(h) = frame.get(off..off + 40) else {
        return Err(Undecodable::TruncatedIp);
    };
    let payload = u16::from_be_bytes([h[4], h[5]]);
    let mut src = [0u8; 16];
    src.copy_from_slice(&h[8..24]);
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&h[24..40]);
    let length = if payload == 0 {
        0
    } else {
        u32::from(payload) + 40
    };
    let end = datagram_end(frame, off, 40, length as usize);
    let mut header = IpHeader {
        src: IpAddr::V6(Ipv6Addr::from(src)),
        dst: IpAddr::V6(Ipv6Addr::from(dst)),
        protocol: h[6],
        length,
        l4: off + 40,
        end,
        fragment: Fragment::None,
        ext_headers: false,
    };
    extension_headers(&frame[..end], &mut header);
    Ok(header)
}

/// Walk the extension headers from `header.l4`, leaving `protocol` and `l4` on
/// the upper-layer header (or on the header where the walk had to stop).
#[inline]
fn extension_headers(frame: &[u8], header: &mut IpHeader) {
    for _ in 0..MAX_EXT_HEADERS {
        let off = header.l4;
        let len = match header.protocol {
            HOP_BY_HOP | ROUTING | DESTINATION => match frame.get(off + 1) {
                Some(&l) => (usize::from(l) + 1) * 8,
                None => return,
            },
            AUTH => match frame.get(off + 1) {
                Some(&l) => (usize::from(l) + 2) * 4,
                None => return,
            },
            FRAGMENT => {
                let (Some(&next), Some(fo), Some(id)) =
                    (frame.get(off), be16(frame, off + 2), be32(frame, off + 4))
                else {
                    return;
                };
                header.ext_headers = true;
                if fo & 0xFFF8 != 0 {
                    // A later fragment: nothing after this header is a header.
                    header.fragment = Fragment::NonFirst { id };
                    header.protocol = next;
                    header.l4 = off + 8;
                    return;
                }
                if fo & 1 != 0 {
                    header.fragment = Fragment::First { id };
                }
                8
            }
            _ => return,
        };
        let Some(&next) = frame.get(off) else {
            return;
        };
        header.ext_headers = true;
        header.protocol = next;
        header.l4 = off + len;
    }
}

#[cfg(test)]
mod tests {
    use crate::decode::linktype::{ETHERNET, RAW};
    use crate::decode::testutil::*;
    use crate::decode::{decode, Fragment, Layers, Outcome, Undecodable};

    #[test]
    fn ipv4_options_move_the_transport_header() {
        let opts = [0x94, 0x04, 0, 0, 1, 1, 1, 0]; // router alert, NOPs, EOL
        let pkt = ipv4_full(17, A4, B4, 7, 0, &opts, &udp(53, 4000, b"x"));
        let p = ip_of(dec(RAW, &pkt));
        assert_eq!((p.src_port, p.dst_port, p.bytes), (53, 4000, 37));
    }

    #[test]
    fn invalid_or_truncated_ipv4_headers_are_undecodable() {
        let good = ipv4(6, A4, B4, &tcp(1, 2, 0));
        let mut bad_ihl = good.clone();
        bad_ihl[0] = 0x44;
        let mut bad_version = good.clone();
        bad_version[0] = 0x55;
        let with_opts = ipv4_full(6, A4, B4, 0, 0, &[1, 1, 1, 1], &[]);
        for (frame, why) in [
            (bad_ihl, Undecodable::BadIhl),
            (bad_version, Undecodable::BadIpVersion),
            (good[..19].to_vec(), Undecodable::TruncatedIp),
            (with_opts[..22].to_vec(), Undecodable::TruncatedIp),
        ] {
            let d = dec(ETHERNET, &eth(0x0800, &frame));
            assert_eq!(d.outcome, Outcome::Undecodable(why));
        }
        // IPv6 EtherType with an IPv4 header.
        let d = dec(ETHERNET, &eth(0x86DD, &good));
        assert_eq!(d.outcome, Outcome::Undecodable(Undecodable::BadIpVersion));
        let v6 = ipv6(6, A6, B6, &[]);
        let d = dec(ETHERNET, &eth(0x86DD, &v6[..39]));
        assert_eq!(d.outcome, Outcome::Undecodable(Undecodable::TruncatedIp));
    }

    #[test]
    fn tso_zero_length_uses_the_wire_length() {
        let mut pkt = ipv4(6, A4, B4, &tcp(1, 2, 0x10));
        pkt[2] = 0;
        pkt[3] = 0;
        let frame = eth(0x0800, &pkt);
        let d = decode(ETHERNET, &frame, 9014);
        assert!(d.layers.contains(Layers::IP_LEN_ZERO));
        assert!(d.layers.contains(Layers::SNAPPED));
        let p = ip_of(d);
        assert_eq!((p.bytes, p.src_port), (9000, 1));
        // IPv6 with payload length 0 as well.
        let mut v6 = ipv6(17, A6, B6, &udp(1, 2, &[0; 10]));
        v6[4] = 0;
        v6[5] = 0;
        let p = ip_of(decode(ETHERNET, &eth(0x86DD, &v6), 1514));
        assert_eq!((p.bytes, p.dst_port), (1500, 2));
    }

    #[test]
    fn length_comes_from_the_ip_header_not_the_frame() {
        // Ethernet padding after a short datagram, and a snapped frame.
        let mut frame = eth(0x0800, &ipv4(1, A4, B4, &icmp()));
        frame.extend_from_slice(&[0; 18]);
        let p = ip_of(dec(ETHERNET, &frame));
        assert_eq!(p.bytes, 28);
        let big = ipv4(17, A4, B4, &udp(1, 2, &[7; 1400]));
        let d = decode(ETHERNET, &eth(0x0800, &big)[..64], 1442);
        assert!(d.layers.contains(Layers::SNAPPED));
        let p = ip_of(d);
        assert_eq!((p.bytes, p.src_port, p.dst_port), (1428, 1, 2));
    }

    #[test]
    fn ipv4_fragments() {
        let first = ipv4_full(17, A4, B4, 99, 0x2000, &[], &udp(1000, 2000, &[0; 16]));
        let p = ip_of(dec(RAW, &first));
        assert_eq!(p.fragment, Fragment::First { id: 99 });
        assert_eq!((p.src_port, p.dst_port), (1000, 2000));
        let later = ipv4_full(17, A4, B4, 99, 0x0003, &[], &[0xAB; 16]);
        let p = ip_of(dec(RAW, &later));
        assert_eq!(p.fragment, Fragment::NonFirst { id: 99 });
        assert_eq!(
            (p.protocol, p.src_port, p.dst_port, p.bytes),
            (17, 0, 0, 36)
        );
        let last_with_mf = ipv4_full(6, A4, B4, 5, 0x2010, &[], &tcp(1, 2, 2));
        let p = ip_of(dec(RAW, &last_with_mf));
        assert_eq!(
            (p.fragment, p.tcp_flags.value()),
            (Fragment::NonFirst { id: 5 }, 0)
        );
        let df = ipv4_full(6, A4, B4, 5, 0x4000, &[], &tcp(1, 2, 2));
        assert_eq!(ip_of(dec(RAW, &df)).fragment, Fragment::None);
    }

    /// An extension header of type `len_units` 8-byte units beyond the first 8.
    fn ext(next: u8, units: u8) -> Vec<u8> {
        let mut v = vec![next, units];
        v.resize(8 * (usize::from(units) + 1), 0);
        v
    }

    fn frag(next: u8, offset: u16, more: bool, id: u32) -> Vec<u8> {
        let mut v = vec![next, 0];
        v.extend_from_slice(&((offset << 3) | u16::from(more)).to_be_bytes());
        v.extend_from_slice(&id.to_be_bytes());
        v
    }

    #[test]
    fn ipv6_extension_headers() {
        let payload = cat(&[&ext(43, 0), &ext(60, 1), &ext(6, 0), &tcp(443, 5000, 0x11)]);
        let d = dec(RAW, &ipv6(0, A6, B6, &payload));
        assert!(d.layers.contains(Layers::IPV6_EXT));
        let p = ip_of(d);
        assert_eq!((p.protocol, p.src_port, p.dst_port), (6, 443, 5000));
        assert_eq!((p.tcp_flags.value(), p.bytes), (1, 40 + 32 + 20));
        // AH counts its length in 4-byte units, minus 2.
        let mut ah = vec![17, 4];
        ah.resize(24, 0);
        let p = ip_of(dec(RAW, &ipv6(51, A6, B6, &cat(&[&ah, &udp(7, 8, &[])]))));
        assert_eq!((p.protocol, p.src_port), (17, 7));
        // ESP and no-next-header end the chain.
        let p = ip_of(dec(RAW, &ipv6(0, A6, B6, &cat(&[&ext(50, 0), &[0; 16]]))));
        assert_eq!((p.protocol, p.src_port), (50, 0));
        let p = ip_of(dec(RAW, &ipv6(59, A6, B6, &[])));
        assert_eq!((p.protocol, p.bytes), (59, 40));
        // A chain cut by the snap length keeps the header type it stopped at.
        let full = ipv6(0, A6, B6, &cat(&[&ext(6, 0), &tcp(1, 2, 2)]));
        let p = ip_of(decode(RAW, &full[..41], full.len() as u32));
        assert_eq!((p.protocol, p.src_port, p.bytes), (0, 0, 68));
    }

    #[test]
    fn ipv6_fragments() {
        let first = ipv6(
            44,
            A6,
            B6,
            &cat(&[&frag(17, 0, true, 0xDEAD), &udp(9, 10, &[0; 8])]),
        );
        let p = ip_of(dec(RAW, &first));
        assert_eq!(p.fragment, Fragment::First { id: 0xDEAD });
        assert_eq!((p.protocol, p.src_port, p.dst_port), (17, 9, 10));
        let later = ipv6(44, A6, B6, &cat(&[&frag(17, 185, false, 0xDEAD), &[0; 24]]));
        let d = dec(RAW, &later);
        assert!(d.layers.contains(Layers::IPV6_EXT));
        let p = ip_of(d);
        assert_eq!(p.fragment, Fragment::NonFirst { id: 0xDEAD });
        assert_eq!((p.protocol, p.src_port, p.dst_port), (17, 0, 0));
        // An atomic fragment (offset 0, no more fragments) is a whole packet.
        let atomic = ipv6(44, A6, B6, &cat(&[&frag(6, 0, false, 1), &tcp(1, 2, 4)]));
        let p = ip_of(dec(RAW, &atomic));
        assert_eq!(
            (p.fragment, p.src_port, p.tcp_flags.value()),
            (Fragment::None, 1, 4)
        );
    }
}
