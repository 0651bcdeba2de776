//! Export datagrams read back from a capture file (`vpcflow convert
//! --netflow`): every UDP datagram of the file (or only those to or from
//! one port) is decoded, in file order, as the collector would have
//! decoded it on arrival; the exporter is the datagram's source address.

use std::fs::File;
use std::io::Read;
use std::net::IpAddr;
use std::path::Path;

use pcap_parser::pcapng::Block;
use pcap_parser::{create_reader, PcapBlockOwned, PcapError};
use vpcflow_core::FlowConsumer;

use super::Decoder;
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

/// Errors kept per file; later ones are only counted.
const MAX_ERRORS: usize = 20;

/// Reads the capture at `path` and decodes its export datagrams with
/// `decoder` into `out`. A file that is not a capture is an error; damage
/// inside it ends the reading with [`ReplayStats::truncated`].
pub fn read_file(
    path: &Path,
    options: &ReplayOptions,
    decoder: &mut Decoder,
    out: &mut dyn FlowConsumer,
) -> Result<ReplayStats, String> {
    let file = File::open(path).map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
    read(path, file, options, decoder, out)
}

/// Like [`read_file`], on a capture read from a stream (standard input, a
/// decompressor); `path` only names it in messages.
pub fn read<R: Read + Send>(
    path: &Path,
    input: R,
    options: &ReplayOptions,
    decoder: &mut Decoder,
    out: &mut dyn FlowConsumer,
) -> Result<ReplayStats, String> {
    let mut malformed = 0u64;
    let mut errors = Vec::new();
    let mut stats = datagrams_of(path, input, options, &mut |n, src, payload| {
        if let Err(e) = decoder.datagram(src, payload, out) {
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

/// Calls `each` with the frame number, source address and payload of every
/// selected, complete UDP datagram of the capture at `path`, in file order.
pub fn for_each_datagram(
    path: &Path,
    options: &ReplayOptions,
    each: &mut dyn FnMut(u64, IpAddr, &[u8]),
) -> Result<ReplayStats, String> {
    let file = File::open(path).map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
    datagrams_of(path, file, options, each)
}

/// [`for_each_datagram`] on a stream.
fn datagrams_of<R: Read + Send>(
    path: &Path,
    input: R,
    options: &ReplayOptions,
    each: &mut dyn FnMut(u64, IpAddr, &[u8]),
) -> Result<ReplayStats, String> {
    let mut reader = create_reader(1 << 20, input).map_err(|e| match e {
        PcapError::Eof => format!("{}: the file is empty", path.display()),
        _ => format!("{}: not a pcap or pcapng capture file", path.display()),
    })?;
    let mut stats = ReplayStats::default();
    let mut linktypes: Vec<u32> = Vec::new();
    let mut legacy_linktype = linktype::ETHERNET;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                let frame: Option<(u32, &[u8])> = match &block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy_linktype = (h.network.0 as u32) & 0xFFFF;
                        None
                    }
                    PcapBlockOwned::Legacy(b) => Some((legacy_linktype, b.data)),
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                        linktypes.clear();
                        None
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        linktypes.push(idb.linktype.0 as u32);
                        None
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let len = (epb.caplen as usize).min(epb.data.len());
                        linktypes
                            .get(epb.if_id as usize)
                            .map(|&lt| (lt, &epb.data[..len]))
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        linktypes.first().map(|&lt| (lt, spb.data))
                    }
                    PcapBlockOwned::NG(_) => None,
                };
                if let Some((lt, data)) = frame {
                    stats.frames += 1;
                    datagram(lt, data, options, each, &mut stats);
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
    frame: &[u8],
    options: &ReplayOptions,
    each: &mut dyn FnMut(u64, IpAddr, &[u8]),
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
    each(stats.frames, src, payload);
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
