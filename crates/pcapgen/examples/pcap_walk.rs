//! The floor of reading a capture: walks the record headers of a classic pcap
//! file and sums them, nothing more (`bench/run.sh` times it next to vpcflow).
//!
//! ```text
//! cargo run --release -p pcapgen --example pcap_walk -- FILE.pcap
//! ```
//!
//! The file is read with `read` into one 256 KiB buffer that is reused, as
//! vpcflow reads it; prints records, captured bytes and original bytes.

use std::fs::File;
use std::io::Read;
use std::process::ExitCode;

const CHUNK: usize = 256 << 10;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: pcap_walk FILE.pcap");
        return ExitCode::from(2);
    };
    match walk(&path) {
        Ok((records, captured, original)) => {
            println!("{records} records, {captured} bytes captured, {original} bytes on the wire");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pcap_walk: {path}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn walk(path: &str) -> std::io::Result<(u64, u64, u64)> {
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; 2 * CHUNK];
    let (mut start, mut end) = (0usize, 0usize);
    let mut header_done = false;
    let mut big_endian = false;
    let (mut records, mut captured, mut original) = (0u64, 0u64, 0u64);
    loop {
        if buf.len() - end < CHUNK {
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
            if buf.len() - end < CHUNK {
                buf.resize(end + CHUNK, 0);
            }
        }
        let n = file.read(&mut buf[end..])?;
        end += n;
        if !header_done {
            if end < 24 {
                if n == 0 {
                    return Err(std::io::Error::other("shorter than a pcap header"));
                }
                continue;
            }
            big_endian = match buf[..4] {
                [0xD4, 0xC3, 0xB2, 0xA1] | [0x4D, 0x3C, 0xB2, 0xA1] => false,
                [0xA1, 0xB2, 0xC3, 0xD4] | [0xA1, 0xB2, 0x3C, 0x4D] => true,
                _ => return Err(std::io::Error::other("not a classic pcap file")),
            };
            header_done = true;
            start = 24;
        }
        let word = |b: &[u8]| {
            let w = [b[0], b[1], b[2], b[3]];
            if big_endian {
                u32::from_be_bytes(w)
            } else {
                u32::from_le_bytes(w)
            }
        };
        while end - start >= 16 {
            let h = &buf[start..start + 16];
            let caplen = word(&h[8..12]) as usize;
            if end - start < 16 + caplen {
                break;
            }
            records += 1;
            captured += caplen as u64;
            original += u64::from(word(&h[12..16]));
            start += 16 + caplen;
        }
        if n == 0 {
            return Ok((records, captured, original));
        }
    }
}
