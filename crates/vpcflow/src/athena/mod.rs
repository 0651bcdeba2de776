//! `vpcflow athena`: the Athena table over the files vpcflow writes (spec
//! §4.1) and named queries over it (after §4.2), for the configured format,
//! file format, layout, prefix and flow log.

mod ddl;
mod duckdb;
mod queries;

use vpcflow_core::format::LogFormat;
use vpcflow_core::layout::{Layout, Prefix};
use vpcflow_core::name::FlowLogId;
use vpcflow_sinks::FileFormat;

use ddl::create_table;

/// The bucket of the table's LOCATION when none is given: the user must
/// replace it.
pub const PLACEHOLDER_BUCKET: &str = "s3://YOUR-BUCKET";

/// What the table reads: the output of a `vpcflow convert` with the same
/// settings, uploaded to `location`.
#[derive(Debug, Clone)]
pub struct Target {
    /// Table name (letters, digits, `_`).
    pub table: String,
    /// The record format: the table's columns.
    pub format: LogFormat,
    /// Text or Parquet files.
    pub file_format: FileFormat,
    /// Key layout: decides the partitions.
    pub layout: Layout,
    /// Folder before `AWSLogs/`.
    pub prefix: Prefix,
    /// The flow log (account and Region of the keys).
    pub flow_log: FlowLogId,
    /// Where the output directory's content is, `s3://bucket[/folder]` without
    /// a trailing slash: the keys follow it. `None`: [`PLACEHOLDER_BUCKET`].
    pub location: Option<String>,
    /// First day of the date projection, `yyyy/MM/dd`.
    pub since: String,
}

impl Target {
    /// The URL the keys follow (`location` or the placeholder), then the
    /// prefix, ending in `/`.
    pub fn root(&self) -> String {
        let mut root = self
            .location
            .clone()
            .unwrap_or_else(|| PLACEHOLDER_BUCKET.to_string());
        root.push('/');
        if !self.prefix.as_str().is_empty() {
            root.push_str(self.prefix.as_str());
            root.push('/');
        }
        root
    }
}

/// Checks a `--location`: an `s3://` URL without quotes or spaces; the
/// trailing `/` is dropped.
pub fn parse_location(text: &str) -> Result<String, String> {
    let trimmed = text.trim_end_matches('/');
    let bucket = trimmed.strip_prefix("s3://").unwrap_or("");
    if bucket.is_empty()
        || trimmed
            .chars()
            .any(|c| c == '\'' || c == '"' || c == '\\' || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "location {text:?} must be an s3:// URL (s3://bucket or s3://bucket/folder) without quotes or spaces"
        ));
    }
    Ok(trimmed.to_string())
}

/// Checks a table name: a letter or `_`, then letters, digits or `_`.
pub fn parse_table(text: &str) -> Result<String, String> {
    let ok = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(text.to_string())
    } else {
        Err(format!(
            "table name {text:?} must be lower-case letters, digits and _, not starting with a digit"
        ))
    }
}

/// Checks a `--since` date `YYYY-MM-DD` and returns it as `yyyy/MM/dd`.
pub fn parse_since(text: &str) -> Result<String, String> {
    let parts: Vec<&str> = text.split('-').collect();
    let valid = parts.len() == 3
        && [4, 2, 2]
            .iter()
            .zip(&parts)
            .all(|(len, p)| p.len() == *len && p.bytes().all(|b| b.is_ascii_digit()))
        && (1..=12).contains(&parts[1].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&parts[2].parse::<u32>().unwrap_or(0));
    if valid {
        Ok(parts.join("/"))
    } else {
        Err(format!("since {text:?} must be a date YYYY-MM-DD"))
    }
}

/// What `vpcflow athena --duckdb DIR` prints: a DuckDB view named like the
/// table over the output directory `dir`, then the same named queries.
pub fn render_duckdb(target: &Target, dir: &str) -> String {
    with_queries(duckdb::create_view(target, dir), target)
}

/// Everything `vpcflow athena` prints: the table DDL (and `MSCK REPAIR
/// TABLE` for Hive-compatible layouts), then the named queries the format
/// allows.
pub fn render(target: &Target) -> String {
    with_queries(create_table(target), target)
}

/// `head`, a blank line, then the named queries over `target`.
fn with_queries(mut head: String, target: &Target) -> String {
    head.push('\n');
    head.push_str(&queries::render(
        &target.table,
        &target.format,
        target.layout,
    ));
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_tables_and_dates_are_checked() {
        assert_eq!(parse_location("s3://b/logs/").unwrap(), "s3://b/logs");
        assert!(parse_location("/tmp/x").is_err());
        assert!(parse_location("s3://").is_err());
        assert!(parse_location("s3://b/it's").is_err());
        assert_eq!(parse_table("vpc_flow_logs").unwrap(), "vpc_flow_logs");
        assert!(parse_table("1x").is_err() && parse_table("a-b").is_err());
        assert!(parse_table("").is_err());
        assert_eq!(parse_since("2024-02-29").unwrap(), "2024/02/29");
        assert!(parse_since("2024-13-01").is_err() && parse_since("24-01-01").is_err());
    }
}
