//! The Prometheus collector: reads [`Telemetry`] at scrape time and encodes
//! every metric family (names get the registry's `vpcflow_` prefix, counters
//! the `_total` suffix).

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;

use vpcflow_sinks::s3::LATENCY_BOUNDS_SECS;
use vpcflow_sinks::spool::DeliveryCounts;

use super::Telemetry;

/// Encodes the metrics of a running pipeline.
#[derive(Debug)]
pub struct PipelineCollector {
    telemetry: Arc<Telemetry>,
}

impl PipelineCollector {
    /// A collector reading `telemetry`.
    pub fn new(telemetry: Arc<Telemetry>) -> PipelineCollector {
        PipelineCollector { telemetry }
    }
}

type Result = std::result::Result<(), std::fmt::Error>;

/// Encodes one family of `kind` with one sample per label set.
fn family<L: EncodeLabelSet>(
    e: &mut DescriptorEncoder,
    kind: MetricType,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (L, u64)>,
) -> Result {
    let mut m = e.encode_descriptor(name, help, None, kind)?;
    for (labels, value) in samples {
        let mut s = m.encode_family(&labels)?;
        match kind {
            MetricType::Counter => s.encode_counter::<NoLabelSet, _, u64>(&value, None)?,
            _ => s.encode_gauge(&value)?,
        }
    }
    Ok(())
}

fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> Result {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    m.encode_counter::<NoLabelSet, _, u64>(&value, None)
}

fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> Result {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
    m.encode_gauge(&value)
}

impl Collector for PipelineCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result {
        let t = &self.telemetry;
        let e = &mut e;
        {
            let mut m = e.encode_descriptor(
                "build",
                "The running vpcflow version (always 1)",
                None,
                MetricType::Info,
            )?;
            m.encode_info(&[("version", env!("CARGO_PKG_VERSION"))])?;
        }
        encode_ingest(e, t)?;
        encode_writer(e, t)?;
        encode_delivery(e, t)?;
        encode_journal(e, t)?;
        let (ok, failed) = t.reloads();
        family(
            e,
            MetricType::Counter,
            "config_reloads",
            "Configuration reloads (SIGHUP), applied (ok) or rejected (failed)",
            [([("result", "ok")], ok), ([("result", "failed")], failed)],
        )
    }
}

fn encode_ingest(e: &mut DescriptorEncoder, t: &Telemetry) -> Result {
    let v = t.ingest();
    let per_interface = |pick: fn(&super::InterfaceCounts) -> u64| {
        v.interfaces.iter().map(move |i| {
            (
                [("source", i.source), ("interface", i.name.as_str())],
                pick(i),
            )
        })
    };
    family(
        e,
        MetricType::Counter,
        "packets",
        "IP packets counted into flows, per source and interface",
        per_interface(|i| i.packets),
    )?;
    family(
        e,
        MetricType::Counter,
        "bytes",
        "IP bytes (headers and payload) counted into flows, per source and interface",
        per_interface(|i| i.bytes),
    )?;
    family(
        e,
        MetricType::Counter,
        "flow_updates",
        "Flow updates handed to aggregation, per source and interface",
        per_interface(|i| i.updates),
    )?;
    let per_capture = |pick: fn(&vpcflow_sources::live::LiveCaptureStats) -> u64| {
        v.captures
            .iter()
            .map(move |(name, s)| ([("interface", name.as_str())], pick(s)))
    };
    family(
        e,
        MetricType::Counter,
        "capture_frames",
        "Frames captured, per interface",
        per_capture(|s| s.frames),
    )?;
    family(
        e,
        MetricType::Counter,
        "capture_drops",
        "Packets lost by live capture, per interface: ring buffer full, dropped by the interface, or behind the pipeline (queue)",
        v.captures.iter().flat_map(|(name, s)| {
            let ring = s.kernel_drops.saturating_sub(s.interface_drops);
            [
                ("ring", ring),
                ("interface", s.interface_drops),
                ("queue", s.queue_drops),
            ]
            .map(|(reason, n)| ([("interface", name.as_str()), ("reason", reason)], n))
        }),
    )?;
    family(
        e,
        MetricType::Counter,
        "decode_errors",
        "Captured frames that could not be decoded, per interface",
        per_capture(|s| s.undecodable),
    )?;
    gauge(
        e,
        "capture_interfaces_open",
        "Interfaces being captured now",
        v.captures_open,
    )?;
    gauge(
        e,
        "open_flows",
        "Flows in open aggregation windows",
        v.open_flows,
    )?;
    let a = &v.aggregation;
    counter(
        e,
        "late_updates",
        "Flow updates that arrived for a window already closed",
        a.late_updates,
    )?;
    counter(
        e,
        "overflow_flushes",
        "Early flushes of the full flow table (aggregation.max_open_flows)",
        a.overflow_flushes,
    )?;
    counter(
        e,
        "overflow_dropped_updates",
        "Flow updates dropped because the flow table was full (aggregation.overflow = skip)",
        a.overflow_dropped_updates,
    )?;
    if v.analyzers > 0 {
        let l = &v.skydive_live;
        gauge(
            e,
            "skydive_analyzers_connected",
            "Skydive analyzers connected now",
            l.connects.saturating_sub(l.disconnects),
        )?;
        counter(
            e,
            "skydive_connections",
            "Connections to Skydive analyzers established",
            l.connects,
        )?;
        counter(
            e,
            "skydive_disconnections",
            "Established Skydive connections that ended",
            l.disconnects,
        )?;
        counter(
            e,
            "skydive_failed_connection_attempts",
            "Failed attempts to connect to a Skydive analyzer",
            l.failed_attempts,
        )?;
        counter(
            e,
            "skydive_capture_drops",
            "Packets and flows Skydive captures reported dropped",
            v.skydive.dropped_units,
        )?;
        family(
            e,
            MetricType::Counter,
            "skydive_messages",
            "Skydive messages received: accepted, malformed, or of namespaces not subscribed to (ignored)",
            [
                ([("result", "accepted")], l.messages),
                ([("result", "malformed")], l.malformed),
                ([("result", "ignored")], l.ignored),
                ([("result", "queue_full")], l.queue_overflows),
            ],
        )?;
        family(
            e,
            MetricType::Counter,
            "skydive_rejected",
            "Skydive flows or updates rejected: impossible counters, times outside 1970-2554, flows beyond the cap of one message",
            [
                ([("reason", "counters")], v.skydive.rejected_counters),
                ([("reason", "time")], v.skydive.bad_times),
                ([("reason", "message_cap")], v.skydive.flows_over_cap),
            ],
        )?;
    }
    if v.netflow_collector.listening > 0 || v.netflow.datagrams > 0 {
        encode_netflow(e, &v)?;
    }
    if v.sflow_collector.listening > 0 || v.sflow.datagrams > 0 {
        encode_sflow(e, &v)?;
    }
    Ok(())
}

fn encode_sflow(e: &mut DescriptorEncoder, v: &super::IngestView) -> Result {
    let c = &v.sflow_collector;
    let n = &v.sflow;
    gauge(
        e,
        "sflow_listeners",
        "sFlow sockets listening now",
        c.listening,
    )?;
    family(
        e,
        MetricType::Counter,
        "sflow_datagrams",
        "sFlow datagrams: received, dropped by the kernel (receive buffer full), dropped behind the pipeline, malformed",
        [
            ([("result", "received")], c.datagrams),
            ([("result", "kernel_drop")], c.kernel_drops),
            ([("result", "queue_drop")], c.queue_drops),
            ([("result", "malformed")], n.malformed),
        ],
    )?;
    counter(
        e,
        "sflow_flow_samples",
        "Flow samples decoded (compact and expanded)",
        n.flow_samples,
    )?;
    family(
        e,
        MetricType::Counter,
        "sflow_losses",
        "sFlow losses (SKIPDATA): datagrams in sequence gaps, samples in sample-sequence gaps, packets the agents dropped, samples that could not be counted",
        [
            ([("kind", "datagrams")], n.lost_datagrams),
            ([("kind", "samples")], n.lost_samples),
            ([("kind", "agent_drops")], n.agent_drops),
            (
                [("kind", "undecodable")],
                n.undecodable + n.unsupported_headers + n.invalid_samples,
            ),
        ],
    )?;
    Ok(())
}

fn encode_netflow(e: &mut DescriptorEncoder, v: &super::IngestView) -> Result {
    let c = &v.netflow_collector;
    let n = &v.netflow;
    gauge(
        e,
        "netflow_listeners",
        "NetFlow/IPFIX sockets listening now",
        c.listening,
    )?;
    family(
        e,
        MetricType::Counter,
        "netflow_datagrams",
        "NetFlow/IPFIX datagrams: received, dropped by the kernel (receive buffer full), dropped behind the pipeline, malformed",
        [
            ([("result", "received")], c.datagrams),
            ([("result", "kernel_drop")], c.kernel_drops),
            ([("result", "queue_drop")], c.queue_drops),
            ([("result", "malformed")], n.malformed),
        ],
    )?;
    family(
        e,
        MetricType::Counter,
        "netflow_messages",
        "NetFlow/IPFIX messages decoded, per version",
        [
            ([("version", "5")], n.v5_messages),
            ([("version", "9")], n.v9_messages),
            ([("version", "10")], n.ipfix_messages),
        ],
    )?;
    counter(e, "netflow_records", "Flow records decoded", n.records)?;
    counter(
        e,
        "netflow_sequence_gaps",
        "Sequence-number gaps of exporters (lost export messages)",
        n.sequence_gaps,
    )?;
    counter(
        e,
        "netflow_sequence_lost_units",
        "Units lost in sequence gaps (v5: records, v9: messages, IPFIX: records)",
        n.sequence_lost_units,
    )?;
    counter(
        e,
        "netflow_data_sets_lost",
        "Data sets whose template did not arrive in time",
        n.sets_lost,
    )?;
    counter(
        e,
        "netflow_data_sets_malformed",
        "Held data sets that did not fit the template that came (decoded up to the fault)",
        n.sets_malformed,
    )?;
    counter(
        e,
        "netflow_templates",
        "Templates and options templates defined or refreshed",
        n.templates,
    )?;
    Ok(())
}

fn encode_writer(e: &mut DescriptorEncoder, t: &Telemetry) -> Result {
    let w = t.writer();
    family(
        e,
        MetricType::Counter,
        "records",
        "Flow log records written, per interface, log-status and action (- for NODATA and SKIPDATA)",
        w.records.iter().flat_map(|(name, c)| {
            let name = name.as_str();
            [
                ("OK", "ACCEPT", c.ok_accept),
                ("OK", "REJECT", c.ok_reject),
                ("NODATA", "-", c.nodata),
                ("SKIPDATA", "-", c.skipdata),
            ]
            .map(|(status, action, n)| {
                (
                    [
                        ("interface", name),
                        ("log_status", status),
                        ("action", action),
                    ],
                    n,
                )
            })
        }),
    )?;
    counter(
        e,
        "files_published",
        "Flow log files published (including those already present)",
        w.output.files,
    )?;
    counter(
        e,
        "files_already_present",
        "Published files whose key already held the same bytes",
        w.output.files_already_present,
    )?;
    counter(
        e,
        "published_bytes",
        "Compressed bytes of the published files",
        w.output.compressed_bytes,
    )?;
    counter(
        e,
        "written_bytes",
        "Uncompressed bytes written (text with header lines; Parquet PLAIN size)",
        w.output.uncompressed_bytes,
    )?;
    gauge(
        e,
        "open_files",
        "Flow log files being written, not published yet",
        w.open_files,
    )
}

fn encode_journal(e: &mut DescriptorEncoder, t: &Telemetry) -> Result {
    let j = t.journal_stats();
    let get = |v: &std::sync::atomic::AtomicU64| v.load(std::sync::atomic::Ordering::Relaxed);
    gauge(
        e,
        "journal_bytes",
        "Bytes of the durability journal's current segment",
        get(&j.bytes),
    )?;
    gauge(
        e,
        "journal_last_sync_timestamp_seconds",
        "When the durability journal was last synced (Unix seconds; 0: never)",
        get(&j.last_sync_ms) / 1000,
    )?;
    counter(
        e,
        "journal_syncs",
        "Syncs of the durability journal",
        get(&j.syncs),
    )?;
    counter(
        e,
        "journal_sync_failures",
        "Syncs of the durability journal that failed (a crash then loses more)",
        get(&j.failures),
    )?;
    counter(
        e,
        "journal_snapshots",
        "Snapshots written (journal segments started)",
        get(&j.snapshots),
    )
}

fn encode_delivery(e: &mut DescriptorEncoder, t: &Telemetry) -> Result {
    let Some(d) = t.delivery() else {
        return Ok(());
    };
    encode_per_destination(e, t)?;
    gauge(
        e,
        "spool_files",
        "Files in the local spool waiting for upload",
        d.spool_files,
    )?;
    gauge(
        e,
        "spool_bytes",
        "Bytes of the files in the local spool",
        d.spool_bytes,
    )?;
    counter(
        e,
        "objects_delivered",
        "Objects uploaded",
        d.objects_delivered,
    )?;
    counter(
        e,
        "delivered_bytes",
        "Bytes of the objects uploaded",
        d.bytes_delivered,
    )?;
    counter(
        e,
        "objects_already_present",
        "Uploads skipped because the key already held the same bytes",
        d.already_present,
    )?;
    family(
        e,
        MetricType::Counter,
        "upload_errors",
        "Failed uploads: retried (transient) or given up (permanent)",
        [
            ([("kind", "transient")], d.upload_errors_transient),
            ([("kind", "permanent")], d.upload_errors_permanent),
        ],
    )?;
    counter(
        e,
        "upload_backpressure_waits",
        "Times writing waited because the spool was full",
        d.backpressure_waits,
    )?;
    let mut m = e.encode_descriptor(
        "upload_latency_seconds",
        "Time an upload took",
        None,
        MetricType::Histogram,
    )?;
    let buckets: Vec<(f64, u64)> = LATENCY_BOUNDS_SECS
        .iter()
        .copied()
        .zip(d.upload_latency_buckets)
        .collect();
    m.encode_histogram::<NoLabelSet>(
        d.upload_latency_us_sum as f64 / 1e6,
        d.upload_latency_count,
        &buckets,
        None,
    )
}

/// The counters of each spooled destination, labelled with it.
fn encode_per_destination(e: &mut DescriptorEncoder, t: &Telemetry) -> Result {
    let all: Vec<(String, DeliveryCounts)> = t
        .deliveries()
        .into_iter()
        .map(|(name, stats)| (name, stats.snapshot()))
        .collect();
    let per = |f: fn(&DeliveryCounts) -> u64| {
        all.iter()
            .map(move |(name, d)| ([("destination", name.clone())], f(d)))
            .collect::<Vec<_>>()
    };
    family(
        e,
        MetricType::Gauge,
        "destination_spool_files",
        "Batches or files in the destination's spool waiting for delivery",
        per(|d| d.spool_files),
    )?;
    family(
        e,
        MetricType::Gauge,
        "destination_spool_bytes",
        "Bytes in the destination's spool",
        per(|d| d.spool_bytes),
    )?;
    family(
        e,
        MetricType::Counter,
        "destination_delivered",
        "Objects or batches the destination confirmed",
        per(|d| d.objects_delivered),
    )?;
    let mut events = Vec::new();
    let mut errors = Vec::new();
    for (name, d) in &all {
        for (result, value) in [
            ("sent", d.events_delivered),
            ("rejected", d.events_rejected),
            ("retried", d.events_retried),
        ] {
            events.push((
                [
                    ("destination", name.clone()),
                    ("result", result.to_string()),
                ],
                value,
            ));
        }
        for (kind, value) in [
            ("transient", d.upload_errors_transient),
            ("permanent", d.upload_errors_permanent),
        ] {
            errors.push((
                [("destination", name.clone()), ("kind", kind.to_string())],
                value,
            ));
        }
    }
    family(
        e,
        MetricType::Counter,
        "destination_events",
        "Log events (CloudWatch Logs) or records (Firehose): sent and accepted, rejected for good by the service or before sending, sent again after a per-record failure",
        events,
    )?;
    family(
        e,
        MetricType::Counter,
        "destination_errors",
        "Failed deliveries per destination: retried soon (transient) or at a slow pace (permanent)",
        errors,
    )
}
