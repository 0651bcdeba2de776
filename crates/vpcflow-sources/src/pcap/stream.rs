//! Capture files read as a stream (standard input, a pipe, a decompressor):
//! piece by piece, each record converted as soon as it is complete, with the
//! format readers' state kept between pieces.

use std::io::{self, Read};
use std::path::Path;

use vpcflow_core::FlowConsumer;

use super::{
    classic, describe_head, pcapng, sniff_format, CaptureError, CaptureFormat, CaptureStats,
    PcapOptions, Reader,
};

/// Like [`read_capture`], on a capture read from a stream (standard input, a
/// pipe, a decompressor) as it arrives: packets are handed to `consumer` as
/// soon as their record is complete, so an endless stream (`tcpdump -w -`) is
/// converted while it runs. Memory holds at most one record beyond what was
/// read; a record that claims more than [`MAX_STREAM_RECORD`] bytes is corrupt.
/// `path` only names the stream in errors and warnings; `progress` is told
/// the bytes of the stream consumed.
pub fn read_capture_stream<C: FlowConsumer + ?Sized>(
    path: &Path,
    input: &mut dyn Read,
    options: &PcapOptions,
    consumer: &mut C,
    progress: &mut dyn FnMut(u64),
) -> Result<CaptureStats, CaptureError> {
    let read_err = |source| CaptureError::Read {
        path: path.to_owned(),
        source,
    };
    let mut scratch = vec![0u8; STREAM_CHUNK];
    let mut buf: Vec<u8> = Vec::with_capacity(STREAM_CHUNK * 2);
    let mut eof = false;
    while buf.len() < 4 && !eof {
        eof = fill(input, &mut scratch, &mut buf).map_err(read_err)?;
    }
    let Some(format) = sniff_format(&buf) else {
        return Err(CaptureError::NotACapture {
            path: path.to_owned(),
            detail: describe_head(&buf),
        });
    };
    let mut reader = Reader::new(path, options, consumer, progress);
    let mut file = FormatReader::new(format);
    loop {
        let fed = file.feed(&mut reader, &buf, eof)?;
        buf.drain(..fed.consumed);
        reader.base += fed.consumed as u64;
        if fed.done || eof {
            break;
        }
        if buf.len() > MAX_STREAM_RECORD {
            reader.corrupt(0, "record longer than the largest a stream may hold");
            break;
        }
        // Packets decoded so far reach the consumer before the reader waits.
        reader.emitter.flush();
        eof = fill(input, &mut scratch, &mut buf).map_err(read_err)?;
    }
    file.finish(&mut reader);
    let consumed = reader.base;
    (reader.progress.report)(consumed);
    Ok(reader.finish(consumed))
}

/// The largest record a streamed capture may hold (a pcapng block or a pcap
/// record with its data): far above any real snapshot length (256 KiB).
pub const MAX_STREAM_RECORD: usize = 64 << 20;

/// Bytes asked of a stream at a time.
const STREAM_CHUNK: usize = 256 << 10;

/// Reads once from `input` (what is available, up to [`STREAM_CHUNK`]
/// bytes) and appends it to `buf`; `true` at the end of the stream.
fn fill(input: &mut dyn Read, scratch: &mut [u8], buf: &mut Vec<u8>) -> io::Result<bool> {
    let n = loop {
        match input.read(scratch) {
            Ok(n) => break n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    };
    buf.extend_from_slice(&scratch[..n]);
    Ok(n == 0)
}

/// What one call of a format's reader did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Fed {
    /// Bytes of the data read (complete records).
    pub(super) consumed: usize,
    /// Reading ended (a corrupt block, a truncation): nothing more is read.
    pub(super) done: bool,
}

impl Fed {
    pub(super) fn more(consumed: usize) -> Fed {
        Fed {
            consumed,
            done: false,
        }
    }

    pub(super) fn done(consumed: usize) -> Fed {
        Fed {
            consumed,
            done: true,
        }
    }
}

/// The reader of the file's format, with its state between pieces.
pub(super) enum FormatReader {
    Pcap(classic::Classic),
    PcapNg(pcapng::PcapNg),
}

impl FormatReader {
    pub(super) fn new(format: CaptureFormat) -> FormatReader {
        match format {
            CaptureFormat::Pcap => FormatReader::Pcap(classic::Classic::default()),
            CaptureFormat::PcapNg => FormatReader::PcapNg(pcapng::PcapNg::default()),
        }
    }

    pub(super) fn feed<C: FlowConsumer + ?Sized>(
        &mut self,
        r: &mut Reader<'_, C>,
        data: &[u8],
        eof: bool,
    ) -> Result<Fed, CaptureError> {
        match self {
            FormatReader::Pcap(f) => f.feed(r, data, eof),
            FormatReader::PcapNg(f) => f.feed(r, data, eof),
        }
    }

    pub(super) fn finish<C: FlowConsumer + ?Sized>(&mut self, r: &mut Reader<'_, C>) {
        if let FormatReader::PcapNg(f) = self {
            f.finish(r);
        }
    }
}
