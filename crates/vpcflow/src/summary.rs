//! The summary printed at the end of a conversion.

use std::fmt::Write as _;

use vpcflow_sinks::s3::DeliveryReport;
use vpcflow_sinks::spool::DrainOutcome;

use crate::pipeline::{ConvertSummary, InputKind, RunTotals};

/// The human-readable summary of a run.
pub fn render(s: &ConvertSummary) -> String {
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    let mut out = String::new();
    match s.input {
        InputKind::Skydive => render_skydive(s, secs, &mut out),
        InputKind::Netflow { .. } => render_netflow(s, secs, &mut out),
        InputKind::Sflow { .. } => render_sflow(s, secs, &mut out),
        InputKind::Captures => render_capture(s, secs, &mut out),
    }
    render_output(s, secs, &mut out);
    out
}

/// `N file(s)`, with how many of them failed when some did.
fn files_read(s: &ConvertSummary) -> String {
    if s.files_failed.is_empty() {
        format!("{} file(s)", s.files_read)
    } else {
        format!("{} file(s), {} failed", s.files_read, s.files_failed.len())
    }
}

fn render_skydive(s: &ConvertSummary, secs: f64, out: &mut String) {
    let k = &s.skydive;
    let _ = writeln!(
        out,
        "read      {}: {} messages, {} flows, {} flow updates, {} packets, {} IP bytes ({:.0} flows/s)",
        files_read(s),
        s.skydive_messages,
        k.flows,
        k.updates,
        k.packets,
        k.bytes,
        k.flows as f64 / secs
    );
    let _ = writeln!(
        out,
        "skipped   {} malformed lines, {} repeated deltas, {} non-IP flows, {} tunnel inner flows, {} orphan inner flows, {} flows of other captures",
        s.bad_lines,
        k.duplicate_deltas,
        k.non_ip_flows,
        k.tunnel_inner_flows,
        k.orphan_flows,
        k.filtered_flows,
    );
    if k.rejected_counters + k.bad_times + k.flows_over_cap > 0 {
        let _ = writeln!(
            out,
            "rejected  {} updates with impossible counters, {} flows with times outside 1970-2554, {} flows beyond the cap of one message (SKIPDATA)",
            k.rejected_counters, k.bad_times, k.flows_over_cap
        );
    }
    if k.stats_messages > 0 {
        let _ = writeln!(
            out,
            "drops     {} reported by captures ({} not attributable to an interface)",
            k.dropped_units, k.unattributed_drops
        );
    }
    for bad in &s.bad {
        let _ = writeln!(out, "malformed {bad}");
    }
}

fn render_netflow(s: &ConvertSummary, secs: f64, out: &mut String) {
    let r = &s.netflow_replay;
    let n = &s.netflow;
    let _ = writeln!(
        out,
        "read      {}: {} frames, {} export datagrams ({} v5, {} v9, {} IPFIX), {} flow records, {} packets, {} IP bytes ({:.0} records/s)",
        files_read(s),
        r.frames,
        r.datagrams,
        n.v5_messages,
        n.v9_messages,
        n.ipfix_messages,
        n.records,
        n.packets,
        n.bytes,
        n.records as f64 / secs
    );
    let _ = writeln!(out, "{}", netflow_losses(n, r.skipped, r.incomplete));
    for e in &r.errors {
        let _ = writeln!(out, "malformed {e}");
    }
}

/// The line of what the NetFlow decoder skipped and lost.
fn netflow_losses(
    n: &vpcflow_sources::netflow::NetflowStats,
    skipped: u64,
    incomplete: u64,
) -> String {
    format!(
        "skipped   {} other frames, {} incomplete datagrams, {} malformed datagrams, {} records without counts; lost {} in {} sequence gaps, {} data sets without template (SKIPDATA)",
        skipped,
        incomplete,
        n.malformed,
        n.records_without_counts + n.records_without_addresses,
        n.sequence_lost_units,
        n.sequence_gaps,
        n.sets_lost
    )
}

fn render_sflow(s: &ConvertSummary, secs: f64, out: &mut String) {
    let r = &s.netflow_replay;
    let n = &s.sflow;
    let _ = writeln!(
        out,
        "read      {}: {} frames, {} sFlow datagrams, {} flow samples, {} packets, {} IP bytes ({:.0} samples/s)",
        files_read(s),
        r.frames,
        r.datagrams,
        n.flow_samples,
        n.packets,
        n.bytes,
        n.flow_samples as f64 / secs
    );
    let _ = writeln!(out, "{}", sflow_losses(n, r.skipped, r.incomplete));
    for e in &r.errors {
        let _ = writeln!(out, "malformed {e}");
    }
}

/// The line of what the sFlow decoder skipped and lost.
fn sflow_losses(n: &vpcflow_sources::sflow::SflowStats, skipped: u64, incomplete: u64) -> String {
    format!(
        "skipped   {} other frames, {} incomplete datagrams, {} malformed datagrams, {} non-IP samples, {} counter samples; lost {} datagrams in {} sequence gaps, {} samples in {} sample gaps, {} agent drops, {} undecodable samples (SKIPDATA)",
        skipped,
        incomplete,
        n.malformed,
        n.non_ip,
        n.counter_samples,
        n.lost_datagrams,
        n.sequence_gaps,
        n.lost_samples,
        n.sample_gaps,
        n.agent_drops,
        n.undecodable + n.unsupported_headers + n.invalid_samples
    )
}

fn render_capture(s: &ConvertSummary, secs: f64, out: &mut String) {
    let c = &s.capture;
    let _ = writeln!(
        out,
        "read      {}: {} frames, {} IP packets, {} IP bytes ({:.0} packets/s)",
        files_read(s),
        c.frames,
        c.ip_packets,
        c.ip_bytes,
        c.frames as f64 / secs
    );
    let _ = writeln!(
        out,
        "skipped   {} non-IP frames, {} undecodable frames (SKIPDATA){}",
        c.non_ip,
        c.undecodable,
        if c.truncated_files > 0 {
            format!(", {} truncated file(s)", c.truncated_files)
        } else {
            String::new()
        }
    );
    if c.not_selected > 0 {
        let _ = writeln!(
            out,
            "left out  {} frames by the packet selection (--filter, --since, --until)",
            c.not_selected
        );
    }
}

fn render_output(s: &ConvertSummary, secs: f64, out: &mut String) {
    let a = &s.aggregation;
    let o = &s.output;
    let _ = writeln!(
        out,
        "records   {} written: {} OK, {} NODATA, {} SKIPDATA{}",
        o.records,
        a.ok_records,
        a.nodata_records,
        a.skipdata_records,
        if a.late_updates > 0 {
            format!("; {} late packets", a.late_updates)
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        out,
        "files     {} ({} already present), {} bytes of {}, {} bytes compressed",
        o.files,
        o.files_already_present,
        o.uncompressed_bytes,
        match s.file_format {
            vpcflow_sinks::FileFormat::Text => "text",
            vpcflow_sinks::FileFormat::Parquet => "values (Parquet PLAIN size)",
        },
        o.compressed_bytes
    );
    for report in &s.delivery {
        render_delivery(out, report);
    }
    let _ = writeln!(out, "time      {:.2} s", secs);
    for (path, reason) in &s.files_failed {
        let _ = writeln!(out, "failed    {}: {}", path.display(), reason);
    }
}

/// The summary of a `vpcflow run`, printed when it stops.
pub fn render_run(t: &RunTotals) -> String {
    let l = &t.live;
    let k = &t.skydive;
    let a = &t.aggregation;
    let o = &t.output;
    let c = &t.capture;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "captured  {} interfaces opened, {} frames, {} IP packets, {} IP bytes; lost {} in the kernel, {} behind the pipeline, {} undecodable",
        c.opened, c.frames, c.ip_packets, c.ip_bytes, c.kernel_drops, c.queue_drops, c.undecodable
    );
    let _ = writeln!(
        out,
        "analyzers {} connections, {} dropped, {} failed attempts, {} disconnection gaps not attributable",
        l.connects, l.disconnects, l.failed_attempts, l.unattributed_gaps
    );
    let _ = writeln!(
        out,
        "read      {} messages ({} malformed, {} of other namespaces): {} flows, {} flow updates, {} packets, {} IP bytes",
        l.messages, l.malformed, l.ignored, k.flows, k.updates, k.packets, k.bytes
    );
    let _ = writeln!(
        out,
        "skipped   {} repeated deltas, {} non-IP flows, {} tunnel inner flows, {} orphan inner flows",
        k.duplicate_deltas, k.non_ip_flows, k.tunnel_inner_flows, k.orphan_flows
    );
    let n = &t.netflow;
    let nc = &t.netflow_collector;
    if n.datagrams > 0 || nc.datagrams > 0 {
        let _ = writeln!(
            out,
            "netflow   {} datagrams ({} v5, {} v9, {} IPFIX), {} flow records, {} packets, {} IP bytes; lost {} datagrams in the kernel, {} behind the pipeline",
            nc.datagrams, n.v5_messages, n.v9_messages, n.ipfix_messages, n.records, n.packets, n.bytes, nc.kernel_drops, nc.queue_drops
        );
        let _ = writeln!(out, "{}", netflow_losses(n, 0, 0));
    }
    let n = &t.sflow;
    let nc = &t.sflow_collector;
    if n.datagrams > 0 || nc.datagrams > 0 {
        let _ = writeln!(
            out,
            "sflow     {} datagrams, {} flow samples, {} packets, {} IP bytes; lost {} datagrams in the kernel, {} behind the pipeline",
            nc.datagrams, n.flow_samples, n.packets, n.bytes, nc.kernel_drops, nc.queue_drops
        );
        let _ = writeln!(out, "{}", sflow_losses(n, 0, 0));
    }
    let _ = writeln!(
        out,
        "records   {} written: {} OK, {} NODATA, {} SKIPDATA",
        o.records, a.ok_records, a.nodata_records, a.skipdata_records
    );
    let _ = writeln!(
        out,
        "files     {} ({} already present), {} bytes compressed",
        o.files, o.files_already_present, o.compressed_bytes
    );
    for report in &t.delivery {
        render_delivery(&mut out, report);
    }
    out
}

/// The summary of `vpcflow deliver`.
pub fn render_delivery_only(report: &DeliveryReport) -> String {
    let mut out = String::new();
    render_delivery(&mut out, report);
    out
}

/// The line of a spooled destination: what was spooled is in `files` above
/// (objects, or batches of log events or records); this says what was
/// delivered and what stays in the spool.
fn render_delivery(out: &mut String, r: &DeliveryReport) {
    let s3 = r.destination.starts_with("s3://") || r.destination.starts_with("arn:aws:s3");
    let (kind, delivered) = if s3 {
        (
            "s3      ",
            format!(
                "{} objects delivered to {} ({} already present)",
                r.delivered, r.destination, r.already_present
            ),
        )
    } else {
        (
            "delivery",
            format!("{} batches delivered to {}", r.delivered, r.destination),
        )
    };
    let _ = writeln!(
        out,
        "{kind}  {delivered}, {} bytes; {} left in the spool {} ({} bytes){}",
        r.bytes_delivered,
        r.left.files,
        r.left.folder.display(),
        r.left.bytes,
        match r.outcome {
            DrainOutcome::Drained => "",
            DrainOutcome::TimedOut => ", shutdown timeout reached: delivered at the next start",
            DrainOutcome::OnlyPermanentErrors =>
                ", permanent errors (see the log): delivered at the next start once fixed",
        }
    );
}
