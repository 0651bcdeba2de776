//! [`SkydiveSource`]: the Skydive analyzers of `vpcflow run` as a
//! [`Source`]: a [`Subscription`] (one thread per analyzer) feeding a channel,
//! and the [`Live`] side that applies its events to the converter. With a
//! [`StateStore`], the converter's state is read before the analyzers are
//! connected, written every `save_interval` while running and written again
//! at the stop, after the last events were handed over.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::{Duration, Instant};

use vpcflow_core::FlowConsumer;

use super::live::Live;
use super::state_store::{describe, LoadOutcome, StateStore};
use super::state_writer::StateWriter;
use super::subscriber::{AnalyzerConfig, Event, Subscription, QUEUE_CAPACITY};
use super::Converter;
use crate::source::{CheckpointWrite, Source, SourceStats};

/// An analyzer disconnected this long makes the source failing.
const ANALYZER_GRACE: Duration = Duration::from_secs(10);

/// The live Skydive source.
pub struct SkydiveSource {
    analyzers: Vec<AnalyzerConfig>,
    subscription: Option<Subscription>,
    tx: Option<SyncSender<Event>>,
    rx: Receiver<Event>,
    live: Live,
    /// Since when fewer analyzers than configured are connected.
    down_since: Option<Instant>,
    state: Option<StateWriter>,
}

impl SkydiveSource {
    /// A source over `analyzers` whose flows `converter` converts;
    /// `interval_secs` is the aggregation interval (see [`Live::new`]).
    pub fn new(
        analyzers: Vec<AnalyzerConfig>,
        converter: Converter,
        interval_secs: u64,
    ) -> SkydiveSource {
        let (tx, rx) = sync_channel(QUEUE_CAPACITY);
        let live = Live::new(converter, analyzers.len(), interval_secs);
        SkydiveSource {
            analyzers,
            subscription: None,
            tx: Some(tx),
            rx,
            live,
            down_since: None,
            state: None,
        }
    }

    /// Keeps the converter's state in `store` across restarts, writing it
    /// every `save_interval` while running (in the background) and at the
    /// stop.
    pub fn with_state(mut self, store: StateStore, save_interval: Duration) -> SkydiveSource {
        self.state = Some(StateWriter::new(store, save_interval));
        self
    }
}

impl Source for SkydiveSource {
    fn start(&mut self, out: &mut dyn FlowConsumer) -> Result<(), String> {
        let tx = self
            .tx
            .take()
            .ok_or("the Skydive source was started twice")?;
        if let Some(w) = &self.state {
            let outcome = w.store().load(wall_ms());
            let message = describe(&outcome, &w.store().path());
            match outcome {
                LoadOutcome::Restored(file) => {
                    self.live.converter_mut().import(file.snapshot, out);
                    tracing::info!("{message}");
                }
                LoadOutcome::Missing | LoadOutcome::Expired { .. } => tracing::info!("{message}"),
                LoadOutcome::Rejected { .. } => tracing::warn!("{message}"),
            }
        }
        let subscription = Subscription::start(&self.analyzers, tx)
            .map_err(|e| format!("skydive.analyzer: {e}"))?;
        self.subscription = Some(subscription);
        Ok(())
    }

    fn pump(&mut self, wait: Duration, now_ms: i64, out: &mut dyn FlowConsumer) {
        if self.subscription.is_none() {
            return;
        }
        let first = if wait.is_zero() {
            self.rx.try_recv().ok()
        } else {
            self.rx.recv_timeout(wait).ok()
        };
        let Some(first) = first else {
            return;
        };
        self.live.handle(first, now_ms, out);
        while let Ok(event) = self.rx.try_recv() {
            self.live.handle(event, now_ms, out);
        }
    }

    fn stop(&mut self, now_ms: i64, out: &mut dyn FlowConsumer) {
        if let Some(subscription) = self.subscription.take() {
            subscription.stop();
        }
        // Events already received are counted.
        while let Ok(event) = self.rx.try_recv() {
            self.live.handle(event, now_ms, out);
        }
        self.live.finish(now_ms, out);
        if let Some(w) = &mut self.state {
            w.save_now(&self.live.converter().export(), wall_ms());
        }
    }

    /// Takes the converter's state now; the journal thread writes it.
    fn checkpoint(&mut self, now_ms: i64) -> Option<CheckpointWrite> {
        let w = self.state.as_mut()?;
        Some(w.checkpoint(self.live.converter().export_unsorted(), now_ms))
    }

    /// Writes the state when `save_interval` has passed.
    fn tick(&mut self, _out: &mut dyn FlowConsumer) {
        if let Some(w) = self.state.as_mut().filter(|w| w.due()) {
            w.save_in_background(self.live.converter().export(), wall_ms());
        }
    }

    /// Analyzers not connected for longer than a grace period.
    fn failing(&mut self) -> Vec<String> {
        let configured = self.analyzers.len() as u64;
        let stats = self.live.stats();
        let connected = stats.connects.saturating_sub(stats.disconnects);
        if connected >= configured {
            self.down_since = None;
            return Vec::new();
        }
        let since = *self.down_since.get_or_insert_with(Instant::now);
        if since.elapsed() < ANALYZER_GRACE {
            return Vec::new();
        }
        vec![format!(
            "skydive.analyzer: {} of {configured} analyzers not connected for {} s",
            configured - connected,
            since.elapsed().as_secs()
        )]
    }

    fn stats(&self) -> SourceStats {
        SourceStats::Skydive {
            live: *self.live.stats(),
            converter: *self.live.converter().stats(),
            analyzers: self.analyzers.len() as u64,
        }
    }
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
