//! The summary printed at the end of a conversion.

use std::fmt::Write as _;

use crate::pipeline::ConvertSummary;

/// The human-readable summary of a run.
pub fn render(s: &ConvertSummary) -> String {
    let c = &s.capture;
    let a = &s.aggregation;
    let o = &s.output;
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "read      {} file(s){}: {} frames, {} IP packets, {} IP bytes ({:.0} packets/s)",
        s.files_read,
        if s.files_failed.is_empty() {
            String::new()
        } else {
            format!(", {} failed", s.files_failed.len())
        },
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
    let _ = writeln!(out, "time      {:.2} s", secs);
    for (path, reason) in &s.files_failed {
        let _ = writeln!(out, "failed    {}: {}", path.display(), reason);
    }
    out
}
