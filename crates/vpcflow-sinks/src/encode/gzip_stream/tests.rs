use std::io::{Read, Write as _};
use std::process::Command;

use flate2::bufread::GzDecoder;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use super::*;
use crate::test_support::{flow_text as text, Rng};

/// Bytes that do not compress, `len` of them.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.next() as u8).collect()
}

/// Compresses `data` (written in pieces of `piece` bytes) with `pool`.
fn gzip(data: &[u8], level: u32, pool: Option<Arc<DeflatePool>>, piece: usize) -> Vec<u8> {
    let mut s = GzipStream::new(Vec::new(), level, pool);
    for part in data.chunks(piece.max(1)) {
        s.write(part).unwrap();
    }
    let (bytes, written) = s.finish().unwrap();
    assert_eq!(written, bytes.len() as u64);
    bytes
}

/// A plain bitwise CRC-32 (IEEE), independent of the one under test.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Checks that `bytes` is exactly one gzip member holding `data`.
fn assert_one_member_of(bytes: &[u8], data: &[u8], level: u32) {
    assert_eq!(bytes[..10], gzip_header(level));
    let mut rest = bytes;
    let mut one = Vec::new();
    GzDecoder::new(&mut rest).read_to_end(&mut one).unwrap();
    assert!(one == data, "single-member decoder: wrong body");
    assert!(rest.is_empty(), "{} bytes after the member", rest.len());
    let mut all = Vec::new();
    MultiGzDecoder::new(bytes).read_to_end(&mut all).unwrap();
    assert!(all == data, "multi-member decoder: wrong body");
    let trailer = &bytes[bytes.len() - 8..];
    assert_eq!(trailer[..4], crc32(data).to_le_bytes());
    assert_eq!(trailer[4..], (data.len() as u32).to_le_bytes());
}

fn pools() -> Vec<(usize, Option<Arc<DeflatePool>>)> {
    [0, 1, 2, 4]
        .into_iter()
        .map(|n| (n, Some(Arc::new(DeflatePool::new(n)))))
        .chain([(0, None)])
        .collect()
}

#[test]
fn round_trips_at_every_size_and_thread_count() {
    let pools = pools();
    let sizes = [
        0,
        1,
        1000,
        WINDOW,
        BLOCK_SIZE - 1,
        BLOCK_SIZE,
        BLOCK_SIZE + 1,
        2 * BLOCK_SIZE,
        10 * BLOCK_SIZE + BLOCK_SIZE / 2,
    ];
    for (i, size) in sizes.into_iter().enumerate() {
        let data = text(size, i as u64);
        let reference = gzip(&data, 6, None, 7_000);
        assert_one_member_of(&reference, &data, 6);
        for (n, pool) in &pools {
            for piece in [1_000, 65_536, BLOCK_SIZE + 3, usize::MAX] {
                if piece == 1_000 && size > 2 * BLOCK_SIZE {
                    continue; // slow in debug builds, covered by the others
                }
                let bytes = gzip(&data, 6, pool.clone(), piece.min(data.len()));
                assert!(
                    bytes == reference,
                    "size {size}, {n} threads, pieces of {piece}: different bytes"
                );
            }
        }
    }
}

#[test]
fn every_level_round_trips_text_and_noise() {
    let pool = Some(Arc::new(DeflatePool::new(3)));
    for level in [0, 1, 6, 9] {
        for data in [text(3 * BLOCK_SIZE + 17, 5), noise(2 * BLOCK_SIZE + 1, 6)] {
            let inline = gzip(&data, level, None, 50_000);
            assert_one_member_of(&inline, &data, level);
            assert!(gzip(&data, level, pool.clone(), 50_000) == inline);
        }
    }
}

#[test]
fn ratio_is_close_to_one_deflate_stream() {
    let data = text(40 * BLOCK_SIZE, 9);
    for level in [1, 6] {
        let mut plain = GzEncoder::new(Vec::new(), Compression::new(level));
        plain.write_all(&data).unwrap();
        let plain = plain.finish().unwrap().len() as f64;
        let blocks = gzip(&data, level, None, BLOCK_SIZE).len() as f64;
        assert!(
            blocks / plain < 1.01,
            "level {level}: {blocks} bytes in blocks, {plain} in one stream"
        );
    }
}

/// Compressed sizes seen after feeding each block of `data`, one block per
/// write.
fn sizes_seen(data: &[u8], level: u32, pool: Option<Arc<DeflatePool>>) -> Vec<u64> {
    let mut s = GzipStream::new(Vec::new(), level, pool);
    data.chunks(BLOCK_SIZE)
        .map(|block| {
            s.write(block).unwrap();
            assert_eq!(s.compressed_bytes(), s.get_ref().len() as u64);
            s.compressed_bytes()
        })
        .collect()
}

#[test]
fn written_size_lags_by_exactly_the_blocks_in_flight() {
    let data = text(16 * BLOCK_SIZE, 1);
    // Inline, a full block is written once the next one starts.
    let inline = sizes_seen(&data, 6, None);
    assert_eq!(inline[0], 0);
    assert!(inline.windows(2).all(|w| w[0] < w[1]));
    for threads in [2, 4] {
        let lag = threads * IN_FLIGHT_PER_THREAD;
        let pool = Arc::new(DeflatePool::new(threads));
        for _ in 0..3 {
            let seen = sizes_seen(&data, 6, Some(Arc::clone(&pool)));
            // The first block is written at once, then each when the block
            // `lag` places after it is submitted.
            let expected: Vec<u64> = (0..inline.len())
                .map(|k| inline[k.min(k.saturating_sub(lag).max(1))])
                .collect();
            assert_eq!(seen, expected, "{threads} threads");
        }
    }
}

/// The size estimate after each write of `data` in pieces of `piece` bytes.
fn estimates_seen(data: &[u8], pool: Option<Arc<DeflatePool>>, piece: usize) -> Vec<u64> {
    let mut s = GzipStream::new(Vec::new(), 6, pool);
    data.chunks(piece)
        .map(|part| {
            s.write(part).unwrap();
            s.estimated_bytes(100)
        })
        .collect()
}

#[test]
fn the_size_estimate_does_not_depend_on_the_number_of_threads() {
    // A size cap cuts files where this estimate crosses it: a replay on a
    // machine with another number of CPUs must cut at the same records.
    let mut data = text(40 * BLOCK_SIZE, 7);
    // A part that compresses differently, so that the ratio moves.
    data.splice(20 * BLOCK_SIZE..20 * BLOCK_SIZE, noise(6 * BLOCK_SIZE, 3));
    let piece = 40_000;
    let inline = estimates_seen(&data, None, piece);
    assert!(inline.iter().any(|&e| e > 0));
    for threads in [1, 2, 3, 4, 12] {
        let pool = Arc::new(DeflatePool::new(threads));
        for _ in 0..2 {
            let seen = estimates_seen(&data, Some(Arc::clone(&pool)), piece);
            assert_eq!(seen, inline, "{threads} threads");
        }
    }
    // On uniform content, the estimate is within 5 % of the real size.
    let data = text(40 * BLOCK_SIZE, 8);
    let real = gzip(&data, 6, None, piece).len() as f64;
    let mut s = GzipStream::new(Vec::new(), 6, None);
    s.write(&data).unwrap();
    let estimate = s.estimated_bytes(0) as f64;
    assert!(
        (estimate - real).abs() < real * 0.05,
        "{estimate} vs {real}"
    );
}

#[test]
fn a_dead_pool_is_an_error_not_a_hang() {
    let pool = Arc::new(DeflatePool::new(2));
    let mut s = GzipStream::new(Vec::new(), 6, Some(Arc::clone(&pool)));
    let data = text(BLOCK_SIZE, 2);
    s.write(&data).unwrap();
    pool.kill_threads_for_test(2);
    let mut failed = false;
    for _ in 0..20 {
        if s.write(&data).is_err() {
            failed = true;
            break;
        }
    }
    assert!(failed || s.finish().is_err());
}

#[test]
fn dropping_encoders_with_blocks_in_flight_then_the_pool_returns() {
    let pool = Arc::new(DeflatePool::new(4));
    let data = text(12 * BLOCK_SIZE, 3);
    let mut streams: Vec<_> = (0..3)
        .map(|_| GzipStream::new(Vec::new(), 9, Some(Arc::clone(&pool))))
        .collect();
    for s in &mut streams {
        s.write(&data).unwrap();
    }
    drop(streams);
    drop(pool);
}

/// Whether `program args` runs and succeeds (so its absence is told apart
/// from a rejection of our file).
fn works(program: &str, args: &[&str]) -> Result<(), String> {
    match Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "`{program}` fails: {}",
            String::from_utf8_lossy(&out.stderr)
        )),
        Err(e) => Err(format!("cannot run `{program}`: {e}")),
    }
}

/// The system's own decompressors accept the member: `gzip -t` and Python's
/// `gzip` module, whichever exist.
#[test]
fn system_gunzip_accepts_the_member() {
    let data = text(5 * BLOCK_SIZE + 321, 4);
    let bytes = gzip(&data, 6, Some(Arc::new(DeflatePool::new(2))), 100_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.log.gz");
    std::fs::write(&path, &bytes).unwrap();
    let mut checked = 0;
    match works("gzip", &["--version"]) {
        Ok(()) => {
            let out = Command::new("gzip").arg("-t").arg(&path).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success() && err.is_empty(), "gzip -t: {err}");
            checked += 1;
        }
        Err(why) => eprintln!("skipping the gzip -t check: {why}"),
    }
    match works("python3", &["-c", "import gzip"]) {
        Ok(()) => {
            let script = "import gzip, sys; sys.stdout.buffer.write(gzip.open(sys.argv[1]).read())";
            let out = Command::new("python3")
                .args(["-c", script])
                .arg(&path)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "python3 gzip: {err}");
            assert!(out.stdout == data, "python3 gzip: wrong body");
            checked += 1;
        }
        Err(why) => eprintln!("skipping the python3 gzip check: {why}"),
    }
    if checked == 0 {
        eprintln!("neither gzip nor python3 is available: external check skipped");
    }
}
