//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Overrides;
use crate::s3_config::S3Flags;

/// Turns network flows into AWS VPC Flow Logs files, identical to the ones AWS
/// delivers to S3.
#[derive(Debug, Parser)]
#[command(name = "vpcflow", version, about, long_about = None)]
pub struct Cli {
    /// Log verbosity for diagnostics on stderr (error, warn, info, debug, trace).
    #[arg(long, global = true, default_value = "warn", env = "VPCFLOW_LOG")]
    pub log_level: String,
    /// Log lines as text or as JSON objects (one per line), for log collectors.
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"], env = "VPCFLOW_LOG_FORMAT")]
    pub log_format: String,
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
    /// Print the Athena table (DDL) over the files `convert` writes with the
    /// same settings, and named queries over it.
    #[command(long_about = ATHENA_ABOUT)]
    Athena(Box<AthenaArgs>),
    /// Run as a daemon: subscribe to the Skydive analyzers of the
    /// configuration and write flow log files until SIGINT or SIGTERM, which
    /// flush every open window and file.
    Run(RunArgs),
    /// Deliver what a spool folder holds to S3, then exit: for objects left
    /// by an earlier run, without reading any input.
    Deliver(DeliverArgs),
}

/// `vpcflow deliver`.
#[derive(Debug, Args)]
pub struct DeliverArgs {
    /// The spool folder (default as for convert).
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,
    /// The S3 destination, `s3://bucket/prefix/` (used for the client's
    /// settings; each spooled object carries its own bucket and keys).
    #[arg(long, short)]
    pub out: Option<String>,
    /// Configuration file (TOML) with `[output]` and `[output.s3]`.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Endpoint URL of an S3-compatible store.
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// Region of the S3 bucket.
    #[arg(long, value_name = "REGION")]
    pub s3_region: Option<String>,
    /// Give up after this many seconds (default: until delivered, or until
    /// only permanent errors remain).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
}

impl DeliverArgs {
    /// The flags that override the configuration file.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            out: self.out.clone(),
            s3: S3Flags {
                spool: self.spool.clone(),
                endpoint: self.s3_endpoint.clone(),
                region: self.s3_region.clone(),
            },
            ..Overrides::default()
        }
    }
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

const ATHENA_ABOUT: &str = "\
Print the Athena table (DDL) over the files `vpcflow convert` writes with the same
settings, then named queries over it (top talkers, rejected traffic, SSH/RDP...),
those the format has the fields for.

Give the options given to convert (or the same --config): the columns follow
--format, the SerDe --file-format, the partitions --layout (partition projection
over the date, and hour, folders; MSCK REPAIR TABLE for the Hive-compatible
layouts), LOCATION the --prefix, account and Region. Upload the output directory
to S3 (e.g. `aws s3 sync flowlogs/ s3://my-bucket/logs/`) and pass that URL as
--location; without it LOCATION holds s3://YOUR-BUCKET, to be replaced.

With --duckdb DIR it prints a DuckDB view over the local output directory DIR
instead, typed like the table, and the same queries: SQL over the files without AWS.

Examples:
  vpcflow athena --file-format parquet --layout hive --location s3://my-bucket/logs
  vpcflow athena --file-format parquet --duckdb flowlogs | duckdb";

/// `vpcflow athena`.
#[derive(Debug, Args)]
pub struct AthenaArgs {
    /// Where the output directory was uploaded: s3://bucket or
    /// s3://bucket/folder (the keys, `[prefix/]AWSLogs/…`, follow it).
    /// Default: s3://YOUR-BUCKET, a placeholder to replace.
    #[arg(long)]
    pub location: Option<String>,
    /// Print, instead of the Athena DDL, a DuckDB view over the local
    /// output directory DIR (same name and columns as the table) before the
    /// named queries: `vpcflow athena --duckdb flowlogs | duckdb`.
    #[arg(long, value_name = "DIR")]
    pub duckdb: Option<String>,
    /// Table name.
    #[arg(long, default_value = "vpc_flow_logs")]
    pub table: String,
    /// First day of the date partition projection (YYYY-MM-DD).
    #[arg(long, default_value = "2020-01-01")]
    pub since: String,
    /// Configuration file of the conversion (TOML); flags override it.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Record format of the files, as given to convert.
    #[arg(long)]
    pub format: Option<String>,
    /// Key layout of the files: default, hive, hourly, hive-hourly.
    #[arg(long)]
    pub layout: Option<String>,
    /// Folder before `AWSLogs/` in keys.
    #[arg(long)]
    pub prefix: Option<String>,
    /// File format of the files: text or parquet.
    #[arg(long)]
    pub file_format: Option<String>,
    /// 12-digit account id of the flow log.
    #[arg(long)]
    pub account_id: Option<String>,
    /// Region code of the flow log.
    #[arg(long)]
    pub region: Option<String>,
    /// Flow log id (`fl-` + 8 or 17 hex digits).
    #[arg(long)]
    pub flow_log_id: Option<String>,
}

impl AthenaArgs {
    /// The flags that override the configuration file.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            account_id: self.account_id.clone(),
            region: self.region.clone(),
            flow_log_id: self.flow_log_id.clone(),
            format: self.format.clone(),
            layout: self.layout.clone(),
            file_format: self.file_format.clone(),
            prefix: self.prefix.clone(),
            ..Overrides::default()
        }
    }
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
    /// Output directory (files laid out like the S3 bucket), `-` for plain
    /// records on stdout, or an S3 destination: `s3://bucket/prefix/` or
    /// `arn:aws:s3:::bucket/prefix/` (delivered through the spool).
    /// Default: ./flowlogs.
    #[arg(long, short)]
    pub out: Option<String>,
    /// Spool folder of S3 delivery (default: $STATE_DIRECTORY/spool under
    /// systemd, /var/spool/vpcflow for root, else ~/.local/state/vpcflow/spool).
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,
    /// Endpoint URL of an S3-compatible store (AWS_ENDPOINT_URL also works).
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// Region of the S3 bucket (default: the SDK's chain, else --region).
    #[arg(long, value_name = "REGION")]
    pub s3_region: Option<String>,
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
    /// File format: text (gzip text, `.log.gz`, the default) or parquet
    /// (`.log.parquet`, GZIP-compressed columns).
    #[arg(long)]
    pub file_format: Option<String>,
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
            file_format: self.file_format.clone(),
            prefix: self.prefix.clone(),
            max_file_bytes: self.max_file_bytes,
            gzip_level: self.gzip_level,
            max_open_flows: self.max_open_flows,
            interface_name: self.interface_name.clone(),
            fragments: self.fragments.clone(),
            no_nodata: self.no_nodata,
            s3: S3Flags {
                spool: self.spool.clone(),
                endpoint: self.s3_endpoint.clone(),
                region: self.s3_region.clone(),
            },
        }
    }
}
