//! A point in time on the command line or in the file: RFC 3339
//! (`2026-12-06T14:00:00Z`, `2026-12-06T15:00:00+01:00`) or Unix seconds
//! (`1765029600`, `1765029600.5`).

use std::fmt;
use std::str::FromStr;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A point in time, in Unix nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeArg(pub u64);

impl FromStr for TimeArg {
    type Err = String;

    fn from_str(text: &str) -> Result<TimeArg, String> {
        let bad =
            || format!("{text:?} is not a time: RFC 3339 (2026-12-06T14:00:00Z) or Unix seconds");
        if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
            let ns = t.unix_timestamp_nanos();
            return u64::try_from(ns).map(TimeArg).map_err(|_| bad());
        }
        let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
        if secs.is_empty()
            || !secs.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || frac.len() > 9
        {
            return Err(bad());
        }
        let secs: u64 = secs.parse().map_err(|_| bad())?;
        let frac_ns: u64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<9}").parse().map_err(|_| bad())?
        };
        secs.checked_mul(1_000_000_000)
            .and_then(|ns| ns.checked_add(frac_ns))
            .map(TimeArg)
            .ok_or_else(bad)
    }
}

impl fmt::Display for TimeArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}",
            self.0 / 1_000_000_000,
            self.0 % 1_000_000_000
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_and_unix_seconds() {
        let t = |s: &str| s.parse::<TimeArg>().map(|t| t.0);
        assert_eq!(t("1765029600"), Ok(1_765_029_600_000_000_000));
        assert_eq!(t("1765029600.5"), Ok(1_765_029_600_500_000_000));
        assert_eq!(t("2025-12-06T14:00:00Z"), Ok(1_765_029_600_000_000_000));
        assert_eq!(
            t("2025-12-06T15:00:00+01:00"),
            Ok(1_765_029_600_000_000_000)
        );
        assert_eq!(t("2025-12-06T14:00:00.25Z"), Ok(1_765_029_600_250_000_000));
        for bad in [
            "",
            "yesterday",
            "-5",
            "1.2.3",
            "1.0000000001",
            "1969-12-31T23:59:59Z",
        ] {
            let e = t(bad).unwrap_err();
            assert!(e.contains("is not a time"), "{bad}: {e}");
        }
    }
}
