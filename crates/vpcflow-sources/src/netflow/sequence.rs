//! Sequence numbers of export messages: a gap means lost messages.
//!
//! Each protocol counts in its own unit: NetFlow v5 counts flow records
//! (the header carries the number of the first record), v9 counts export
//! packets per source id, IPFIX counts data records per observation domain.
//! A number behind the expected one (a reordered or repeated message, or an
//! exporter that restarted) is not a loss: the count starts again from it.

use std::collections::HashMap;
use std::net::IpAddr;

/// What one sequence number said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gap {
    /// The first message of the stream, or the expected number.
    None,
    /// This many units were lost before this message.
    Lost(u64),
    /// The number went backwards (reordered, duplicate, restarted exporter).
    Reset,
}

/// Jumps forward beyond this many units are taken for an exporter restart,
/// not for a loss.
const MAX_GAP: u32 = 1 << 30;

/// Streams followed at most (bounded memory under forged source
/// addresses); beyond, every stream starts over without a loss.
const MAX_STREAMS: usize = 65_536;

/// How an exporter numbers its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Numbering {
    /// Not known yet (every message so far fits both).
    Unknown,
    /// As the RFCs say: the units sent before this message.
    Before,
    /// The units sent up to and including this message (softflowd's IPFIX,
    /// counting flow records only): followed once seen, so that it does not
    /// look like a loss at every change of message size.
    Including,
}

#[derive(Debug, Clone, Copy)]
struct Stream {
    seq: u32,
    units: Option<u32>,
    numbering: Numbering,
}

/// The sequence state per (exporter, version, domain).
#[derive(Debug, Default)]
pub struct Sequences {
    streams: HashMap<(IpAddr, u16, u32), Stream>,
}

impl Sequences {
    /// Checks `seq` of a message of `exporter` (protocol `version`, domain
    /// `domain`) carrying `units` units; `units == None` when they could not
    /// be counted (a data set without its template): the next message then
    /// starts the count again. `flow_units` (IPFIX) is the part of `units`
    /// that were flow records, for exporters that number by those.
    pub fn check(
        &mut self,
        exporter: IpAddr,
        version: u16,
        domain: u32,
        seq: u32,
        units: Option<u32>,
        flow_units: Option<u32>,
    ) -> Gap {
        let key = (exporter, version, domain);
        if self.streams.len() >= MAX_STREAMS && !self.streams.contains_key(&key) {
            self.streams.clear();
        }
        let classify = |ahead: u32| {
            if ahead == 0 {
                Gap::None
            } else if ahead < MAX_GAP {
                Gap::Lost(u64::from(ahead))
            } else {
                Gap::Reset
            }
        };
        let mut numbering = Numbering::Unknown;
        let gap = match self.streams.get(&key) {
            None => Gap::None,
            Some(prev) => {
                numbering = prev.numbering;
                let before = prev
                    .units
                    .map(|u| classify(seq.wrapping_sub(prev.seq.wrapping_add(u))));
                let including =
                    flow_units.map(|f| classify(seq.wrapping_sub(f).wrapping_sub(prev.seq)));
                match (numbering, before, including) {
                    (_, None, _) => Gap::None,
                    (Numbering::Including, Some(b), i) => i.unwrap_or(b),
                    (Numbering::Before, Some(b), _) => b,
                    (Numbering::Unknown, Some(Gap::None), _) => {
                        if including != Some(Gap::None) {
                            numbering = Numbering::Before;
                        }
                        Gap::None
                    }
                    (Numbering::Unknown, Some(b), Some(Gap::None)) => {
                        let _ = b;
                        numbering = Numbering::Including;
                        Gap::None
                    }
                    (Numbering::Unknown, Some(b), _) => b,
                }
            }
        };
        self.streams.insert(
            key,
            Stream {
                seq,
                units,
                numbering,
            },
        );
        gap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a() -> IpAddr {
        IpAddr::from([192, 0, 2, 1])
    }

    #[test]
    fn counts_units_lost_between_messages() {
        let mut s = Sequences::default();
        assert_eq!(s.check(a(), 5, 0, 100, Some(30), None), Gap::None);
        assert_eq!(s.check(a(), 5, 0, 130, Some(30), None), Gap::None);
        assert_eq!(s.check(a(), 5, 0, 190, Some(30), None), Gap::Lost(30));
        assert_eq!(s.check(a(), 5, 0, 220, Some(1), None), Gap::None);
    }

    #[test]
    fn domains_and_versions_count_apart() {
        let mut s = Sequences::default();
        assert_eq!(s.check(a(), 9, 1, 10, Some(1), None), Gap::None);
        assert_eq!(s.check(a(), 9, 2, 500, Some(1), None), Gap::None);
        assert_eq!(s.check(a(), 10, 1, 7, Some(3), None), Gap::None);
        assert_eq!(s.check(a(), 9, 1, 11, Some(1), None), Gap::None);
        assert_eq!(s.check(a(), 9, 2, 503, Some(1), None), Gap::Lost(2));
    }

    #[test]
    fn wraps_and_resets() {
        let mut s = Sequences::default();
        assert_eq!(s.check(a(), 9, 0, u32::MAX, Some(1), None), Gap::None);
        assert_eq!(s.check(a(), 9, 0, 0, Some(1), None), Gap::None);
        assert_eq!(s.check(a(), 9, 0, 3, Some(1), None), Gap::Lost(2));
        // A restarted exporter starts from 0 again.
        assert_eq!(s.check(a(), 9, 0, 0, Some(1), None), Gap::Reset);
        assert_eq!(s.check(a(), 9, 0, 1, Some(1), None), Gap::None);
        // Uncountable message: the next one starts over.
        assert_eq!(s.check(a(), 9, 0, 2, None, None), Gap::None);
        assert_eq!(s.check(a(), 9, 0, 40, Some(1), None), Gap::None);
    }

    #[test]
    fn numbering_that_includes_the_message_is_followed() {
        let mut s = Sequences::default();
        // softflowd's IPFIX: 24 flow records and 1 options record, numbered
        // 24; then 32 records numbered 56, 88.
        assert_eq!(s.check(a(), 10, 0, 24, Some(25), Some(24)), Gap::None);
        assert_eq!(s.check(a(), 10, 0, 56, Some(32), Some(32)), Gap::None);
        assert_eq!(s.check(a(), 10, 0, 88, Some(32), Some(32)), Gap::None);
        assert_eq!(s.check(a(), 10, 0, 100, Some(12), Some(12)), Gap::None);
        // A lost message of 32 records.
        assert_eq!(s.check(a(), 10, 0, 142, Some(10), Some(10)), Gap::Lost(32));
        // As the RFC numbers: learnt on the first message that tells.
        let mut r = Sequences::default();
        assert_eq!(r.check(a(), 10, 0, 0, Some(25), Some(24)), Gap::None);
        assert_eq!(r.check(a(), 10, 0, 25, Some(32), Some(32)), Gap::None);
        assert_eq!(r.check(a(), 10, 0, 57, Some(10), Some(10)), Gap::None);
        assert_eq!(
            r.check(a(), 10, 0, 67 + 32, Some(10), Some(10)),
            Gap::Lost(32)
        );
    }
}
