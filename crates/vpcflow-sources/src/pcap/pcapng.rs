//! pcapng files.
//!
//! Section header and interface description blocks are parsed with
//! `pcap-parser`. Packet blocks (enhanced, simple, obsolete) and interface
//! statistics are read here from their fixed layouts, because `pcap-parser`
//! collects the options of every enhanced packet block into a `Vec` (an
//! allocation per packet whenever a capture writes per-packet options, as
//! `dumpcap` does for flags and comments) and has no obsolete packet block.
//! Timestamp resolution and offset are also computed here: `pcap-parser` 0.17
//! reads `if_tsoffset` as little-endian in big-endian sections and rejects
//! every power-of-two `if_tsresol`.

use pcap_parser::nom;
use pcap_parser::pcapng::{
    parse_interfacedescriptionblock_be, parse_interfacedescriptionblock_le,
    parse_sectionheaderblock, InterfaceDescriptionBlock, OptionCode,
};
use vpcflow_core::flow::NANOS_PER_SEC;
use vpcflow_core::{FlowConsumer, LossEvent, Timestamp};

use super::{CaptureError, Fed, Reader};
use crate::stats::WarningKind;

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 0x0000_0001;
const OPB: u32 = 0x0000_0002;
const SPB: u32 = 0x0000_0003;
const ISB: u32 = 0x0000_0005;
const EPB: u32 = 0x0000_0006;

/// How raw timestamps of an interface become nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TsScale {
    /// Units of 10^-k s with k <= 9: multiply.
    Mul(u64),
    /// Units of 10^-k s with k > 9: divide.
    Div(u64),
    /// Units of 2^-k s.
    Pow2(u32),
}

impl TsScale {
    /// From the `if_tsresol` byte; `None` when it is out of range.
    fn from_tsresol(r: u8) -> Option<TsScale> {
        if r & 0x80 == 0 {
            match u32::from(r) {
                k @ 0..=9 => Some(TsScale::Mul(10u64.pow(9 - k))),
                k @ 10..=19 => Some(TsScale::Div(10u64.pow(k - 9))),
                _ => None,
            }
        } else {
            Some(TsScale::Pow2(u32::from(r & 0x7F)))
        }
    }

    #[inline(always)]
    fn to_ns(self, raw: u64) -> u64 {
        match self {
            TsScale::Mul(m) => raw.saturating_mul(m),
            TsScale::Div(d) => raw / d,
            TsScale::Pow2(k) => {
                let ns = (u128::from(raw) * u128::from(NANOS_PER_SEC)) >> k;
                u64::try_from(ns).unwrap_or(u64::MAX)
            }
        }
    }
}

/// Timestamp conversion and drop bookkeeping of one interface.
#[derive(Debug, Clone, Copy)]
struct IfaceTime {
    scale: TsScale,
    /// `if_tsoffset` in nanoseconds.
    offset_ns: i64,
    /// Last cumulative drop count reported by an interface statistics block.
    drops: u64,
}

impl IfaceTime {
    #[inline(always)]
    fn timestamp(&self, high: u32, low: u32) -> Timestamp {
        let ns = self.scale.to_ns((u64::from(high) << 32) | u64::from(low));
        if self.offset_ns == 0 {
            ns
        } else {
            ns.saturating_add_signed(self.offset_ns)
        }
    }
}

/// Byte order of the current section.
#[derive(Debug, Clone, Copy)]
struct Endian {
    big: bool,
}

impl Endian {
    #[inline(always)]
    fn u32(self, b: &[u8], at: usize) -> u32 {
        let w = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.big {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        }
    }

    #[inline(always)]
    fn u16(self, b: &[u8], at: usize) -> u16 {
        let w = [b[at], b[at + 1]];
        if self.big {
            u16::from_be_bytes(w)
        } else {
            u16::from_le_bytes(w)
        }
    }

    fn u64(self, b: &[u8]) -> Option<u64> {
        let w: [u8; 8] = b.get(..8)?.try_into().ok()?;
        Some(if self.big {
            u64::from_be_bytes(w)
        } else {
            u64::from_le_bytes(w)
        })
    }
}

/// The interfaces of the current section: positions in the reader's list.
struct Section {
    endian: Endian,
    ifaces: Vec<usize>,
    times: Vec<IfaceTime>,
    warned_unknown: bool,
}

/// A pcapng file read in one or more pieces: the state kept between them.
#[derive(Default)]
pub(super) struct PcapNg {
    section: Option<Section>,
    untimed: Untimed,
}

impl PcapNg {
    /// Reads the complete blocks at the start of `data`; `eof` says whether
    /// more bytes follow (a stream) or `data` ends the file.
    pub(super) fn feed<C: FlowConsumer + ?Sized>(
        &mut self,
        r: &mut Reader<'_, C>,
        data: &[u8],
        eof: bool,
    ) -> Result<Fed, CaptureError> {
        let mut offset = 0usize;
        while offset < data.len() {
            let rest = &data[offset..];
            if rest.len() < 12 {
                return Ok(self.incomplete(r, data, offset, eof));
            }
            let raw_type = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
            if raw_type == SHB {
                match parse_sectionheaderblock(rest) {
                    Ok((after, shb)) => {
                        self.section = Some(Section {
                            endian: Endian {
                                big: shb.big_endian(),
                            },
                            ifaces: Vec::new(),
                            times: Vec::new(),
                            warned_unknown: false,
                        });
                        offset += rest.len() - after.len();
                        continue;
                    }
                    // A stream judges a section header only once it holds the
                    // whole block, as a file does.
                    Err(_) if !eof && shb_incomplete(rest) => {
                        return Ok(self.incomplete(r, data, offset, eof));
                    }
                    Err(nom::Err::Incomplete(_)) if !eof || r.at(offset) > 0 => {
                        return Ok(self.incomplete(r, data, offset, eof));
                    }
                    Err(e) if r.at(offset) == 0 => {
                        return Err(CaptureError::BadHeader {
                            path: r.path.to_owned(),
                            detail: format!(
                                "unreadable pcapng section header block at byte 0: {}",
                                shb_fault(rest, &e)
                            ),
                        });
                    }
                    Err(_) => {
                        r.corrupt(offset, "unreadable section header block");
                        return Ok(Fed::done(offset));
                    }
                }
            }
            let Some(sec) = self.section.as_mut() else {
                // Unreachable: the file was sniffed as starting with a section header.
                return Ok(Fed::done(offset));
            };
            let e = sec.endian;
            let block_type = e.u32(rest, 0);
            let len = e.u32(rest, 4) as usize;
            if len < 12 || len % 4 != 0 {
                r.corrupt(offset, "block length not a multiple of 4 of at least 12");
                return Ok(Fed::done(offset));
            }
            if len > rest.len() {
                return Ok(self.incomplete(r, data, offset, eof));
            }
            let block = &rest[..len];
            if e.u32(block, len - 4) as usize != len {
                r.corrupt(offset, "leading and trailing block lengths differ");
                return Ok(Fed::done(offset));
            }
            match block_type {
                EPB | OPB => {
                    let frames = r.emitter.counters.frames;
                    if block_type == EPB {
                        enhanced_packet(r, sec, block, offset);
                    } else {
                        obsolete_packet(r, sec, block, offset);
                    }
                    if r.emitter.counters.frames > frames {
                        self.untimed.timestamp_seen(r);
                    }
                }
                SPB => simple_packet(r, sec, block, offset, &mut self.untimed),
                IDB => interface_description(r, sec, block, offset),
                ISB => interface_statistics(r, sec, block, offset),
                _ => {}
            }
            offset += len;
            r.progress_at(offset);
        }
        Ok(Fed::more(offset))
    }

    /// The block at `offset` is not complete in `data`: wait for more, or at
    /// the end of the file report the truncation.
    fn incomplete<C: FlowConsumer + ?Sized>(
        &mut self,
        r: &mut Reader<'_, C>,
        data: &[u8],
        offset: usize,
        eof: bool,
    ) -> Fed {
        if eof {
            r.truncated(data, offset);
            Fed::done(data.len())
        } else {
            Fed::more(offset)
        }
    }

    /// The end of the file: simple packets still waiting for a timestamp get 0.
    pub(super) fn finish<C: FlowConsumer + ?Sized>(&mut self, r: &mut Reader<'_, C>) {
        self.untimed.end_of_file(r);
    }
}

/// Simple packet blocks seen before any packet with a timestamp: they are held
/// back and given the timestamp of the first timestamped packet of the file
/// (0 if there is none), so they do not land in 1970.
#[derive(Default)]
struct Untimed {
    /// Whether a timestamped packet has been read.
    seen: bool,
    /// (interface position, frame bytes, wire length): copies, as a stream
    /// drops what it has read.
    held: Vec<(usize, Vec<u8>, u32)>,
}

impl Untimed {
    /// Simple packets held at most; more are given timestamp 0 at once.
    const MAX_HELD: usize = 4096;

    fn timestamp_seen<C: FlowConsumer + ?Sized>(&mut self, r: &mut Reader<'_, C>) {
        if self.seen {
            return;
        }
        self.seen = true;
        let ts = r.emitter.last_ts;
        for (iface, frame, wire_len) in std::mem::take(&mut self.held) {
            r.packet(iface, &frame, wire_len, ts);
        }
    }

    fn end_of_file<C: FlowConsumer + ?Sized>(&mut self, r: &mut Reader<'_, C>) {
        for (iface, frame, wire_len) in std::mem::take(&mut self.held) {
            r.packet(iface, &frame, wire_len, 0);
        }
    }
}

/// Whether `rest`, starting with a section header block, holds less than
/// the whole block (its minimum, or the length it declares).
fn shb_incomplete(rest: &[u8]) -> bool {
    const MIN_LEN: usize = 28;
    if rest.len() < MIN_LEN {
        return true;
    }
    let len = match u32::from_le_bytes([rest[8], rest[9], rest[10], rest[11]]) {
        0x1A2B_3C4D => u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]),
        0x4D3C_2B1A => u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]),
        _ => return false,
    };
    len as usize > rest.len()
}

/// Why a section header block at the start of `block` does not parse, in
/// a few words (never the bytes themselves: the parser's error value holds
/// the rest of the file).
fn shb_fault(block: &[u8], e: &nom::Err<pcap_parser::PcapError<&[u8]>>) -> String {
    const MIN_LEN: usize = 28;
    let word = |at: usize, big: bool| {
        let b = [block[at], block[at + 1], block[at + 2], block[at + 3]];
        if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    if block.len() < MIN_LEN {
        return format!(
            "the file ends after {} bytes, inside the {MIN_LEN}-byte minimum of the block",
            block.len()
        );
    }
    let magic = word(8, false);
    let big = match magic {
        0x1A2B_3C4D => false,
        0x4D3C_2B1A => true,
        other => return format!("byte-order magic 0x{other:08x} is not 0x1a2b3c4d"),
    };
    let len = word(4, big) as usize;
    if len < MIN_LEN || len % 4 != 0 {
        return format!("block length {len} is not a multiple of 4 of at least {MIN_LEN}");
    }
    if len > block.len() {
        return format!(
            "block length {len} runs past the end of the file ({} bytes)",
            block.len()
        );
    }
    if word(len - 4, big) as usize != len {
        return format!(
            "leading block length {len} and trailing block length {} differ",
            word(len - 4, big)
        );
    }
    let major = if big {
        u16::from_be_bytes([block[12], block[13]])
    } else {
        u16::from_le_bytes([block[12], block[13]])
    };
    if major != 1 {
        return format!("major version {major} is not 1");
    }
    match e {
        nom::Err::Incomplete(_) => "the block is incomplete".to_string(),
        nom::Err::Error(p) | nom::Err::Failure(p) => match p {
            pcap_parser::PcapError::NomError(_, kind)
            | pcap_parser::PcapError::OwnedNomError(_, kind) => {
                format!("its options do not parse ({})", kind.description())
            }
            other => other_reason(other).to_string(),
        },
    }
}

/// A [`PcapError`](pcap_parser::PcapError) without its input bytes.
fn other_reason(e: &pcap_parser::PcapError<&[u8]>) -> &'static str {
    use pcap_parser::PcapError as P;
    match e {
        P::Eof | P::UnexpectedEof | P::Incomplete(_) => "the file ends inside the block",
        P::HeaderNotRecognized => "not a section header block",
        P::BufferTooSmall | P::ReadError => "the block cannot be read",
        P::NomError(..) | P::OwnedNomError(..) => "its content does not parse",
    }
}

fn bad(reason: &'static str) -> WarningKind {
    WarningKind::BadBlock { reason }
}

/// The file-wide interface position of section interface `id`, warning once per
/// section about undeclared ones.
#[inline(always)]
fn iface_of<C: FlowConsumer + ?Sized>(
    r: &mut Reader<'_, C>,
    sec: &mut Section,
    id: u32,
    offset: usize,
) -> Option<(usize, IfaceTime)> {
    match (sec.ifaces.get(id as usize), sec.times.get(id as usize)) {
        (Some(&i), Some(&t)) => Some((i, t)),
        _ => {
            r.stats.unknown_interface_packets += 1;
            if !sec.warned_unknown {
                sec.warned_unknown = true;
                r.warn(offset, WarningKind::UnknownInterface { interface_id: id });
            }
            None
        }
    }
}

/// EPB: interface id, timestamp (high, low), captured length, original length,
/// data (padded to 4), options.
#[inline(always)]
fn enhanced_packet<C: FlowConsumer + ?Sized>(
    r: &mut Reader<'_, C>,
    sec: &mut Section,
    block: &[u8],
    offset: usize,
) {
    let id = (block.len() >= 12).then(|| sec.endian.u32(block, 8));
    timed_packet(r, sec, block, offset, id);
}

/// OPB (obsolete): interface id (16 bits), drops count (16 bits), then as EPB.
fn obsolete_packet<C: FlowConsumer + ?Sized>(
    r: &mut Reader<'_, C>,
    sec: &mut Section,
    block: &[u8],
    offset: usize,
) {
    let id = (block.len() >= 10).then(|| u32::from(sec.endian.u16(block, 8)));
    timed_packet(r, sec, block, offset, id);
}

/// The part EPB and OPB share: from byte 12 on, timestamp (high, low),
/// captured length, original length, data. `id` is the interface id the
/// caller read from bytes 8–11.
#[inline(always)]
fn timed_packet<C: FlowConsumer + ?Sized>(
    r: &mut Reader<'_, C>,
    sec: &mut Section,
    block: &[u8],
    offset: usize,
    id: Option<u32>,
) {
    let Some(id) = id.filter(|_| block.len() >= 32) else {
        r.warn(offset, bad("packet block shorter than 32 bytes"));
        return;
    };
    let e = sec.endian;
    let caplen = e.u32(block, 20) as usize;
    if caplen > block.len() - 32 {
        r.warn(offset, bad("captured length larger than the block"));
        return;
    }
    let Some((iface, time)) = iface_of(r, sec, id, offset) else {
        return;
    };
    let ts = time.timestamp(e.u32(block, 12), e.u32(block, 16));
    r.packet(iface, &block[28..28 + caplen], e.u32(block, 24), ts);
}

/// SPB: original length, data; the interface is the section's first, the
/// timestamp that of the previous packet of the file (it has none), or of the
/// next one when no packet came before.
fn simple_packet<C: FlowConsumer + ?Sized>(
    r: &mut Reader<'_, C>,
    sec: &mut Section,
    block: &[u8],
    offset: usize,
    untimed: &mut Untimed,
) {
    if block.len() < 16 {
        r.warn(offset, bad("simple packet block shorter than 16 bytes"));
        return;
    }
    let wire_len = sec.endian.u32(block, 8);
    let caplen = (wire_len as usize).min(block.len() - 16);
    let Some((iface, _)) = iface_of(r, sec, 0, offset) else {
        return;
    };
    r.emitter.counters.simple_no_ts += 1;
    if untimed.seen {
        let ts = r.emitter.last_ts;
        r.packet(iface, &block[12..12 + caplen], wire_len, ts);
    } else if untimed.held.len() >= Untimed::MAX_HELD {
        // A stream of nothing but simple packets: memory stays bounded, and
        // they get what the end of such a file would give them.
        untimed.end_of_file(r);
        r.packet(iface, &block[12..12 + caplen], wire_len, 0);
    } else {
        untimed
            .held
            .push((iface, block[12..12 + caplen].to_vec(), wire_len));
    }
}

/// IDB: declares the next interface of the section.
fn interface_description<C: FlowConsumer + ?Sized>(
    r: &mut Reader<'_, C>,
    sec: &mut Section,
    block: &[u8],
    offset: usize,
) {
    let e = sec.endian;
    let parsed = if e.big {
        parse_interfacedescriptionblock_be(block)
    } else {
        parse_interfacedescriptionblock_le(block)
    };
    let (linktype, name, tsresol, tsoffset) = match &parsed {
        Ok((_, idb)) => {
            let name = idb.if_name().and_then(Result::ok).filter(|n| !n.is_empty());
            (
                u32::from(e.u16(block, 8)),
                name,
                idb.if_tsresol,
                tsoffset(idb, e),
            )
        }
        Err(_) if block.len() >= 20 => {
            r.warn(offset, bad("unreadable interface options: defaults used"));
            (u32::from(e.u16(block, 8)), None, 6, 0)
        }
        Err(_) => {
            r.warn(
                offset,
                bad("interface description block too short: defaults used"),
            );
            (u32::MAX, None, 6, 0)
        }
    };
    let scale = TsScale::from_tsresol(tsresol).unwrap_or_else(|| {
        r.warn(offset, bad("if_tsresol out of range: microseconds used"));
        TsScale::Mul(1_000)
    });
    let name = name.map(str::to_owned);
    let position = r.declare_interface(name.as_deref(), linktype, offset);
    sec.ifaces.push(position);
    sec.times.push(IfaceTime {
        scale,
        offset_ns: tsoffset.saturating_mul(NANOS_PER_SEC as i64),
        drops: 0,
    });
}

/// `if_tsoffset` (seconds) in the section's byte order.
fn tsoffset(idb: &InterfaceDescriptionBlock<'_>, e: Endian) -> i64 {
    idb.options
        .iter()
        .find(|o| o.code == OptionCode::IfTsoffset)
        .and_then(|o| o.as_bytes().ok())
        .and_then(|b| e.u64(b))
        .map_or(0, |v| v as i64)
}

/// ISB: interface id, timestamp, options; `isb_ifdrop` (5) and `isb_osdrop` (7)
/// are cumulative drop counts, whose increase is a loss for the interface.
fn interface_statistics<C: FlowConsumer + ?Sized>(
    r: &mut Reader<'_, C>,
    sec: &mut Section,
    block: &[u8],
    offset: usize,
) {
    if block.len() < 24 {
        return;
    }
    let e = sec.endian;
    let id = e.u32(block, 4 + 4);
    let mut total: Option<u64> = None;
    let options = &block[20..block.len() - 4];
    let mut at = 0;
    while at + 4 <= options.len() {
        let code = e.u16(options, at);
        let len = usize::from(e.u16(options, at + 2));
        let value = options.get(at + 4..at + 4 + len);
        if code == 0 {
            break;
        }
        if code == 5 || code == 7 {
            if let Some(v) = value.and_then(|v| e.u64(v)) {
                total = Some(total.unwrap_or(0).saturating_add(v));
            }
        }
        at += 4 + len.div_ceil(4) * 4;
    }
    let (Some(total), Some(&iface), Some(time)) = (
        total,
        sec.ifaces.get(id as usize),
        sec.times.get_mut(id as usize),
    ) else {
        return;
    };
    if total <= time.drops {
        return;
    }
    let dropped = total - time.drops;
    time.drops = total;
    let at = time.timestamp(e.u32(block, 12), e.u32(block, 16));
    r.emitter.counters.capture_drops += dropped;
    let interface = r.ifaces[iface].index;
    r.emitter.loss(&LossEvent {
        interface,
        at,
        count: dropped,
    });
    r.warn(offset, WarningKind::CaptureDrops { dropped });
}
