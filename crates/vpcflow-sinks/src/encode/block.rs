//! One block of a block-parallel gzip member: the unit of work of
//! [`DeflatePool`](super::DeflatePool) and of inline compression.
//!
//! The uncompressed body is cut into blocks of exactly [`BLOCK_SIZE`] bytes (the
//! last one may be shorter). Each block is compressed on its own as raw deflate,
//! primed with the last [`WINDOW`] bytes of the previous block as dictionary, and
//! ended with a sync flush (byte-aligned, not final) except the last block, which
//! ends the deflate stream. Concatenated in order, the outputs form one deflate
//! stream that depends only on the input, the level and [`BLOCK_SIZE`] — not on
//! which thread compressed which block, nor when.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// Uncompressed bytes per block. Large enough that the sync marker (5 bytes)
/// and the restart of the match finder cost little ratio, small enough that a
/// few blocks per core keep every core busy.
pub const BLOCK_SIZE: usize = 128 * 1024;

/// Deflate's window: the dictionary handed from one block to the next.
pub(crate) const WINDOW: usize = 32 * 1024;

/// A block to compress: `buf[..dict_len]` is the dictionary (the end of the
/// previous block), `buf[dict_len..]` the block itself.
#[derive(Debug)]
pub(crate) struct Block {
    /// gzip level, 0–9.
    pub(crate) level: u32,
    /// Dictionary then data.
    pub(crate) buf: Vec<u8>,
    /// Bytes of `buf` that are dictionary.
    pub(crate) dict_len: usize,
    /// Whether this block ends the stream.
    pub(crate) last: bool,
    /// Where the compressed bytes go (cleared first; its allocation is reused).
    pub(crate) out: Vec<u8>,
}

impl Block {
    /// The uncompressed data of the block (dictionary excluded).
    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[self.dict_len..]
    }
}

/// A compressed block.
#[derive(Debug)]
pub(crate) struct Compressed {
    /// The input buffer, handed back for reuse.
    pub(crate) buf: Vec<u8>,
    /// The deflate bytes of the block, or why there are none.
    pub(crate) out: Result<Vec<u8>, String>,
    /// CRC-32 and length of the block's data.
    pub(crate) crc: Crc,
}

/// Compresses `block`; never panics. A failure (which would be a bug of the
/// compressor) is reported in [`Compressed::out`].
///
/// Every block gets a new (zeroed) deflate state. A reset zlib-rs state keeps
/// stale window and hash-chain memory of the blocks it compressed before, and
/// some blocks then come out a byte or two different (see the test
/// `a_block_does_not_depend_on_what_was_compressed_before`): with reused
/// states the output would depend on which thread compressed what. The fresh
/// state costs about 5 % of the compression time at level 6, 10–20 % at
/// level 1.
pub(crate) fn compress_block(mut block: Block) -> Compressed {
    let mut crc = Crc::new();
    crc.update(block.data());
    let mut out = std::mem::take(&mut block.out);
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        deflate_block(&block, &mut out).map(|()| out)
    }))
    .unwrap_or_else(|payload| Err(format!("deflate panicked: {}", panic_message(&*payload))));
    Compressed {
        buf: block.buf,
        out: result,
        crc,
    }
}

fn deflate_block(block: &Block, out: &mut Vec<u8>) -> Result<(), String> {
    let mut compress = Compress::new(Compression::new(block.level), false);
    if block.dict_len > 0 {
        compress
            .set_dictionary(&block.buf[..block.dict_len])
            .map_err(|e| format!("deflate dictionary: {e}"))?;
    }
    let flush = if block.last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    out.clear();
    deflate_all(&mut compress, block.data(), out, flush)
}

/// Feeds all of `input` to `compress` with `flush`, growing `out` as needed,
/// until the flush is complete.
fn deflate_all(
    compress: &mut Compress,
    input: &[u8],
    out: &mut Vec<u8>,
    flush: FlushCompress,
) -> Result<(), String> {
    // Incompressible data grows by 5 bytes per 16 KiB stored block.
    out.reserve(input.len() + input.len() / 1024 + 256);
    let start = compress.total_in();
    loop {
        let consumed = (compress.total_in() - start) as usize;
        if out.capacity() - out.len() < 64 {
            out.reserve(input.len() - consumed + 4096);
        }
        let status = compress
            .compress_vec(&input[consumed..], out, flush)
            .map_err(|e| format!("deflate: {e}"))?;
        let consumed = (compress.total_in() - start) as usize;
        let done = match flush {
            FlushCompress::Finish => status == Status::StreamEnd,
            // zlib: the flush is complete once output space is left over.
            _ => consumed == input.len() && out.len() < out.capacity(),
        };
        if done {
            return Ok(());
        }
        out.reserve(input.len() - consumed + 4096);
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic")
}

/// The 10-byte gzip header: deflate, no flags, mtime 0, extra flags as flate2
/// sets them for `level`, OS 255 (unknown) — byte for byte what flate2's
/// `GzBuilder::new().mtime(0)` writes.
pub(crate) fn gzip_header(level: u32) -> [u8; 10] {
    let xfl = match level {
        9 => 2,
        0 | 1 => 4,
        _ => 0,
    };
    [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]
}

/// The 8-byte gzip trailer: CRC-32 then length mod 2^32, little-endian.
pub(crate) fn gzip_trailer(crc: &Crc) -> [u8; 8] {
    let mut t = [0; 8];
    t[..4].copy_from_slice(&crc.sum().to_le_bytes());
    t[4..].copy_from_slice(&crc.amount().to_le_bytes());
    t
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use flate2::read::DeflateDecoder;

    use super::*;

    fn block(level: u32, dict: &[u8], data: &[u8], last: bool) -> Block {
        Block {
            level,
            buf: [dict, data].concat(),
            dict_len: dict.len(),
            last,
            out: Vec::new(),
        }
    }

    #[test]
    fn sync_then_finish_blocks_form_one_deflate_stream() {
        let text: Vec<u8> = (0..300_000u32)
            .flat_map(|i| format!("{} ", i % 977).into_bytes())
            .collect();
        let (a, b) = text.split_at(BLOCK_SIZE);
        let first = compress_block(block(6, &[], a, false));
        let second = compress_block(block(6, &a[a.len() - WINDOW..], b, true));
        let mut stream = first.out.unwrap();
        // A sync flush ends with an empty stored block.
        assert!(stream.ends_with(&[0, 0, 0xff, 0xff]));
        stream.extend(second.out.unwrap());
        let mut back = Vec::new();
        DeflateDecoder::new(&stream[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, text);
        assert_eq!(first.crc.amount() as usize, a.len());
        assert_eq!(second.crc.amount() as usize, b.len());
    }

    /// Guards the fresh state per block: with a reused (reset) state, some
    /// blocks came out a byte or two different depending on the blocks the
    /// state had compressed before.
    #[test]
    fn a_block_does_not_depend_on_what_was_compressed_before() {
        let text = crate::test_support::flow_text(10 * BLOCK_SIZE + BLOCK_SIZE / 2, 8);
        let blocks: Vec<&[u8]> = text.chunks(BLOCK_SIZE).collect();
        let nth = |i: usize| {
            let dict = if i == 0 {
                &[][..]
            } else {
                &blocks[i - 1][BLOCK_SIZE - WINDOW..]
            };
            block(6, dict, blocks[i], i + 1 == blocks.len())
        };
        let in_order: Vec<Vec<u8>> = (0..blocks.len())
            .map(|i| compress_block(nth(i)).out.unwrap())
            .collect();
        for order in [
            [1, 3, 5, 7, 9, 0, 2, 4, 6, 8, 10],
            [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
        ] {
            for i in order {
                assert!(
                    compress_block(nth(i)).out.unwrap() == in_order[i],
                    "block {i}"
                );
            }
        }
    }

    #[test]
    fn empty_last_block_ends_the_stream() {
        let done = compress_block(block(6, &[], &[], true));
        let out = done.out.unwrap();
        let mut back = Vec::new();
        DeflateDecoder::new(&out[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(back.is_empty());
        assert_eq!(gzip_trailer(&done.crc), [0; 8]);
    }

    #[test]
    fn header_matches_flate2() {
        for level in 0..=9 {
            let mut gz = flate2::GzBuilder::new()
                .mtime(0)
                .write(Vec::new(), Compression::new(level));
            std::io::Write::flush(&mut gz).unwrap();
            let bytes = gz.finish().unwrap();
            assert_eq!(bytes[..10], gzip_header(level), "level {level}");
        }
    }
}
