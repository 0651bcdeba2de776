//! gzip-compressed text objects (spec §1.1, §1.5, §3.1): the header line of field
//! names, then one line per record, as a single gzip member.

use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

use vpcflow_core::format::LogFormat;
use vpcflow_core::name::ContentHasher;
use vpcflow_core::values::RecordValues;

use super::encoded::{Encoded, ObjectStats};
use super::gzip_stream::GzipStream;
use super::pool::DeflatePool;

/// Uncompressed bytes collected before they are hashed and compressed: large
/// enough that per-call overhead vanishes, small enough to stay in cache.
const CHUNK: usize = 64 * 1024;

/// A gzip compression level, 0 (stored) to 9 (smallest); 6 by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GzipLevel(u8);

/// A gzip level above 9.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gzip level must be 0 to 9, not {0}")]
pub struct InvalidGzipLevel(pub u32);

impl GzipLevel {
    /// Level `level`, 0–9.
    pub fn new(level: u32) -> Result<GzipLevel, InvalidGzipLevel> {
        u8::try_from(level)
            .ok()
            .filter(|l| *l <= 9)
            .map(GzipLevel)
            .ok_or(InvalidGzipLevel(level))
    }

    /// The level as a number.
    pub fn get(self) -> u32 {
        u32::from(self.0)
    }
}

impl Default for GzipLevel {
    fn default() -> Self {
        GzipLevel(6)
    }
}

impl fmt::Display for GzipLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Streams one text object into `W`.
///
/// The body is the format's header line followed by one line per record; it is
/// compressed as one gzip member whose header has no name and mtime 0, so the
/// same records always give the same bytes. The uncompressed body is fed to a
/// [`ContentHasher`] on the way, for the object's name.
///
/// The body is compressed in blocks of [`BLOCK_SIZE`](super::BLOCK_SIZE) bytes,
/// each primed with the 32 KiB before it, so that the blocks can be compressed
/// on several cores ([`TextGzipEncoder::with_pool`]) and still form one
/// ordinary deflate stream in one gzip member. The bytes depend only on the
/// records, the level and the block size, never on the number of threads.
///
/// ```
/// use vpcflow_core::format::LogFormat;
/// use vpcflow_core::values::RecordValues;
/// use vpcflow_sinks::encode::{GzipLevel, TextGzipEncoder};
///
/// let mut enc = TextGzipEncoder::new(Vec::new(), &LogFormat::default(), GzipLevel::default());
/// enc.write_record(&RecordValues::default()).unwrap();
/// let done = enc.finish().unwrap();
/// assert_eq!(done.stats.records, 1);
/// assert_eq!(done.stats.compressed_bytes, done.inner.len() as u64);
/// ```
pub struct TextGzipEncoder<W: Write> {
    gz: GzipStream<W>,
    format: LogFormat,
    /// Formatted lines not yet hashed and compressed (reused).
    pending: Vec<u8>,
    hasher: ContentHasher,
    records: u64,
    /// Uncompressed bytes hashed and compressed so far (`pending` excluded).
    flushed: u64,
}

impl<W: Write> TextGzipEncoder<W> {
    /// An encoder writing into `inner` that compresses on the caller's thread;
    /// the header line of `format` is the first line of the body. Nothing is
    /// written to `inner` until a block is complete or the encoder is finished.
    pub fn new(inner: W, format: &LogFormat, level: GzipLevel) -> TextGzipEncoder<W> {
        TextGzipEncoder::with_stream(GzipStream::new(inner, level.get(), None), format)
    }

    /// Like [`TextGzipEncoder::new`], but the blocks are compressed by the
    /// threads of `pool` (inline if it has none), which may serve other
    /// encoders at the same time. At most two blocks per pool thread are in
    /// flight; when that many are, the caller waits for the oldest. The bytes
    /// written are the same as with [`TextGzipEncoder::new`].
    pub fn with_pool(
        inner: W,
        format: &LogFormat,
        level: GzipLevel,
        pool: Arc<DeflatePool>,
    ) -> TextGzipEncoder<W> {
        TextGzipEncoder::with_stream(GzipStream::new(inner, level.get(), Some(pool)), format)
    }

    fn with_stream(gz: GzipStream<W>, format: &LogFormat) -> TextGzipEncoder<W> {
        let mut pending = Vec::with_capacity(CHUNK + 1024);
        pending.extend_from_slice(format.header_line().as_bytes());
        TextGzipEncoder {
            gz,
            format: format.clone(),
            pending,
            hasher: ContentHasher::new(),
            records: 0,
            flushed: 0,
        }
    }

    /// Appends the line of one record.
    #[inline]
    pub fn write_record(&mut self, values: &RecordValues<'_>) -> io::Result<()> {
        self.format.write_line(values, &mut self.pending);
        self.records += 1;
        if self.pending.len() >= CHUNK {
            self.compress_pending()?;
        }
        Ok(())
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Uncompressed bytes of the body so far, header line included.
    pub fn uncompressed_bytes(&self) -> u64 {
        self.flushed + self.pending.len() as u64
    }

    /// Compressed bytes handed to the inner writer so far.
    ///
    /// Blocks are written in order once compressed, so this trails the final
    /// size by what is not written yet: the block being filled and, with a
    /// pool of N threads, up to 2N blocks in flight — at most `2N + 1` blocks
    /// of [`BLOCK_SIZE`](super::BLOCK_SIZE) uncompressed bytes (128 KiB each),
    /// i.e. their compressed size (a third to a fifth of that for flow log
    /// text at levels 1–6), plus the 8-byte trailer.
    ///
    /// The value after each record depends only on the records, the level and
    /// the number of pool threads, never on timing: the first block is written
    /// as soon as it is full, each later one when the block 2N places after it
    /// is submitted, not as soon as it is done.
    pub fn compressed_bytes(&self) -> u64 {
        self.gz.compressed_bytes()
    }

    /// An estimate of the compressed size of the body so far:
    /// [`TextGzipEncoder::compressed_bytes`] plus the part not written yet,
    /// taken at the compression ratio of the part written. Until the first
    /// block (the first 128 KiB of text) is written, that ratio is unknown and
    /// this is 0. After, it is close to the final size whatever the number of
    /// threads — the error is that of the ratio on the last `2N + 1` blocks —
    /// and, like `compressed_bytes`, a function of the records, the level and
    /// the number of pool threads only.
    pub fn estimated_compressed_bytes(&self) -> u64 {
        self.gz.estimated_bytes(self.pending.len() as u64)
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        self.gz.get_ref()
    }

    /// Completes the gzip member and returns the inner writer (flushed) with the
    /// object's sizes and content digest.
    pub fn finish(mut self) -> io::Result<Encoded<W>> {
        self.compress_pending()?;
        let (inner, compressed_bytes) = self.gz.finish()?;
        let stats = ObjectStats {
            records: self.records,
            uncompressed_bytes: self.flushed,
            compressed_bytes,
        };
        Ok(Encoded {
            inner,
            stats,
            hasher: self.hasher,
        })
    }

    fn compress_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.hasher.update(&self.pending);
        self.gz.write(&self.pending)?;
        self.flushed += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use flate2::read::{GzDecoder, MultiGzDecoder};
    use vpcflow_core::enrich::record_values;
    use vpcflow_core::fields::Field;
    use vpcflow_core::name::FlowLogId;

    use super::*;
    use crate::test_support::{mixed_records, nodata, Fixture};

    fn encode(format: &LogFormat, fx: &Fixture, n: usize, level: GzipLevel) -> Encoded<Vec<u8>> {
        let mut enc = TextGzipEncoder::new(Vec::new(), format, level);
        for r in mixed_records(&fx.indices, 1_616_729_000, n) {
            let meta = fx.table.get(r.interface);
            enc.write_record(&record_values(&r, meta, format.version()))
                .unwrap();
        }
        enc.finish().unwrap()
    }

    fn gunzip(bytes: &[u8]) -> String {
        let mut s = String::new();
        GzDecoder::new(bytes).read_to_string(&mut s).unwrap();
        s
    }

    #[test]
    fn body_is_one_header_then_well_formed_lines() {
        let fx = Fixture::new();
        let formats = [
            LogFormat::default(),
            LogFormat::from_fields(Field::ALL.to_vec()).unwrap(),
            LogFormat::parse("${version} ${vpc-id} ${srcaddr} ${tcp-flags} ${end}").unwrap(),
        ];
        for format in formats {
            let done = encode(&format, &fx, 5_000, GzipLevel::default());
            let text = gunzip(&done.inner);
            let header = format.header_line();
            assert!(text.starts_with(&header));
            assert!(text.ends_with('\n'));
            assert!(!text.contains('\r') && !text.contains('"'));
            let lines: Vec<&str> = text[..text.len() - 1].split('\n').collect();
            assert_eq!(lines.len(), 5_001);
            assert_eq!(
                lines.iter().filter(|l| **l == header.trim_end()).count(),
                1,
                "exactly one header"
            );
            for line in &lines[1..] {
                let fields: Vec<&str> = line.split(' ').collect();
                assert_eq!(fields.len(), format.fields().len(), "{line:?}");
                assert!(fields.iter().all(|f| !f.is_empty()), "{line:?}");
                assert!(line.is_ascii());
                format.parse_line(line).unwrap();
            }
            assert_eq!(done.stats.records, 5_000);
            assert_eq!(done.stats.uncompressed_bytes, text.len() as u64);
            assert_eq!(done.stats.compressed_bytes, done.inner.len() as u64);
        }
    }

    #[test]
    fn single_member_with_a_fixed_header() {
        let fx = Fixture::new();
        let done = encode(&LogFormat::default(), &fx, 20_000, GzipLevel::default());
        // One member: a multi-member reader sees no more than the first member.
        let mut multi = String::new();
        MultiGzDecoder::new(&done.inner[..])
            .read_to_string(&mut multi)
            .unwrap();
        assert_eq!(multi, gunzip(&done.inner));
        let mut one = GzDecoder::new(&done.inner[..]);
        std::io::copy(&mut one, &mut std::io::sink()).unwrap();
        let header = one.header().unwrap();
        assert_eq!(header.mtime(), 0);
        assert!(header.filename().is_none() && header.comment().is_none());
        // Magic, deflate, no flags, mtime 0.
        assert_eq!(&done.inner[..8], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn same_records_give_same_bytes_and_digest() {
        let fx = Fixture::new();
        let id = FlowLogId::new("123456789012", "us-east-1", "fl-1234abcd").unwrap();
        let a = encode(&LogFormat::default(), &fx, 3_000, GzipLevel::default());
        let b = encode(&LogFormat::default(), &fx, 3_000, GzipLevel::default());
        assert_eq!(a.inner, b.inner);
        assert_eq!(a.hasher.name_hash(&id, 0, 0), b.hasher.name_hash(&id, 0, 0));
        let c = encode(&LogFormat::default(), &fx, 2_999, GzipLevel::default());
        assert_ne!(a.hasher.name_hash(&id, 0, 0), c.hasher.name_hash(&id, 0, 0));
        // The digest is of the uncompressed body: the level does not change it.
        let fast = encode(
            &LogFormat::default(),
            &fx,
            3_000,
            GzipLevel::new(1).unwrap(),
        );
        assert_ne!(fast.inner, a.inner);
        assert_eq!(gunzip(&fast.inner), gunzip(&a.inner));
        assert_eq!(
            fast.hasher.name_hash(&id, 0, 0),
            a.hasher.name_hash(&id, 0, 0)
        );
    }

    #[test]
    fn nodata_and_skipdata_lines_have_the_documented_shape() {
        let fx = Fixture::new();
        let format = LogFormat::default();
        let mut enc = TextGzipEncoder::new(Vec::new(), &format, GzipLevel::default());
        let eni = fx.indices[0];
        for status in [
            vpcflow_core::LogStatus::NoData,
            vpcflow_core::LogStatus::SkipData,
        ] {
            let r = nodata(eni, 1_431_280_800, 600, status);
            enc.write_record(&record_values(&r, fx.table.get(eni), 2))
                .unwrap();
        }
        let text = gunzip(&enc.finish().unwrap().inner);
        let meta = fx.table.get(eni);
        let re = regex::Regex::new(
            r"^2 [0-9]{12} eni-[0-9a-f]{17} - - - - - - - [0-9]+ [0-9]+ - (NODATA|SKIPDATA)$",
        )
        .unwrap();
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            lines,
            [
                format!(
                    "2 {} {} - - - - - - - 1431280800 1431281399 - NODATA",
                    meta.account_id, meta.interface_id
                ),
                format!(
                    "2 {} {} - - - - - - - 1431280800 1431281399 - SKIPDATA",
                    meta.account_id, meta.interface_id
                ),
            ]
        );
        assert!(lines.iter().all(|l| re.is_match(l)));
    }

    #[test]
    fn empty_object_is_just_the_header() {
        let format = LogFormat::default();
        let done = TextGzipEncoder::new(Vec::new(), &format, GzipLevel::default())
            .finish()
            .unwrap();
        assert_eq!(gunzip(&done.inner), format.header_line());
        assert_eq!(done.stats.records, 0);
    }

    #[test]
    fn compressed_count_follows_the_writer() {
        let fx = Fixture::new();
        let format = LogFormat::default();
        let mut enc = TextGzipEncoder::new(Vec::new(), &format, GzipLevel::new(0).unwrap());
        assert_eq!(enc.compressed_bytes(), 0);
        for r in mixed_records(&fx.indices, 1_616_729_000, 5_000) {
            enc.write_record(&record_values(&r, fx.table.get(r.interface), 2))
                .unwrap();
            assert_eq!(enc.compressed_bytes(), enc.get_ref().len() as u64);
        }
        // Stored blocks: the output keeps up with the input.
        assert!(enc.compressed_bytes() > enc.uncompressed_bytes() / 2);
    }

    #[test]
    fn a_pool_gives_the_same_single_member_for_any_thread_count() {
        let fx = Fixture::new();
        let format = LogFormat::default();
        let encode_with = |pool: Option<Arc<DeflatePool>>| {
            let mut enc = match pool {
                Some(pool) => {
                    TextGzipEncoder::with_pool(Vec::new(), &format, GzipLevel::default(), pool)
                }
                None => TextGzipEncoder::new(Vec::new(), &format, GzipLevel::default()),
            };
            for r in mixed_records(&fx.indices, 1_616_729_000, 12_000) {
                enc.write_record(&record_values(&r, fx.table.get(r.interface), 2))
                    .unwrap();
            }
            enc.finish().unwrap()
        };
        let inline = encode_with(None);
        let text = gunzip(&inline.inner);
        assert!(text.len() > 5 * crate::encode::BLOCK_SIZE);
        // Block boundaries fall inside lines.
        assert_ne!(text.as_bytes()[crate::encode::BLOCK_SIZE - 1], b'\n');
        let mut multi = String::new();
        MultiGzDecoder::new(&inline.inner[..])
            .read_to_string(&mut multi)
            .unwrap();
        assert!(multi == text, "exactly one member");
        for threads in [1, 2, 4] {
            let pooled = encode_with(Some(Arc::new(DeflatePool::new(threads))));
            assert!(pooled.inner == inline.inner, "{threads} threads");
            assert_eq!(pooled.stats, inline.stats);
        }
    }

    #[test]
    fn estimated_size_is_close_to_the_final_one() {
        let fx = Fixture::new();
        let format = LogFormat::default();
        for threads in [0, 2, 4] {
            let pool = Arc::new(DeflatePool::new(threads));
            let mut enc =
                TextGzipEncoder::with_pool(Vec::new(), &format, GzipLevel::default(), pool);
            let mut estimates = Vec::new();
            for r in mixed_records(&fx.indices, 1_616_729_000, 20_000) {
                enc.write_record(&record_values(&r, fx.table.get(r.interface), 2))
                    .unwrap();
                if enc.uncompressed_bytes() < crate::encode::BLOCK_SIZE as u64 {
                    assert_eq!(enc.estimated_compressed_bytes(), 0, "ratio not known yet");
                }
                assert!(enc.estimated_compressed_bytes() >= enc.compressed_bytes());
                estimates.push(enc.estimated_compressed_bytes());
            }
            let last = *estimates.last().unwrap() as f64;
            let done = enc.finish().unwrap();
            let real = done.stats.compressed_bytes as f64;
            assert!(
                (last / real - 1.0).abs() < 0.03,
                "{threads} threads: {last} vs {real}"
            );
        }
    }

    #[test]
    fn levels_are_checked() {
        assert_eq!(GzipLevel::default().get(), 6);
        assert_eq!(GzipLevel::new(9).unwrap().get(), 9);
        assert_eq!(
            GzipLevel::new(10).unwrap_err().to_string(),
            "gzip level must be 0 to 9, not 10"
        );
    }
}
