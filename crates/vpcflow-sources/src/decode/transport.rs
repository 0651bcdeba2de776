//! Transport headers: ports of TCP, UDP and SCTP, flags of TCP.

use vpcflow_core::tcp_flags::TcpFlags;

use super::ip::IpHeader;
use super::{be16, Fragment};

/// IANA protocol number of TCP.
pub(crate) const TCP: u8 = 6;
/// IANA protocol number of UDP.
pub(crate) const UDP: u8 = 17;
/// IANA protocol number of SCTP.
pub(crate) const SCTP: u8 = 132;

/// Whether the header has a transport header at `l4` (not a later fragment).
#[inline]
fn has_transport_header(h: &IpHeader) -> bool {
    !matches!(h.fragment, Fragment::NonFirst { .. })
}

/// Source and destination ports: TCP, UDP and SCTP all start with them. `None`
/// for other protocols, later fragments, and when the 4 bytes were not captured.
#[inline]
pub(crate) fn ports(datagram: &[u8], h: &IpHeader) -> Option<(u16, u16)> {
    if !matches!(h.protocol, TCP | UDP | SCTP) || !has_transport_header(h) {
        return None;
    }
    Some((be16(datagram, h.l4)?, be16(datagram, h.l4 + 2)?))
}

/// The AWS flags of a TCP segment whose flags byte (offset 13) was captured.
#[inline]
pub(crate) fn tcp_flags(datagram: &[u8], h: &IpHeader) -> TcpFlags {
    if h.protocol != TCP || !has_transport_header(h) {
        return TcpFlags::NONE;
    }
    match datagram.get(h.l4 + 13) {
        Some(&raw) => TcpFlags::from_tcp_header_byte(raw),
        None => TcpFlags::NONE,
    }
}

#[cfg(test)]
mod tests {
    use crate::decode::decode;
    use crate::decode::linktype::{ETHERNET, RAW};
    use crate::decode::testutil::*;

    #[test]
    fn ports_of_tcp_udp_sctp_only() {
        let sctp = [0x0B, 0x59, 0x0B, 0x5A, 0, 0, 0, 0, 0, 0, 0, 0];
        let p = ip_of(dec(RAW, &ipv4(132, A4, B4, &sctp)));
        assert_eq!((p.src_port, p.dst_port), (2905, 2906));
        let p = ip_of(dec(RAW, &ipv4(17, A4, B4, &udp(68, 67, &[]))));
        assert_eq!((p.src_port, p.dst_port), (68, 67));
        // ICMP, IGMP, OSPF...: ports 0 whatever the bytes say.
        for proto in [1, 2, 89, 58] {
            let p = ip_of(dec(RAW, &ipv4(proto, A4, B4, &udp(68, 67, &[]))));
            assert_eq!((p.src_port, p.dst_port, p.tcp_flags.value()), (0, 0, 0));
        }
    }

    #[test]
    fn snapped_tcp_header() {
        let frame = eth(0x0800, &ipv4(6, A4, B4, &tcp(22, 50000, 0x12)));
        let wire = frame.len() as u32;
        // Ports captured, flags not.
        let p = ip_of(decode(ETHERNET, &frame[..14 + 20 + 4], wire));
        assert_eq!(
            (p.src_port, p.dst_port, p.tcp_flags.value()),
            (22, 50000, 0)
        );
        assert_eq!(p.bytes, 40);
        // Not even the ports: counted, with ports 0.
        let p = ip_of(decode(ETHERNET, &frame[..14 + 20 + 3], wire));
        assert_eq!((p.src_port, p.dst_port, p.bytes), (0, 0, 40));
        // The flags byte is the 14th.
        let p = ip_of(decode(ETHERNET, &frame[..14 + 20 + 14], wire));
        assert_eq!(p.tcp_flags.value(), 18);
    }

    #[test]
    fn transport_bytes_beyond_the_datagram_are_ignored() {
        // A 20-byte TCP/IP header claiming no payload, followed by padding.
        let mut pkt = ipv4(6, A4, B4, &[]);
        pkt.extend_from_slice(&tcp(1, 2, 2));
        let p = ip_of(dec(RAW, &pkt));
        assert_eq!((p.bytes, p.src_port, p.tcp_flags.value()), (20, 0, 0));
    }
}
