//! Ports of IP fragments: the stateless default, and optional tracking of first
//! fragments in a bounded table.

use std::hash::BuildHasher;
use std::net::IpAddr;

use foldhash::fast::FixedState;
use vpcflow_core::flow::NANOS_PER_SEC;
use vpcflow_core::Timestamp;

use crate::decode::{self, Decoded, Fragment, Outcome};

/// What non-first fragments (fragment offset > 0) get as ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FragmentPolicy {
    /// Ports 0: stateless, the policy of the truth files.
    #[default]
    Zero,
    /// The ports of the first fragment with the same source, destination,
    /// protocol and identification, when it was seen within
    /// [`FragmentTable::TIMEOUT_NS`] (and is still in the bounded table); ports
    /// 0 otherwise (for instance when a later fragment arrives before the first).
    TrackFirst,
}

/// The identity of a fragmented datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FragmentKey {
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    id: u32,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    key: FragmentKey,
    ports: (u16, u16),
    at: Timestamp,
}

/// A bounded, direct-mapped table of the ports of first fragments.
///
/// Each datagram identity hashes to one slot; a newer first fragment that hashes
/// to an occupied slot replaces the entry there. Memory is fixed at creation;
/// nothing is allocated per packet.
#[derive(Debug, Clone)]
pub struct FragmentTable {
    slots: Box<[Option<Slot>]>,
    hasher: FixedState,
}

impl FragmentTable {
    /// Default number of slots.
    pub const DEFAULT_CAPACITY: usize = 1 << 16;
    /// How long the ports of a first fragment are applied to later fragments
    /// (30 s, the Linux reassembly timeout).
    pub const TIMEOUT_NS: u64 = 30 * NANOS_PER_SEC;

    /// A table of `capacity` slots (rounded up to a power of two, at least 16).
    pub fn new(capacity: usize) -> FragmentTable {
        let n = capacity.clamp(16, 1 << 26).next_power_of_two();
        FragmentTable {
            slots: vec![None; n].into_boxed_slice(),
            hasher: FixedState::default(),
        }
    }

    fn slot(&self, key: &FragmentKey) -> usize {
        (self.hasher.hash_one(key) as usize) & (self.slots.len() - 1)
    }

    /// Remember the ports of a first fragment seen at `at`.
    fn remember(&mut self, key: FragmentKey, ports: (u16, u16), at: Timestamp) {
        let i = self.slot(&key);
        self.slots[i] = Some(Slot { key, ports, at });
    }

    /// The ports of the first fragment of `key`, if seen recently enough.
    fn lookup(&self, key: &FragmentKey, at: Timestamp) -> Option<(u16, u16)> {
        match &self.slots[self.slot(key)] {
            Some(s) if s.key == *key && s.at.abs_diff(at) <= Self::TIMEOUT_NS => Some(s.ports),
            _ => None,
        }
    }
}

/// A packet decoder with a fragment policy: [`decode`](crate::decode::decode)
/// plus, with [`FragmentPolicy::TrackFirst`], the ports of first fragments
/// applied to the later ones.
#[derive(Debug, Clone)]
pub struct PacketDecoder {
    table: Option<FragmentTable>,
}

impl PacketDecoder {
    /// A decoder applying `policy` (the table, if any, has the default size).
    pub fn new(policy: FragmentPolicy) -> PacketDecoder {
        PacketDecoder::with_capacity(policy, FragmentTable::DEFAULT_CAPACITY)
    }

    /// A decoder applying `policy` with a fragment table of `capacity` slots.
    pub fn with_capacity(policy: FragmentPolicy, capacity: usize) -> PacketDecoder {
        let table = match policy {
            FragmentPolicy::Zero => None,
            FragmentPolicy::TrackFirst => Some(FragmentTable::new(capacity)),
        };
        PacketDecoder { table }
    }

    /// The policy this decoder applies.
    pub fn policy(&self) -> FragmentPolicy {
        match self.table {
            None => FragmentPolicy::Zero,
            Some(_) => FragmentPolicy::TrackFirst,
        }
    }

    /// Decode a frame captured at `at` (see [`decode`](crate::decode::decode)).
    #[inline]
    pub fn decode(&mut self, linktype: u32, frame: &[u8], wire_len: u32, at: Timestamp) -> Decoded {
        let mut d = decode::decode(linktype, frame, wire_len);
        if let (Some(table), Outcome::Ip(p)) = (self.table.as_mut(), &mut d.outcome) {
            match p.fragment {
                Fragment::None => {}
                Fragment::First { id } => {
                    if p.src_port != 0 || p.dst_port != 0 {
                        let key = FragmentKey {
                            src: p.src,
                            dst: p.dst,
                            protocol: p.protocol,
                            id,
                        };
                        table.remember(key, (p.src_port, p.dst_port), at);
                    }
                }
                Fragment::NonFirst { id } => {
                    let key = FragmentKey {
                        src: p.src,
                        dst: p.dst,
                        protocol: p.protocol,
                        id,
                    };
                    if let Some((s, d)) = table.lookup(&key, at) {
                        p.src_port = s;
                        p.dst_port = d;
                        p.ports_from_first_fragment = true;
                    }
                }
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::linktype::RAW;
    use crate::decode::testutil::*;

    fn first(id: u16) -> Vec<u8> {
        ipv4_full(17, A4, B4, id, 0x2000, &[], &udp(7000, 8000, &[0; 32]))
    }

    fn later(id: u16) -> Vec<u8> {
        ipv4_full(17, A4, B4, id, 0x0005, &[], &[0; 32])
    }

    fn ports(d: &mut PacketDecoder, frame: &[u8], at: Timestamp) -> (u16, u16, bool) {
        let p = ip_of(d.decode(RAW, frame, frame.len() as u32, at));
        (p.src_port, p.dst_port, p.ports_from_first_fragment)
    }

    #[test]
    fn zero_policy_is_stateless() {
        let mut d = PacketDecoder::new(FragmentPolicy::Zero);
        assert_eq!(d.policy(), FragmentPolicy::Zero);
        assert_eq!(ports(&mut d, &first(1), 0), (7000, 8000, false));
        assert_eq!(ports(&mut d, &later(1), 1), (0, 0, false));
    }

    #[test]
    fn track_first_applies_the_first_fragments_ports() {
        let mut d = PacketDecoder::new(FragmentPolicy::TrackFirst);
        assert_eq!(d.policy(), FragmentPolicy::TrackFirst);
        // A later fragment before its first one stays at 0.
        assert_eq!(ports(&mut d, &later(1), 0), (0, 0, false));
        assert_eq!(ports(&mut d, &first(1), 10), (7000, 8000, false));
        assert_eq!(ports(&mut d, &later(1), 20), (7000, 8000, true));
        // Another identification, another protocol, or too late: 0.
        assert_eq!(ports(&mut d, &later(2), 20), (0, 0, false));
        let other_proto = ipv4_full(6, A4, B4, 1, 0x0005, &[], &[0; 32]);
        assert_eq!(ports(&mut d, &other_proto, 20), (0, 0, false));
        let late = 10 + FragmentTable::TIMEOUT_NS + 1;
        assert_eq!(ports(&mut d, &later(1), late), (0, 0, false));
    }

    #[test]
    fn track_first_ipv6_uses_the_fragment_header_id() {
        let frag = |offset: u16, more: bool, id: u32| {
            let mut v = vec![17, 0];
            v.extend_from_slice(&((offset << 3) | u16::from(more)).to_be_bytes());
            v.extend_from_slice(&id.to_be_bytes());
            v
        };
        let first = ipv6(
            44,
            A6,
            B6,
            &cat(&[&frag(0, true, 77), &udp(53, 5353, &[0; 8])]),
        );
        let later = ipv6(44, A6, B6, &cat(&[&frag(2, false, 77), &[0; 8]]));
        let other = ipv6(44, A6, B6, &cat(&[&frag(2, false, 78), &[0; 8]]));
        let mut d = PacketDecoder::new(FragmentPolicy::TrackFirst);
        assert_eq!(ports(&mut d, &first, 0), (53, 5353, false));
        assert_eq!(ports(&mut d, &later, 1), (53, 5353, true));
        assert_eq!(ports(&mut d, &other, 1), (0, 0, false));
    }

    #[test]
    fn the_table_is_bounded() {
        let t = FragmentTable::new(10);
        assert_eq!(t.slots.len(), 16);
        let mut d = PacketDecoder::with_capacity(FragmentPolicy::TrackFirst, 16);
        for id in 0..1000u16 {
            ports(&mut d, &first(id), 0);
        }
        // The most recent first fragment is always remembered.
        assert_eq!(ports(&mut d, &later(999), 1), (7000, 8000, true));
    }
}
