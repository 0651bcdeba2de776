//! Frame building: Ethernet (optionally 802.1Q), IPv4/IPv6, TCP/UDP/ICMP with
//! correct lengths and checksums. Payload bytes are zeros, so checksums only
//! need the headers (zeros add nothing to a ones'-complement sum).

use crate::addr::Addr;

pub(crate) const PROTO_ICMP: u8 = 1;
pub(crate) const PROTO_TCP: u8 = 6;
pub(crate) const PROTO_UDP: u8 = 17;
pub(crate) const PROTO_ICMPV6: u8 = 58;

pub(crate) const TCP_FIN: u8 = 0x01;
pub(crate) const TCP_SYN: u8 = 0x02;
pub(crate) const TCP_RST: u8 = 0x04;
pub(crate) const TCP_PSH: u8 = 0x08;
pub(crate) const TCP_ACK: u8 = 0x10;

/// Shortest Ethernet frame without FCS; shorter frames are zero-padded.
pub(crate) const MIN_FRAME: usize = 60;

/// TCP options carried by a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TcpOpts {
    /// No options (RST segments): 20-byte header.
    None,
    /// NOP NOP Timestamps: 32-byte header (every Linux segment after the handshake).
    Ts,
    /// MSS, SACK-permitted, Timestamps, NOP, window scale: 40-byte header.
    Syn,
}

impl TcpOpts {
    #[inline]
    pub(crate) fn header_len(self) -> usize {
        match self {
            TcpOpts::None => 20,
            TcpOpts::Ts => 32,
            TcpOpts::Syn => 40,
        }
    }
}

/// The layer-4 part of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum L4 {
    Tcp {
        flags: u8,
        seq: u32,
        ack: u32,
        opts: TcpOpts,
        mss: u16,
    },
    Udp,
    /// ICMP or ICMPv6 echo (the protocol follows the address family).
    Echo {
        reply: bool,
        id: u16,
        seq: u16,
    },
}

/// One packet of a conversation, before addressing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pkt {
    /// Sent by the client (else by the server).
    pub c2s: bool,
    pub l4: L4,
    /// Application payload bytes (zeros).
    pub payload: u32,
}

impl Pkt {
    #[inline]
    pub(crate) fn l4_header_len(&self) -> usize {
        match self.l4 {
            L4::Tcp { opts, .. } => opts.header_len(),
            L4::Udp | L4::Echo { .. } => 8,
        }
    }

    /// IP-layer length: IPv4 total length, or IPv6 payload length + 40.
    #[inline]
    pub(crate) fn ip_len(&self, v6: bool) -> usize {
        let ip_hdr = if v6 { 40 } else { 20 };
        ip_hdr + self.l4_header_len() + self.payload as usize
    }

    /// The IP protocol number.
    #[inline]
    pub(crate) fn proto(&self, v6: bool) -> u8 {
        match self.l4 {
            L4::Tcp { .. } => PROTO_TCP,
            L4::Udp => PROTO_UDP,
            L4::Echo { .. } if v6 => PROTO_ICMPV6,
            L4::Echo { .. } => PROTO_ICMP,
        }
    }
}

/// Length on the wire (and in the capture) of a frame carrying `ip_len` bytes.
#[inline]
pub(crate) fn frame_len(ip_len: usize, vlan: bool) -> usize {
    let l2 = if vlan { 18 } else { 14 };
    (l2 + ip_len).max(MIN_FRAME)
}

/// Per-packet header fields that are not part of [`Pkt`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wire {
    pub src: Addr,
    pub dst: Addr,
    pub sport: u16,
    pub dport: u16,
    /// 802.1Q VLAN id, if tagged.
    pub vlan: Option<u16>,
    pub ttl: u8,
    pub ip_id: u16,
    /// IPv6 flow label (20 bits).
    pub flow_label: u32,
    /// TCP timestamp option values.
    pub tsval: u32,
    pub tsecr: u32,
}

/// Ones'-complement sum of big-endian 16-bit words (odd tail padded with 0).
#[inline]
fn sum16(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

#[inline]
fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Appends the frame for `pkt` to `buf` (which must be empty); returns the
/// IP-layer length.
pub(crate) fn build(buf: &mut Vec<u8>, pkt: &Pkt, w: &Wire) -> usize {
    debug_assert!(buf.is_empty());
    let v6 = w.src.v6;
    let ip_len = pkt.ip_len(v6);
    let proto = pkt.proto(v6);
    let total = frame_len(ip_len, w.vlan.is_some());
    // Zero the whole frame once; headers overwrite the front.
    buf.resize(total, 0);
    let f = &mut buf[..];

    // Ethernet.
    f[0..6].copy_from_slice(&w.dst.mac());
    f[6..12].copy_from_slice(&w.src.mac());
    let mut o = 12;
    if let Some(vid) = w.vlan {
        f[12..14].copy_from_slice(&0x8100u16.to_be_bytes());
        f[14..16].copy_from_slice(&(vid & 0x0fff).to_be_bytes());
        o = 16;
    }
    let ethertype: u16 = if v6 { 0x86dd } else { 0x0800 };
    f[o..o + 2].copy_from_slice(&ethertype.to_be_bytes());
    o += 2;

    // IP.
    let l4_len = ip_len - if v6 { 40 } else { 20 };
    if v6 {
        let ip = &mut f[o..o + 40];
        let vtf: u32 = (6 << 28) | (w.flow_label & 0x000f_ffff);
        ip[0..4].copy_from_slice(&vtf.to_be_bytes());
        ip[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
        ip[6] = proto;
        ip[7] = w.ttl;
        ip[8..24].copy_from_slice(&w.src.b);
        ip[24..40].copy_from_slice(&w.dst.b);
        o += 40;
    } else {
        let ip = &mut f[o..o + 20];
        ip[0] = 0x45;
        ip[1] = 0;
        ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
        ip[4..6].copy_from_slice(&w.ip_id.to_be_bytes());
        ip[6..8].copy_from_slice(&0x4000u16.to_be_bytes()); // DF
        ip[8] = w.ttl;
        ip[9] = proto;
        ip[12..16].copy_from_slice(&w.src.b[..4]);
        ip[16..20].copy_from_slice(&w.dst.b[..4]);
        let c = fold(sum16(ip, 0));
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        o += 20;
    }

    // Pseudo-header sum (not used by ICMPv4).
    let pseudo = {
        let a = sum16(w.src.bytes(), 0);
        let a = sum16(w.dst.bytes(), a);
        a + u32::from(proto) + (l4_len as u32 & 0xffff) + (l4_len as u32 >> 16)
    };

    match pkt.l4 {
        L4::Tcp {
            flags,
            seq,
            ack,
            opts,
            mss,
        } => {
            let hl = opts.header_len();
            let t = &mut f[o..o + hl];
            t[0..2].copy_from_slice(&w.sport.to_be_bytes());
            t[2..4].copy_from_slice(&w.dport.to_be_bytes());
            t[4..8].copy_from_slice(&seq.to_be_bytes());
            let ack_field = if flags & TCP_ACK != 0 { ack } else { 0 };
            t[8..12].copy_from_slice(&ack_field.to_be_bytes());
            t[12] = ((hl / 4) as u8) << 4;
            t[13] = flags;
            let window: u16 = match opts {
                TcpOpts::Syn => 64240,
                TcpOpts::None => 0,
                TcpOpts::Ts => 502,
            };
            t[14..16].copy_from_slice(&window.to_be_bytes());
            match opts {
                TcpOpts::None => {}
                TcpOpts::Ts => {
                    t[20] = 1;
                    t[21] = 1;
                    t[22] = 8;
                    t[23] = 10;
                    t[24..28].copy_from_slice(&w.tsval.to_be_bytes());
                    t[28..32].copy_from_slice(&w.tsecr.to_be_bytes());
                }
                TcpOpts::Syn => {
                    t[20] = 2; // MSS
                    t[21] = 4;
                    t[22..24].copy_from_slice(&mss.to_be_bytes());
                    t[24] = 4; // SACK permitted
                    t[25] = 2;
                    t[26] = 8; // timestamps
                    t[27] = 10;
                    t[28..32].copy_from_slice(&w.tsval.to_be_bytes());
                    let ecr = if flags & TCP_ACK != 0 { w.tsecr } else { 0 };
                    t[32..36].copy_from_slice(&ecr.to_be_bytes());
                    t[36] = 1; // NOP
                    t[37] = 3; // window scale 7
                    t[38] = 3;
                    t[39] = 7;
                }
            }
            let c = fold(sum16(t, pseudo));
            t[16..18].copy_from_slice(&c.to_be_bytes());
        }
        L4::Udp => {
            let u = &mut f[o..o + 8];
            u[0..2].copy_from_slice(&w.sport.to_be_bytes());
            u[2..4].copy_from_slice(&w.dport.to_be_bytes());
            u[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
            let mut c = fold(sum16(u, pseudo));
            if c == 0 {
                c = 0xffff;
            }
            u[6..8].copy_from_slice(&c.to_be_bytes());
        }
        L4::Echo { reply, id, seq } => {
            let e = &mut f[o..o + 8];
            e[0] = match (v6, reply) {
                (false, false) => 8,
                (false, true) => 0,
                (true, false) => 128,
                (true, true) => 129,
            };
            e[1] = 0;
            e[4..6].copy_from_slice(&id.to_be_bytes());
            e[6..8].copy_from_slice(&seq.to_be_bytes());
            let c = fold(sum16(e, if v6 { pseudo } else { 0 }));
            e[2..4].copy_from_slice(&c.to_be_bytes());
        }
    }
    ip_len
}
