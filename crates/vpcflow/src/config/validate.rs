//! Checks of single values shared by several sections; every error names
//! the key it is about.

use anyhow::{bail, Result};

/// `value`, when given, is `prefix` followed by lower-case hex digits.
pub fn check_id(key: &str, value: &Option<String>, prefix: &str) -> Result<()> {
    if let Some(v) = value {
        let hex = v.strip_prefix(prefix).unwrap_or("");
        if hex.is_empty()
            || !hex.bytes().all(|b| b.is_ascii_hexdigit())
            || hex.bytes().any(|b| b.is_ascii_uppercase())
        {
            bail!("{key}: {v:?} must be {prefix} followed by lower-case hex digits");
        }
    }
    Ok(())
}

/// `value`, when given, can stand as one field of a record or header: not
/// empty, not `-`, printable ASCII without spaces or quotes.
pub fn check_token(key: &str, value: Option<&str>) -> Result<()> {
    if let Some(v) = value {
        if v.is_empty()
            || v == "-"
            || v.bytes()
                .any(|b| b.is_ascii_whitespace() || !b.is_ascii_graphic() || b == b'"')
        {
            bail!("{key}: {v:?} must be a non-empty token without spaces, quotes or non-ASCII characters");
        }
    }
    Ok(())
}

/// `value` is at most `max`: every duration and count setting has an upper
/// bound, so that no accepted value can exhaust memory, time or a counter.
/// `unit` follows the numbers in the error ("s", "bytes", "" for a count).
pub fn check_max(key: &str, value: u64, max: u64, unit: &str) -> Result<()> {
    if value > max {
        let unit = if unit.is_empty() {
            String::new()
        } else {
            format!(" {unit}")
        };
        bail!("{key}: {value}{unit} is more than the maximum of {max}{unit}");
    }
    Ok(())
}

/// The bounds every spooled AWS destination shares: `output.spool_max_bytes`
/// and the section's `shutdown_timeout` and `permanent_error_retry`
/// (`section` is e.g. `output.cloudwatch`).
pub fn check_delivery_bounds(
    section: &str,
    spool_max_bytes: Option<u64>,
    shutdown_timeout: Option<u64>,
    permanent_error_retry: Option<u64>,
) -> Result<()> {
    if let Some(bytes) = spool_max_bytes {
        check_max("output.spool_max_bytes", bytes, max::SPOOL_BYTES, "bytes")?;
    }
    if let Some(secs) = shutdown_timeout {
        check_max(
            &format!("{section}.shutdown_timeout"),
            secs,
            max::DAY_SECS,
            "s",
        )?;
    }
    if let Some(secs) = permanent_error_retry {
        if secs == 0 {
            bail!("{section}.permanent_error_retry: must be at least 1 second");
        }
        check_max(
            &format!("{section}.permanent_error_retry"),
            secs,
            max::DAY_SECS,
            "s",
        )?;
    }
    Ok(())
}

/// Upper bounds of the settings (see docs/reliability.md).
pub mod max {
    /// One day, the longest wait or delay a setting may ask for.
    pub const DAY_SECS: u64 = 86_400;
    /// `aggregation.nodata_max_gap`: 31 days.
    pub const NODATA_MAX_GAP_SECS: u64 = 31 * DAY_SECS;
    /// `aggregation.max_open_flows`: 100 million table entries (about 7 GB).
    pub const OPEN_FLOWS: u64 = 100_000_000;
    /// `skydive.max_tracked_flows`: 100 million flow states.
    pub const TRACKED_FLOWS: u64 = 100_000_000;
    /// `skydive.state_ttl`: 30 days.
    pub const STATE_TTL_SECS: u64 = 30 * DAY_SECS;
    /// `output.max_file_bytes`: 5 GB, the largest object of one S3 PUT.
    pub const FILE_BYTES: u64 = 5_000_000_000;
    /// `output.spool_max_bytes`: 1 PiB.
    pub const SPOOL_BYTES: u64 = 1 << 50;
    /// `output.s3.multipart_part_size`: 5 GiB, S3's largest part.
    pub const PART_BYTES: u64 = 5 << 30;
    /// `output.s3.multipart_threshold`: 5 TiB, S3's largest object.
    pub const OBJECT_BYTES: u64 = 5 << 40;
    /// `output.s3.max_concurrent_uploads`.
    pub const CONCURRENT_UPLOADS: u64 = 1024;
    /// `capture.interface[].buffer`: 1 GiB of kernel ring.
    pub const CAPTURE_BUFFER_BYTES: u64 = 1 << 30;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_max_names_key_value_and_bound() {
        assert!(check_max("a.b", 10, 10, "s").is_ok());
        let e = check_max("a.b", 11, 10, "s").unwrap_err().to_string();
        assert_eq!(e, "a.b: 11 s is more than the maximum of 10 s");
        let e = check_max("a.c", u64::MAX, 5, "").unwrap_err().to_string();
        assert_eq!(e, "a.c: 18446744073709551615 is more than the maximum of 5");
    }
}
