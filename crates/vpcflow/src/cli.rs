//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{ConversionFlags, DestinationFlags, FlowLogFlags, OutputFlags, Overrides};
use crate::logging::{LogLevel, LogStyle};

/// Turns network flows into AWS VPC Flow Logs files, identical to the ones AWS
/// delivers to S3.
#[derive(Debug, Parser)]
#[command(name = "vpcflow", version = env!("VPCFLOW_VERSION"), about, long_about = None)]
pub struct Cli {
    /// Log verbosity for diagnostics on stderr: error, warn, info, debug,
    /// trace, off, or TARGET=LEVEL directives (`warn,vpcflow=debug`).
    #[arg(long, global = true, default_value = "warn", env = "VPCFLOW_LOG")]
    pub log_level: LogLevel,
    /// Log lines as text or as JSON objects (one per line), for log collectors.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "VPCFLOW_LOG_STYLE"
    )]
    pub log_style: LogStyle,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Convert capture files (pcap, pcapng), recorded Skydive messages
    /// (`--skydive`) or captured NetFlow/IPFIX export traffic
    /// (`--netflow`), into flow log files.
    Convert(Box<ConvertArgs>),
    /// List every record field with its version and meaning.
    Fields,
    /// Print the Athena table (DDL) over the files `convert` writes with the
    /// same settings, and named queries over it.
    #[command(long_about = ATHENA_ABOUT)]
    Athena(Box<AthenaArgs>),
    /// Print CloudWatch Logs Insights queries (with a `parse @message`
    /// pattern for the record format) and Contributor Insights rules for
    /// the log group `convert` or `run` writes to.
    Insights(InsightsArgs),
    /// Run as a daemon: subscribe to the Skydive analyzers of the
    /// configuration and write flow log files until SIGINT or SIGTERM, which
    /// flush every open window and file.
    Run(RunArgs),
    /// Validate a configuration and print what it would produce: the flow
    /// log, format and version, an example key, sources, interfaces with
    /// their IDs and addresses. Exit status 2 on an error.
    Check(CheckArgs),
    /// Deliver what the spool folders hold (S3, CloudWatch Logs, Firehose),
    /// then exit: for objects and batches left by an earlier run, without
    /// reading any input.
    Deliver(DeliverArgs),
    /// Print a shell completion script: `vpcflow completions bash >
    /// /etc/bash_completion.d/vpcflow`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff): `vpcflow man > vpcflow.1`.
    Man,
}

/// `vpcflow deliver`.
#[derive(Debug, Args)]
pub struct DeliverArgs {
    /// Configuration file (TOML) with `[output]` and `[output.s3]`,
    /// `[output.cloudwatch]`, `[output.firehose]`.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// The destinations (their client settings; each spooled object or
    /// batch carries its own bucket and keys, log group and stream, or
    /// delivery stream) and the spool folder.
    #[command(flatten)]
    pub destination: DestinationFlags,
    /// Give up after this many seconds (default: until delivered, or until
    /// only permanent errors remain).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
}

impl DeliverArgs {
    /// The flags that override the configuration file.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            destination: self.destination.clone(),
            ..Overrides::default()
        }
    }
}

/// `vpcflow completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `vpcflow check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Configuration file (TOML).
    #[arg(long, short)]
    pub config: std::path::PathBuf,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Check the configuration only, not whether `vpcflow run` can start
    /// with it on this host: for a configuration of `vpcflow convert` (no
    /// live source), or one written for another host. Without it, a source
    /// is required and the interfaces captured by name must exist here.
    #[arg(long)]
    pub config_only: bool,
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
    /// The flow log's identity and the record format of the files, as given
    /// to convert.
    #[command(flatten)]
    pub flow_log: FlowLogFlags,
    /// How the files are named and laid out, as given to convert.
    #[command(flatten)]
    pub output: OutputFlags,
}

impl AthenaArgs {
    /// The flags that override the configuration file.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            flow_log: self.flow_log.clone(),
            output: self.output.clone(),
            ..Overrides::default()
        }
    }
}

/// `vpcflow insights`.
#[derive(Debug, Args)]
pub struct InsightsArgs {
    /// The log group the Contributor Insights rules name (default: the
    /// first CloudWatch Logs destination of the configuration, else
    /// YOUR-LOG-GROUP, a placeholder to replace).
    #[arg(long, value_name = "NAME")]
    pub log_group: Option<String>,
    /// Configuration file (TOML); flags override it.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// The flow log's record format, as given to convert or run.
    #[command(flatten)]
    pub flow_log: FlowLogFlags,
}

impl InsightsArgs {
    /// The flags that override the configuration file.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            flow_log: self.flow_log.clone(),
            ..Overrides::default()
        }
    }
}

/// `vpcflow convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Capture files, read in the order given (pcap or pcapng, plain or
    /// gzip- or zstd-compressed); `-` for standard input (read as it
    /// arrives); a folder for its capture files in name order. With `--skydive`, files of recorded Skydive
    /// messages.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The files are recorded Skydive analyzer messages: one JSON struct
    /// message, or one JSON array of flows, per line.
    #[arg(long, conflicts_with_all = ["netflow", "sflow"])]
    pub skydive: bool,
    /// The files are captures of NetFlow v5/v9 or IPFIX export traffic:
    /// their UDP datagrams are decoded as the collector of `vpcflow run`
    /// would, in file order.
    #[arg(long, conflicts_with = "sflow")]
    pub netflow: bool,
    /// The files are captures of sFlow v5 export traffic: their UDP
    /// datagrams are decoded as the collector of `vpcflow run` would, in
    /// file order, each sample at its frame's capture time.
    #[arg(long)]
    pub sflow: bool,
    /// With `--netflow` or `--sflow`: only UDP datagrams to or from this
    /// port.
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Where records go, and the S3 client.
    #[command(flatten)]
    pub destination: DestinationFlags,
    /// Configuration file (TOML); flags override it.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// The flow log's identity and record format.
    #[command(flatten)]
    pub flow_log: FlowLogFlags,
    /// How files are named and laid out.
    #[command(flatten)]
    pub output: OutputFlags,
    /// How flows become records.
    #[command(flatten)]
    pub conversion: ConversionFlags,
    /// No progress bar and no summary.
    #[arg(long, short)]
    pub quiet: bool,
}

impl ConvertArgs {
    /// The flags that override the configuration file.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            flow_log: self.flow_log.clone(),
            output: self.output.clone(),
            destination: self.destination.clone(),
            conversion: self.conversion.clone(),
        }
    }
}
