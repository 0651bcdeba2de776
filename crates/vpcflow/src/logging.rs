//! Diagnostics on stderr: the level filter (`--log-level`), text or JSON
//! lines (`--log-style`), colour only on a terminal, and the fatal error in
//! the same format as every other line.

use std::fmt;
use std::io::IsTerminal;
use std::str::FromStr;

use tracing_subscriber::filter::{Directive, EnvFilter, LevelFilter};

/// What `--log-level` accepts: a level (`error`, `warn`, `info`, `debug`,
/// `trace`, `off`), or comma-separated directives each with a level
/// (`warn,vpcflow=debug`). Anything else is refused, never taken for a
/// target name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLevel(String);

impl FromStr for LogLevel {
    type Err = String;

    fn from_str(text: &str) -> Result<LogLevel, String> {
        let bad = |part: &str| {
            format!(
                "{part:?} is not a level (error, warn, info, debug, trace, off) or a TARGET=LEVEL directive"
            )
        };
        if text.trim().is_empty() {
            return Err(bad(text));
        }
        for part in text.split(',') {
            let part = part.trim();
            let level = match part.rsplit_once('=') {
                Some((target, level)) if !target.is_empty() => level,
                Some(_) => return Err(bad(part)),
                None => part,
            };
            if level.parse::<LevelFilter>().is_err() || part.parse::<Directive>().is_err() {
                return Err(bad(part));
            }
        }
        Ok(LogLevel(text.to_string()))
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The form of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogStyle {
    /// Human-readable text.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the subscriber: lines on stderr at `level`, in `format`, with
/// ANSI colours only when stderr is a terminal.
pub fn init(level: &LogLevel, format: LogStyle) {
    // Validated by `LogLevel::from_str`, so this cannot fall back silently.
    let filter = EnvFilter::try_new(&level.0).unwrap_or_else(|_| EnvFilter::new("warn"));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    match format {
        LogStyle::Json => fmt.json().init(),
        LogStyle::Text => fmt.init(),
    }
}

/// Reports the error that ends the run: a plain line for people, or a JSON
/// object like the other lines under `--log-style json` (whatever the level
/// filter).
pub fn fatal(error: &anyhow::Error, format: LogStyle) {
    let message = shorten(&format!("{error:#}"));
    match format {
        LogStyle::Text => eprintln!("vpcflow: error: {message}"),
        LogStyle::Json => {
            let line = serde_json::json!({
                "timestamp": rfc3339_now(),
                "level": "ERROR",
                "fields": { "message": message },
            });
            eprintln!("{line}");
        }
    }
}

/// Longest line of an error message shown whole: a value quoted in an error
/// (a 10 MB configuration value, a parser's snippet) is cut, not echoed.
const MAX_LINE_CHARS: usize = 4096;

/// `message` with every line longer than [`MAX_LINE_CHARS`] cut to that
/// many characters and the number of bytes left out.
fn shorten(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(4096));
    for (i, line) in message.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match line.char_indices().nth(MAX_LINE_CHARS) {
            None => out.push_str(line),
            Some((cut, _)) => {
                out.push_str(&line[..cut]);
                out.push_str(&format!("… ({} more bytes)", line.len() - cut));
            }
        }
    }
    out
}

/// The wall clock as RFC 3339 UTC with microseconds, as the JSON lines of
/// the subscriber write it.
fn rfc3339_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    now.format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_error_lines_are_cut_with_what_was_left_out() {
        assert_eq!(shorten("short\nlines"), "short\nlines");
        let long = format!("key: \"{}\" is bad", "é".repeat(5_000_000));
        let s = shorten(&long);
        assert!(s.chars().count() < MAX_LINE_CHARS + 40, "{}", s.len());
        assert!(s.starts_with("key: \"éé"));
        assert!(s.ends_with(&format!(
            "… ({} more bytes)",
            long.len() - (6 + 2 * (MAX_LINE_CHARS - 6))
        )));
    }

    #[test]
    fn levels_and_directives_are_accepted_and_words_are_not() {
        for ok in [
            "warn",
            "INFO",
            "off",
            "warn,vpcflow=debug",
            "vpcflow_sinks=trace",
        ] {
            assert!(ok.parse::<LogLevel>().is_ok(), "{ok}");
        }
        for bad in ["verbose", "", "warn,loud", "=debug", "vpcflow=loud"] {
            let e = bad.parse::<LogLevel>().unwrap_err();
            assert!(e.contains("is not a level"), "{bad}: {e}");
        }
    }
}
