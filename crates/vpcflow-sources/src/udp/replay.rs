//! Export datagrams read back from a capture file (`vpcflow convert
//! --netflow`, `--sflow`): every UDP datagram of the file (or only those
//! to or from one port) is decoded, in file order, as the collector would
//! have decoded it on arrival (the frame's capture time standing for the
//! arrival time); the exporter is the datagram's source address.

use std::fs::File;
use std::io::Read;
use std::net::IpAddr;
use std::path::Path;

use pcap_parser::pcapng::{build_ts_resolution, Block};
use pcap_parser::{create_reader, PcapBlockOwned, PcapError};
use vpcflow_core::flow::NANOS_PER_SEC;
use vpcflow_core::{FlowConsumer, Timestamp};

use super::DatagramDecoder;
use crate::decode::{self, linktype, Next};

/// Which datagrams of a capture are export datagrams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayOptions {
    /// Only UDP datagrams to (or from) this port; `None`: every UDP datagram.
    pub port: Option<u16>,
}

/// What reading one capture found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Frames in the file.
    pub frames: u64,
    /// UDP datagrams given to the decoder.
    pub datagrams: u64,
    /// Frames that are not UDP over IP, or not of the selected port.
    pub skipped: u64,
    /// UDP datagrams cut short by the capture's snap length, or IP
    /// fragments: not decodable.
    pub incomplete: u64,
    /// Datagrams the decoder rejected (in part or whole).
    pub malformed: u64,
    /// The first rejections: frame number and reason.
    pub errors: Vec<String>,
    /// The file ends inside a record.
    pub truncated: bool,
}

impl ReplayStats {
    /// Adds the counts of another file (its first errors while there is room).
    pub fn add(&mut self, other: ReplayStats) {
        self.frames += other.frames;
        self.datagrams += other.datagrams;
        self.skipped += other.skipped;
        self.incomplete += other.incomplete;
        self.malformed += other.malformed;
        self.truncated |= other.truncated;
        let room = MAX_ERRORS.saturating_sub(self.errors.len());
        self.errors.extend(other.errors.into_iter().take(room));
    }
}

/// What [`for_each_datagram`] calls with each datagram: the frame number,
/// capture time, source address and payload.
pub type EachDatagram<'a> = dyn FnMut(u64, Timestamp, IpAddr, &[u8]) + 'a;

/// Errors kept per file; later ones are only counted.
const MAX_ERRORS: usize = 20;

/// Reads the capture at `path` and decodes its export datagrams with
/// `decoder` into `out`. A file that is not a capture is an error; damage
/// inside it ends the reading with [`ReplayStats::truncated`].
pub fn read_file<D: DatagramDecoder>(
    path: &Path,
    options: &ReplayOptions,
    decoder: &mut D,
    out: &mut dyn FlowConsumer,
) -> Result<ReplayStats, String> {
    let file = File::open(path).map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
    read(path, file, options, decoder, out)
}

/// Like [`read_file`], on a capture read from a stream (standard input, a
/// decompressor); `path` only names it in messages.
pub fn read<R: Read + Send, D: DatagramDecoder>(
    path: &Path,
    input: R,
    options: &ReplayOptions,
    decoder: &mut D,
    out: &mut dyn FlowConsumer,
) -> Result<ReplayStats, String> {
    let mut malformed = 0u64;
    let mut errors = Vec::new();
    let mut stats = datagrams_of(path, input, options, &mut |n, at, src, payload| {
        if let Err(e) = decoder.decode_datagram(src, at, payload, out) {
            malformed += 1;
            if errors.len() < MAX_ERRORS {
                tracing::warn!(frame = n, exporter = %src, error = %e, "malformed export datagram");
                errors.push(format!("frame {n} from {src}: {e}"));
            }
        }
    })?;
    stats.malformed = malformed;
    stats.errors = errors;
    Ok(stats)
}

/// Calls `each` with the frame number, capture time, source address and
/// payload of every selected, complete UDP datagram of the capture at
/// `path`, in file order.
pub fn for_each_datagram(
    path: &Path,
    options: &ReplayOptions,
    each: &mut EachDatagram<'_>,
) -> Result<ReplayStats, String> {
    let file = File::open(path).map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
    datagrams_of(path, file, options, each)
}

/// [`for_each_datagram`] on a stream.
fn datagrams_of<R: Read + Send>(
    path: &Path,
    input: R,
    options: &ReplayOptions,
    each: &mut EachDatagram<'_>,
) -> Result<ReplayStats, String> {
    let mut reader = create_reader(1 << 20, input).map_err(|e| match e {
        PcapError::Eof => format!("{}: the file is empty", path.display()),
        _ => format!("{}: not a pcap or pcapng capture file", path.display()),
    })?;
    let mut stats = ReplayStats::default();
    // Per pcapng interface: link type, time units per second, offset (s).
    let mut interfaces: Vec<(u32, u64, i64)> = Vec::new();
    let mut legacy_linktype = linktype::ETHERNET;
    let mut legacy_frac_ns = 1_000;
    let mut last_ts: Timestamp = 0;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                let frame: Option<(u32, Timestamp, &[u8])> = match &block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy_linktype = (h.network.0 as u32) & 0xFFFF;
                        legacy_frac_ns = if h.is_nanosecond_precision() {
                            1
                        } else {
                            1_000
                        };
                        None
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let ts = u64::from(b.ts_sec) * NANOS_PER_SEC
                            + u64::from(b.ts_usec) * legacy_frac_ns;
                        Some((legacy_linktype, ts, b.data))
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                        interfaces.clear();
                        None
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        let units = build_ts_resolution(idb.if_tsresol).unwrap_or(1_000_000);
                        interfaces.push((idb.linktype.0 as u32, units, idb.if_tsoffset));
                        None
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let len = (epb.caplen as usize).min(epb.data.len());
                        interfaces
                            .get(epb.if_id as usize)
                            .map(|&(lt, units, offset)| {
                                let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                                (lt, ng_time(raw, units, offset), &epb.data[..len])
                            })
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        // No time in a simple packet block: the previous
                        // frame's.
                        interfaces
                            .first()
                            .map(|&(lt, _, _)| (lt, last_ts, spb.data))
                    }
                    PcapBlockOwned::NG(_) => None,
                };
                if let Some((lt, ts, data)) = frame {
                    stats.frames += 1;
                    last_ts = ts;
                    datagram(lt, ts, data, options, each, &mut stats);
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    stats.truncated = true;
                    break;
                }
            }
            Err(_) => {
                stats.truncated = true;
                break;
            }
        }
    }
    if stats.truncated {
        tracing::warn!(file = %path.display(), "capture file is truncated or damaged: read up to the last complete packet");
    }
    Ok(stats)
}

/// One frame: its UDP payload to `each`, if it is one of the selection.
fn datagram(
    lt: u32,
    ts: Timestamp,
    frame: &[u8],
    options: &ReplayOptions,
    each: &mut EachDatagram<'_>,
    stats: &mut ReplayStats,
) {
    let Some((src, sport, dport, payload, complete)) = udp(lt, frame) else {
        stats.skipped += 1;
        return;
    };
    if let Some(port) = options.port {
        if sport != port && dport != port {
            stats.skipped += 1;
            return;
        }
    }
    if !complete {
        stats.incomplete += 1;
        return;
    }
    stats.datagrams += 1;
    each(stats.frames, ts, src, payload);
}

/// A pcapng timestamp of `raw` units (`units` a second) plus `offset_s`
/// seconds, in nanoseconds.
fn ng_time(raw: u64, units: u64, offset_s: i64) -> Timestamp {
    let ns = u128::from(raw) * u128::from(NANOS_PER_SEC) / u128::from(units.max(1));
    let ns = u64::try_from(ns).unwrap_or(u64::MAX);
    ns.saturating_add_signed(offset_s.saturating_mul(NANOS_PER_SEC as i64))
}

/// The source address, ports and payload of a UDP datagram over IP, and
/// whether the payload is complete (not cut by the snap length, not a
/// fragment).
fn udp(lt: u32, frame: &[u8]) -> Option<(IpAddr, u16, u16, &[u8], bool)> {
    let mut layers = decode::Layers::empty();
    let (off, version) = match decode::locate(frame, linktype::first_header(lt, frame), &mut layers)
    {
        Next::Ip(off) => (off, None),
        Next::Ipv4(off) => (off, Some(4)),
        Next::Ipv6(off) => (off, Some(6)),
        _ => return None,
    };
    let h = decode::ip_header(frame, off, version)?;
    if h.protocol != 17 {
        return None;
    }
    let udp = frame.get(h.l4..h.l4 + 8)?;
    let sport = u16::from_be_bytes([udp[0], udp[1]]);
    let dport = u16::from_be_bytes([udp[2], udp[3]]);
    let udp_len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    let fragment = !matches!(h.fragment, decode::Fragment::None);
    let end = h.l4 + udp_len.max(8);
    let complete = !fragment && end <= h.end;
    let payload = &frame[h.l4 + 8..end.min(h.end)];
    Some((h.src, sport, dport, payload, complete))
}
