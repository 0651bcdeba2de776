//! What reading captures saw: counts for summaries and checks, and warnings.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Add, AddAssign};
use std::path::PathBuf;

use vpcflow_core::Timestamp;

use crate::decode::TunnelKind;

/// Packets per outermost tunnel kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TunnelCounts([u64; TunnelKind::ALL.len()]);

impl TunnelCounts {
    /// Packets whose outermost tunnel is `kind`.
    pub fn get(&self, kind: TunnelKind) -> u64 {
        self.0[kind.index()]
    }

    /// Count one more packet of `kind`.
    #[inline]
    pub fn add(&mut self, kind: TunnelKind, n: u64) {
        self.0[kind.index()] += n;
    }

    /// The kinds seen at least once, with their counts.
    pub fn iter(&self) -> impl Iterator<Item = (TunnelKind, u64)> + '_ {
        TunnelKind::ALL
            .iter()
            .map(|&k| (k, self.get(k)))
            .filter(|&(_, n)| n > 0)
    }

    /// Packets in any tunnel.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

/// What went wrong in a capture file without stopping the reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureWarning {
    /// The file.
    pub path: PathBuf,
    /// Byte offset in the file where it happened.
    pub offset: u64,
    /// What happened.
    pub kind: WarningKind,
}

/// The kinds of [`CaptureWarning`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarningKind {
    /// The file ends inside a record or block (or a record length is corrupt):
    /// everything before it was read.
    TruncatedRecord {
        /// Bytes present of the partial record.
        present: u64,
    },
    /// A pcapng block with an impossible length or content: reading stopped
    /// there, since block boundaries are lost.
    CorruptBlock {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A pcapng block that was skipped or read with defaults (bad lengths,
    /// unreadable options); reading went on.
    BadBlock {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Packets of an interface with a link type the decoder does not know.
    UnsupportedLinktype {
        /// The link type number.
        linktype: u32,
    },
    /// Packets referring to an interface that no IDB declared (skipped).
    UnknownInterface {
        /// The interface id in the packet block.
        interface_id: u32,
    },
    /// An interface statistics block reported packets dropped by the capture.
    CaptureDrops {
        /// Packets dropped since the previous report.
        dropped: u64,
    },
}

impl fmt::Display for CaptureWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: at byte {}: ", self.path.display(), self.offset)?;
        match &self.kind {
            WarningKind::TruncatedRecord { present } => write!(
                f,
                "file ends inside a record ({present} bytes of it present); everything before it was read"
            ),
            WarningKind::CorruptBlock { reason } => {
                write!(f, "corrupt block ({reason}); reading stopped here")
            }
            WarningKind::BadBlock { reason } => {
                write!(f, "bad pcapng block ({reason})")
            }
            WarningKind::UnsupportedLinktype { linktype } => write!(
                f,
                "interface with unsupported link type {linktype}: its packets are not decoded"
            ),
            WarningKind::UnknownInterface { interface_id } => write!(
                f,
                "packets for undeclared interface {interface_id} skipped"
            ),
            WarningKind::CaptureDrops { dropped } => {
                write!(f, "the capture dropped {dropped} packets")
            }
        }
    }
}

/// Counts of what reading one or more capture files saw. Add them up with `+=`.
///
/// The names follow the `stats` object of the shared truth files where they
/// overlap.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CaptureStats {
    /// Files read.
    pub files: u64,
    /// Bytes of the files consumed.
    pub file_bytes: u64,
    /// Packet records read (every frame, IP or not) and selected.
    pub frames: u64,
    /// Packet records left out by the packet selection (`--filter`,
    /// `--since`, `--until`): not counted anywhere else.
    pub not_selected: u64,
    /// Frames counted as IP packets (IPv4 + IPv6).
    pub ip_packets: u64,
    /// IP packets whose outermost header is IPv4.
    pub ipv4_packets: u64,
    /// IP packets whose outermost header is IPv6.
    pub ipv6_packets: u64,
    /// IP-layer bytes of the IP packets.
    pub ip_bytes: u64,
    /// Frames that do not carry IP (ARP, LLDP, ...): not counted.
    pub non_ip: u64,
    /// Frames that claim IP but could not be decoded: not counted, and a loss
    /// event each.
    pub undecodable: u64,
    /// Of `undecodable`, frames of interfaces with an unsupported link type.
    pub unsupported_linktype: u64,
    /// Frames captured shorter than their wire length (snap length).
    pub snapped_frames: u64,
    /// IP packets whose IP length field was 0 (bytes from the wire length).
    pub ip_len_zero: u64,
    /// Frames with at least one VLAN tag.
    pub vlan_tagged_packets: u64,
    /// Frames with an MPLS label stack.
    pub mpls_packets: u64,
    /// Frames with a PPPoE session header.
    pub pppoe_packets: u64,
    /// Frames with an LLC/SNAP header.
    pub llc_snap_packets: u64,
    /// IPv6 packets with extension headers.
    pub ipv6_ext_headers: u64,
    /// First fragments (offset 0, more fragments).
    pub fragments_first: u64,
    /// Later fragments (offset > 0).
    pub fragments_nonfirst: u64,
    /// Later fragments that got the ports of their first fragment (tracking).
    pub fragments_tracked: u64,
    /// Packets per outermost tunnel kind.
    pub tunnel_outer_packets: TunnelCounts,
    /// Frames per link type.
    pub linktypes: BTreeMap<u32, u64>,
    /// IP packets per (outermost) IP protocol.
    pub ip_protocols: BTreeMap<u8, u64>,
    /// pcapng simple packet blocks, which carry no timestamp (they get the
    /// timestamp of the previous packet of the file, 0 before any).
    pub pcapng_simple_packet_no_ts: u64,
    /// Packets whose timestamp is earlier than the previous packet's.
    pub ts_backwards: u64,
    /// pcapng packets of undeclared interfaces (skipped, not in `frames`).
    pub unknown_interface_packets: u64,
    /// Packets dropped by the capture, as reported in pcapng interface statistics.
    pub capture_drops: u64,
    /// Earliest timestamp of a counted IP packet.
    pub first_ts: Option<Timestamp>,
    /// Latest timestamp of a counted IP packet.
    pub last_ts: Option<Timestamp>,
    /// Interfaces (capture points) declared.
    pub interfaces: u64,
    /// A file ended inside a record (its partial last record was dropped), or
    /// at a corrupt pcapng block.
    pub truncated_file: bool,
    /// How many files did (`truncated_file` counted over files).
    pub truncated_files: u64,
    /// Everything worth a warning, in file order (at most 100 per file).
    pub warnings: Vec<CaptureWarning>,
    /// Warnings beyond the 100 kept for a file, counted only.
    pub warnings_suppressed: u64,
}

impl CaptureStats {
    /// Frames that were counted as IP or reported as not IP or undecodable: all
    /// of them (the three add up to `frames`).
    pub fn accounted_frames(&self) -> u64 {
        self.ip_packets + self.non_ip + self.undecodable
    }
}

fn add_map<K: Ord + Copy>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>) {
    for (k, v) in from {
        *into.entry(*k).or_insert(0) += v;
    }
}

fn min_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) | (None, x) => x,
    }
}

fn max_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) | (None, x) => x,
    }
}

impl AddAssign<&CaptureStats> for CaptureStats {
    fn add_assign(&mut self, o: &CaptureStats) {
        self.files += o.files;
        self.file_bytes += o.file_bytes;
        self.frames += o.frames;
        self.not_selected += o.not_selected;
        self.ip_packets += o.ip_packets;
        self.ipv4_packets += o.ipv4_packets;
        self.ipv6_packets += o.ipv6_packets;
        self.ip_bytes += o.ip_bytes;
        self.non_ip += o.non_ip;
        self.undecodable += o.undecodable;
        self.unsupported_linktype += o.unsupported_linktype;
        self.snapped_frames += o.snapped_frames;
        self.ip_len_zero += o.ip_len_zero;
        self.vlan_tagged_packets += o.vlan_tagged_packets;
        self.mpls_packets += o.mpls_packets;
        self.pppoe_packets += o.pppoe_packets;
        self.llc_snap_packets += o.llc_snap_packets;
        self.ipv6_ext_headers += o.ipv6_ext_headers;
        self.fragments_first += o.fragments_first;
        self.fragments_nonfirst += o.fragments_nonfirst;
        self.fragments_tracked += o.fragments_tracked;
        for (k, n) in o.tunnel_outer_packets.iter() {
            self.tunnel_outer_packets.add(k, n);
        }
        add_map(&mut self.linktypes, &o.linktypes);
        add_map(&mut self.ip_protocols, &o.ip_protocols);
        self.pcapng_simple_packet_no_ts += o.pcapng_simple_packet_no_ts;
        self.ts_backwards += o.ts_backwards;
        self.capture_drops += o.capture_drops;
        self.unknown_interface_packets += o.unknown_interface_packets;
        self.first_ts = min_opt(self.first_ts, o.first_ts);
        self.last_ts = max_opt(self.last_ts, o.last_ts);
        self.interfaces += o.interfaces;
        self.truncated_file |= o.truncated_file;
        self.truncated_files += o.truncated_files;
        self.warnings.extend(o.warnings.iter().cloned());
        self.warnings_suppressed += o.warnings_suppressed;
    }
}

impl AddAssign for CaptureStats {
    fn add_assign(&mut self, o: CaptureStats) {
        *self += &o;
    }
}

impl Add for CaptureStats {
    type Output = CaptureStats;
    fn add(mut self, o: CaptureStats) -> CaptureStats {
        self += &o;
        self
    }
}

impl fmt::Display for CaptureStats {
    /// A one-paragraph summary.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} file(s), {} frames: {} IP packets ({} IPv4, {} IPv6, {} bytes), {} not IP, {} undecodable",
            self.files,
            self.frames,
            self.ip_packets,
            self.ipv4_packets,
            self.ipv6_packets,
            self.ip_bytes,
            self.non_ip,
            self.undecodable
        )?;
        if self.snapped_frames > 0 {
            write!(f, ", {} snapped", self.snapped_frames)?;
        }
        if self.fragments_first + self.fragments_nonfirst > 0 {
            write!(
                f,
                ", fragments {} first / {} later",
                self.fragments_first, self.fragments_nonfirst
            )?;
        }
        for (k, n) in self.tunnel_outer_packets.iter() {
            write!(f, ", {n} {}", k.as_str())?;
        }
        if self.capture_drops > 0 {
            write!(f, ", {} dropped by the capture", self.capture_drops)?;
        }
        if self.truncated_file {
            write!(f, ", truncated file")?;
        }
        Ok(())
    }
}
