//! One gzip member written block by block, the blocks compressed inline or by a
//! [`DeflatePool`], always written out in order.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use flate2::Crc;

use super::block::{
    compress_block, gzip_header, gzip_trailer, Block, Compressed, BLOCK_SIZE, WINDOW,
};
use super::counting::CountingWriter;
use super::pool::{gone, DeflatePool};

/// Blocks in flight per pool thread: enough to keep the threads busy while the
/// caller waits for the oldest.
const IN_FLIGHT_PER_THREAD: usize = 2;

/// Blocks in flight at most, whatever the number of threads: the size
/// estimate uses the blocks submitted this many places before the newest,
/// which are written whatever the number of threads (see
/// [`GzipStream::estimated_bytes`]).
const MAX_IN_FLIGHT: usize = 16;

/// Streams one gzip member into `W`.
///
/// Bytes are collected into blocks of [`BLOCK_SIZE`]; a full block is handed
/// to the compressor as soon as the first byte of the next one arrives (so the
/// last block, which ends the deflate stream, is known as such). Compressed
/// blocks are written to `W` strictly in order, the header before the first
/// and the trailer after the last.
///
/// Inline, a block is written as soon as it is submitted. With a pool of N
/// threads, the first block too; then up to 2N blocks are in flight, and
/// block `i` is written when block `i + 2N` is submitted (or at
/// [`GzipStream::finish`]), waiting for it if needed.
pub(crate) struct GzipStream<W: Write> {
    out: CountingWriter<W>,
    level: u32,
    /// The pool, if it has threads.
    pool: Option<Arc<DeflatePool>>,
    /// The block being filled: dictionary, then data.
    block: Vec<u8>,
    dict_len: usize,
    /// Results of submitted blocks, oldest first.
    in_flight: VecDeque<Receiver<Compressed>>,
    max_in_flight: usize,
    /// CRC-32 and length of the blocks written so far.
    crc: Crc,
    /// Uncompressed bytes received, and those of the blocks written.
    fed: u64,
    fed_written: u64,
    /// Blocks submitted.
    submitted: u64,
    /// After each written block, oldest first (the last
    /// [`MAX_IN_FLIGHT`] + 1 kept): uncompressed bytes and compressed
    /// bytes written so far.
    history: VecDeque<(u64, u64)>,
    header_written: bool,
    /// Buffers to reuse for blocks and their outputs.
    spare: Vec<Vec<u8>>,
}

impl<W: Write> GzipStream<W> {
    /// A member at `level` (0–9) written into `out`, its blocks compressed by
    /// `pool` or, if it has no threads, inline.
    pub(crate) fn new(out: W, level: u32, pool: Option<Arc<DeflatePool>>) -> GzipStream<W> {
        let pool = pool.filter(|p| p.threads() > 0);
        let max_in_flight = pool.as_ref().map_or(0, |p| {
            (p.threads() * IN_FLIGHT_PER_THREAD).min(MAX_IN_FLIGHT)
        });
        GzipStream {
            out: CountingWriter::new(out),
            level,
            pool,
            block: Vec::new(),
            dict_len: 0,
            in_flight: VecDeque::with_capacity(max_in_flight),
            max_in_flight,
            crc: Crc::new(),
            fed: 0,
            fed_written: 0,
            submitted: 0,
            history: VecDeque::with_capacity(MAX_IN_FLIGHT + 2),
            header_written: false,
            spare: Vec::new(),
        }
    }

    /// Appends `data` to the uncompressed stream.
    pub(crate) fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        self.fed += data.len() as u64;
        while !data.is_empty() {
            if self.block.len() - self.dict_len == BLOCK_SIZE {
                self.submit(false)?;
            }
            if self.block.capacity() == 0 {
                self.block.reserve_exact(WINDOW + BLOCK_SIZE);
            }
            let room = BLOCK_SIZE - (self.block.len() - self.dict_len);
            let (now, rest) = data.split_at(room.min(data.len()));
            self.block.extend_from_slice(now);
            data = rest;
        }
        Ok(())
    }

    /// Compressed bytes written to the inner writer so far. Blocks in flight
    /// and the block being filled are not counted: see
    /// [`TextGzipEncoder::compressed_bytes`](super::TextGzipEncoder::compressed_bytes).
    pub(crate) fn compressed_bytes(&self) -> u64 {
        self.out.written()
    }

    /// An estimate of the compressed size of what was received plus
    /// `more_uncompressed` bytes: the compressed size of the blocks up to
    /// the one submitted [`MAX_IN_FLIGHT`] places before the newest (the
    /// first block until then), plus the rest at their ratio (nothing
    /// before the first block is written). Those blocks are written
    /// whatever the number of compression threads, so the estimate depends
    /// only on the input: a size cap cuts files at the same records with
    /// any number of threads, and a replay of the durability journal on a
    /// machine with another number of CPUs writes the same files.
    pub(crate) fn estimated_bytes(&self, more_uncompressed: u64) -> u64 {
        let Some(&(fed_known, written_known)) = self.known_block() else {
            return self.out.written();
        };
        let rest = u128::from(self.fed - fed_known + more_uncompressed);
        let rest = rest * u128::from(written_known) / u128::from(fed_known.max(1));
        written_known.saturating_add(u64::try_from(rest).unwrap_or(u64::MAX))
    }

    /// The sizes after the block the estimate uses: block
    /// `submitted - 1 - MAX_IN_FLIGHT`, or the first one before that.
    fn known_block(&self) -> Option<&(u64, u64)> {
        let written = self.submitted - self.in_flight.len() as u64;
        let index = self
            .submitted
            .saturating_sub(1 + MAX_IN_FLIGHT as u64)
            .min(written.checked_sub(1)?);
        // `history` holds the blocks `written - history.len()` ..= `written - 1`.
        let oldest = written - self.history.len() as u64;
        self.history
            .get(usize::try_from(index.checked_sub(oldest)?).ok()?)
    }

    /// The inner writer.
    pub(crate) fn get_ref(&self) -> &W {
        self.out.get_ref()
    }

    /// Compresses what is left, writes the trailer and flushes; returns the
    /// inner writer and the compressed size.
    pub(crate) fn finish(mut self) -> io::Result<(W, u64)> {
        self.submit(true)?;
        while !self.in_flight.is_empty() {
            self.write_oldest()?;
        }
        self.out.write_all(&gzip_trailer(&self.crc))?;
        self.out.flush()?;
        let written = self.out.written();
        Ok((self.out.into_inner(), written))
    }

    /// Hands the current block to the compressor and starts the next one,
    /// primed with the end of this one.
    fn submit(&mut self, last: bool) -> io::Result<()> {
        let mut next = self.spare.pop().unwrap_or_default();
        next.clear();
        let data = &self.block[self.dict_len..];
        if !last {
            next.reserve_exact(WINDOW + BLOCK_SIZE);
            next.extend_from_slice(&data[data.len().saturating_sub(WINDOW)..]);
        }
        let block = Block {
            level: self.level,
            dict_len: std::mem::replace(&mut self.dict_len, next.len()),
            buf: std::mem::replace(&mut self.block, next),
            last,
            out: self.spare.pop().unwrap_or_default(),
        };
        self.submitted += 1;
        if self.pool.is_none() {
            return self.write_block(compress_block(block));
        }
        while self.in_flight.len() >= self.max_in_flight {
            self.write_oldest()?;
        }
        let rx = self.pool.as_ref().expect("checked above").submit(block)?;
        self.in_flight.push_back(rx);
        if !self.header_written {
            // The first block is written at once, so that the compression
            // ratio is known early (see `estimated_bytes`).
            self.write_oldest()?;
        }
        // Other blocks that are done are not written before they must be:
        // what has been written at any point then depends only on the input
        // and the number of threads, not on timing (a size cap splits files
        // at the same records in every run).
        Ok(())
    }

    /// Waits for the oldest block in flight and writes it.
    fn write_oldest(&mut self) -> io::Result<()> {
        let rx = self.in_flight.pop_front().expect("a block in flight");
        let done = rx
            .recv()
            .map_err(|_| gone("lost a block (a compression thread stopped)"))?;
        self.write_block(done)
    }

    fn write_block(&mut self, done: Compressed) -> io::Result<()> {
        let out = done.out.map_err(io::Error::other)?;
        if !self.header_written {
            self.out.write_all(&gzip_header(self.level))?;
            self.header_written = true;
        }
        self.out.write_all(&out)?;
        self.crc.combine(&done.crc);
        self.fed_written += u64::from(done.crc.amount());
        if self.history.len() > MAX_IN_FLIGHT {
            self.history.pop_front();
        }
        self.history
            .push_back((self.fed_written, self.out.written()));
        if self.spare.len() < 2 * self.max_in_flight + 4 {
            self.spare.push(done.buf);
            self.spare.push(out);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
