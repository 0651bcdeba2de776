//! Capture files built by hand: formats, interfaces, timestamps, damage; one
//! file per topic, the file builders they share here.

mod damage;
mod formats;
mod progress;

use std::io::Write;
use std::path::Path;

use vpcflow_core::{InterfaceIndex, LossEvent};
use vpcflow_testkit::RecordingConsumer;

use super::*;
use crate::decode::linktype::{ETHERNET, NULL, RAW};
use crate::decode::testutil::*;
use crate::stats::WarningKind;

/// Reads `data` as a file in memory, and checks that reading it as a stream
/// arriving in small pieces of every size gives exactly the same.
fn read(
    data: &[u8],
    options: &PcapOptions,
) -> (Result<CaptureStats, CaptureError>, RecordingConsumer) {
    let mut rec = RecordingConsumer::default();
    let r = read_capture_bytes(Path::new("test.pcap"), data, options, &mut rec, &mut |_| {});
    for piece in [1, 3, 7, 64, 1000] {
        let (streamed, srec) = read_streamed(data, options, piece);
        match (&r, &streamed) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "stats, pieces of {piece} bytes"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            _ => panic!("file: {r:?}, stream in pieces of {piece}: {streamed:?}"),
        }
        assert_eq!(rec.names, srec.names, "pieces of {piece} bytes");
        assert_eq!(rec.updates, srec.updates, "pieces of {piece} bytes");
        assert_eq!(rec.losses, srec.losses, "pieces of {piece} bytes");
    }
    (r, rec)
}

/// A stream that hands out at most `piece` bytes per read, like a pipe.
struct Trickle<'a> {
    data: &'a [u8],
    piece: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.piece.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn read_streamed(
    data: &[u8],
    options: &PcapOptions,
    piece: usize,
) -> (Result<CaptureStats, CaptureError>, RecordingConsumer) {
    let mut rec = RecordingConsumer::default();
    let mut input = Trickle { data, piece };
    let r = read_capture_stream(
        Path::new("test.pcap"),
        &mut input,
        options,
        &mut rec,
        &mut |_| {},
    );
    (r, rec)
}

fn read_ok(data: &[u8]) -> (CaptureStats, RecordingConsumer) {
    let (r, rec) = read(data, &PcapOptions::default());
    (r.unwrap(), rec)
}

fn frame_tcp(sport: u16) -> Vec<u8> {
    eth(0x0800, &ipv4(6, A4, B4, &tcp(sport, 80, 0x02)))
}

/// A classic pcap file.
fn pcap_file(big: bool, nanos: bool, linktype: u32, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let u32b = |v: u32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u16b = |v: u16| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let magic = if nanos { 0xA1B2_3C4D } else { 0xA1B2_C3D4 };
    let mut v = Vec::new();
    v.extend_from_slice(&u32b(magic));
    v.extend_from_slice(&u16b(2));
    v.extend_from_slice(&u16b(4));
    v.extend_from_slice(&u32b(0));
    v.extend_from_slice(&u32b(0));
    v.extend_from_slice(&u32b(65535));
    v.extend_from_slice(&u32b(linktype));
    for &(sec, frac, frame) in records {
        v.extend_from_slice(&u32b(sec));
        v.extend_from_slice(&u32b(frac));
        v.extend_from_slice(&u32b(frame.len() as u32));
        v.extend_from_slice(&u32b(frame.len() as u32));
        v.extend_from_slice(frame);
    }
    v
}

/// A pcapng file being built.
struct Ng {
    big: bool,
    buf: Vec<u8>,
}

impl Ng {
    fn new(big: bool) -> Ng {
        let mut ng = Ng {
            big,
            buf: Vec::new(),
        };
        ng.shb();
        ng
    }
    fn u32b(&self, v: u32) -> [u8; 4] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn u16b(&self, v: u16) -> [u8; 2] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn block(&mut self, t: u32, body: &[u8]) -> &mut Ng {
        let mut body = body.to_vec();
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let len = 12 + body.len() as u32;
        let (t, l) = (self.u32b(t), self.u32b(len));
        self.buf.extend_from_slice(&t);
        self.buf.extend_from_slice(&l);
        self.buf.extend_from_slice(&body);
        self.buf.extend_from_slice(&l);
        self
    }
    fn options(&self, opts: &[(u16, &[u8])]) -> Vec<u8> {
        let mut v = Vec::new();
        for &(code, value) in opts {
            v.extend_from_slice(&self.u16b(code));
            v.extend_from_slice(&self.u16b(value.len() as u16));
            v.extend_from_slice(value);
            while v.len() % 4 != 0 {
                v.push(0);
            }
        }
        if !opts.is_empty() {
            v.extend_from_slice(&[0, 0, 0, 0]);
        }
        v
    }
    fn shb(&mut self) -> &mut Ng {
        let mut body = self.u32b(0x1A2B_3C4D).to_vec();
        body.extend_from_slice(&self.u16b(1));
        body.extend_from_slice(&self.u16b(0));
        body.extend_from_slice(&[0xFF; 8]);
        self.block(0x0A0D_0D0A, &body)
    }
    fn idb(&mut self, linktype: u16, opts: &[(u16, &[u8])]) -> &mut Ng {
        let mut body = self.u16b(linktype).to_vec();
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&self.u32b(0));
        body.extend_from_slice(&self.options(opts));
        self.block(1, &body)
    }
    fn epb(&mut self, id: u32, ts: u64, frame: &[u8]) -> &mut Ng {
        let mut body = self.u32b(id).to_vec();
        body.extend_from_slice(&self.u32b((ts >> 32) as u32));
        body.extend_from_slice(&self.u32b(ts as u32));
        body.extend_from_slice(&self.u32b(frame.len() as u32));
        body.extend_from_slice(&self.u32b(frame.len() as u32));
        body.extend_from_slice(frame);
        while body.len() % 4 != 0 {
            body.push(0);
        }
        // An epb_flags option, as dumpcap writes.
        body.extend_from_slice(&self.options(&[(2, &[0, 0, 0, 1])]));
        self.block(6, &body)
    }
    fn opb(&mut self, id: u16, ts: u64, frame: &[u8]) -> &mut Ng {
        let mut body = self.u16b(id).to_vec();
        body.extend_from_slice(&self.u16b(0));
        body.extend_from_slice(&self.u32b((ts >> 32) as u32));
        body.extend_from_slice(&self.u32b(ts as u32));
        body.extend_from_slice(&self.u32b(frame.len() as u32));
        body.extend_from_slice(&self.u32b(frame.len() as u32));
        body.extend_from_slice(frame);
        self.block(2, &body)
    }
    fn spb(&mut self, frame: &[u8]) -> &mut Ng {
        let mut body = self.u32b(frame.len() as u32).to_vec();
        body.extend_from_slice(frame);
        self.block(3, &body)
    }
    fn isb(&mut self, id: u32, ts: u64, ifdrop: u64) -> &mut Ng {
        let mut body = self.u32b(id).to_vec();
        body.extend_from_slice(&self.u32b((ts >> 32) as u32));
        body.extend_from_slice(&self.u32b(ts as u32));
        let drop = if self.big {
            ifdrop.to_be_bytes()
        } else {
            ifdrop.to_le_bytes()
        };
        body.extend_from_slice(&self.options(&[(5, &drop)]));
        self.block(5, &body)
    }
}
