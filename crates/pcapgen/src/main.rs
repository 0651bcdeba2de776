//! `pcapgen`: writes a deterministic synthetic capture (and its ground truth).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use pcapgen::{Config, Generator, Mix, TsResolution, DEFAULT_START_SECS};

/// Write a deterministic synthetic packet capture (classic pcap, Ethernet).
///
/// The same options and seed always give the same file. Counts accept k/M/G
/// suffixes (powers of 1000); sizes accept K/M/G/T (powers of 1000) and
/// KiB/MiB/GiB/TiB (powers of 1024).
#[derive(Debug, Parser)]
#[command(name = "pcapgen", version)]
struct Args {
    /// Output capture file ('-' for stdout).
    #[arg(short, long, value_name = "FILE")]
    out: PathBuf,

    /// Exact number of distinct unidirectional flows (5-tuples); most
    /// conversations give two.
    #[arg(short, long, default_value = "1000", value_parser = parse_count)]
    flows: u64,

    /// Target number of packets [default: from --bytes, or 8 per flow].
    #[arg(short, long, value_parser = parse_count)]
    packets: Option<u64>,

    /// Target capture file size [default: 600 bytes per packet].
    #[arg(short, long, value_parser = parse_size)]
    bytes: Option<u64>,

    /// First timestamp, Unix seconds (fractions allowed) [default:
    /// 2025-12-31T23:50:00Z, so a duration over 600 s crosses midnight].
    #[arg(long, value_name = "SECS")]
    start: Option<f64>,

    /// Every timestamp is in [start, start + duration), seconds.
    #[arg(short, long, default_value = "600", value_name = "SECS")]
    duration: f64,

    /// Random seed.
    #[arg(short, long, default_value = "1")]
    seed: u64,

    /// Protocol mix of conversations, e.g. tcp=80,udp=16,icmp=4 (weights).
    #[arg(long, default_value = "tcp=80,udp=16,icmp=4", value_parser = parse_mix)]
    mix: Mix,

    /// Percentage of conversations over IPv6.
    #[arg(long, default_value = "10", value_name = "PCT")]
    ipv6: f64,

    /// Percentage of conversations in 802.1Q-tagged frames.
    #[arg(long, default_value = "2", value_name = "PCT")]
    vlan: f64,

    /// Start all conversations in the first 5% of the duration and keep them
    /// open until near the end (all flows open at once).
    #[arg(long)]
    open_at_once: bool,

    /// Client hosts [default: conversations / 64, between 64 and 4096].
    #[arg(long)]
    hosts: Option<u32>,

    /// Server hosts (a third of them public).
    #[arg(long, default_value = "450")]
    servers: u32,

    /// Nanosecond timestamps (default: microseconds).
    #[arg(long)]
    nanos: bool,

    /// Also write per-flow ground truth as JSON (same shape as pcaps/*.truth.json).
    #[arg(long, value_name = "FILE.json")]
    truth: Option<PathBuf>,

    /// Write the capture's statistics (no per-flow totals) as JSON: frames,
    /// bytes, flows, first/last timestamps, protocols.
    #[arg(long, value_name = "FILE.json")]
    stats: Option<PathBuf>,

    /// Window widths (seconds) of the per-window truth totals; empty for none.
    #[arg(long, default_value = "60,600", value_delimiter = ',', num_args = 0..)]
    truth_windows: Vec<u64>,

    /// Do not print the summary on stderr.
    #[arg(short, long)]
    quiet: bool,
}

fn split_suffix(s: &str) -> (f64, &str) {
    let s = s.trim();
    let i = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_' || c == 'e' || c == 'E'))
        .unwrap_or(s.len());
    // An 'e' followed by nothing numeric is not an exponent.
    let num: String = s[..i].chars().filter(|&c| c != '_').collect();
    (num.parse().unwrap_or(f64::NAN), &s[i..])
}

fn parse_count(s: &str) -> Result<u64, String> {
    let (n, suffix) = split_suffix(s);
    let mult = match suffix.trim() {
        "" => 1.0,
        "k" | "K" => 1e3,
        "m" | "M" => 1e6,
        "g" | "G" => 1e9,
        other => return Err(format!("unknown suffix {other:?} (use k, M or G)")),
    };
    let v = n * mult;
    if !(v.is_finite() && v >= 0.0) {
        return Err(format!("not a count: {s:?}"));
    }
    Ok(v.round() as u64)
}

fn parse_size(s: &str) -> Result<u64, String> {
    let (n, suffix) = split_suffix(s);
    let mult = match suffix.trim().trim_end_matches(['B', 'b']) {
        "" => 1.0,
        "k" | "K" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" | "KI" => 1024.0,
        "Mi" | "MI" => 1024.0 * 1024.0,
        "Gi" | "GI" => 1024.0 * 1024.0 * 1024.0,
        "Ti" | "TI" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        other => return Err(format!("unknown size suffix {other:?}")),
    };
    let v = n * mult;
    if !(v.is_finite() && v >= 0.0) {
        return Err(format!("not a size: {s:?}"));
    }
    Ok(v.round() as u64)
}

fn parse_mix(s: &str) -> Result<Mix, String> {
    let mut mix = Mix {
        tcp: 0.0,
        udp: 0.0,
        icmp: 0.0,
    };
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("expected NAME=WEIGHT, got {part:?}"))?;
        let v: f64 = v
            .trim()
            .trim_end_matches('%')
            .parse()
            .map_err(|_| format!("bad weight in {part:?}"))?;
        match k.trim() {
            "tcp" => mix.tcp = v,
            "udp" => mix.udp = v,
            "icmp" => mix.icmp = v,
            other => return Err(format!("unknown protocol {other:?} (tcp, udp, icmp)")),
        }
    }
    Ok(mix)
}

fn secs_to_ns(s: f64, what: &str) -> Result<u64> {
    if !(s.is_finite() && s >= 0.0) {
        bail!("{what} must be a non-negative number of seconds");
    }
    Ok((s * 1e9).round() as u64)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let start = args.start.unwrap_or(DEFAULT_START_SECS as f64);
    let config = Config {
        flows: args.flows,
        packets: args.packets,
        bytes: args.bytes,
        start_ns: secs_to_ns(start, "--start")?,
        duration_ns: secs_to_ns(args.duration, "--duration")?,
        seed: args.seed,
        mix: args.mix,
        ipv6_percent: args.ipv6,
        vlan_percent: args.vlan,
        open_at_once: args.open_at_once,
        hosts: args.hosts,
        servers: args.servers,
        resolution: if args.nanos {
            TsResolution::Nano
        } else {
            TsResolution::Micro
        },
        truth: args.truth.is_some(),
        truth_windows: args.truth_windows.clone(),
    };
    let gen = Generator::new(config.clone())?;
    let began = Instant::now();
    let to_stdout = args.out.as_os_str() == "-";
    let mut summary = if to_stdout {
        gen.write_pcap(io::stdout().lock())
            .context("writing the capture to stdout")?
    } else {
        let f =
            File::create(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
        let s = gen
            .write_pcap(&f)
            .with_context(|| format!("writing {}", args.out.display()))?;
        f.sync_all().ok();
        s
    };
    let secs = began.elapsed().as_secs_f64();
    let name = if to_stdout {
        "-".to_string()
    } else {
        args.out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let write_json = |path: &PathBuf, summary: &pcapgen::Summary| -> Result<()> {
        let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        summary
            .write_truth_json(&name, &config, &mut w)
            .with_context(|| format!("writing {}", path.display()))?;
        w.flush()?;
        Ok(())
    };
    if let Some(path) = &args.truth {
        write_json(path, &summary)?;
    }
    if let Some(path) = &args.stats {
        let truth = summary.truth.take();
        write_json(path, &summary)?;
        summary.truth = truth;
    }
    if !args.quiet {
        let mb = summary.file_bytes as f64 / 1e6;
        eprintln!(
            "pcapgen: {} packets, {} flows ({} conversations), {:.1} MB, {:.2} s, {:.0} MB/s, {:.0} packets/s",
            summary.packets,
            summary.flows,
            summary.conversations,
            mb,
            secs,
            mb / secs.max(1e-9),
            summary.packets as f64 / secs.max(1e-9)
        );
        eprintln!(
            "pcapgen: ipv4 {} ipv6 {} vlan {}; protocols {:?}; time {:.6} .. {:.6}",
            summary.ipv4_packets,
            summary.ipv6_packets,
            summary.vlan_packets,
            summary.ip_protocols,
            summary.first_ns as f64 / 1e9,
            summary.last_ns as f64 / 1e9
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_sizes() {
        assert_eq!(parse_count("900k"), Ok(900_000));
        assert_eq!(parse_count("6.5M"), Ok(6_500_000));
        assert_eq!(parse_count("1_000"), Ok(1000));
        assert_eq!(parse_size("1.5G"), Ok(1_500_000_000));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert!(parse_size("3X").is_err());
        let m = parse_mix("tcp=70,udp=20,icmp=10").unwrap();
        assert_eq!((m.tcp, m.udp, m.icmp), (70.0, 20.0, 10.0));
        assert!(parse_mix("sctp=1").is_err());
    }
}
