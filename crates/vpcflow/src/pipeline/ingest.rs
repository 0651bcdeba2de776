//! The ingest stage: every source hands its observations to [`Ingest`] (a
//! [`FlowConsumer`]), which resolves interfaces, applies the REJECT policy,
//! aggregates, and sends what aggregation releases to the writer thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;

use vpcflow_core::aggregate::{Aggregator, Closed};
use vpcflow_core::enrich::InterfaceTable;
use vpcflow_core::policy::{Policy, PolicyEngine};
use vpcflow_core::{FlowConsumer, FlowUpdate, InterfaceIndex, LossEvent};
use vpcflow_sources::live::{interface_addresses, matches, CaptureSpec};
use vpcflow_sources::CheckpointWrite;

use super::journal::{Ack, Recovered, SyncRequest};
use super::{Message, Reloadable, WriterReload};
use crate::metrics::{InterfaceCounts, Telemetry};

/// The ingest side: interface registry, REJECT policy and aggregator,
/// feeding the channel to the writer.
pub struct Ingest {
    /// Every interface seen, resolved here once: the writer is sent the
    /// resolved metadata.
    pub(super) interfaces: InterfaceTable,
    pub(super) aggregator: Aggregator,
    tx: SyncSender<Message>,
    /// The writer thread has stopped (it reports why when joined).
    pub(super) writer_gone: bool,
    /// Live captures: interfaces they name get their addresses from the OS.
    pub(super) captures: Vec<CaptureSpec>,
    /// The REJECT policy; `None` leaves every source's action as it is.
    policy: Option<PolicyEngine>,
    /// Observations of a batch with the policy's actions (reused, so that a
    /// policy costs no allocation per batch).
    decided: Vec<FlowUpdate>,
    /// Traffic per interface, by index.
    pub(super) counts: Vec<InterfaceCounts>,
    /// The source of interfaces no live capture names.
    pub(super) other_source: &'static str,
    /// Where waits for the writer are reported (`vpcflow run`).
    telemetry: Option<Arc<Telemetry>>,
    /// The last batch the writer thread has published.
    pub(super) acked: Ack,
    /// The durability journal (`vpcflow run` with `[durability]` on).
    pub(super) durable: Option<Durable>,
}

/// The journal side of the ingest stage: the journal itself is written on
/// the journal thread (`journal::stage`), which stands between this thread
/// and the writer; here the aggregation changes are taken at each sync.
pub(super) struct Durable {
    /// Interfaces registered since the last sync.
    interfaces: Vec<String>,
    /// Set by the journal thread when the next sync must send the whole
    /// state (a new segment).
    snapshot_due: Arc<AtomicBool>,
}

impl Durable {
    /// The journal side, told by `snapshot_due` when to send the whole state.
    pub(super) fn new(snapshot_due: Arc<AtomicBool>) -> Durable {
        Durable {
            interfaces: Vec::new(),
            snapshot_due,
        }
    }
}

impl Ingest {
    /// An ingest stage sending to `tx`.
    pub(super) fn new(
        interfaces: InterfaceTable,
        aggregator: Aggregator,
        tx: SyncSender<Message>,
        telemetry: Option<Arc<Telemetry>>,
    ) -> Ingest {
        Ingest {
            interfaces,
            aggregator,
            tx,
            writer_gone: false,
            captures: Vec::new(),
            policy: None,
            decided: Vec::new(),
            counts: Vec::new(),
            other_source: "file",
            telemetry,
            acked: Ack::default(),
            durable: None,
        }
    }

    /// Puts `policy` in force from the next observation on (`None`: no
    /// policy). Interfaces already registered are attached to it by name;
    /// connections tracked under the previous policy are kept for the
    /// interfaces that still have security groups.
    pub(super) fn set_policy(&mut self, policy: Option<Policy>) {
        match (policy, &mut self.policy) {
            (None, _) => self.policy = None,
            (Some(p), Some(engine)) => engine.replace(p),
            (Some(p), None) => {
                let mut engine = PolicyEngine::new(p, matches);
                for (index, meta) in self.interfaces.iter() {
                    engine.attach(index, &meta.name, &meta.addresses);
                }
                self.policy = Some(engine);
            }
        }
    }

    /// Hands `message` to the writer (through the journal thread, with a
    /// journal), waiting while its channel is full.
    pub(super) fn send(&mut self, message: Message) {
        self.send_now(message);
    }

    /// Replaces the channel messages go to (the journal thread's) and
    /// returns the previous one (the writer's).
    pub(super) fn interpose(&mut self, tx: SyncSender<Message>) -> SyncSender<Message> {
        std::mem::replace(&mut self.tx, tx)
    }

    /// Asks the journal thread to sync: the aggregation state changed since
    /// the previous sync (or all of it, when the journal asks for a
    /// snapshot) and the interfaces registered since, after the sources'
    /// state writes `before`. Without a journal, does nothing.
    pub(super) fn sync(&mut self, before: Vec<CheckpointWrite>) {
        let Some(d) = &mut self.durable else {
            return;
        };
        let full = d.snapshot_due.swap(false, Ordering::AcqRel);
        let mut state = Vec::new();
        self.aggregator.encode_state(full, &mut state);
        let interfaces = if full {
            d.interfaces.clear();
            self.interfaces
                .iter()
                .map(|(_, m)| m.name.clone())
                .collect()
        } else {
            std::mem::take(&mut d.interfaces)
        };
        self.send_now(Message::Sync(Box::new(SyncRequest {
            state,
            full,
            interfaces,
            before,
        })));
    }

    /// [`Ingest::sync`] with the whole state (a snapshot): the last sync of
    /// a run, which the journal thread cannot hold back.
    pub(super) fn sync_full(&mut self) {
        if let Some(d) = &self.durable {
            d.snapshot_due.store(true, Ordering::Release);
        }
        self.sync(Vec::new());
    }

    /// Restores what a previous run journalled: the aggregation state and
    /// the interfaces (in their order, so indices agree); its batches are
    /// the journal thread's. Damaged content leaves everything as it was
    /// and says why.
    pub(super) fn recover(&mut self, recovered: &Recovered) -> Result<(), String> {
        let mut aggregator = Aggregator::new(*self.aggregator.config());
        for state in &recovered.states {
            aggregator.apply_state(state).map_err(|e| e.to_string())?;
        }
        for b in &recovered.batches {
            Closed::decode(&b.bytes).map_err(|e| e.to_string())?;
        }
        for name in &recovered.interfaces {
            self.interface(name);
        }
        self.aggregator = aggregator;
        Ok(())
    }

    /// Hands `message` to the writer now.
    fn send_now(&mut self, message: Message) {
        if self.writer_gone {
            return;
        }
        let message = match self.tx.try_send(message) {
            Ok(()) => return,
            Err(TrySendError::Full(m)) => m,
            Err(TrySendError::Disconnected(_)) => {
                // The writer thread stopped on an error; it is reported when joined.
                self.writer_gone = true;
                return;
            }
        };
        if let Some(t) = &self.telemetry {
            t.ingest_waiting(true);
        }
        if self.tx.send(message).is_err() {
            self.writer_gone = true;
        }
        if let Some(t) = &self.telemetry {
            t.ingest_waiting(false);
        }
    }

    /// Applies a configuration reload here and hands the writer what it
    /// needs of it: the interfaces resolved again, the AWS service ranges.
    pub(super) fn apply(&mut self, reload: Reloadable) {
        self.interfaces.reconfigure(reload.interfaces);
        self.set_policy(reload.policy);
        // Reconfigured interfaces may have other own addresses.
        if let Some(engine) = &mut self.policy {
            for (index, meta) in self.interfaces.iter() {
                engine.attach(index, &meta.name, &meta.addresses);
            }
        }
        let interfaces = self.interfaces.iter().map(|(_, m)| m.clone()).collect();
        self.send(Message::Reload(WriterReload {
            interfaces,
            aws_services: reload.aws_services,
        }));
    }

    #[inline]
    fn count(&mut self, update: &FlowUpdate) {
        if let Some(c) = self.counts.get_mut(update.interface.0 as usize) {
            c.packets = c.packets.saturating_add(update.packets);
            c.bytes = c.bytes.saturating_add(update.bytes);
            c.updates += 1;
        }
    }

    /// Sends what aggregation has released, if anything.
    #[inline]
    pub(super) fn forward_released(&mut self) {
        if let Some(released) = self.aggregator.take_released() {
            self.send(Message::Records(released));
        }
    }

    /// Flushes every open window to the writer: the end of input.
    pub(super) fn finish(&mut self) {
        let rest = self.aggregator.finish();
        self.send(Message::Records(rest));
    }
}

impl FlowConsumer for Ingest {
    fn interface(&mut self, name: &str) -> InterfaceIndex {
        let before = self.interfaces.len();
        let index = self.interfaces.register(name);
        if self.interfaces.len() > before {
            self.aggregator.add_interface(index);
            let captured = self.captures.iter().any(|c| matches(&c.name, name));
            if captured {
                self.interfaces
                    .add_addresses(index, &interface_addresses(name));
            }
            // The policy needs the direction of packets: configured and OS
            // addresses, as the writer will have them.
            let meta = self.interfaces.get(index);
            if let Some(policy) = &mut self.policy {
                policy.attach(index, name, &meta.addresses);
            }
            self.counts.push(InterfaceCounts {
                name: name.to_string(),
                source: if captured {
                    "capture"
                } else {
                    self.other_source
                },
                ..InterfaceCounts::default()
            });
            if let Some(d) = &mut self.durable {
                d.interfaces.push(name.to_string());
            }
            let meta = meta.clone();
            self.send(Message::Interface(Box::new(meta)));
        }
        index
    }

    #[inline]
    fn update(&mut self, update: &FlowUpdate) {
        if self.telemetry.is_some() {
            self.count(update);
        }
        match &mut self.policy {
            None => self.aggregator.observe(update),
            Some(policy) => {
                let mut u = *update;
                u.action = policy.decide(&u);
                self.aggregator.observe(&u);
            }
        }
        self.forward_released();
    }

    #[inline]
    fn update_batch(&mut self, updates: &[FlowUpdate]) {
        // Per-interface traffic is only for the metrics of `vpcflow run`.
        if self.telemetry.is_some() {
            for u in updates {
                self.count(u);
            }
        }
        match &mut self.policy {
            None => self.aggregator.observe_batch(updates),
            Some(policy) => {
                self.decided.clear();
                self.decided.extend_from_slice(updates);
                policy.apply(&mut self.decided);
                self.aggregator.observe_batch(&self.decided);
            }
        }
        self.forward_released();
    }

    fn loss(&mut self, loss: &LossEvent) {
        self.aggregator.lose(loss);
        self.forward_released();
    }
}
