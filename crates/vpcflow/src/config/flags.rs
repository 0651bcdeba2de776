//! The command-line flags that override the configuration file, as clap
//! groups: each group is defined once here and flattened into every
//! subcommand that takes it (`#[command(flatten)]`), and [`Overrides`] carries
//! them all into [`super::load`], the one path from flags and file to
//! [`Settings`](super::Settings).

use std::path::PathBuf;

use clap::Args;
use vpcflow_core::layout::Layout;
use vpcflow_sinks::FileFormat;

use super::destination_options::DestinationOptions;
use super::time_arg::TimeArg;
use super::traffic_type::TrafficType;

/// The flow log's identity and record format (`convert`, `athena`).
#[derive(Debug, Default, Clone, Args)]
pub struct FlowLogFlags {
    /// 12-digit account id of the flow log.
    #[arg(long)]
    pub account_id: Option<String>,
    /// Region code of the flow log.
    #[arg(long)]
    pub region: Option<String>,
    /// Flow log id (`fl-` + 8 or 17 hex digits).
    #[arg(long)]
    pub flow_log_id: Option<String>,
    /// Record format as AWS takes it, e.g. '${version} ${srcaddr} ${dstaddr}'.
    /// Default: the 14 version-2 fields.
    #[arg(long, visible_alias = "log-format")]
    pub format: Option<String>,
}

/// How files are named and laid out: keys of `[output]` (`convert`, `athena`).
#[derive(Debug, Default, Clone, Args)]
pub struct OutputFlags {
    /// Key layout: default, hive, hourly, hive-hourly.
    #[arg(long)]
    pub layout: Option<Layout>,
    /// File format: text (gzip text, `.log.gz`, the default) or parquet
    /// (`.log.parquet`, GZIP-compressed columns).
    #[arg(long)]
    pub file_format: Option<FileFormat>,
    /// Folder before `AWSLogs/` in keys.
    #[arg(long)]
    pub prefix: Option<String>,
    /// File format and layout as AWS's create-flow-logs takes them:
    /// `FileFormat=plain-text|parquet,HiveCompatiblePartitions=true|false,PerHourPartition=true|false`
    /// (or the same as JSON).
    #[arg(long, value_name = "OPTIONS")]
    pub destination_options: Option<DestinationOptions>,
}

/// Where records go, and the S3 client's settings (`convert`, `deliver`).
#[derive(Debug, Default, Clone, Args)]
pub struct DestinationFlags {
    /// Output directory (files laid out like the S3 bucket), `-` for plain
    /// records on stdout, an S3 destination (`s3://bucket/prefix/` or
    /// `arn:aws:s3:::bucket/prefix/`), a CloudWatch Logs log group
    /// (`arn:aws:logs:REGION:ACCOUNT:log-group:NAME` or `cloudwatch://NAME`)
    /// or a Firehose delivery stream
    /// (`arn:aws:firehose:REGION:ACCOUNT:deliverystream/NAME`); the AWS ones
    /// are delivered through the spool. Repeat it to write to several
    /// destinations at once. Default: ./flowlogs.
    #[arg(long, short, visible_alias = "log-destination")]
    pub out: Vec<String>,
    /// Spool folder of S3, CloudWatch Logs and Firehose delivery (default: $STATE_DIRECTORY/spool under
    /// systemd, /var/spool/vpcflow for root, else ~/.local/state/vpcflow/spool).
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,
    /// Endpoint URL of an S3-compatible store (AWS_ENDPOINT_URL also works).
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// Region of the S3 bucket (default: the SDK's chain, else --region).
    #[arg(long, value_name = "REGION")]
    pub s3_region: Option<String>,
}

/// How flows become records (`convert`).
#[derive(Debug, Default, Clone, Args)]
pub struct ConversionFlags {
    /// Aggregation interval in seconds: 60 or 600 (default 600).
    #[arg(long, visible_alias = "max-aggregation-interval")]
    pub interval: Option<u64>,
    /// Which records to write: ACCEPT, REJECT or ALL.
    #[arg(long)]
    pub traffic_type: Option<TrafficType>,
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
    /// Convert only the frames of capture files that match this BPF filter
    /// (tcpdump syntax), e.g. 'tcp port 443 or udp'.
    #[arg(long, value_name = "BPF")]
    pub filter: Option<String>,
    /// Convert only the packets at or after this time: RFC 3339
    /// (2026-12-06T14:00:00Z) or Unix seconds.
    #[arg(long, value_name = "TIME")]
    pub since: Option<TimeArg>,
    /// Convert only the packets before this time: RFC 3339 or Unix seconds.
    #[arg(long, value_name = "TIME")]
    pub until: Option<TimeArg>,
}

/// Every command-line value that overrides the file; a subcommand fills the
/// groups it takes and leaves the others empty.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// The flow log's identity and format.
    pub flow_log: FlowLogFlags,
    /// File naming and layout.
    pub output: OutputFlags,
    /// Destination and S3 client.
    pub destination: DestinationFlags,
    /// Aggregation and capture reading.
    pub conversion: ConversionFlags,
}
