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
    let mut buf = Window::new();
    let mut eof = false;
    while buf.data().len() < 4 && !eof {
        eof = buf.fill(input).map_err(read_err)?;
    }
    let Some(format) = sniff_format(buf.data()) else {
        return Err(CaptureError::NotACapture {
            path: path.to_owned(),
            detail: describe_head(buf.data()),
        });
    };
    let mut reader = Reader::new(path, options, consumer, progress);
    let mut file = FormatReader::new(format);
    loop {
        let fed = file.feed(&mut reader, buf.data(), eof)?;
        buf.consume(fed.consumed);
        reader.base += fed.consumed as u64;
        if fed.done || eof {
            break;
        }
        if buf.data().len() > MAX_STREAM_RECORD {
            reader.corrupt(0, "record longer than the largest a stream may hold");
            break;
        }
        // Packets decoded so far reach the consumer before the reader waits.
        reader.emitter.flush();
        eof = buf.fill(input).map_err(read_err)?;
    }
    file.finish(&mut reader);
    let consumed = reader.base;
    (reader.progress.report)(consumed);
    Ok(reader.finish(consumed))
}

/// The largest record a streamed capture may hold (a pcapng block or a pcap
/// record with its data): far above any real snapshot length (256 KiB).
pub const MAX_STREAM_RECORD: usize = 64 << 20;

/// Bytes asked of a stream at a time (at least).
const STREAM_CHUNK: usize = 256 << 10;

/// The bytes read but not yet consumed, in one buffer that is reused: reads
/// land in it directly, and only the unfinished record at its end is moved
/// back to the front when room runs out. Small enough (twice
/// [`STREAM_CHUNK`] unless a record is larger) to stay in the CPU's cache
/// while its packets are decoded.
struct Window {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Window {
    fn new() -> Window {
        Window {
            buf: vec![0; 2 * STREAM_CHUNK],
            start: 0,
            end: 0,
        }
    }

    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        debug_assert!(self.start <= self.end);
    }

    /// Reads once from `input` (what is available, up to the free room, at
    /// least [`STREAM_CHUNK`] bytes); `true` at the end of the stream.
    fn fill(&mut self, input: &mut dyn Read) -> io::Result<bool> {
        if self.buf.len() - self.end < STREAM_CHUNK {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.buf.len() - self.end < STREAM_CHUNK {
                self.buf.resize(self.end + STREAM_CHUNK, 0);
            }
        }
        let n = loop {
            match input.read(&mut self.buf[self.end..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.end += n;
        Ok(n == 0)
    }
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
