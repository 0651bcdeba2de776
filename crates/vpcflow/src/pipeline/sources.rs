//! The source factory: the live sources of `vpcflow run` from the settings,
//! in the order the daemon pumps them.
//!
//! A new live source implements [`Source`] in vpcflow-sources and adds an
//! arm here (with its validated settings in
//! [`Settings`]); the daemon's loop needs no change.

use vpcflow_sources::live::LiveSource;
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
