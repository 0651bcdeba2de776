//! What one entry of a window's flow table holds, kept compact (72 bytes): a
//! million open flows must fit in a few hundred megabytes.

use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::flow::{Action, FlowDirection, FlowKey, FlowUpdate, InterfaceIndex, PacketAddrs};
use crate::tcp_flags::TcpFlags;

/// An address as 16 bytes (IPv4 in the first four); the family is a flag.
type AddrBytes = [u8; 16];

#[inline(always)]
fn to_bytes(a: IpAddr) -> AddrBytes {
    match a {
        IpAddr::V4(v4) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&v4.octets());
            b
        }
        IpAddr::V6(v6) => v6.octets(),
    }
}

#[inline]
fn from_bytes(b: AddrBytes, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(b))
    } else {
        IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    }
}

const FLAG_V6: u8 = 1;
const FLAG_REJECT: u8 = 2;
const FLAG_BPA: u8 = 4;
const FLAG_INGRESS: u8 = 8;
const FLAG_EGRESS: u8 = 16;

/// What one record is keyed by within a window: interface, 5-tuple, action,
/// and the direction when the source reported one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TableKey {
    src: AddrBytes,
    dst: AddrBytes,
    src_port: u16,
    dst_port: u16,
    interface: u32,
    protocol: u8,
    flags: u8,
}

impl TableKey {
    /// An all-zero key, the content of empty table slots.
    pub const ZERO: TableKey = TableKey {
        src: [0; 16],
        dst: [0; 16],
        src_port: 0,
        dst_port: 0,
        interface: 0,
        protocol: 0,
        flags: 0,
    };

    #[inline(always)]
    pub fn new(
        interface: InterfaceIndex,
        key: &FlowKey,
        action: Action,
        direction: Option<FlowDirection>,
    ) -> TableKey {
        // The family is kept once: sources hand over addresses of one family.
        debug_assert_eq!(key.src.is_ipv4(), key.dst.is_ipv4(), "{key:?}");
        TableKey {
            src: to_bytes(key.src),
            dst: to_bytes(key.dst),
            src_port: key.src_port,
            dst_port: key.dst_port,
            interface: interface.0,
            protocol: key.protocol,
            flags: (if key.src.is_ipv6() { FLAG_V6 } else { 0 })
                | match action {
                    Action::Accept => 0,
                    Action::Reject => FLAG_REJECT,
                    Action::RejectBpa => FLAG_REJECT | FLAG_BPA,
                }
                | match direction {
                    None => 0,
                    Some(FlowDirection::Ingress) => FLAG_INGRESS,
                    Some(FlowDirection::Egress) => FLAG_EGRESS,
                },
        }
    }

    /// The direction the source reported, if it did.
    pub fn direction(&self) -> Option<FlowDirection> {
        if self.flags & FLAG_INGRESS != 0 {
            Some(FlowDirection::Ingress)
        } else if self.flags & FLAG_EGRESS != 0 {
            Some(FlowDirection::Egress)
        } else {
            None
        }
    }

    pub fn interface(&self) -> InterfaceIndex {
        InterfaceIndex(self.interface)
    }

    pub fn flow_key(&self) -> FlowKey {
        let v6 = self.flags & FLAG_V6 != 0;
        FlowKey {
            src: from_bytes(self.src, v6),
            dst: from_bytes(self.dst, v6),
            src_port: self.src_port,
            dst_port: self.dst_port,
            protocol: self.protocol,
        }
    }

    /// Source and destination as [`addr_bits`](crate::record::addr_bits) gives
    /// them: the byte layout is the same (IPv4 first), read big-endian.
    #[inline(always)]
    pub fn addr_bits(&self) -> (u128, u128) {
        (u128::from_be_bytes(self.src), u128::from_be_bytes(self.dst))
    }

    /// Ports, protocol and family, for sorting.
    #[inline(always)]
    pub fn sort_parts(&self) -> (u16, u16, u8, bool) {
        (
            self.src_port,
            self.dst_port,
            self.protocol,
            self.flags & FLAG_V6 != 0,
        )
    }

    pub fn action(&self) -> Action {
        if self.flags & FLAG_BPA != 0 {
            Action::RejectBpa
        } else if self.flags & FLAG_REJECT != 0 {
            Action::Reject
        } else {
            Action::Accept
        }
    }
}

impl TableKey {
    /// Fewest bytes of a key in a journal (IPv4, interface below 128).
    pub const MIN_ENCODED_LEN: usize = 15;

    /// Appends the key's bytes (journal form): flags, the addresses in 4
    /// bytes each for IPv4 (16 for IPv6), the ports, the interface as a
    /// varint, the protocol.
    #[inline]
    pub fn encode(&self, out: &mut Vec<u8>) {
        let n = if self.flags & FLAG_V6 != 0 { 16 } else { 4 };
        out.push(self.flags);
        out.extend_from_slice(&self.src[..n]);
        out.extend_from_slice(&self.dst[..n]);
        out.extend_from_slice(&self.src_port.to_le_bytes());
        out.extend_from_slice(&self.dst_port.to_le_bytes());
        put_varint(out, u64::from(self.interface));
        out.push(self.protocol);
    }

    /// A key read from the start of `b` (advanced past it); `None` when the
    /// bytes are short or are not a key.
    pub fn decode(b: &mut &[u8]) -> Option<TableKey> {
        let (&flags, rest) = b.split_first()?;
        if flags & !(FLAG_V6 | FLAG_REJECT | FLAG_BPA | FLAG_INGRESS | FLAG_EGRESS) != 0
            || (flags & FLAG_BPA != 0 && flags & FLAG_REJECT == 0)
            || (flags & FLAG_INGRESS != 0 && flags & FLAG_EGRESS != 0)
        {
            return None;
        }
        let n = if flags & FLAG_V6 != 0 { 16 } else { 4 };
        if rest.len() < 2 * n + 4 {
            return None;
        }
        let (mut src, mut dst) = ([0; 16], [0; 16]);
        src[..n].copy_from_slice(&rest[..n]);
        dst[..n].copy_from_slice(&rest[n..2 * n]);
        let ports = &rest[2 * n..2 * n + 4];
        let mut rest = &rest[2 * n + 4..];
        let interface = u32::try_from(take_varint(&mut rest)?).ok()?;
        let (&protocol, rest) = rest.split_first()?;
        *b = rest;
        Some(TableKey {
            src,
            dst,
            src_port: u16::from_le_bytes([ports[0], ports[1]]),
            dst_port: u16::from_le_bytes([ports[2], ports[3]]),
            interface,
            protocol,
            flags,
        })
    }
}

/// Appends `v` as a LEB128 varint (7 bits a byte, low first).
#[inline]
pub(super) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A LEB128 varint read from the start of `b` (advanced past it); `None`
/// when short or longer than a `u64`.
#[inline]
pub(super) fn take_varint(b: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        let bits = u64::from(byte & 0x7f);
        if i == 9 && byte > 1 {
            return None;
        }
        v |= bits << (7 * i);
        if byte & 0x80 == 0 {
            *b = &b[i + 1..];
            return Some(v);
        }
    }
    None
}

/// Hashes the key as two wide words instead of field by field: this is on the
/// per-packet path.
impl Hash for TableKey {
    #[inline(always)]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u128(
            u128::from_ne_bytes(self.src) ^ u128::from_ne_bytes(self.dst).rotate_left(67),
        );
        state.write_u64(
            (u64::from(self.src_port) << 48)
                | (u64::from(self.dst_port) << 32)
                | (u64::from(self.protocol) << 24)
                | (u64::from(self.flags) << 22)
                | u64::from(self.interface & 0x3f_ffff),
        );
    }
}

/// The key of a tunnelled flow when records are keyed by packet addresses too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct TunnelKey {
    pub base: TableKey,
    pub inner: PacketAddrs,
}

/// Running sums of one record. Times are seconds after the window start, which
/// fit 16 bits for windows of up to 18 hours.
#[derive(Debug, Clone, Copy)]
pub(super) struct Counters {
    pub packets: u64,
    pub bytes: u64,
    pub first: u16,
    pub last: u16,
    pub tcp_flags: TcpFlags,
}

impl Counters {
    #[inline(always)]
    pub fn new(u: &FlowUpdate, first: u16, last: u16) -> Counters {
        Counters {
            packets: u.packets,
            bytes: u.bytes,
            first,
            last,
            tcp_flags: u.tcp_flags,
        }
    }

    /// Adds an update. The sums saturate: a record never wraps to a small
    /// count (u64::MAX means "at least that many").
    #[inline(always)]
    pub fn add(&mut self, u: &FlowUpdate, first: u16, last: u16) {
        self.packets = self.packets.saturating_add(u.packets);
        self.bytes = self.bytes.saturating_add(u.bytes);
        self.first = self.first.min(first);
        self.last = self.last.max(last);
        self.tcp_flags = self.tcp_flags.union(u.tcp_flags);
    }
}

// One table entry stays at 72 bytes: key 44, counters 24.
const _: () = assert!(std::mem::size_of::<(TableKey, Counters)>() == 72);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        for (src, dst) in [
            ("10.0.0.1", "192.168.1.255"),
            ("2001:db8::1", "::ffff:1.2.3.4"),
        ] {
            let key = FlowKey {
                src: src.parse().unwrap(),
                dst: dst.parse().unwrap(),
                src_port: 443,
                dst_port: 65535,
                protocol: 6,
            };
            for action in [Action::Accept, Action::Reject, Action::RejectBpa] {
                for direction in [
                    None,
                    Some(FlowDirection::Ingress),
                    Some(FlowDirection::Egress),
                ] {
                    let k = TableKey::new(InterfaceIndex(7), &key, action, direction);
                    assert_eq!(k.flow_key(), key);
                    assert_eq!(k.action(), action);
                    assert_eq!(k.direction(), direction);
                    assert_eq!(k.interface(), InterfaceIndex(7));
                    let mut bytes = Vec::new();
                    k.encode(&mut bytes);
                    let mut rest = bytes.as_slice();
                    assert_eq!(TableKey::decode(&mut rest), Some(k));
                    assert!(rest.is_empty());
                }
            }
        }
        // 1.2.3.4 and ::102:304 share bytes but not the family.
        let v4 = FlowKey {
            src: "1.2.3.4".parse().unwrap(),
            dst: "1.2.3.4".parse().unwrap(),
            src_port: 0,
            dst_port: 0,
            protocol: 1,
        };
        let v6 = FlowKey {
            src: "102:304::".parse().unwrap(),
            dst: "102:304::".parse().unwrap(),
            ..v4
        };
        assert_ne!(
            TableKey::new(InterfaceIndex(0), &v4, Action::Accept, None),
            TableKey::new(InterfaceIndex(0), &v6, Action::Accept, None)
        );
    }
}
