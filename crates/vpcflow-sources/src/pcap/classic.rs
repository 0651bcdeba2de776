//! Classic libpcap files, parsed with `pcap-parser` (header and records).

use pcap_parser::nom;
use pcap_parser::pcap::{
    parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified, parse_pcap_header,
    LegacyPcapBlock,
};
use pcap_parser::PcapError;
use vpcflow_core::flow::NANOS_PER_SEC;
use vpcflow_core::FlowConsumer;

use super::{CaptureError, Fed, Reader};

type FrameResult<'a> = nom::IResult<&'a [u8], LegacyPcapBlock<'a>, PcapError<&'a [u8]>>;

/// The record layout a file header announced.
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// Kuznetzov's modified format (extra fields after each record header).
    Modified,
    BigEndian,
    LittleEndian,
}

/// What the file header said, kept while the records are read.
#[derive(Debug, Clone, Copy)]
struct Header {
    layout: Layout,
    /// The file's one interface (position in the reader's list).
    iface: usize,
    /// Nanoseconds per unit of the records' fraction field.
    frac_ns: u64,
}

/// A classic pcap file read in one or more pieces.
#[derive(Debug, Default)]
pub(super) struct Classic {
    header: Option<Header>,
}

impl Classic {
    /// Reads the complete records at the start of `data`; `eof` says whether
    /// more bytes follow (a stream) or `data` ends the file.
    pub(super) fn feed<C: FlowConsumer + ?Sized>(
        &mut self,
        r: &mut Reader<'_, C>,
        data: &[u8],
        eof: bool,
    ) -> Result<Fed, CaptureError> {
        let (header, start) = match self.header {
            Some(h) => (h, 0),
            None => match parse_pcap_header(data) {
                Ok((records, header)) => {
                    // The upper bits of the link type field carry FCS information.
                    let linktype = (header.network.0 as u32) & 0xFFFF;
                    let h = Header {
                        layout: if header.is_modified_format() {
                            Layout::Modified
                        } else if header.is_bigendian() {
                            Layout::BigEndian
                        } else {
                            Layout::LittleEndian
                        },
                        iface: r.declare_interface(None, linktype, 0),
                        frac_ns: if header.is_nanosecond_precision() {
                            1
                        } else {
                            1_000
                        },
                    };
                    self.header = Some(h);
                    (h, data.len() - records.len())
                }
                Err(nom::Err::Incomplete(_)) if !eof => return Ok(Fed::more(0)),
                Err(nom::Err::Incomplete(_)) => {
                    return Err(CaptureError::BadHeader {
                        path: r.path.to_owned(),
                        detail: format!(
                            "file of {} bytes is too short for the 24-byte pcap header",
                            data.len()
                        ),
                    })
                }
                Err(_) => {
                    return Err(CaptureError::BadHeader {
                        path: r.path.to_owned(),
                        detail: "unsupported pcap variant (big-endian modified pcap?)".to_owned(),
                    })
                }
            },
        };
        let (iface, frac_ns) = (header.iface, header.frac_ns);
        Ok(match header.layout {
            Layout::Modified => records_loop(
                r,
                data,
                start,
                eof,
                iface,
                frac_ns,
                parse_pcap_frame_modified,
            ),
            Layout::BigEndian => {
                records_loop(r, data, start, eof, iface, frac_ns, parse_pcap_frame_be)
            }
            Layout::LittleEndian => {
                records_loop(r, data, start, eof, iface, frac_ns, parse_pcap_frame)
            }
        })
    }
}

/// The record loop, one copy per record parser.
#[inline(always)]
fn records_loop<C, F>(
    r: &mut Reader<'_, C>,
    data: &[u8],
    mut offset: usize,
    eof: bool,
    iface: usize,
    frac_ns: u64,
    parse: F,
) -> Fed
where
    C: FlowConsumer + ?Sized,
    F: for<'a> Fn(&'a [u8]) -> FrameResult<'a>,
{
    while offset < data.len() {
        // A record header of zeros (time 0, no bytes) is padding or a
        // damaged tail, not a packet of 1970: reading stops there, warned.
        if data.len() - offset >= 16 && data[offset..offset + 16].iter().all(|&b| b == 0) {
            r.corrupt(offset, "record header of zero bytes (padding or damage)");
            return Fed::done(offset);
        }
        match parse(&data[offset..]) {
            Ok((rest, rec)) => {
                let ts = u64::from(rec.ts_sec) * NANOS_PER_SEC + u64::from(rec.ts_usec) * frac_ns;
                r.packet(iface, rec.data, rec.origlen, ts);
                offset = data.len() - rest.len();
                r.progress_at(offset);
            }
            // Only `Incomplete` can happen: the record header or data runs
            // past the end of what was read (or its length is corrupt).
            Err(_) if !eof => return Fed::more(offset),
            Err(_) => {
                r.truncated(data, offset);
                return Fed::done(data.len());
            }
        }
    }
    Fed::more(offset)
}
