//! Exponential backoff with full jitter between delivery attempts.

use std::time::Duration;

/// First pause after a transient error (before jitter).
const BASE: Duration = Duration::from_millis(200);
/// Longest pause between two attempts (before jitter).
pub const CAP: Duration = Duration::from_secs(60);

/// The pause before attempt `failures + 1` after `failures` transient errors
/// in a row: a uniformly random duration in `[0, min(CAP, BASE * 2^failures))`
/// ("full jitter"), so that many exporters recovering at once spread out.
pub fn full_jitter(failures: u32) -> Duration {
    let ceiling = BASE
        .checked_mul(1u32 << failures.min(20))
        .unwrap_or(CAP)
        .min(CAP);
    let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(fastrand::u64(0..ms.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_stays_under_the_cap() {
        for _ in 0..200 {
            assert!(full_jitter(0) < BASE);
            assert!(full_jitter(3) < BASE * 8);
            assert!(full_jitter(40) < CAP);
        }
        // Full jitter spreads over the whole range, not only near the ceiling.
        let small = (0..1000).filter(|_| full_jitter(10) < CAP / 4).count();
        assert!(small > 100, "{small}");
    }
}
