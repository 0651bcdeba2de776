//! Packet decoding: from one captured link-layer frame to the flow fields of its
//! outermost IP header, by the counting policy of the shared truth files.
//!
//! The decoder is hand-written (no crate implements this exact policy) and split
//! by layer family:
//!
//! * [`linktype`]: the link-layer type numbers understood, and the first header of
//!   each (Ethernet, raw IP, BSD NULL/LOOP, Linux SLL/SLL2, PPP, Cisco HDLC);
//! * `ether`: the EtherType chain (802.1Q/802.1ad/0x9100 tags, MPLS, PPPoE,
//!   LLC/SNAP, PPP);
//! * `ip`: IPv4 (options, fragments) and IPv6 (extension headers, fragments);
//! * `transport`: ports of TCP, UDP and SCTP, TCP flags;
//! * `tunnel`: GRE (ERSPAN, TEB, MPLS), VXLAN, Geneve, IP-in-IP, Teredo.
//!
//! Everything here is allocation-free and works on borrowed bytes; no input makes
//! it panic (a proptest feeds it random frames).
//!
//! # Counting policy
//!
//! * The key is the **outermost** IPv4/IPv6 header found after the link layer,
//!   VLAN tags, MPLS labels, PPPoE and LLC/SNAP; tunnels are not decapsulated for
//!   the key, but the innermost IP header found inside gives
//!   [`IpPacket::inner`].
//! * Ports are read for TCP, UDP and SCTP only, and only when their first four
//!   bytes were captured; they are 0 otherwise (ICMP, non-first fragments, ...).
//! * Bytes are the IPv4 total length, or the IPv6 payload length plus 40; when
//!   that field is 0 (TSO/LSO captures, jumbograms) they are the wire length minus
//!   the link-layer header length.
//! * A frame that claims to carry IP (by EtherType, PPP protocol, family word or
//!   link type) but whose IP header is incomplete or invalid (bad version, IHL < 5)
//!   is [`Outcome::Undecodable`]; so is a frame too short for its own link-layer
//!   or encapsulation headers.

mod ether;
mod ip;
pub mod linktype;
mod transport;
mod tunnel;

use std::net::IpAddr;

use vpcflow_core::tcp_flags::TcpFlags;
use vpcflow_core::{Action, FlowKey, FlowUpdate, InterfaceIndex, PacketAddrs, Timestamp};

/// The result of decoding one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// What the frame turned out to be.
    pub outcome: Outcome,
    /// Encapsulations seen in front of the outermost IP header (and other
    /// per-frame facts), for the statistics.
    pub layers: Layers,
}

/// What a frame turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An IP packet: it is counted.
    Ip(IpPacket),
    /// A frame that does not carry IP (ARP, LLDP, STP, PPPoE discovery, ...):
    /// reported in the statistics only.
    NonIp,
    /// A frame that claims to carry IP (or whose headers end early) but cannot be
    /// decoded: reported, and a loss for its interface.
    Undecodable(Undecodable),
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Undecodable {
    /// The frame ends inside a link-layer or encapsulation header (Ethernet,
    /// VLAN tag, MPLS label, PPPoE, ...).
    TruncatedLink,
    /// The frame ends inside the (IPv4 with options, or IPv6 fixed) IP header.
    TruncatedIp,
    /// The IP version nibble is not the one announced (or neither 4 nor 6).
    BadIpVersion,
    /// The IPv4 header length (IHL) is below 5.
    BadIhl,
    /// The link type is not one this decoder understands.
    UnsupportedLinktype,
}

impl Undecodable {
    /// A short name for logs and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Undecodable::TruncatedLink => "truncated link-layer header",
            Undecodable::TruncatedIp => "truncated IP header",
            Undecodable::BadIpVersion => "bad IP version",
            Undecodable::BadIhl => "bad IPv4 header length",
            Undecodable::UnsupportedLinktype => "unsupported link type",
        }
    }
}

/// The flow fields of one IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpPacket {
    /// Source address of the outermost IP header.
    pub src: IpAddr,
    /// Destination address of the outermost IP header.
    pub dst: IpAddr,
    /// IANA protocol of the outermost header (after IPv6 extension headers).
    pub protocol: u8,
    /// Source port (TCP, UDP, SCTP; else 0).
    pub src_port: u16,
    /// Destination port (TCP, UDP, SCTP; else 0).
    pub dst_port: u16,
    /// IP-layer bytes of the packet.
    pub bytes: u32,
    /// AWS TCP flags of this packet (none for other protocols).
    pub tcp_flags: TcpFlags,
    /// Fragment information of the outermost header.
    pub fragment: Fragment,
    /// The kind of the outermost tunnel, when the packet is one.
    pub tunnel: Option<TunnelKind>,
    /// Addresses of the innermost IP header found inside a tunnel; `None` when
    /// the packet is not tunnelled or nothing IP was found inside.
    pub inner: Option<PacketAddrs>,
    /// Length of the headers in front of the outermost IP header.
    pub l2_len: u32,
    /// The ports were copied from the first fragment (fragment tracking).
    pub ports_from_first_fragment: bool,
}

impl IpPacket {
    /// The observation of this one packet, seen on `interface` at `ts`.
    #[inline]
    pub fn flow_update(&self, interface: InterfaceIndex, ts: Timestamp) -> FlowUpdate {
        FlowUpdate {
            interface,
            key: FlowKey {
                src: self.src,
                dst: self.dst,
                src_port: self.src_port,
                dst_port: self.dst_port,
                protocol: self.protocol,
            },
            packet_addrs: self.inner,
            packets: 1,
            bytes: u64::from(self.bytes),
            first: ts,
            last: ts,
            tcp_flags: self.tcp_flags,
            action: Action::Accept,
            direction: None,
        }
    }
}

/// Fragment information of an IP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fragment {
    /// Not a fragment (an IPv6 "atomic fragment" counts as not a fragment).
    None,
    /// The first fragment (offset 0, more fragments follow): it has the ports.
    First {
        /// IPv4 identification, or the IPv6 fragment header identification.
        id: u32,
    },
    /// A later fragment (offset > 0): it has no transport header.
    NonFirst {
        /// IPv4 identification, or the IPv6 fragment header identification.
        id: u32,
    },
}

/// A tunnel protocol recognised on the outermost IP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TunnelKind {
    /// GRE (IP protocol 47), including ERSPAN and transparent Ethernet bridging.
    Gre,
    /// VXLAN (UDP destination port 4789).
    Vxlan,
    /// Geneve (UDP destination port 6081).
    Geneve,
    /// IPv4 in IP (IP protocol 4).
    IpInIp,
    /// IPv6 in IP (IP protocol 41).
    Ipv6InIp,
    /// Teredo (UDP port 3544 carrying IPv6).
    Teredo,
}

impl TunnelKind {
    /// Every kind, in a stable order.
    pub const ALL: [TunnelKind; 6] = [
        TunnelKind::Gre,
        TunnelKind::Vxlan,
        TunnelKind::Geneve,
        TunnelKind::IpInIp,
        TunnelKind::Ipv6InIp,
        TunnelKind::Teredo,
    ];

    /// The name used in statistics (the truth files' `tunnel_outer_packets` keys).
    pub fn as_str(self) -> &'static str {
        match self {
            TunnelKind::Gre => "gre",
            TunnelKind::Vxlan => "vxlan",
            TunnelKind::Geneve => "geneve",
            TunnelKind::IpInIp => "ipip",
            TunnelKind::Ipv6InIp => "ipv6_in_ip",
            TunnelKind::Teredo => "teredo",
        }
    }

    /// Position in [`TunnelKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Facts about a frame besides its outcome: encapsulations seen before the
/// outermost IP header, and a few per-frame properties. A small bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Layers(u16);

impl Layers {
    /// At least one 802.1Q / 802.1ad / 0x9100 tag.
    pub const VLAN: Layers = Layers(1);
    /// An MPLS label stack.
    pub const MPLS: Layers = Layers(1 << 1);
    /// A PPPoE session header.
    pub const PPPOE: Layers = Layers(1 << 2);
    /// An 802.2 LLC/SNAP header.
    pub const LLC_SNAP: Layers = Layers(1 << 3);
    /// The outermost header is IPv6 with at least one extension header.
    pub const IPV6_EXT: Layers = Layers(1 << 4);
    /// The IP length field was 0 (TSO capture): bytes come from the wire length.
    pub const IP_LEN_ZERO: Layers = Layers(1 << 5);
    /// The frame was captured shorter than it was on the wire (snap length).
    pub const SNAPPED: Layers = Layers(1 << 6);

    /// No flag.
    pub const fn empty() -> Layers {
        Layers(0)
    }

    /// Whether every flag of `other` is set.
    #[inline]
    pub const fn contains(self, other: Layers) -> bool {
        self.0 & other.0 == other.0
    }

    /// Set the flags of `other`.
    #[inline]
    pub fn insert(&mut self, other: Layers) {
        self.0 |= other.0;
    }

    /// The raw bits.
    #[inline]
    pub const fn bits(self) -> u16 {
        self.0
    }
}

/// Where decoding goes on: the header expected at an offset of the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// A protocol identified by an EtherType, at the offset.
    EtherType(u16, usize),
    /// An 802.2 LLC header (802.3 frame or SLL protocol 4).
    Llc(usize),
    /// An Ethernet header.
    Ethernet(usize),
    /// An MPLS label stack.
    Mpls(usize),
    /// A PPP header (address/control optional, protocol possibly compressed).
    Ppp(usize),
    /// An IP header of either version (by its first nibble).
    Ip(usize),
    /// An IPv4 header.
    Ipv4(usize),
    /// An IPv6 header.
    Ipv6(usize),
    /// Something that is not IP.
    NonIp,
    /// The frame ends inside a header.
    Truncated,
    /// An unsupported link type.
    Unsupported,
}

/// Most encapsulation steps followed before giving up (a frame of hundreds of
/// VLAN tags is not IP traffic worth counting).
const MAX_STEPS: usize = 32;

/// Follow encapsulations from `next` until an IP header (or a dead end).
/// Returns only `Ip`, `Ipv4`, `Ipv6`, `NonIp`, `Truncated` or `Unsupported`.
#[inline]
pub(crate) fn locate(frame: &[u8], mut next: Next, layers: &mut Layers) -> Next {
    for _ in 0..MAX_STEPS {
        next = match next {
            Next::EtherType(t, off) => ether::ethertype(frame, t, off, layers),
            Next::Ethernet(off) => ether::ethernet(frame, off),
            Next::Llc(off) => ether::llc(frame, off, layers),
            Next::Mpls(off) => ether::mpls(frame, off, layers),
            Next::Ppp(off) => ether::ppp(frame, off),
            done => return done,
        };
    }
    Next::NonIp
}

/// Read a big-endian `u16` at `at`, if captured.
#[inline(always)]
pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    match b.get(at..at.checked_add(2)?) {
        Some(&[x, y]) => Some(u16::from_be_bytes([x, y])),
        _ => None,
    }
}

/// Read a big-endian `u32` at `at`, if captured.
#[inline(always)]
pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    match b.get(at..at.checked_add(4)?) {
        Some(&[a, c, d, e]) => Some(u32::from_be_bytes([a, c, d, e])),
        _ => None,
    }
}

/// Decode one frame of link type `linktype` (the pcap `LINKTYPE_*` number),
/// captured as `frame`, `wire_len` bytes long on the wire.
///
/// Stateless: non-first fragments get ports 0 (see
/// [`PacketDecoder`](crate::PacketDecoder) for fragment tracking).
///
/// ```
/// use vpcflow_sources::decode::{decode, linktype, Outcome};
/// // A raw IPv4 ICMP echo header, 28 bytes long.
/// let mut pkt = [0u8; 28];
/// pkt[0] = 0x45;
/// pkt[3] = 28;
/// pkt[9] = 1;
/// pkt[12..16].copy_from_slice(&[10, 0, 0, 1]);
/// pkt[16..20].copy_from_slice(&[10, 0, 0, 2]);
/// let d = decode(linktype::RAW, &pkt, 28);
/// let Outcome::Ip(p) = d.outcome else { panic!() };
/// assert_eq!((p.protocol, p.bytes, p.src_port), (1, 28, 0));
/// ```
#[inline]
pub fn decode(linktype: u32, frame: &[u8], wire_len: u32) -> Decoded {
    let mut layers = Layers::empty();
    if (frame.len() as u64) < u64::from(wire_len) {
        layers.insert(Layers::SNAPPED);
    }
    let first = linktype::first_header(linktype, frame);
    let outcome = match locate(frame, first, &mut layers) {
        Next::Ip(off) => ip_packet(frame, off, None, wire_len, &mut layers),
        Next::Ipv4(off) => ip_packet(frame, off, Some(4), wire_len, &mut layers),
        Next::Ipv6(off) => ip_packet(frame, off, Some(6), wire_len, &mut layers),
        Next::Truncated => Outcome::Undecodable(Undecodable::TruncatedLink),
        Next::Unsupported => Outcome::Undecodable(Undecodable::UnsupportedLinktype),
        _ => Outcome::NonIp,
    };
    Decoded { outcome, layers }
}

/// The IP header at `off` (`version`: the one announced by the
/// encapsulation), for readers that look inside packets (the NetFlow
/// replay reads UDP payloads).
pub(crate) fn ip_header(frame: &[u8], off: usize, version: Option<u8>) -> Option<ip::IpHeader> {
    ip::parse(frame, off, version).ok()
}

/// Decode the outermost IP header at `off` and everything the flow needs from
/// behind it.
#[inline]
fn ip_packet(
    frame: &[u8],
    off: usize,
    version: Option<u8>,
    wire_len: u32,
    layers: &mut Layers,
) -> Outcome {
    let h = match ip::parse(frame, off, version) {
        Ok(h) => h,
        Err(e) => return Outcome::Undecodable(e),
    };
    if h.ext_headers {
        layers.insert(Layers::IPV6_EXT);
    }
    // `off` is at most the frame length, which fits a u32 (pcap record lengths).
    let l2_len = off as u32;
    let bytes = if h.length != 0 {
        h.length
    } else {
        layers.insert(Layers::IP_LEN_ZERO);
        wire_len.saturating_sub(l2_len)
    };
    let datagram = &frame[..h.end];
    let (src_port, dst_port) = transport::ports(datagram, &h).unwrap_or((0, 0));
    let tcp_flags = transport::tcp_flags(datagram, &h);
    let (tunnel, inner) = tunnel::follow(datagram, &h, src_port, dst_port);
    Outcome::Ip(IpPacket {
        src: h.src,
        dst: h.dst,
        protocol: h.protocol,
        src_port,
        dst_port,
        bytes,
        tcp_flags,
        fragment: h.fragment,
        tunnel,
        inner,
        l2_len,
        ports_from_first_fragment: false,
    })
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests;
