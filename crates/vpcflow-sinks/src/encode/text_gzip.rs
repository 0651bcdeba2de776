//! gzip-compressed text objects (spec §1.1, §1.5, §3.1): the header line of field
//! names, then one line per record, as a single gzip member.

use std::fmt;
use std::io::{self, Write};

use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};
use vpcflow_core::format::LogFormat;
use vpcflow_core::name::ContentHasher;
use vpcflow_core::values::RecordValues;

use super::{CountingWriter, Encoded, ObjectStats};

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
    gz: GzEncoder<CountingWriter<W>>,
    format: LogFormat,
    /// Formatted lines not yet hashed and compressed (reused).
    pending: Vec<u8>,
    hasher: ContentHasher,
    records: u64,
    /// Uncompressed bytes hashed and compressed so far (`pending` excluded).
    flushed: u64,
}

impl<W: Write> TextGzipEncoder<W> {
    /// An encoder writing into `inner`; the header line of `format` is the first
    /// line of the body. Nothing is written to `inner` until enough data is
    /// collected or the encoder is finished.
    pub fn new(inner: W, format: &LogFormat, level: GzipLevel) -> TextGzipEncoder<W> {
        let gz = GzBuilder::new()
            .mtime(0)
            .write(CountingWriter::new(inner), Compression::new(level.get()));
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

    /// Compressed bytes handed to the inner writer so far. The compressor holds
    /// back some output until it has enough input, so this trails the final size
    /// by up to a few hundred kilobytes until [`TextGzipEncoder::finish`].
    pub fn compressed_bytes(&self) -> u64 {
        self.gz.get_ref().written()
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        self.gz.get_ref().get_ref()
    }

    /// Completes the gzip member and returns the inner writer (flushed) with the
    /// object's sizes and content digest.
    pub fn finish(mut self) -> io::Result<Encoded<W>> {
        self.compress_pending()?;
        let mut counting = self.gz.finish()?;
        counting.flush()?;
        let stats = ObjectStats {
            records: self.records,
            uncompressed_bytes: self.flushed,
            compressed_bytes: counting.written(),
        };
        Ok(Encoded {
            inner: counting.into_inner(),
            stats,
            hasher: self.hasher,
        })
    }

    fn compress_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.hasher.update(&self.pending);
        self.gz.write_all(&self.pending)?;
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
    fn levels_are_checked() {
        assert_eq!(GzipLevel::default().get(), 6);
        assert_eq!(GzipLevel::new(9).unwrap().get(), 9);
        assert_eq!(
            GzipLevel::new(10).unwrap_err().to_string(),
            "gzip level must be 0 to 9, not 10"
        );
    }
}
