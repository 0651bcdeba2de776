//! The configuration file as written: [`ConfigFile`] and its general
//! sections (`[flow_log]`, `[output]`, `[aggregation]`, `[metrics]`). The
//! sections of a source or destination sit in their own files beside this one.

use std::path::PathBuf;

use serde::Deserialize;
use vpcflow_core::interface::InterfaceConfig;
use vpcflow_core::layout::Layout;
use vpcflow_sinks::FileFormat;

use super::capture::CaptureSection;
use super::cloudwatch::CloudWatchSection;
use super::destination_options::DestinationOptions;
use super::durability::DurabilitySection;
use super::firehose::FirehoseSection;
use super::netflow::NetflowSection;
use super::policy::PolicySection;
use super::s3::S3Section;
use super::skydive::SkydiveSection;
use super::state::StateSection;
use super::traffic_type::TrafficType;
use super::typed;

/// The configuration file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `[flow_log]`: the identity and format of the flow log.
    #[serde(default)]
    pub flow_log: FlowLogSection,
    /// `[output]`: where files go and how they are laid out.
    #[serde(default)]
    pub output: OutputSection,
    /// `[aggregation]`: windows and memory.
    #[serde(default)]
    pub aggregation: AggregationSection,
    /// `[capture]`: how capture files are read, and live captures.
    #[serde(default)]
    pub capture: CaptureSection,
    /// `[[interface]]`: metadata per capture interface.
    #[serde(default, rename = "interface")]
    pub interfaces: Vec<InterfaceConfig>,
    /// `[skydive]`: Skydive flows (recordings and analyzers).
    #[serde(default)]
    pub skydive: SkydiveSection,
    /// `[netflow]`: NetFlow v5/v9 and IPFIX (collector and replay).
    #[serde(default)]
    pub netflow: NetflowSection,
    /// `[policy]`: security groups, network ACLs, Block Public Access.
    #[serde(default)]
    pub policy: PolicySection,
    /// `[metrics]`: the metrics and health endpoint of `vpcflow run`.
    #[serde(default)]
    pub metrics: MetricsSection,
    /// `[state]`: where `vpcflow run` keeps what must survive a restart.
    #[serde(default)]
    pub state: StateSection,
    /// `[durability]`: the journal that makes a crash lose at most the last
    /// sync interval (`vpcflow run`).
    #[serde(default)]
    pub durability: DurabilitySection,
}

/// `[flow_log]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowLogSection {
    /// 12-digit account that owns the flow log (and default interface owner).
    pub account_id: Option<String>,
    /// Region code of the flow log (and default interface Region).
    pub region: Option<String>,
    /// `fl-` + 8 or 17 hex digits.
    pub flow_log_id: Option<String>,
    /// AWS log format string, `${version} ${srcaddr} …` (also `log_format`).
    #[serde(alias = "log_format")]
    pub format: Option<String>,
    /// Aggregation interval, 60 or 600 seconds (also `max_aggregation_interval`).
    #[serde(alias = "max_aggregation_interval")]
    pub interval: Option<u64>,
    /// ACCEPT, REJECT or ALL.
    #[serde(default, deserialize_with = "typed::optional")]
    pub traffic_type: Option<TrafficType>,
    /// AWS's `ip-ranges.json`, for `pkt-src-aws-service` / `pkt-dst-aws-service`.
    pub aws_ip_ranges: Option<PathBuf>,
}

/// `[output]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    /// Where records go (also `log_destination`): a directory, `-` for
    /// stdout, `s3://bucket/prefix/` (or `arn:aws:s3:::bucket/prefix/`), a
    /// log group (`arn:aws:logs:REGION:ACCOUNT:log-group:NAME` or
    /// `cloudwatch://NAME`), a delivery stream
    /// (`arn:aws:firehose:REGION:ACCOUNT:deliverystream/NAME` or
    /// `firehose://NAME`); or a list of them, all written from one run.
    #[serde(alias = "log_destination")]
    pub out: Option<OneOrMany>,
    /// default, hive, hourly or hive-hourly.
    #[serde(default, deserialize_with = "typed::optional")]
    pub layout: Option<Layout>,
    /// text or parquet.
    #[serde(default, deserialize_with = "typed::optional")]
    pub file_format: Option<FileFormat>,
    /// Folder below the destination, before `AWSLogs/`.
    pub prefix: Option<String>,
    /// AWS's destination options, `{ FileFormat = "parquet",
    /// HiveCompatiblePartitions = true, PerHourPartition = true }`: the file
    /// format and layout in AWS's words (not with `layout` or `file_format`).
    pub destination_options: Option<DestinationOptions>,
    /// Size cap of one file, in compressed bytes.
    pub max_file_bytes: Option<u64>,
    /// gzip level 0–9.
    pub gzip_level: Option<u32>,
    /// Spool folder of S3 delivery.
    pub spool_dir: Option<PathBuf>,
    /// Size limit of the spool in bytes.
    pub spool_max_bytes: Option<u64>,
    /// `[output.s3]`: the S3 client and uploads.
    #[serde(default)]
    pub s3: S3Section,
    /// `[output.cloudwatch]`: the CloudWatch Logs client and log group.
    #[serde(default)]
    pub cloudwatch: CloudWatchSection,
    /// `[output.firehose]`: the Firehose client.
    #[serde(default)]
    pub firehose: FirehoseSection,
}

/// One destination or a list of them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// `out = "…"`.
    One(String),
    /// `out = ["…", "…"]`.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The destinations, in the order given.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(one) => vec![one.clone()],
            OneOrMany::Many(many) => many.clone(),
        }
    }
}

/// `[aggregation]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregationSection {
    /// Cap on open flows before an early flush.
    pub max_open_flows: Option<usize>,
    /// flush or skip.
    pub overflow: Option<String>,
    /// Seconds a packet may arrive behind the newest one.
    pub allowed_lateness: Option<u64>,
    /// Emit NODATA records.
    pub nodata: Option<bool>,
    /// Idle runs longer than this many seconds get no NODATA records.
    pub nodata_max_gap: Option<u64>,
}

/// `[metrics]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    /// `ADDRESS:PORT` serving `/metrics` and `/healthz` (none: no endpoint).
    pub listen: Option<String>,
}
