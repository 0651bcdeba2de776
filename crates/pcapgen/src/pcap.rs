//! Classic pcap output: little-endian, Ethernet link type.

use std::io::{self, Write};

use crate::config::TsResolution;

/// Bytes of the pcap file header.
pub const FILE_HEADER_LEN: u64 = 24;
/// Bytes of each packet record header.
pub const RECORD_HEADER_LEN: u64 = 16;
/// Snapshot length written in the file header.
pub const SNAPLEN: u32 = 262_144;
/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u32 = 1;

/// The magic number for a timestamp resolution.
pub fn magic(res: TsResolution) -> u32 {
    match res {
        TsResolution::Micro => 0xa1b2_c3d4,
        TsResolution::Nano => 0xa1b2_3c4d,
    }
}

/// Writes the 24-byte file header.
pub fn write_file_header<W: Write>(w: &mut W, res: TsResolution) -> io::Result<()> {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&magic(res).to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    // thiszone and sigfigs stay 0.
    h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
    h[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    w.write_all(&h)
}

/// Writes one record: header (caplen = wire length) and frame.
#[inline]
pub fn write_record<W: Write>(
    w: &mut W,
    res: TsResolution,
    ts_ns: u64,
    frame: &[u8],
) -> io::Result<()> {
    let secs = (ts_ns / 1_000_000_000) as u32;
    let frac = match res {
        TsResolution::Micro => (ts_ns % 1_000_000_000 / 1000) as u32,
        TsResolution::Nano => (ts_ns % 1_000_000_000) as u32,
    };
    let len = frame.len() as u32;
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&secs.to_le_bytes());
    h[4..8].copy_from_slice(&frac.to_le_bytes());
    h[8..12].copy_from_slice(&len.to_le_bytes());
    h[12..16].copy_from_slice(&len.to_le_bytes());
    w.write_all(&h)?;
    w.write_all(frame)
}
