//! Inputs that once exhausted memory, descriptors or time (docs/reliability.md):
//! small files written byte by byte, so that the tests need nothing else.

use std::io::{self, Write};
use std::path::Path;

/// An Ethernet/IPv4/UDP frame of 10.0.0.1:`sport` to 10.0.0.2:53.
pub fn udp_frame(sport: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
    let payload = 8u16;
    let total = 20 + 8 + payload;
    let mut ip = vec![
        0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    let sum = ip
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum::<u32>();
    let sum = (sum & 0xFFFF) + (sum >> 16);
    let sum = !((sum & 0xFFFF) + (sum >> 16)) as u16;
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&53u16.to_be_bytes());
    f.extend_from_slice(&(8 + payload).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&[0u8; 8]);
    f
}

/// A classic pcap (Ethernet, microseconds) with one UDP packet at each of
/// `times` (Unix seconds).
pub fn write_pcap(path: &Path, times: &[u64]) -> io::Result<()> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xA1B2_C3D4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65_535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, &t) in times.iter().enumerate() {
        let frame = udp_frame(40_000 + i as u16);
        out.extend_from_slice(&(t as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&frame);
    }
    std::fs::write(path, out)
}

fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
    let len = (12 + body.len().div_ceil(4) * 4) as u32;
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(body);
    out.resize(out.len() + (4 - body.len() % 4) % 4, 0);
    out.extend_from_slice(&len.to_le_bytes());
}

/// A pcapng with `interfaces` Ethernet interfaces (named `ifN`) and one UDP
/// packet on the first at each of `times` (Unix seconds, microseconds
/// resolution).
pub fn write_pcapng_interfaces(path: &Path, interfaces: u32, times: &[u64]) -> io::Result<()> {
    let mut out = Vec::new();
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&u64::MAX.to_le_bytes());
    block(&mut out, 0x0A0D_0D0A, &shb);
    for i in 0..interfaces {
        let mut idb = Vec::new();
        idb.extend_from_slice(&1u16.to_le_bytes());
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&0u32.to_le_bytes());
        let name = format!("if{i}");
        idb.extend_from_slice(&2u16.to_le_bytes());
        idb.extend_from_slice(&(name.len() as u16).to_le_bytes());
        idb.extend_from_slice(name.as_bytes());
        idb.resize(idb.len() + (4 - name.len() % 4) % 4, 0);
        idb.extend_from_slice(&[0; 4]);
        block(&mut out, 1, &idb);
    }
    for (i, &t) in times.iter().enumerate() {
        let frame = udp_frame(40_000 + i as u16);
        let us = t * 1_000_000;
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&((us >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(us as u32).to_le_bytes());
        epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        epb.extend_from_slice(&frame);
        block(&mut out, 6, &epb);
    }
    std::fs::write(path, out)
}

/// A Skydive recording of one line: a bare array of `flows` empty flows
/// (`[{},{},…]`, 3 bytes a flow).
pub fn write_skydive_empty_flows(path: &Path, flows: usize) -> io::Result<()> {
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    out.write_all(b"[")?;
    for i in 0..flows {
        out.write_all(if i == 0 { b"{}" } else { b",{}" })?;
    }
    out.write_all(b"]\n")?;
    out.flush()
}
