//! The text form of the `vpcflow check` report, for people.

use std::io::Write;
use std::net::IpAddr;

use super::Report;

/// Writes `report` as text for people.
pub fn write_text(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let list = |v: &[IpAddr]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    writeln!(out, "configuration {}: valid", report.config)?;
    let f = &report.flow_log;
    writeln!(out, "\nflow log")?;
    writeln!(out, "  flow log id     {}", f.flow_log_id)?;
    writeln!(out, "  account         {}", f.account_id)?;
    writeln!(out, "  region          {}", f.region)?;
    writeln!(out, "  format          {}", f.format)?;
    writeln!(out, "  version         {}", f.version)?;
    let fields: Vec<String> = f
        .fields
        .iter()
        .map(|x| format!("{} (v{})", x.name, x.version))
        .collect();
    writeln!(
        out,
        "  fields          {}: {}",
        fields.len(),
        fields.join(", ")
    )?;
    writeln!(out, "  traffic type    {}", f.traffic_type)?;
    writeln!(out, "  interval        {} s", f.interval_secs)?;

    let o = &report.output;
    writeln!(out, "\noutput")?;
    match (&o.directory, &o.s3_url) {
        (Some(dir), _) => writeln!(out, "  destination     directory {dir}")?,
        (None, Some(url)) => {
            writeln!(out, "  destination     {url}")?;
            if let Some(endpoint) = &o.s3_endpoint {
                writeln!(out, "  endpoint        {endpoint}")?;
            }
            if let Some(spool) = &o.spool_dir {
                writeln!(out, "  spool           {spool}")?;
            }
        }
        (None, None) if o.destination == "stdout" => {
            writeln!(out, "  destination     standard output (records, no files)")?
        }
        (None, None) => {}
    }
    // Record destinations, and every destination after the first.
    for (i, d) in o.destinations.iter().enumerate() {
        if i == 0 && matches!(d.kind, "directory" | "stdout" | "s3") {
            continue;
        }
        writeln!(out, "  destination     {} {}", d.kind, d.target)?;
        if let Some(streams) = &d.log_streams {
            writeln!(out, "    log streams   {streams} (one per interface)")?;
        }
        if let Some(region) = &d.region {
            writeln!(out, "    region        {region}")?;
        }
        if let Some(endpoint) = &d.endpoint {
            writeln!(out, "    endpoint      {endpoint}")?;
        }
        if let Some(spool) = &d.spool_dir {
            writeln!(out, "    spool         {spool}")?;
        }
    }
    writeln!(out, "  file format     {}", o.file_format)?;
    writeln!(out, "  layout          {}", o.layout)?;
    if !o.prefix.is_empty() {
        writeln!(out, "  prefix          {}", o.prefix)?;
    }
    if let (Some(key), Some(file)) = (&o.example_key, &o.example_file) {
        writeln!(out, "  example key     {key}")?;
        writeln!(
            out,
            "  example file    {file} (the 8 hex digits depend on the content)"
        )?;
    }
    writeln!(out, "  max file bytes  {}", o.max_file_bytes)?;
    writeln!(out, "  gzip level      {}", o.gzip_level)?;

    writeln!(out, "\nsources")?;
    if report.sources.captures.is_empty()
        && report.sources.analyzers.is_empty()
        && report.sources.netflow_listen.is_empty()
        && report.sources.sflow_listen.is_empty()
    {
        writeln!(out, "  none")?;
    }
    for c in &report.sources.captures {
        let present = if c.pattern {
            format!(
                "pattern, matching now: {}",
                if c.present.is_empty() {
                    "none".to_string()
                } else {
                    c.present.join(", ")
                }
            )
        } else if c.present.is_empty() {
            "does not exist now".to_string()
        } else {
            "present".to_string()
        };
        writeln!(
            out,
            "  capture {} ({present}) filter {} promisc {} snaplen {} buffer {}",
            c.name,
            c.filter
                .as_deref()
                .map(|f| format!("{f:?}"))
                .unwrap_or_else(|| "none".into()),
            if c.promisc { "on" } else { "off" },
            c.snaplen,
            c.buffer
        )?;
    }
    for a in &report.sources.analyzers {
        writeln!(
            out,
            "  skydive analyzer {} ({}, {}, namespaces {})",
            a.url,
            a.endpoint,
            a.protocol,
            a.namespaces.join(", ")
        )?;
    }

    for a in &report.sources.netflow_listen {
        writeln!(
            out,
            "  netflow/ipfix collector on udp {a} (v5, v9 and IPFIX)"
        )?;
    }
    for a in &report.sources.sflow_listen {
        writeln!(out, "  sflow collector on udp {a} (sFlow v5)")?;
    }

    writeln!(out, "\ninterfaces")?;
    if report.interfaces.is_empty() {
        writeln!(
            out,
            "  none configured (each capture interface gets IDs derived from its name)"
        )?;
    }
    for i in &report.interfaces {
        let how = match (i.configured, i.live) {
            (true, true) => "configured, live",
            (true, false) => "configured",
            (false, true) => "live, derived IDs",
            (false, false) => "derived IDs",
        };
        writeln!(out, "  {} ({how})", i.meta.name)?;
        writeln!(
            out,
            "    interface-id {}  account-id {}  vpc-id {}  subnet-id {}  instance-id {}",
            i.meta.interface_id,
            i.meta.account_id,
            dash(&i.meta.vpc_id),
            dash(&i.meta.subnet_id),
            dash(&i.meta.instance_id)
        )?;
        writeln!(
            out,
            "    region {}  az-id {}  sublocation {} {}",
            i.meta.region,
            dash(&i.meta.az_id),
            dash(&i.meta.sublocation_type),
            dash(&i.meta.sublocation_id)
        )?;
        writeln!(out, "    addresses {}", list(&i.meta.addresses))?;
        if i.live {
            writeln!(out, "    os addresses {}", list(&i.os_addresses))?;
        }
        writeln!(
            out,
            "    primary {} / {}",
            i.meta
                .primary_ipv4
                .map(|a| a.to_string())
                .unwrap_or_else(|| "no IPv4".into()),
            i.meta
                .primary_ipv6
                .map(|a| a.to_string())
                .unwrap_or_else(|| "no IPv6".into())
        )?;
        if !i.meta.networks.is_empty() {
            writeln!(
                out,
                "    networks {}",
                i.meta
                    .networks
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
        }
    }

    writeln!(out, "\naws ip ranges")?;
    match &report.aws_ip_ranges {
        Some(r) => writeln!(
            out,
            "  {}: {} prefixes, {} services",
            r.path, r.prefixes, r.services
        )?,
        None => writeln!(out, "  none (pkt-*-aws-service are -)")?,
    }

    writeln!(out, "\npolicy")?;
    match &report.policy {
        None => writeln!(out, "  none (every flow is ACCEPT)")?,
        Some(p) => {
            for (kind, sets) in [
                ("security group", &p.security_groups),
                ("network ACL", &p.network_acls),
            ] {
                for set in sets {
                    writeln!(
                        out,
                        "  {kind} {}: {} inbound, {} outbound rules, on {}",
                        set.name,
                        set.inbound_rules,
                        set.outbound_rules,
                        set.interfaces.join(", ")
                    )?;
                }
            }
            write!(out, "  block public access {}", p.block_public_access)?;
            if !p.block_public_access_exclusions.is_empty() {
                write!(
                    out,
                    " (except {})",
                    p.block_public_access_exclusions.join(", ")
                )?;
            }
            writeln!(out)?;
        }
    }

    writeln!(out, "\nmetrics")?;
    match &report.metrics_listen {
        Some(addr) => writeln!(out, "  http://{addr}/metrics and /healthz")?,
        None => writeln!(out, "  off (no [metrics] listen)")?,
    }
    if let Some(dir) = &report.state_dir {
        writeln!(out, "\nstate (vpcflow run)")?;
        writeln!(out, "  {dir}: {}, locked", report.state_kept.join(", "))?;
    }
    for w in &report.warnings {
        writeln!(out, "\nwarning: {w}")?;
    }
    Ok(())
}
