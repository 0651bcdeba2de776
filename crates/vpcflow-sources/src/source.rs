//! [`Source`]: what a live source of `vpcflow run` implements, and how a new
//! source joins vpcflow.
//!
//! The daemon's loop owns every configured source as a `Box<dyn Source>`,
//! starts them, pumps each in turn into the pipeline's [`FlowConsumer`], and
//! stops them at the end; the health check and the metrics read
//! [`Source::failing`] and [`Source::stats`]. Offline inputs (capture files,
//! Skydive recordings) are plain functions that read one file into a
//! [`FlowConsumer`] ([`crate::read_capture`],
//! [`crate::skydive::replay::read_file`]), called by the one-shot conversion.
//!
//! # Adding a source
//!
//! 1. **Code**: a folder of its own here (`src/NAME/`), public through
//!    `lib.rs`. Decoding is pure and separate from I/O (a decoder that turns
//!    bytes into [`FlowUpdate`](vpcflow_core::FlowUpdate)s, fuzzable on its
//!    own); the source type owns its threads or sockets and implements
//!    [`Source`]. Everything it observes reaches the pipeline through the
//!    consumer only: [`FlowConsumer::interface`] once per interface (so it
//!    gets NODATA while idle), [`FlowConsumer::update`] or
//!    [`FlowConsumer::update_batch`] per observation, and
//!    [`FlowConsumer::loss`] for what it knows it lost (it becomes SKIPDATA).
//!    Nothing downstream knows where a flow came from. Add a variant to
//!    [`SourceStats`] for its counters.
//! 2. **Configuration**: its section in a file of its own under
//!    `crates/vpcflow/src/config/` (a `serde` struct with `deny_unknown_fields`
//!    and doc comments, validated into a settings type whose errors name the
//!    key), a field in `ConfigFile`, and its validated form in `Settings`;
//!    document every key in `docs/configuration.md` (a test compares the
//!    documented keys with the ones the parser accepts).
//! 3. **Wiring**: one arm in `crates/vpcflow/src/pipeline/sources.rs` builds
//!    it from the settings; an offline form (a file or capture replay) is
//!    called from `pipeline/convert.rs`. `vpcflow check` reports it
//!    (`crates/vpcflow/src/check/`), and the metrics show its
//!    [`SourceStats`] (`crates/vpcflow/src/metrics/`).
//! 4. **Tests**: unit tests of the decoder next to it, including malformed
//!    and truncated input (an error names what and where, nothing panics, the
//!    rest is still read); counts checked against an independent truth (a
//!    real capture with its truth file, a real exporter or peer on loopback,
//!    an independent decoder), never against our own output; losses become
//!    SKIPDATA; an end-to-end test through the `vpcflow` binary in
//!    `crates/vpcflow/tests/`; shared helpers come from `vpcflow-testkit`.

use std::time::Duration;

use vpcflow_core::FlowConsumer;

use crate::live::LiveCaptureStats;
use crate::netflow::NetflowStats;
use crate::sflow::SflowStats;
use crate::skydive::live::LiveStats;
use crate::skydive::ConverterStats;
use crate::udp::{CollectorStats, ListenSpec};

/// A live source of flow observations: it reads on threads of its own and
/// hands what arrived to the consumer when pumped, on the pipeline's thread.
pub trait Source {
    /// Opens what it reads (captures, connections), registering the
    /// interfaces it already knows with `out`. An error (naming the
    /// configuration key it is about) stops the start-up.
    fn start(&mut self, out: &mut dyn FlowConsumer) -> Result<(), String>;

    /// Hands `out` everything that arrived, waiting at most `wait` when
    /// nothing has; `now_ms` is the wall clock in Unix milliseconds.
    fn pump(&mut self, wait: Duration, now_ms: i64, out: &mut dyn FlowConsumer);

    /// Housekeeping, about once a second (e.g. captures of interfaces that
    /// appeared and match a pattern).
    fn tick(&mut self, _out: &mut dyn FlowConsumer) {}

    /// Applies a configuration reload's sockets of `key` (e.g.
    /// `netflow.listen`): opens the new addresses, closes the removed ones.
    /// `None` when the source has no sockets of that key; else one line per
    /// socket that could not be opened.
    fn set_listeners(&mut self, _key: &str, _specs: &[ListenSpec]) -> Option<Vec<String>> {
        None
    }

    /// Takes the state the source keeps across restarts, as it is at this
    /// moment, and returns its write (`None` for sources without one).
    /// `vpcflow run` calls it just before each sync of its durability
    /// journal, whose thread runs the write before it writes the sync's
    /// frame, so that both describe the same moment: a crash then loses the
    /// input after it, and counts nothing twice. Only the taking is on the
    /// ingest thread.
    fn checkpoint(&mut self, _now_ms: i64) -> Option<CheckpointWrite> {
        None
    }

    /// Stops reading and hands `out` what was still in flight: the end of
    /// its input.
    fn stop(&mut self, now_ms: i64, out: &mut dyn FlowConsumer);

    /// Why the source is failing now, one line per reason naming the
    /// configuration key (empty: healthy).
    fn failing(&mut self) -> Vec<String>;

    /// Its counters so far.
    fn stats(&self) -> SourceStats;
}

/// The write of a source's state taken at a journal sync
/// ([`Source::checkpoint`]), run by the journal thread; it reports its own
/// failures.
pub type CheckpointWrite = Box<dyn FnOnce() + Send>;

/// The counters of one source, by kind (the metrics and the summary show
/// each kind's own).
#[derive(Debug, Clone, PartialEq)]
pub enum SourceStats {
    /// Live captures.
    Capture {
        /// Summed over the interfaces.
        totals: LiveCaptureStats,
        /// Per interface name, sorted by name.
        per_interface: Vec<(String, LiveCaptureStats)>,
        /// Interfaces being captured now.
        open: u64,
    },
    /// Skydive analyzers.
    Skydive {
        /// Connections, messages and events.
        live: LiveStats,
        /// What the conversion of their flows did.
        converter: ConverterStats,
        /// Analyzers configured.
        analyzers: u64,
    },
    /// NetFlow/IPFIX collectors.
    Netflow {
        /// What the sockets received and dropped.
        collector: CollectorStats,
        /// What the decoder made of it.
        decoder: NetflowStats,
    },
    /// sFlow collectors.
    Sflow {
        /// What the sockets received and dropped.
        collector: CollectorStats,
        /// What the decoder made of it.
        decoder: SflowStats,
    },
}
