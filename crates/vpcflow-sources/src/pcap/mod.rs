//! Capture files (classic pcap and pcapng) read into flow updates.
//!
//! A file, like a stream (standard input, a pipe, a decompressor, with
//! [`read_capture_stream`]), is read piece by piece into one small buffer that
//! is reused, each record converted as soon as it is complete: memory does not
//! grow with the file, and the packets are decoded while their bytes are still
//! in the CPU's cache (reading a memory-mapped file instead costs a page fault
//! and a TLB miss every few records, and was slower). Every packet is decoded by
//! [`decode`](crate::decode()) and becomes one [`FlowUpdate`] (one packet,
//! `first == last ==` its timestamp, action ACCEPT) for the consumer. Nothing is
//! allocated per packet.
//!
//! Interfaces: a classic pcap file is one interface named `capture0`; each
//! pcapng interface description block (IDB) is one interface, named by its
//! `if_name` option, else `capture{N}` with N the IDB's index in the file.
//! [`PcapOptions::interface_name`] overrides the name of the classic file's
//! interface and of the first IDB of a pcapng file. The consumer is told about
//! each interface (`FlowConsumer::interface`) when it is declared, before its
//! packets.
//!
//! Timestamps: pcap records give seconds and micro- or nanoseconds (by the
//! magic number); the pcap `thiszone` field is ignored, as every tool does.
//! pcapng timestamps follow the IDB's `if_tsresol` (powers of 10 and of 2) and
//! `if_tsoffset` options. **Simple packet blocks** carry no timestamp: they get
//! the timestamp of the previous packet of the file, or, before any, that of
//! the first timestamped packet after them (0, the epoch, when the file has
//! none), and are counted in [`CaptureStats::pcapng_simple_packet_no_ts`].
//!
//! Damage: a file that ends inside a record is read up to that record and
//! reported with [`CaptureStats::truncated_file`] and a warning, not an error; a
//! corrupt pcapng block stops the reading the same way. A file that is not a
//! capture at all is an error naming it.

mod classic;
mod pcapng;
mod select;
mod stream;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use vpcflow_core::{FlowConsumer, InterfaceIndex, LossEvent, Timestamp};

use crate::decode::{self, Fragment, Layers, Outcome, TunnelKind, Undecodable};
pub use crate::fragments::FragmentPolicy;
use crate::fragments::PacketDecoder;
use crate::handoff::Handoff;
pub use crate::stats::{CaptureStats, CaptureWarning, TunnelCounts, WarningKind};
pub use select::PacketSelection;
use select::Selector;
pub use stream::{read_capture_stream, MAX_STREAM_RECORD};
use stream::{Fed, FormatReader};

/// How capture files are read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PcapOptions {
    /// Name of every interface of classic pcap files and of the first interface
    /// (IDB 0) of pcapng files; `None`: `capture0` (or the IDB's `if_name`).
    pub interface_name: Option<String>,
    /// What later fragments get as ports.
    pub fragments: FragmentPolicy,
    /// Which packets are converted (default: all).
    pub select: PacketSelection,
}

/// Why a capture file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened.
    #[error("{}: cannot open capture file: {source}", .path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The file could not be read.
    #[error("{}: cannot read capture file: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The file is neither classic pcap nor pcapng.
    #[error("{}: not a pcap or pcapng capture file ({detail})", .path.display())]
    NotACapture {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        detail: String,
    },
    /// The file starts like a capture but its header is unusable.
    #[error("{}: bad capture file header: {detail}", .path.display())]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

impl CaptureError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            CaptureError::Open { path, .. }
            | CaptureError::Read { path, .. }
            | CaptureError::NotACapture { path, .. }
            | CaptureError::BadHeader { path, .. } => path,
        }
    }
}

/// The format of a capture file, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Classic libpcap format (either byte order, micro- or nanoseconds).
    Pcap,
    /// pcapng.
    PcapNg,
}

/// The capture format of a file starting with `head`, if it is one.
pub fn sniff_format(head: &[u8]) -> Option<CaptureFormat> {
    match head.get(..4)? {
        [0x0A, 0x0D, 0x0D, 0x0A] => Some(CaptureFormat::PcapNg),
        [0xD4, 0xC3, 0xB2, 0xA1]
        | [0xA1, 0xB2, 0xC3, 0xD4]
        | [0x4D, 0x3C, 0xB2, 0xA1]
        | [0xA1, 0xB2, 0x3C, 0x4D]
        | [0x34, 0xCD, 0xB2, 0xA1] => Some(CaptureFormat::Pcap),
        _ => None,
    }
}

/// Read the capture file at `path`, giving every packet to `consumer` as one
/// [`FlowUpdate`], every undecodable frame as one [`LossEvent`].
///
/// `progress` is called with the number of bytes of this file consumed so far,
/// about every 4 MiB and once at the end.
///
/// Returns what was seen; damage inside the file (a partial last record, a
/// corrupt block) ends the reading early and is reported in the stats
/// ([`CaptureStats::truncated_file`], [`CaptureStats::warnings`]), keeping
/// everything read before it. Errors are for files that cannot be read at all.
pub fn read_capture<C: FlowConsumer + ?Sized>(
    path: &Path,
    options: &PcapOptions,
    consumer: &mut C,
    progress: &mut dyn FnMut(u64),
) -> Result<CaptureStats, CaptureError> {
    let mut file = File::open(path).map_err(|source| CaptureError::Open {
        path: path.to_owned(),
        source,
    })?;
    read_capture_stream(path, &mut file, options, consumer, progress)
}

/// Like [`read_capture`], on a capture already in memory; `path` only names it
/// in errors and warnings.
pub fn read_capture_bytes<C: FlowConsumer + ?Sized>(
    path: &Path,
    data: &[u8],
    options: &PcapOptions,
    consumer: &mut C,
    progress: &mut dyn FnMut(u64),
) -> Result<CaptureStats, CaptureError> {
    let Some(format) = sniff_format(data) else {
        return Err(CaptureError::NotACapture {
            path: path.to_owned(),
            detail: describe_head(data),
        });
    };
    let mut reader = Reader::new(path, options, consumer, progress);
    let mut file = FormatReader::new(format);
    let fed = file.feed(&mut reader, data, true)?;
    file.finish(&mut reader);
    (reader.progress.report)(fed.consumed as u64);
    Ok(reader.finish(fed.consumed as u64))
}

/// What the first bytes of a non-capture file look like, for the error.
fn describe_head(data: &[u8]) -> String {
    match data {
        [] => "the file is empty".to_owned(),
        [0x1F, 0x8B, ..] => "it is gzip-compressed: decompress it first".to_owned(),
        _ if data.len() < 4 => format!("only {} bytes long", data.len()),
        _ => {
            let hex: Vec<String> = data[..4].iter().map(|b| format!("{b:02x}")).collect();
            format!("starts with {}", hex.join(" "))
        }
    }
}

/// Warnings kept (and logged) per file; later ones are only counted.
const MAX_WARNINGS_PER_FILE: usize = 100;

/// Progress is reported about every this many bytes.
const PROGRESS_STEP: u64 = 4 << 20;

struct Progress<'p> {
    report: &'p mut dyn FnMut(u64),
    next: u64,
}

impl Progress<'_> {
    #[inline(always)]
    fn at(&mut self, offset: u64) {
        if offset >= self.next {
            (self.report)(offset);
            self.next = offset + PROGRESS_STEP;
        }
    }
}

/// One interface (capture point) of the file being read.
struct Iface {
    index: InterfaceIndex,
    linktype: u32,
    frames: u64,
}

/// State shared by the two file formats.
struct Reader<'a, C: FlowConsumer + ?Sized> {
    path: &'a Path,
    /// Offset in the file of the data being read (a stream drops what it
    /// has read; a capture already in memory is read from 0).
    base: u64,
    options: &'a PcapOptions,
    /// `None` when every packet is taken (the common case costs nothing).
    selector: Option<Selector<'a>>,
    emitter: Emitter<'a, C>,
    progress: Progress<'a>,
    ifaces: Vec<Iface>,
    stats: CaptureStats,
}

impl<'a, C: FlowConsumer + ?Sized> Reader<'a, C> {
    fn new(
        path: &'a Path,
        options: &'a PcapOptions,
        consumer: &'a mut C,
        progress: &'a mut dyn FnMut(u64),
    ) -> Self {
        Reader {
            path,
            base: 0,
            options,
            selector: (!options.select.is_all()).then(|| Selector::new(&options.select)),
            emitter: Emitter::new(consumer, options.fragments),
            progress: Progress {
                report: progress,
                next: PROGRESS_STEP,
            },
            ifaces: Vec::new(),
            stats: CaptureStats::default(),
        }
    }

    /// The file offset of `offset` in the data being read.
    #[inline(always)]
    fn at(&self, offset: usize) -> u64 {
        self.base + offset as u64
    }

    /// Reports progress up to `offset` in the data being read.
    #[inline(always)]
    fn progress_at(&mut self, offset: usize) {
        let at = self.at(offset);
        self.progress.at(at);
    }

    /// Declare the next interface of the file (its position is the IDB index);
    /// returns that position.
    fn declare_interface(&mut self, name: Option<&str>, linktype: u32, offset: usize) -> usize {
        let n = self.ifaces.len();
        let default_name;
        let name = match (&self.options.interface_name, name) {
            (Some(forced), _) if n == 0 => forced.as_str(),
            (_, Some(name)) => name,
            _ => {
                default_name = format!("capture{n}");
                default_name.as_str()
            }
        };
        self.emitter.flush();
        let index = self.emitter.consumer.interface(name);
        if !decode::linktype::is_supported(linktype) {
            self.warn(offset, WarningKind::UnsupportedLinktype { linktype });
        }
        tracing::debug!(file = %self.path.display(), interface = name, linktype, "capture interface");
        self.ifaces.push(Iface {
            index,
            linktype,
            frames: 0,
        });
        self.stats.interfaces += 1;
        n
    }

    fn warn(&mut self, offset: usize, kind: WarningKind) {
        if self.stats.warnings.len() >= MAX_WARNINGS_PER_FILE {
            self.stats.warnings_suppressed += 1;
            return;
        }
        let w = CaptureWarning {
            path: self.path.to_owned(),
            offset: self.at(offset),
            kind,
        };
        tracing::warn!("{w}");
        self.stats.warnings.push(w);
    }

    /// The file ends inside a record starting at `offset`.
    fn truncated(&mut self, data: &[u8], offset: usize) {
        self.stats.truncated_file = true;
        self.stats.truncated_files = 1;
        let present = (data.len() - offset) as u64;
        self.warn(offset, WarningKind::TruncatedRecord { present });
    }

    /// A corrupt block at `offset`: reading stops there, like a truncation.
    fn corrupt(&mut self, offset: usize, reason: &'static str) {
        self.stats.truncated_file = true;
        self.stats.truncated_files = 1;
        self.warn(offset, WarningKind::CorruptBlock { reason });
    }

    /// One packet of interface `iface` (a position from `declare_interface`).
    #[inline(always)]
    fn packet(&mut self, iface: usize, frame: &[u8], wire_len: u32, ts: Timestamp) {
        if let Some(i) = self.ifaces.get_mut(iface) {
            if let Some(selector) = &mut self.selector {
                if !selector.keep(i.linktype, frame, ts) {
                    self.stats.not_selected += 1;
                    return;
                }
            }
            i.frames += 1;
            self.emitter
                .packet(i.index, i.linktype, frame, wire_len, ts);
        }
    }

    fn finish(mut self, consumed: u64) -> CaptureStats {
        self.emitter.flush();
        let mut s = std::mem::take(&mut self.stats);
        s.files = 1;
        s.file_bytes = consumed;
        for i in &self.ifaces {
            if i.frames > 0 {
                *s.linktypes.entry(i.linktype).or_insert(0) += i.frames;
            }
        }
        self.emitter.counters.fill(&mut s);
        s
    }
}

/// Per-packet counters, plain integers updated without branches where possible.
struct Counters {
    frames: u64,
    ip_packets: u64,
    ipv4_packets: u64,
    ip_bytes: u64,
    non_ip: u64,
    undecodable: u64,
    unsupported_linktype: u64,
    layers: [u64; 7],
    fragments_first: u64,
    fragments_nonfirst: u64,
    fragments_tracked: u64,
    tunnels: [u64; TunnelKind::ALL.len()],
    protocols: [u64; 256],
    ts_backwards: u64,
    first_ts: Timestamp,
    last_ts: Timestamp,
    simple_no_ts: u64,
    capture_drops: u64,
}

impl Counters {
    fn new() -> Counters {
        Counters {
            frames: 0,
            ip_packets: 0,
            ipv4_packets: 0,
            ip_bytes: 0,
            non_ip: 0,
            undecodable: 0,
            unsupported_linktype: 0,
            layers: [0; 7],
            fragments_first: 0,
            fragments_nonfirst: 0,
            fragments_tracked: 0,
            tunnels: [0; TunnelKind::ALL.len()],
            protocols: [0; 256],
            ts_backwards: 0,
            first_ts: Timestamp::MAX,
            last_ts: 0,
            simple_no_ts: 0,
            capture_drops: 0,
        }
    }

    fn fill(&self, s: &mut CaptureStats) {
        s.frames = self.frames;
        s.ip_packets = self.ip_packets;
        s.ipv4_packets = self.ipv4_packets;
        s.ipv6_packets = self.ip_packets - self.ipv4_packets;
        s.ip_bytes = self.ip_bytes;
        s.non_ip = self.non_ip;
        s.undecodable = self.undecodable;
        s.unsupported_linktype = self.unsupported_linktype;
        let layer = |l: Layers| self.layers[l.bits().trailing_zeros() as usize];
        s.vlan_tagged_packets = layer(Layers::VLAN);
        s.mpls_packets = layer(Layers::MPLS);
        s.pppoe_packets = layer(Layers::PPPOE);
        s.llc_snap_packets = layer(Layers::LLC_SNAP);
        s.ipv6_ext_headers = layer(Layers::IPV6_EXT);
        s.ip_len_zero = layer(Layers::IP_LEN_ZERO);
        s.snapped_frames = layer(Layers::SNAPPED);
        s.fragments_first = self.fragments_first;
        s.fragments_nonfirst = self.fragments_nonfirst;
        s.fragments_tracked = self.fragments_tracked;
        for k in TunnelKind::ALL {
            s.tunnel_outer_packets.add(k, self.tunnels[k.index()]);
        }
        for (p, &n) in self.protocols.iter().enumerate() {
            if n > 0 {
                s.ip_protocols.insert(p as u8, n);
            }
        }
        s.ts_backwards = self.ts_backwards;
        if self.ip_packets > 0 {
            s.first_ts = Some(self.first_ts);
            s.last_ts = Some(self.last_ts);
        }
        s.pcapng_simple_packet_no_ts = self.simple_no_ts;
        s.capture_drops = self.capture_drops;
    }
}

/// Decodes packets and hands them to the consumer, in batches
/// ([`Handoff`]).
struct Emitter<'a, C: FlowConsumer + ?Sized> {
    consumer: &'a mut C,
    decoder: PacketDecoder,
    counters: Counters,
    /// Timestamp of the previous packet of the file (0 before any).
    last_ts: Timestamp,
    /// Updates not yet handed over.
    pending: Handoff,
}

impl<'a, C: FlowConsumer + ?Sized> Emitter<'a, C> {
    fn new(consumer: &'a mut C, policy: FragmentPolicy) -> Self {
        Emitter {
            consumer,
            decoder: PacketDecoder::new(policy),
            counters: Counters::new(),
            last_ts: 0,
            pending: Handoff::new(),
        }
    }

    /// Hands the pending updates over; called before anything else reaches
    /// the consumer, so it sees everything in file order.
    #[inline]
    fn flush(&mut self) {
        self.pending.flush(self.consumer);
    }

    /// Reports lost input, after the packets before it.
    fn loss(&mut self, loss: &LossEvent) {
        self.flush();
        self.consumer.loss(loss);
    }

    #[inline(always)]
    fn packet(
        &mut self,
        interface: InterfaceIndex,
        linktype: u32,
        frame: &[u8],
        wire_len: u32,
        ts: Timestamp,
    ) {
        let c = &mut self.counters;
        c.frames += 1;
        c.ts_backwards += u64::from(ts < self.last_ts);
        self.last_ts = ts;
        let d = self.decoder.decode(linktype, frame, wire_len, ts);
        let bits = d.layers.bits();
        if bits != 0 {
            for (i, n) in c.layers.iter_mut().enumerate() {
                *n += u64::from((bits >> i) & 1);
            }
        }
        match d.outcome {
            Outcome::Ip(p) => {
                c.ip_packets += 1;
                c.first_ts = c.first_ts.min(ts);
                c.last_ts = c.last_ts.max(ts);
                c.ipv4_packets += u64::from(p.src.is_ipv4());
                c.ip_bytes += u64::from(p.bytes);
                c.protocols[usize::from(p.protocol)] += 1;
                match p.fragment {
                    Fragment::None => {}
                    Fragment::First { .. } => c.fragments_first += 1,
                    Fragment::NonFirst { .. } => {
                        c.fragments_nonfirst += 1;
                        c.fragments_tracked += u64::from(p.ports_from_first_fragment);
                    }
                }
                if let Some(k) = p.tunnel {
                    c.tunnels[k.index()] += 1;
                }
                self.pending
                    .push(p.flow_update(interface, ts), self.consumer);
            }
            Outcome::NonIp => c.non_ip += 1,
            Outcome::Undecodable(why) => {
                c.undecodable += 1;
                c.unsupported_linktype += u64::from(why == Undecodable::UnsupportedLinktype);
                self.loss(&LossEvent {
                    interface,
                    at: ts,
                    count: 1,
                });
            }
        }
    }
}
