//! The conversion pipeline, wired in one place:
//!
//! ```text
//! sources ─FlowUpdate─▶ policy, aggregate ─Released─▶ [channel] ─▶ enrich, batch, encode ─▶ sink
//! └──────────────── ingest thread ───────────────┘               └──────── writer thread ────────┘
//! ```
//!
//! * [`ingest`]: the [`FlowConsumer`](vpcflow_core::FlowConsumer) every
//!   source feeds; it resolves each interface once and sends the resolved
//!   metadata to the writer with the records.
//! * [`writer`]: the writer thread.
//! * [`sinks`]: the sink of the configured destination (one factory for
//!   every subcommand); `sources`: the live sources of the settings.
//! * [`mod@convert`]: one-shot conversion of files (`vpcflow convert`).
//! * [`daemon`]: the live sources until a signal (`vpcflow run`).
//!
//! Formatting and compression run on their own thread so that ingest keeps one
//! core to itself; the bounded channel holds ingest back when the writer falls
//! behind, so memory stays bounded.

mod convert;
mod daemon;
mod ingest;
mod journal;
pub mod sinks;
pub mod sources;
mod writer;

use std::collections::HashMap;
use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::thread;

use anyhow::{anyhow, Context, Result};
use vpcflow_core::aggregate::{Aggregator, Closed};
use vpcflow_core::aws_service::AwsServices;
use vpcflow_core::enrich::InterfaceTable;
use vpcflow_core::interface::{InterfaceConfig, InterfaceMeta};
use vpcflow_core::policy::Policy;
use vpcflow_sources::udp::ListenSpec;

pub use convert::{convert, ConvertSummary, InputKind};
pub use daemon::{run_live, Control, RunTotals};

use crate::config::Settings;
use crate::metrics::Telemetry;
use ingest::Ingest;
use writer::{write_loop, WriterExit, WriterResult};

/// Hand-overs in flight between the threads.
pub(crate) const CHANNEL_DEPTH: usize = 8;

/// What crosses from the ingest thread to the writer thread.
enum Message {
    /// A new interface, resolved (configured metadata, and the addresses the
    /// operating system gives it when it is a live capture), in registration
    /// order so that both threads agree on indices.
    Interface(Box<InterfaceMeta>),
    /// Records of closed windows.
    Records(Closed),
    /// A configuration reload: records that follow are written with it.
    Reload(WriterReload),
    /// Every batch up to this number was sent (journal numbering): once the
    /// writer gets here, it has published what it had to of them.
    Ack(u64),
    /// To the journal thread: sync now (never reaches the writer).
    Sync(Box<journal::SyncRequest>),
}

/// What the writer needs of a configuration reload.
struct WriterReload {
    /// Every registered interface, resolved again.
    interfaces: Vec<InterfaceMeta>,
    /// The AWS service ranges records are enriched with from now on.
    aws_services: Option<Arc<AwsServices>>,
}

/// What a reload applies to a running pipeline without closing windows or
/// files.
#[derive(Debug, Clone)]
pub struct Reloadable {
    /// `[[interface]]`: interface metadata by capture interface name.
    pub interfaces: HashMap<String, InterfaceConfig>,
    /// `[policy]`: the REJECT policy (tracked connections are kept).
    pub policy: Option<Policy>,
    /// `flow_log.aws_ip_ranges`, read again from its file (when the format
    /// shows an AWS service field).
    pub aws_services: Option<Arc<AwsServices>>,
    /// The sockets of the collectors: `netflow.listen`, then `sflow.listen`
    /// (with their sections' `receive_buffer`).
    pub listeners: [(&'static str, Vec<ListenSpec>); 2],
}

impl Reloadable {
    /// The reloadable part of `settings`.
    pub fn of(settings: &Settings) -> Reloadable {
        Reloadable {
            interfaces: settings.interfaces.clone(),
            policy: settings.policy.clone(),
            aws_services: settings.aws_services(),
            listeners: [
                (sources::NETFLOW_LISTEN, settings.netflow.listen.clone()),
                (sources::SFLOW_LISTEN, settings.sflow.listen.clone()),
            ],
        }
    }
}

/// The running pipeline: the ingest stage to feed, the writer thread, and
/// the spools of the destinations delivered through one.
struct Pipeline {
    ingest: Ingest,
    writer: thread::JoinHandle<WriterResult>,
    spools: Vec<sinks::OpenSpool>,
}

impl Pipeline {
    /// Closes the channel (after [`Ingest::finish`]) and waits for the
    /// writer: the sink's totals and what the delivery did.
    fn join(self) -> WriterResult {
        drop(self.ingest);
        self.writer
            .join()
            .map_err(|_| anyhow!("the writer thread panicked"))?
            .context("writing flow log files failed")
    }
}

/// Opens the sink, starts the writer thread, and returns the pipeline.
fn start(
    settings: &Settings,
    kind: sinks::RunKind,
    telemetry: Option<Arc<Telemetry>>,
) -> Result<Pipeline> {
    let opened = sinks::open(settings, kind)?;
    let (tx, rx) = sync_channel(CHANNEL_DEPTH);
    let writer_settings = settings.clone();
    let writer_telemetry = telemetry.clone();
    let sink = opened.sink;
    let acked = journal::Ack::default();
    let writer_acked = acked.clone();
    let writer = thread::Builder::new()
        .name("vpcflow-writer".into())
        .spawn(move || {
            let telemetry = writer_telemetry.as_deref();
            let mut exit = WriterExit {
                telemetry,
                reason: "it panicked".into(),
            };
            let result = write_loop(writer_settings, sink, rx, telemetry, &writer_acked);
            exit.reason = match &result {
                Ok(_) => "end of the run".into(),
                Err(e) => format!("{e:#}"),
            };
            result
        })
        .context("cannot start the writer thread")?;
    let interfaces = InterfaceTable::new(
        settings.interface_defaults.clone(),
        settings.interfaces.clone(),
    );
    let mut ingest = Ingest::new(
        interfaces,
        Aggregator::new(settings.aggregation),
        tx,
        telemetry,
    );
    ingest.set_policy(settings.policy.clone());
    ingest.acked = acked;
    Ok(Pipeline {
        ingest,
        writer,
        spools: opened.spools,
    })
}
