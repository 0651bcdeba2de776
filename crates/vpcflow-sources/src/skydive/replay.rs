//! Recorded Skydive messages: one JSON struct message, or one bare JSON array
//! of flows, per line. Empty lines are skipped.

use std::io::{self, BufRead};
use std::path::{Path, PathBuf};

use vpcflow_core::FlowConsumer;

use super::message::parse_json;
use super::Converter;

/// A line that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// The file.
    pub path: PathBuf,
    /// 1-based line number.
    pub line: u64,
    /// Why.
    pub reason: String,
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.reason)
    }
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
    mut reader: R,
    converter: &mut Converter,
    consumer: &mut dyn FlowConsumer,
) -> io::Result<ReplayStats> {
    let mut stats = ReplayStats::default();
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        number += 1;
        stats.bytes += n as u64;
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        match parse_json(&line) {
            Ok(payload) => {
                stats.messages += 1;
                converter.payload(&payload, consumer);
            }
            Err(e) => {
                stats.bad_lines += 1;
                let bad = BadLine {
                    path: path.to_owned(),
                    line: number,
                    reason: e.to_string(),
                };
                tracing::warn!("malformed Skydive message: {bad}");
                if stats.bad.len() < ReplayStats::MAX_BAD_LINES {
                    stats.bad.push(bad);
                }
            }
        }
    }
    Ok(stats)
}
