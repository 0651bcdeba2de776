//! Which packets of capture files are converted: a BPF filter (tcpdump
//! syntax, compiled by libpcap for each link type of the file) and a time
//! range (`--filter`, `--since`, `--until`).

use std::collections::HashMap;

use vpcflow_core::Timestamp;

/// The packets to convert; the default takes every packet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PacketSelection {
    /// A BPF filter the frames must match (`None`: every frame).
    pub filter: Option<String>,
    /// Only packets at or after this time (Unix ns).
    pub since_ns: Option<Timestamp>,
    /// Only packets before this time (Unix ns).
    pub until_ns: Option<Timestamp>,
}

impl PacketSelection {
    /// Whether every packet is taken.
    pub fn is_all(&self) -> bool {
        self.filter.is_none() && self.since_ns.is_none() && self.until_ns.is_none()
    }
}

/// A selection at work on one file: the filter compiled once per link type.
pub(super) struct Selector<'a> {
    selection: &'a PacketSelection,
    /// By link type; `None` when libpcap cannot compile the filter for it
    /// (then no frame of that link type matches).
    programs: HashMap<u32, Option<pcap::BpfProgram>>,
}

impl<'a> Selector<'a> {
    pub(super) fn new(selection: &'a PacketSelection) -> Selector<'a> {
        Selector {
            selection,
            programs: HashMap::new(),
        }
    }

    /// Whether the frame of link type `linktype` captured at `ts` is taken.
    #[inline]
    pub(super) fn keep(&mut self, linktype: u32, frame: &[u8], ts: Timestamp) -> bool {
        let s = self.selection;
        if s.since_ns.is_some_and(|since| ts < since) || s.until_ns.is_some_and(|until| ts >= until)
        {
            return false;
        }
        let Some(filter) = &s.filter else {
            return true;
        };
        self.programs
            .entry(linktype)
            .or_insert_with(|| compile(filter, linktype))
            .as_ref()
            .is_some_and(|program| program.filter(frame))
    }
}

fn compile(filter: &str, linktype: u32) -> Option<pcap::BpfProgram> {
    let compiled = pcap::Capture::dead(pcap::Linktype(linktype as i32))
        .and_then(|dead| dead.compile(filter, true));
    match compiled {
        Ok(program) => Some(program),
        Err(e) => {
            tracing::error!(filter, linktype, error = %e, "the filter cannot be compiled for this link type: none of its packets is converted");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet/IPv4 frame of protocol `proto` to port `port`.
    fn frame(proto: u8, port: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 8];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[16..18].copy_from_slice(&28u16.to_be_bytes());
        f[22] = 64;
        f[23] = proto;
        f[26..30].copy_from_slice(&[10, 0, 0, 1]);
        f[30..34].copy_from_slice(&[10, 0, 0, 2]);
        f[34..36].copy_from_slice(&1234u16.to_be_bytes());
        f[36..38].copy_from_slice(&port.to_be_bytes());
        f
    }

    #[test]
    fn filter_and_time_range() {
        let selection = PacketSelection {
            filter: Some("udp port 53".into()),
            since_ns: Some(100),
            until_ns: Some(200),
        };
        let mut s = Selector::new(&selection);
        assert!(s.keep(1, &frame(17, 53), 100));
        assert!(!s.keep(1, &frame(17, 80), 150));
        assert!(!s.keep(1, &frame(6, 53), 150));
        assert!(!s.keep(1, &frame(17, 53), 99));
        assert!(!s.keep(1, &frame(17, 53), 200));
        let all = PacketSelection::default();
        assert!(all.is_all());
        assert!(Selector::new(&all).keep(1, &[], 0));
    }

    #[test]
    fn a_filter_a_link_type_cannot_take_matches_nothing_of_it() {
        // `ether` makes no sense for raw IP (link type 101).
        let selection = PacketSelection {
            filter: Some("ether host 00:11:22:33:44:55".into()),
            ..PacketSelection::default()
        };
        let mut s = Selector::new(&selection);
        assert!(!s.keep(101, &frame(17, 53)[14..], 0));
    }
}
