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

/// The next expected number per (exporter, version, domain).
#[derive(Debug, Default)]
pub struct Sequences {
    next: HashMap<(IpAddr, u16, u32), u32>,
}

impl Sequences {
    /// Checks `seq` of a message of `exporter` (protocol `version`, domain
    /// `domain`) carrying `units` units; `units == None` when they could not
    /// be counted (a data set without its template): the next message then
    /// starts the count again.
    pub fn check(
        &mut self,
        exporter: IpAddr,
        version: u16,
        domain: u32,
        seq: u32,
        units: Option<u32>,
    ) -> Gap {
        let key = (exporter, version, domain);
        let gap = match self.next.get(&key) {
            None => Gap::None,
            Some(&expected) => {
                let ahead = seq.wrapping_sub(expected);
                if ahead == 0 {
                    Gap::None
                } else if ahead < MAX_GAP {
                    Gap::Lost(u64::from(ahead))
                } else {
                    Gap::Reset
                }
            }
        };
        match units {
            Some(n) => {
                self.next.insert(key, seq.wrapping_add(n));
            }
            None => {
                self.next.remove(&key);
            }
        }
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
        assert_eq!(s.check(a(), 5, 0, 100, Some(30)), Gap::None);
        assert_eq!(s.check(a(), 5, 0, 130, Some(30)), Gap::None);
        assert_eq!(s.check(a(), 5, 0, 190, Some(30)), Gap::Lost(30));
        assert_eq!(s.check(a(), 5, 0, 220, Some(1)), Gap::None);
    }

    #[test]
    fn domains_and_versions_count_apart() {
        let mut s = Sequences::default();
        assert_eq!(s.check(a(), 9, 1, 10, Some(1)), Gap::None);
        assert_eq!(s.check(a(), 9, 2, 500, Some(1)), Gap::None);
        assert_eq!(s.check(a(), 10, 1, 7, Some(3)), Gap::None);
        assert_eq!(s.check(a(), 9, 1, 11, Some(1)), Gap::None);
        assert_eq!(s.check(a(), 9, 2, 503, Some(1)), Gap::Lost(2));
    }

    #[test]
    fn wraps_and_resets() {
        let mut s = Sequences::default();
        assert_eq!(s.check(a(), 9, 0, u32::MAX, Some(1)), Gap::None);
        assert_eq!(s.check(a(), 9, 0, 0, Some(1)), Gap::None);
        assert_eq!(s.check(a(), 9, 0, 3, Some(1)), Gap::Lost(2));
        // A restarted exporter starts from 0 again.
        assert_eq!(s.check(a(), 9, 0, 0, Some(1)), Gap::Reset);
        assert_eq!(s.check(a(), 9, 0, 1, Some(1)), Gap::None);
        // Uncountable message: the next one starts over.
        assert_eq!(s.check(a(), 9, 0, 2, None), Gap::None);
        assert_eq!(s.check(a(), 9, 0, 40, Some(1)), Gap::None);
    }
}
