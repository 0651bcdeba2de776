//! Recorded Skydive messages: one JSON struct message, or one bare JSON array
//! of flows, per line. Empty lines are skipped.

use std::io::{self, BufRead, Read};
use std::path::{Path, PathBuf};

use vpcflow_core::FlowConsumer;

use super::message::{parse_json, MessageError};
use super::Converter;

/// The longest line read: a longer one is skipped as malformed without being
/// held in memory whole.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// A line that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// The file.
    pub path: PathBuf,
    /// 1-based line number.
    pub line: u64,
    /// 1-based column (character) where decoding failed, when known.
    pub column: Option<u64>,
    /// Why.
    pub reason: String,
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)?;
        if let Some(c) = self.column {
            write!(f, ":{c}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Why a line is bad and where in it: the JSON parser's own position ("at
/// line 1 column 9") is taken out of the reason and becomes the column of
/// the file position.
fn describe(e: &MessageError) -> (Option<u64>, String) {
    let text = e.to_string();
    if let MessageError::Json(j) = e {
        let suffix = format!(" at line {} column {}", j.line(), j.column());
        if let Some(reason) = text.strip_suffix(&suffix) {
            return (
                (j.column() > 0).then_some(j.column() as u64),
                reason.to_string(),
            );
        }
    }
    (None, text)
}

/// What reading one recording gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Lines holding a message.
    pub messages: u64,
    /// Malformed lines (the first [`ReplayStats::MAX_BAD_LINES`] are kept).
    pub bad_lines: u64,
    /// The first malformed lines.
    pub bad: Vec<BadLine>,
    /// Bytes read.
    pub bytes: u64,
}

impl ReplayStats {
    /// How many malformed lines are kept with their reason.
    pub const MAX_BAD_LINES: usize = 20;
}

/// Reads the recording at `path` through `converter` into `consumer`. A
/// malformed line is counted, logged with its file and line number, and
/// skipped; the other lines are read. Errors are for files that cannot be read.
pub fn read_file(
    path: &Path,
    converter: &mut Converter,
    consumer: &mut dyn FlowConsumer,
) -> io::Result<ReplayStats> {
    let file = std::fs::File::open(path)?;
    read(
        path,
        io::BufReader::with_capacity(1 << 20, file),
        converter,
        consumer,
    )
}

/// Like [`read_file`], from any reader; `path` names it in messages.
pub fn read<R: BufRead>(
    path: &Path,
    reader: R,
    converter: &mut Converter,
    consumer: &mut dyn FlowConsumer,
) -> io::Result<ReplayStats> {
    read_lines(path, reader, converter, consumer, MAX_LINE_BYTES)
}

fn read_lines<R: BufRead>(
    path: &Path,
    mut reader: R,
    converter: &mut Converter,
    consumer: &mut dyn FlowConsumer,
    max_line: usize,
) -> io::Result<ReplayStats> {
    let mut stats = ReplayStats::default();
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let n = (&mut reader)
            .take(max_line as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        number += 1;
        stats.bytes += n as u64;
        let bad = |stats: &mut ReplayStats, column: Option<u64>, reason: String| {
            stats.bad_lines += 1;
            let bad = BadLine {
                path: path.to_owned(),
                line: number,
                column,
                reason,
            };
            tracing::warn!("malformed Skydive message: {bad}");
            if stats.bad.len() < ReplayStats::MAX_BAD_LINES {
                stats.bad.push(bad);
            }
        };
        if line.len() > max_line && line.last() != Some(&b'\n') {
            stats.bytes += skip_line(&mut reader)?;
            bad(
                &mut stats,
                None,
                format!("line longer than {max_line} bytes, skipped"),
            );
            continue;
        }
        // A UTF-8 byte order mark at the start of the file is not part of
        // the first message.
        let mut text = &line[..];
        if number == 1 {
            text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
        }
        // The line break is not part of the message (and would move the
        // parser's position of an incomplete message to the next line).
        let text = text.trim_ascii_end();
        if text.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        match parse_json(text) {
            Ok(payload) => {
                stats.messages += 1;
                converter.payload(&payload, consumer);
            }
            Err(e) => {
                let (column, reason) = describe(&e);
                bad(&mut stats, column, reason);
            }
        }
    }
    Ok(stats)
}

/// Reads past the rest of an over-long line; returns the bytes skipped.
fn skip_line<R: BufRead>(reader: &mut R) -> io::Result<u64> {
    let mut skipped = 0u64;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(skipped);
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(skipped + i as u64 + 1);
            }
            None => {
                let n = buf.len();
                reader.consume(n);
                skipped += n as u64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skydive::ConverterOptions;
    use vpcflow_testkit::RecordingConsumer;

    fn replay(text: &[u8], max_line: usize) -> (ReplayStats, Converter) {
        let mut c = Converter::new(ConverterOptions::default());
        let mut sink = RecordingConsumer::default();
        let stats = read_lines(Path::new("rec.json"), text, &mut c, &mut sink, max_line).unwrap();
        (stats, c)
    }

    #[test]
    fn bad_lines_are_named_by_file_line_and_column() {
        let text = b"[]\n[{\"UUID\": }]\n{\"Namespace\":\"flow\",\n{}\n";
        let (stats, _) = replay(text, MAX_LINE_BYTES);
        assert_eq!(stats.messages, 1);
        let shown: Vec<String> = stats.bad.iter().map(|b| b.to_string()).collect();
        assert_eq!(
            shown,
            [
                "rec.json:2:11: not a Skydive message: expected value",
                "rec.json:3:20: not a Skydive message: EOF while parsing a value",
                r#"rec.json:4: not a Skydive message: a JSON object without "Type""#,
            ]
        );
    }

    #[test]
    fn a_byte_order_mark_at_the_start_is_skipped() {
        let (stats, c) = replay(
            b"\xEF\xBB\xBF[{\"UUID\":\"a\"}]\n\xEF\xBB\xBF[]\n",
            MAX_LINE_BYTES,
        );
        assert_eq!(stats.messages, 1);
        assert_eq!(c.stats().flows, 1);
        // Only at the start of the file.
        assert_eq!(stats.bad_lines, 1);
        assert_eq!(stats.bad[0].line, 2);
    }

    #[test]
    fn an_over_long_line_is_skipped_without_being_held() {
        let long = format!("[{}]", vec!["{}"; 100].join(","));
        let text = format!("{long}\n[]\n{long}");
        let (stats, _) = replay(text.as_bytes(), 64);
        assert_eq!(stats.messages, 1);
        assert_eq!(stats.bad_lines, 2);
        assert_eq!(
            stats.bad[0].to_string(),
            "rec.json:1: line longer than 64 bytes, skipped"
        );
        assert_eq!(stats.bad[1].line, 3);
        assert_eq!(stats.bytes, text.len() as u64);
    }
}
