//! The live source: starts capture threads for the configured interfaces (and
//! for interfaces that appear later and match a pattern) and applies what they
//! send to a [`FlowConsumer`].

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use vpcflow_core::{FlowConsumer, InterfaceIndex, LossEvent};

use super::capture::{self, Event};
use super::pattern;
use super::spec::CaptureSpec;
use crate::fragments::FragmentPolicy;
use crate::source::{Source, SourceStats};

/// Batches in flight from the capture threads to the ingest side: 262,144
/// updates at most, whatever the batch size.
const CHANNEL_DEPTH: usize = (1 << 18) / capture::BATCH;

/// What the live source saw, summed over its interfaces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveCaptureStats {
    /// Interfaces opened (an interface opened again after it went away counts again).
    pub opened: u64,
    /// Captures that ended with an error (an interface that went away).
    pub closed_with_error: u64,
    /// Frames captured.
    pub frames: u64,
    /// IP packets handed to the consumer.
    pub ip_packets: u64,
    /// Their IP bytes.
    pub ip_bytes: u64,
    /// Packets dropped by the kernel (ring full, interface drops).
    pub kernel_drops: u64,
    /// Of `kernel_drops`, the packets the interface (driver) dropped; the
    /// rest found the ring buffer full.
    pub interface_drops: u64,
    /// Packets dropped because the pipeline fell behind.
    pub queue_drops: u64,
    /// Frames that could not be decoded.
    pub undecodable: u64,
}

/// Per-interface counters, by interface name.
pub type PerInterface = HashMap<String, LiveCaptureStats>;

struct Running {
    name: String,
    spec: usize,
    handle: Option<JoinHandle<()>>,
    index: Option<InterfaceIndex>,
    open: bool,
}

/// Capture threads and the receiving end of their channel.
pub struct LiveSource {
    specs: Vec<CaptureSpec>,
    fragments: FragmentPolicy,
    tx: SyncSender<Event>,
    rx: Receiver<Event>,
    stop: Arc<AtomicBool>,
    slots: Vec<Running>,
    stats: LiveCaptureStats,
    per_interface: PerInterface,
}

impl LiveSource {
    /// A live source over `specs` (nothing is opened yet: see [`start`](Self::start)).
    pub fn new(specs: Vec<CaptureSpec>, fragments: FragmentPolicy) -> LiveSource {
        let (tx, rx) = sync_channel(CHANNEL_DEPTH);
        LiveSource {
            specs,
            fragments,
            tx,
            rx,
            stop: Arc::new(AtomicBool::new(false)),
            slots: Vec::new(),
            stats: LiveCaptureStats::default(),
            per_interface: PerInterface::new(),
        }
    }

    /// The configured captures.
    pub fn specs(&self) -> &[CaptureSpec] {
        &self.specs
    }

    /// Opens every interface configured by name, registering it with `consumer`
    /// (so it gets NODATA while idle), and every present interface matching a
    /// pattern. An interface named in the configuration that cannot be opened
    /// is an error.
    pub fn start(&mut self, consumer: &mut dyn FlowConsumer) -> Result<(), String> {
        for i in 0..self.specs.len() {
            if !self.specs[i].is_pattern() {
                let name = self.specs[i].name.clone();
                let index = consumer.interface(&name);
                self.open(i, &name, Some(index))
                    .map_err(|e| format!("capture.interface[{i}] {name}: {e}"))?;
            }
        }
        self.poll_interfaces(consumer);
        Ok(())
    }

    /// Starts captures on interfaces present now that match a pattern and are
    /// not captured yet (and on named interfaces whose capture ended). Call it
    /// periodically.
    pub fn poll_interfaces(&mut self, consumer: &mut dyn FlowConsumer) {
        let present = present_interfaces();
        for name in present {
            if self.slots.iter().any(|s| s.open && s.name == name) {
                continue;
            }
            let Some(spec) = self
                .specs
                .iter()
                .position(|s| pattern::matches(&s.name, &name))
            else {
                continue;
            };
            let index = consumer.interface(&name);
            if let Err(e) = self.open(spec, &name, Some(index)) {
                tracing::warn!(interface = %name, error = %e, "cannot capture on interface");
            }
        }
    }

    fn open(
        &mut self,
        spec: usize,
        name: &str,
        index: Option<InterfaceIndex>,
    ) -> Result<(), String> {
        let cap = capture::open(name, &self.specs[spec]).map_err(|e| e.to_string())?;
        let slot = self.slots.len();
        let tx = self.tx.clone();
        let stop = self.stop.clone();
        let fragments = self.fragments;
        let handle = thread::Builder::new()
            .name(format!("vpcflow-cap-{name}"))
            .spawn(move || capture::run(slot, cap, fragments, tx, stop))
            .map_err(|e| format!("cannot start capture thread: {e}"))?;
        tracing::info!(interface = name, "capturing");
        self.slots.push(Running {
            name: name.to_string(),
            spec,
            handle: Some(handle),
            index,
            open: true,
        });
        Ok(())
    }

    /// Waits up to `timeout` for something from the capture threads, then
    /// applies everything available to `consumer`. Returns whether anything
    /// was applied.
    pub fn pump(&mut self, timeout: Duration, consumer: &mut dyn FlowConsumer) -> bool {
        let first = match self.rx.recv_timeout(timeout) {
            Ok(e) => e,
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return false,
        };
        self.apply(first, consumer);
        while let Ok(e) = self.rx.try_recv() {
            self.apply(e, consumer);
        }
        true
    }

    fn index(&mut self, slot: usize, consumer: &mut dyn FlowConsumer) -> InterfaceIndex {
        let s = &mut self.slots[slot];
        *s.index.get_or_insert_with(|| consumer.interface(&s.name))
    }

    fn apply(&mut self, event: Event, consumer: &mut dyn FlowConsumer) {
        match event {
            Event::Opened { slot } => {
                self.stats.opened += 1;
                self.per_interface
                    .entry(self.slots[slot].name.clone())
                    .or_default()
                    .opened += 1;
            }
            Event::Updates {
                slot,
                mut updates,
                frames,
            } => {
                let index = self.index(slot, consumer);
                let bytes: u64 = updates.iter().map(|u| u.bytes).sum();
                for u in &mut updates {
                    u.interface = index;
                }
                consumer.update_batch(&updates);
                let n = updates.len() as u64;
                for s in [
                    &mut self.stats,
                    self.per_interface
                        .entry(self.slots[slot].name.clone())
                        .or_default(),
                ] {
                    s.frames += frames;
                    s.ip_packets += n;
                    s.ip_bytes += bytes;
                }
            }
            Event::Loss {
                slot,
                at,
                kernel,
                interface,
                queue,
                undecodable,
            } => {
                let index = self.index(slot, consumer);
                consumer.loss(&LossEvent {
                    interface: index,
                    at,
                    count: kernel + queue + undecodable,
                });
                let name = &self.slots[slot].name;
                tracing::warn!(interface = %name, kernel, queue, undecodable, "capture loss");
                for s in [
                    &mut self.stats,
                    self.per_interface.entry(name.clone()).or_default(),
                ] {
                    s.kernel_drops += kernel;
                    s.interface_drops += interface;
                    s.queue_drops += queue;
                    s.undecodable += undecodable;
                }
            }
            Event::Closed { slot, error } => {
                let s = &mut self.slots[slot];
                s.open = false;
                if let Some(h) = s.handle.take() {
                    let _ = h.join();
                }
                if let Some(e) = error {
                    tracing::warn!(interface = %s.name, spec = s.spec, error = %e, "capture ended");
                    self.stats.closed_with_error += 1;
                }
            }
        }
    }

    /// Stops every capture thread and applies what they still had.
    pub fn stop(&mut self, consumer: &mut dyn FlowConsumer) {
        self.stop.store(true, Ordering::SeqCst);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.slots.iter().any(|s| s.open) && std::time::Instant::now() < deadline {
            self.pump(Duration::from_millis(100), consumer);
        }
    }

    /// What was seen so far.
    pub fn stats(&self) -> &LiveCaptureStats {
        &self.stats
    }

    /// Names of the interfaces being captured now.
    pub fn open_interfaces(&self) -> impl Iterator<Item = &str> {
        self.slots
            .iter()
            .filter(|s| s.open)
            .map(|s| s.name.as_str())
    }

    /// What was seen so far, per interface name.
    pub fn per_interface(&self) -> &PerInterface {
        &self.per_interface
    }
}

/// The names of the network interfaces present now (`/sys/class/net`), sorted.
pub fn present_interfaces() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/sys/class/net")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

impl Source for LiveSource {
    fn start(&mut self, out: &mut dyn FlowConsumer) -> Result<(), String> {
        LiveSource::start(self, out)
    }

    fn pump(&mut self, wait: Duration, _now_ms: i64, out: &mut dyn FlowConsumer) {
        LiveSource::pump(self, wait, out);
    }

    fn tick(&mut self, out: &mut dyn FlowConsumer) {
        if self.specs.iter().any(CaptureSpec::is_pattern) {
            self.poll_interfaces(out);
        }
    }

    fn stop(&mut self, _now_ms: i64, out: &mut dyn FlowConsumer) {
        LiveSource::stop(self, out);
    }

    /// Each capture configured by name whose capture has ended.
    fn failing(&mut self) -> Vec<String> {
        let open: HashSet<&str> = self.open_interfaces().collect();
        self.specs
            .iter()
            .enumerate()
            .filter(|(_, spec)| !spec.is_pattern() && !open.contains(spec.name.as_str()))
            .map(|(i, spec)| {
                format!(
                    "capture.interface[{i}]: the capture of {} has ended",
                    spec.name
                )
            })
            .collect()
    }

    fn stats(&self) -> SourceStats {
        let mut per_interface: Vec<_> = self
            .per_interface
            .iter()
            .map(|(name, s)| (name.clone(), *s))
            .collect();
        per_interface.sort_by(|a, b| a.0.cmp(&b.0));
        SourceStats::Capture {
            totals: self.stats,
            per_interface,
            open: self.open_interfaces().count() as u64,
        }
    }
}
