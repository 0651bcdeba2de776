//! The source factory: the live sources of `vpcflow run` from the settings,
//! in the order the daemon pumps them.
//!
//! A new live source implements [`Source`] in vpcflow-sources and adds an
//! arm here (with its validated settings in
//! [`Settings`]); the daemon's loop needs no change.

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use vpcflow_sources::live::{present_interfaces, LiveSource};
use vpcflow_sources::netflow::{Decoder, NetflowSource};
use vpcflow_sources::sflow::{self, SflowSource};
use vpcflow_sources::skydive::{Converter, SkydiveSource, StateStore};
use vpcflow_sources::udp::{DatagramDecoder, ListenSpec};
use vpcflow_sources::Source;

use crate::config::{check_writable, skydive_identity, state_dir, Settings};

/// Every source `settings` configure: live captures first, then the Skydive
/// analyzers, then the NetFlow/IPFIX collector. The Skydive source keeps its state in the state folder, which
/// it locks: a folder in use by another process is an error.
pub fn open(settings: &Settings) -> Result<Vec<Box<dyn Source>>> {
    let mut sources: Vec<Box<dyn Source>> = Vec::new();
    if !settings.captures.is_empty() {
        sources.push(Box::new(LiveSource::new(
            settings.captures.clone(),
            settings.capture.fragments,
        )));
    }
    if !settings.analyzers.is_empty() {
        let dir = state_dir(settings.state_dir.as_deref())?;
        let identity = skydive_identity(&settings.flow_log, &settings.skydive, &settings.analyzers);
        let ttl = Duration::from_secs(settings.skydive.state_ttl_secs);
        let store =
            StateStore::open(&dir, &identity, ttl).map_err(|e| anyhow!("state.dir: {e}"))?;
        let source = SkydiveSource::new(
            settings.analyzers.clone(),
            Converter::new(settings.skydive.clone()),
            settings.aggregation.interval.secs(),
        )
        .with_state(
            store,
            Duration::from_secs(settings.state_save_interval_secs),
        );
        sources.push(Box::new(source));
    }
    for (key, specs) in [
        (NETFLOW_LISTEN, &settings.netflow.listen),
        (SFLOW_LISTEN, &settings.sflow.listen),
    ] {
        if !specs.is_empty() {
            sources.push(collector(settings, key, specs.clone()));
        }
    }
    Ok(sources)
}

/// The configuration key of the NetFlow/IPFIX collector's sockets.
pub const NETFLOW_LISTEN: &str = <Decoder as DatagramDecoder>::KEY;
/// The configuration key of the sFlow collector's sockets.
pub const SFLOW_LISTEN: &str = <sflow::Decoder as DatagramDecoder>::KEY;

/// The collector of `key` ([`NETFLOW_LISTEN`] or [`SFLOW_LISTEN`]) on
/// `specs`, with the rest of its section from `settings`.
pub fn collector(settings: &Settings, key: &str, specs: Vec<ListenSpec>) -> Box<dyn Source> {
    if key == SFLOW_LISTEN {
        Box::new(SflowSource::new(
            specs,
            sflow::Decoder::new(settings.sflow.decoder),
        ))
    } else {
        Box::new(NetflowSource::new(
            specs,
            Decoder::new(settings.netflow.decoder).with_names(settings.netflow.names.clone()),
        ))
    }
}

/// What makes `vpcflow run` fail at start-up before any source opens: no
/// source configured, a capture configured by name whose interface does
/// not exist, or a state folder it needs and cannot write in. `vpcflow
/// check` runs the same checks.
pub fn preflight(settings: &Settings) -> Result<()> {
    if settings.captures.is_empty()
        && settings.analyzers.is_empty()
        && settings.netflow.listen.is_empty()
        && settings.sflow.listen.is_empty()
    {
        bail!("nothing to run: configure [[capture.interface]], [[skydive.analyzer]], [[netflow.listen]] or [[sflow.listen]] blocks");
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
    if settings.uses_state_dir() {
        check_writable(&state_dir(settings.state_dir.as_deref())?)?;
    }
    Ok(())
}
