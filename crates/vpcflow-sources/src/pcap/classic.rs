//! Classic libpcap files, parsed with `pcap-parser` (header and records).

use pcap_parser::nom;
use pcap_parser::pcap::{
    parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified, parse_pcap_header,
    LegacyPcapBlock,
};
use pcap_parser::PcapError;
use vpcflow_core::flow::NANOS_PER_SEC;
use vpcflow_core::FlowConsumer;

use super::{CaptureError, Reader};

type FrameResult<'a> = nom::IResult<&'a [u8], LegacyPcapBlock<'a>, PcapError<&'a [u8]>>;

/// Read a classic pcap file; returns the bytes consumed.
pub(super) fn read<C: FlowConsumer + ?Sized>(
    r: &mut Reader<'_, C>,
    data: &[u8],
) -> Result<usize, CaptureError> {
    let (records, header) = match parse_pcap_header(data) {
        Ok(x) => x,
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
    };
    // The upper bits of the link type field carry FCS information.
    let linktype = (header.network.0 as u32) & 0xFFFF;
    let iface = r.declare_interface(None, linktype, 0);
    let frac_ns = if header.is_nanosecond_precision() {
        1
    } else {
        1_000
    };
    let start = data.len() - records.len();
    let end = if header.is_modified_format() {
        records_loop(r, data, start, iface, frac_ns, parse_pcap_frame_modified)
    } else if header.is_bigendian() {
        records_loop(r, data, start, iface, frac_ns, parse_pcap_frame_be)
    } else {
        records_loop(r, data, start, iface, frac_ns, parse_pcap_frame)
    };
    Ok(end)
}

/// The record loop, one copy per record parser.
#[inline(always)]
fn records_loop<C, F>(
    r: &mut Reader<'_, C>,
    data: &[u8],
    mut offset: usize,
    iface: usize,
    frac_ns: u64,
    parse: F,
) -> usize
where
    C: FlowConsumer + ?Sized,
    F: for<'a> Fn(&'a [u8]) -> FrameResult<'a>,
{
    while offset < data.len() {
        // A record header of zeros (time 0, no bytes) is padding or a
        // damaged tail, not a packet of 1970: reading stops there, warned.
        if data.len() - offset >= 16 && data[offset..offset + 16].iter().all(|&b| b == 0) {
            r.corrupt(offset, "record header of zero bytes (padding or damage)");
            return offset;
        }
        match parse(&data[offset..]) {
            Ok((rest, rec)) => {
                let ts = u64::from(rec.ts_sec) * NANOS_PER_SEC + u64::from(rec.ts_usec) * frac_ns;
                r.packet(iface, rec.data, rec.origlen, ts);
                offset = data.len() - rest.len();
                r.progress.at(offset);
            }
            Err(_) => {
                // Only `Incomplete` can happen: the record header or data runs
                // past the end of the file (or its length is corrupt).
                r.truncated(data, offset);
                return data.len();
            }
        }
    }
    offset
}
