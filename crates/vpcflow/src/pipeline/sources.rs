//! The source factory: the live sources of `vpcflow run` from the settings,
//! in the order the daemon pumps them.
//!
//! A new live source implements [`Source`] in vpcflow-sources and adds an
//! arm here (with its validated settings in
//! [`Settings`]); the daemon's loop needs no change.

use anyhow::{bail, Result};
use vpcflow_sources::live::{present_interfaces, LiveSource};
use vpcflow_sources::skydive::{Converter, SkydiveSource};
use vpcflow_sources::Source;

use crate::config::Settings;

/// Every source `settings` configure: live captures first, then the Skydive
/// analyzers.
pub fn open(settings: &Settings) -> Vec<Box<dyn Source>> {
    let mut sources: Vec<Box<dyn Source>> = Vec::new();
    if !settings.captures.is_empty() {
        sources.push(Box::new(LiveSource::new(
            settings.captures.clone(),
            settings.capture.fragments,
        )));
    }
    if !settings.analyzers.is_empty() {
        sources.push(Box::new(SkydiveSource::new(
            settings.analyzers.clone(),
            Converter::new(settings.skydive.clone()),
            settings.aggregation.interval.secs(),
        )));
    }
    sources
}

/// What makes `vpcflow run` fail at start-up before any source opens: no
/// source configured, or a capture configured by name whose interface does
/// not exist. `vpcflow check` runs the same checks.
pub fn preflight(settings: &Settings) -> Result<()> {
    if settings.captures.is_empty() && settings.analyzers.is_empty() {
        bail!("nothing to run: configure [[capture.interface]] or [[skydive.analyzer]] blocks");
    }
    let present = present_interfaces();
    for (i, spec) in settings.captures.iter().enumerate() {
        if !spec.is_pattern() && !present.contains(&spec.name) {
            bail!(
                "capture.interface[{i}].name: there is no interface {:?} on this host (a pattern such as \"{}*\" waits for interfaces that appear later)",
                spec.name,
                spec.name
            );
        }
    }
    Ok(())
}
