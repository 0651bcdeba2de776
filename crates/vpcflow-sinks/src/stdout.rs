//! The stream sink for piping (`--out -`): the header line once, then plain
//! record lines, uncompressed and unbatched.

use std::io::Write;

use vpcflow_core::aggregate::Released;
use vpcflow_core::enrich::InterfaceTable;
use vpcflow_core::format::LogFormat;

use crate::error::SinkError;
use crate::sink::{RecordSink, RunSummary};

/// Output collected before it is written, so a line-buffered stdout sees few
/// large writes.
const CHUNK: usize = 64 * 1024;

/// Writes records as text lines to any [`Write`] (stdout in practice).
///
/// The body is what a text object would hold, uncompressed: the header line,
/// then the records in the order they are released. Output is flushed after
/// each batch, so a reader at the other end of a pipe sees records as soon as
/// aggregation releases them.
///
/// ```
/// use vpcflow_core::aggregate::Released;
/// use vpcflow_core::format::LogFormat;
/// use vpcflow_core::enrich::InterfaceTable;
/// use vpcflow_core::interface::InterfaceDefaults;
/// use vpcflow_sinks::StdoutSink;
///
/// let interfaces = InterfaceTable::new(
///     InterfaceDefaults { account_id: "123456789012".into(), region: "us-east-1".into() },
///     Default::default(),
/// );
/// let mut sink = StdoutSink::new(Vec::new(), LogFormat::default());
/// sink.write(&Released::default(), &interfaces).unwrap();
/// sink.finish().unwrap();
/// assert!(sink.into_inner().starts_with(b"version account-id "));
/// ```
pub struct StdoutSink<W: Write> {
    out: W,
    format: LogFormat,
    version: u8,
    /// Formatted output not yet written (reused).
    buf: Vec<u8>,
    header_written: bool,
    summary: RunSummary,
}

impl<W: Write> StdoutSink<W> {
    /// A sink writing records in `format` to `out`.
    pub fn new(out: W, format: LogFormat) -> StdoutSink<W> {
        StdoutSink {
            out,
            version: format.version(),
            format,
            buf: Vec::with_capacity(CHUNK + 1024),
            header_written: false,
            summary: RunSummary::default(),
        }
    }

    /// Writes one released batch (the header line first, once) and flushes.
    pub fn write(
        &mut self,
        released: &Released,
        interfaces: &InterfaceTable,
    ) -> Result<(), SinkError> {
        self.header();
        let mut enricher = interfaces.enricher(self.version);
        for record in &released.records {
            self.format
                .write_line(enricher.values(record), &mut self.buf);
            self.summary.records += 1;
            if self.buf.len() >= CHUNK {
                self.drain()?;
            }
        }
        self.drain()?;
        self.out.flush().map_err(stream_error)
    }

    /// Writes the header if nothing was written yet, flushes, and returns the
    /// totals.
    pub fn finish(&mut self) -> Result<RunSummary, SinkError> {
        self.header();
        self.drain()?;
        self.out.flush().map_err(stream_error)?;
        Ok(self.summary)
    }

    /// The writer.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn header(&mut self) {
        if !self.header_written {
            self.buf
                .extend_from_slice(self.format.header_line().as_bytes());
            self.header_written = true;
        }
    }

    fn drain(&mut self) -> Result<(), SinkError> {
        if !self.buf.is_empty() {
            self.out.write_all(&self.buf).map_err(stream_error)?;
            self.summary.uncompressed_bytes += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }
}

fn stream_error(source: std::io::Error) -> SinkError {
    SinkError::Stream {
        target: "stdout",
        source,
    }
}

impl<W: Write> RecordSink for StdoutSink<W> {
    fn write(&mut self, released: &Released, interfaces: &InterfaceTable) -> Result<(), SinkError> {
        StdoutSink::write(self, released, interfaces)
    }

    fn finish(&mut self) -> Result<RunSummary, SinkError> {
        StdoutSink::finish(self)
    }

    fn totals(&self) -> RunSummary {
        self.summary
    }

    /// Standard output is one stream, never a file to publish.
    fn open_files(&self) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use vpcflow_core::LogStatus;

    use super::*;
    use crate::test_support::{mixed_records, nodata, Fixture};

    #[test]
    fn header_once_then_plain_lines() {
        let fx = Fixture::new();
        let format = LogFormat::default();
        let mut sink = StdoutSink::new(Vec::new(), format.clone());
        let first = Released {
            records: mixed_records(&fx.indices, 1_616_729_000, 2_000),
            complete_before: 1_616_729_100,
        };
        let second = Released {
            records: vec![nodata(fx.indices[1], 1_616_729_400, 60, LogStatus::NoData)],
            complete_before: u64::MAX,
        };
        sink.write(&first, &fx.table).unwrap();
        sink.write(&second, &fx.table).unwrap();
        let summary = sink.finish().unwrap();
        let text = String::from_utf8(sink.into_inner()).unwrap();
        assert_eq!(summary.records, 2_001);
        assert_eq!(summary.files, 0);
        assert_eq!(summary.uncompressed_bytes, text.len() as u64);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2_002);
        assert_eq!(format!("{}\n", lines[0]), format.header_line());
        assert!(lines[1..]
            .iter()
            .all(|l| l.split(' ').count() == 14 && !l.starts_with("version")));
        let meta = fx.table.get(fx.indices[1]);
        assert_eq!(
            lines[2_001],
            format!(
                "2 {} {} - - - - - - - 1616729400 1616729459 - NODATA",
                meta.account_id, meta.interface_id
            )
        );
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn empty_run_still_has_the_header() {
        let format = LogFormat::parse("${version} ${srcaddr}").unwrap();
        let mut sink = StdoutSink::new(Vec::new(), format);
        sink.finish().unwrap();
        sink.finish().unwrap();
        assert_eq!(sink.into_inner(), b"version srcaddr\n");
    }

    #[test]
    fn write_errors_are_reported() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let fx = Fixture::new();
        let mut sink = StdoutSink::new(Broken, LogFormat::default());
        let e = sink.write(&Released::default(), &fx.table).unwrap_err();
        assert_eq!(e.to_string(), "cannot write to stdout");
        let cause = std::error::Error::source(&e).expect("the cause is the source");
        assert_eq!(
            cause.to_string(),
            std::io::Error::from(std::io::ErrorKind::BrokenPipe).to_string()
        );
    }
}
