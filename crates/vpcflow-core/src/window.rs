//! Aggregation windows: aligned multiples of the aggregation interval.

use std::fmt;

/// The maximum aggregation interval of a flow log: 60 s or 600 s, as AWS offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Interval {
    /// One minute.
    OneMinute,
    /// Ten minutes (the AWS default).
    #[default]
    TenMinutes,
}

/// An interval other than 60 or 600 seconds was asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("aggregation interval must be 60 or 600 seconds, not {0}")]
pub struct InvalidInterval(pub u64);

impl Interval {
    /// The interval of `secs` seconds (60 or 600).
    pub fn from_secs(secs: u64) -> Result<Interval, InvalidInterval> {
        match secs {
            60 => Ok(Interval::OneMinute),
            600 => Ok(Interval::TenMinutes),
            other => Err(InvalidInterval(other)),
        }
    }

    /// Length in seconds.
    #[inline]
    pub fn secs(self) -> u64 {
        match self {
            Interval::OneMinute => 60,
            Interval::TenMinutes => 600,
        }
    }

    /// Start (Unix seconds) of the window holding second `t`.
    #[inline]
    pub fn window_start(self, t: u64) -> u64 {
        // Constant divisors: the compiler turns them into multiplications.
        match self {
            Interval::OneMinute => t - t % 60,
            Interval::TenMinutes => t - t % 600,
        }
    }

    /// Last second that still belongs to the window starting at `start`.
    #[inline]
    pub fn window_last_second(self, start: u64) -> u64 {
        start + self.secs() - 1
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned() {
        let i = Interval::OneMinute;
        assert_eq!(i.window_start(1490086703), 1490086680);
        assert_eq!(Interval::TenMinutes.window_start(1490086703), 1490086200);
        assert_eq!(i.window_start(120), 120);
        assert_eq!(i.window_last_second(120), 179);
    }

    #[test]
    fn only_aws_intervals() {
        assert_eq!(Interval::from_secs(60), Ok(Interval::OneMinute));
        assert_eq!(Interval::from_secs(600), Ok(Interval::TenMinutes));
        assert_eq!(Interval::from_secs(300), Err(InvalidInterval(300)));
        assert_eq!(
            Interval::from_secs(0).unwrap_err().to_string(),
            "aggregation interval must be 60 or 600 seconds, not 0"
        );
    }
}
