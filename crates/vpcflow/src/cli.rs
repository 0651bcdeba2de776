//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Overrides;

/// Turns network flows into AWS VPC Flow Logs files, identical to the ones AWS
/// delivers to S3.
#[derive(Debug, Parser)]
#[command(name = "vpcflow", version, about, long_about = None)]
pub struct Cli {
    /// Log verbosity for diagnostics on stderr (error, warn, info, debug, trace).
    #[arg(long, global = true, default_value = "warn", env = "VPCFLOW_LOG")]
    pub log_level: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Convert capture files (pcap, pcapng), or recorded Skydive messages
    /// (`--skydive`), into flow log files.
    Convert(Box<ConvertArgs>),
    /// List every record field with its version and meaning.
    Fields,
    /// Run as a daemon: subscribe to the Skydive analyzers of the
    /// configuration and write flow log files until SIGINT or SIGTERM, which
    /// flush every open window and file.
    Run(RunArgs),
}

/// `vpcflow run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Configuration file (TOML) with `[[skydive.analyzer]]` blocks.
    #[arg(long, short)]
    pub config: std::path::PathBuf,
    /// No summary at exit.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `vpcflow convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Capture files, read in the order given (pcap or pcapng); with
    /// `--skydive`, files of recorded Skydive messages.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The files are recorded Skydive analyzer messages: one JSON struct
    /// message, or one JSON array of flows, per line.
    #[arg(long)]
    pub skydive: bool,
    /// Output directory (files laid out like the S3 bucket), or `-` for plain
    /// records on stdout. Default: ./flowlogs.
    #[arg(long, short)]
    pub out: Option<String>,
    /// Configuration file (TOML); flags override it.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Aggregation interval in seconds: 60 or 600 (default 600).
    #[arg(long)]
    pub interval: Option<u64>,
    /// Record format as AWS takes it, e.g. '${version} ${srcaddr} ${dstaddr}'.
    /// Default: the 14 version-2 fields.
    #[arg(long)]
    pub format: Option<String>,
    /// Key layout: default, hive, hourly, hive-hourly.
    #[arg(long)]
    pub layout: Option<String>,
    /// Folder before `AWSLogs/` in keys.
    #[arg(long)]
    pub prefix: Option<String>,
    /// 12-digit account id of the flow log.
    #[arg(long)]
    pub account_id: Option<String>,
    /// Region code of the flow log.
    #[arg(long)]
    pub region: Option<String>,
    /// Flow log id (`fl-` + 8 or 17 hex digits).
    #[arg(long)]
    pub flow_log_id: Option<String>,
    /// Which records to write: ACCEPT, REJECT or ALL.
    #[arg(long)]
    pub traffic_type: Option<String>,
    /// Size cap of one file in compressed bytes (default 75000000).
    #[arg(long)]
    pub max_file_bytes: Option<u64>,
    /// gzip level 0-9 (default 6).
    #[arg(long)]
    pub gzip_level: Option<u32>,
    /// Cap on open flows; a full table is flushed early (default 2000000).
    #[arg(long)]
    pub max_open_flows: Option<usize>,
    /// Interface name for classic pcap files (default capture0).
    #[arg(long)]
    pub interface_name: Option<String>,
    /// Ports of non-first IP fragments: zero, or track-first to take them from
    /// an earlier first fragment.
    #[arg(long)]
    pub fragments: Option<String>,
    /// Do not write NODATA records.
    #[arg(long)]
    pub no_nodata: bool,
    /// No progress bar and no summary.
    #[arg(long, short)]
    pub quiet: bool,
}

impl ConvertArgs {
    /// The flags that override the configuration file.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            account_id: self.account_id.clone(),
            region: self.region.clone(),
            flow_log_id: self.flow_log_id.clone(),
            format: self.format.clone(),
            interval: self.interval,
            traffic_type: self.traffic_type.clone(),
            out: self.out.clone(),
            layout: self.layout.clone(),
            prefix: self.prefix.clone(),
            max_file_bytes: self.max_file_bytes,
            gzip_level: self.gzip_level,
            max_open_flows: self.max_open_flows,
            interface_name: self.interface_name.clone(),
            fragments: self.fragments.clone(),
            no_nodata: self.no_nodata,
        }
    }
}
