//! UTC calendar parts of Unix timestamps, as used in file names and folders.

/// The UTC date and time of a Unix second, down to the minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcMinute {
    /// Four-digit year.
    pub year: i32,
    /// Month 1–12.
    pub month: u8,
    /// Day of month 1–31.
    pub day: u8,
    /// Hour 0–23.
    pub hour: u8,
    /// Minute 0–59.
    pub minute: u8,
}

impl UtcMinute {
    /// The UTC calendar minute containing Unix second `secs`.
    ///
    /// # Panics
    /// For seconds beyond the year 9999, which no packet timestamp reaches.
    pub fn from_unix(secs: u64) -> UtcMinute {
        let dt = ::time::OffsetDateTime::from_unix_timestamp(secs as i64)
            .expect("timestamp within years 1970-9999");
        UtcMinute {
            year: dt.year(),
            month: u8::from(dt.month()),
            day: dt.day(),
            hour: dt.hour(),
            minute: dt.minute(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        // 2021-03-26T03:29:09Z, from the spec's v5 example.
        let t = UtcMinute::from_unix(1616729349);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute),
            (2021, 3, 26, 3, 29)
        );
        let t = UtcMinute::from_unix(0);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute),
            (1970, 1, 1, 0, 0)
        );
        // Leap day.
        let t = UtcMinute::from_unix(951782400);
        assert_eq!((t.year, t.month, t.day), (2000, 2, 29));
    }
}
