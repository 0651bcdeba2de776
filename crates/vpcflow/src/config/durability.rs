//! `[durability]`: the journal that lets `vpcflow run` lose at most the last
//! `sync_interval` of input to a crash (see docs/reliability.md).

use std::time::Duration;

use anyhow::{bail, Result};
use serde::Deserialize;

/// `[durability]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DurabilitySection {
    /// Keep the journal (default true); false: a crash loses the open
    /// windows and files, as before.
    pub enabled: Option<bool>,
    /// Seconds between two syncs of the journal: what a crash may lose.
    pub sync_interval: Option<f64>,
}

/// Default of `durability.sync_interval` (seconds).
pub const DEFAULT_SYNC_INTERVAL_SECS: f64 = 1.0;

/// Bounds of `durability.sync_interval` (seconds).
const SYNC_INTERVAL_SECS: (f64, f64) = (0.01, 60.0);

impl DurabilitySection {
    /// The time between two syncs; `None` when the journal is off.
    pub fn settings(&self) -> Result<Option<Duration>> {
        let secs = self.sync_interval.unwrap_or(DEFAULT_SYNC_INTERVAL_SECS);
        let (low, high) = SYNC_INTERVAL_SECS;
        if !secs.is_finite() || !(low..=high).contains(&secs) {
            bail!("durability.sync_interval: {secs} s must be between {low} and {high} s");
        }
        if self.enabled == Some(false) {
            return Ok(None);
        }
        Ok(Some(Duration::from_secs_f64(secs)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<Duration>> {
        let section: DurabilitySection = toml::from_str(text)?;
        section.settings()
    }

    #[test]
    fn defaults_bounds_and_off() {
        assert_eq!(parse("").unwrap(), Some(Duration::from_secs(1)));
        assert_eq!(
            parse("sync_interval = 0.25").unwrap(),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            parse("sync_interval = 5").unwrap(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(parse("enabled = false").unwrap(), None);
        for bad in [
            "sync_interval = 0",
            "sync_interval = 61",
            "sync_interval = -1",
            "sync_interval = nan",
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains("durability.sync_interval"), "{bad}: {e}");
        }
        assert!(parse("sync = 1").is_err());
    }
}
