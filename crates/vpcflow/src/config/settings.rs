//! [`Settings`]: everything a run needs, validated, and how the file and the
//! flags are combined into it ([`build`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use vpcflow_core::aggregate::{AggregatorConfig, OverflowPolicy};
use vpcflow_core::aws_service::AwsServices;
use vpcflow_core::fields::Field;
use vpcflow_core::format::LogFormat;
use vpcflow_core::interface::{derived_id, InterfaceConfig, InterfaceDefaults};
use vpcflow_core::layout::{Layout, Prefix};
use vpcflow_core::name::FlowLogId;
use vpcflow_core::window::Interval;
use vpcflow_sinks::cloudwatch::LogGroupDestination;
use vpcflow_sinks::firehose::DeliveryStreamDestination;
use vpcflow_sinks::{FileFormat, S3Destination};
use vpcflow_sources::live::CaptureSpec;
use vpcflow_sources::pcap::PcapOptions;
use vpcflow_sources::skydive::subscriber::AnalyzerConfig;
use vpcflow_sources::skydive::ConverterOptions;

use super::cloudwatch::CloudWatchTarget;
use super::destination_options::DestinationOptions;
use super::file::{AggregationSection, ConfigFile, MetricsSection, OutputSection};
use super::firehose::FirehoseTarget;
use super::flags::{ConversionFlags, OutputFlags, Overrides};
use super::s3::{self, S3Settings};
use super::traffic_type::TrafficType;
use super::validate::{check_max, max};

/// Where records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A local directory with the S3 key layout.
    Directory(PathBuf),
    /// Uncompressed records on standard output.
    Stdout,
    /// An S3 bucket (through the spool), with its delivery settings.
    S3(Box<S3Target>),
    /// A CloudWatch Logs log group (through the spool).
    CloudWatch(Box<CloudWatchTarget>),
    /// A Firehose delivery stream (through the spool).
    Firehose(Box<FirehoseTarget>),
}

impl Destination {
    /// How the destination is shown (logs, `vpcflow check`).
    pub fn describe(&self) -> String {
        match self {
            Destination::Directory(dir) => format!("directory {}", dir.display()),
            Destination::Stdout => "standard output".into(),
            Destination::S3(t) => t.destination.to_string(),
            Destination::CloudWatch(t) => t.destination.to_string(),
            Destination::Firehose(t) => t.destination.to_string(),
        }
    }

    /// The spool folder of a destination delivered through one.
    pub fn spool_dir(&self) -> Option<&Path> {
        match self {
            Destination::Directory(_) | Destination::Stdout => None,
            Destination::S3(t) => Some(&t.settings.spool_dir),
            Destination::CloudWatch(t) => Some(&t.spool_dir),
            Destination::Firehose(t) => Some(&t.spool_dir),
        }
    }
}

/// An S3 destination and how to deliver to it.
#[derive(Debug, Clone)]
pub struct S3Target {
    /// Bucket and key prefix.
    pub destination: S3Destination,
    /// Client, upload and spool settings.
    pub settings: S3Settings,
}

impl PartialEq for S3Target {
    fn eq(&self, other: &Self) -> bool {
        self.destination == other.destination
    }
}

impl Eq for S3Target {}

/// A loaded AWS `ip-ranges.json` file.
#[derive(Debug, Clone)]
pub struct AwsIpRanges {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its ranges.
    pub services: Arc<AwsServices>,
}

impl AwsIpRanges {
    /// Reads the file at `path` (`flow_log.aws_ip_ranges`); errors name the
    /// key, the file and the bad entry. A reload calls this again to get a
    /// fresh table.
    pub fn load(path: &Path) -> Result<AwsIpRanges> {
        let services =
            crate::ip_ranges::load(path).map_err(|e| anyhow!("flow_log.aws_ip_ranges: {e:#}"))?;
        Ok(AwsIpRanges {
            path: path.to_path_buf(),
            services: Arc::new(services),
        })
    }
}

/// Everything a run needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The flow log's identity.
    pub flow_log: FlowLogId,
    /// The record format.
    pub format: LogFormat,
    /// Which records are written.
    pub traffic_type: TrafficType,
    /// Aggregation settings.
    pub aggregation: AggregatorConfig,
    /// Where records go: one destination or more (`--out` repeated, or a
    /// list in `output.out`), each written from the same records.
    pub destinations: Vec<Destination>,
    /// Key layout.
    pub layout: Layout,
    /// Text or Parquet files.
    pub file_format: FileFormat,
    /// Key prefix.
    pub prefix: Prefix,
    /// Size cap of one file (compressed bytes).
    pub max_file_bytes: u64,
    /// gzip level.
    pub gzip_level: u32,
    /// How capture files are read.
    pub capture: PcapOptions,
    /// Interface defaults.
    pub interface_defaults: InterfaceDefaults,
    /// Configured interfaces by name.
    pub interfaces: HashMap<String, InterfaceConfig>,
    /// How Skydive flows are converted.
    pub skydive: ConverterOptions,
    /// Skydive analyzers (`vpcflow run`).
    pub analyzers: Vec<AnalyzerConfig>,
    /// Event time trails the wall clock by this many seconds (`vpcflow run`).
    pub idle_delay_secs: u64,
    /// Seconds between two writes of the Skydive state (`vpcflow run`).
    pub state_save_interval_secs: u64,
    /// NetFlow/IPFIX decoding and the collector's sockets.
    pub netflow: super::NetflowSettings,
    /// sFlow decoding and the collector's sockets.
    pub sflow: super::SflowSettings,
    /// `state.dir` (`None`: the default, see [`super::state_dir`]).
    pub state_dir: Option<PathBuf>,
    /// `durability.sync_interval` (`None`: `durability.enabled = false`).
    pub sync_interval: Option<std::time::Duration>,
    /// Live captures (`vpcflow run`).
    pub captures: Vec<CaptureSpec>,
    /// Live capture: event time trails the wall clock by this many seconds.
    pub capture_idle_delay_secs: u64,
    /// The REJECT policy (`None`: every flow is ACCEPT).
    pub policy: Option<vpcflow_core::policy::Policy>,
    /// AWS service ranges (`flow_log.aws_ip_ranges`).
    pub aws_ip_ranges: Option<AwsIpRanges>,
    /// Where `vpcflow run` serves `/metrics` and `/healthz` (`None`: nowhere).
    pub metrics_listen: Option<SocketAddr>,
}

impl Settings {
    /// The first destination whose records cannot be taken back once written
    /// (printed lines, log events, stream records). With one, `vpcflow run`
    /// keeps no durability journal: a replay could send its records twice.
    pub fn unjournaled_destination(&self) -> Option<&Destination> {
        self.destinations
            .iter()
            .find(|d| !matches!(d, Destination::Directory(_) | Destination::S3(_)))
    }

    /// Whether `vpcflow run` keeps a durability journal (in the state folder).
    pub fn journaled(&self) -> bool {
        self.sync_interval.is_some() && self.unjournaled_destination().is_none()
    }

    /// Whether `vpcflow run` keeps anything in the state folder: the
    /// durability journal, or the Skydive converter's state.
    pub fn uses_state_dir(&self) -> bool {
        self.journaled() || !self.analyzers.is_empty()
    }

    /// The AWS service ranges records are enriched with: those of
    /// `flow_log.aws_ip_ranges` when the format has a field that shows them
    /// (so other formats never pay for the lookups).
    pub fn aws_services(&self) -> Option<Arc<AwsServices>> {
        let shown = self.format.contains(Field::PktSrcAwsService)
            || self.format.contains(Field::PktDstAwsService);
        let ranges = self.aws_ip_ranges.as_ref()?;
        shown.then(|| ranges.services.clone())
    }
}

/// The default size cap of a file: 75 MB, as AWS documented it.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 75_000_000;

/// Combines the file and the command line into validated [`Settings`].
pub fn build(file: ConfigFile, flags: &Overrides) -> Result<Settings> {
    let policy = file.policy.policy()?;
    let fl = &file.flow_log;
    let f = &flags.flow_log;
    let region = f
        .region
        .clone()
        .or_else(|| fl.region.clone())
        .unwrap_or_else(|| "us-east-1".to_string());
    let account_id = f
        .account_id
        .clone()
        .or_else(|| fl.account_id.clone())
        .unwrap_or_else(default_account_id);
    let flow_log_id = f
        .flow_log_id
        .clone()
        .or_else(|| fl.flow_log_id.clone())
        .unwrap_or_else(|| derived_id("fl-", &[&account_id, &region, "flow-log", &host_name()]));
    let flow_log =
        FlowLogId::new(&account_id, &region, &flow_log_id).map_err(|e| anyhow!("flow_log: {e}"))?;
    let format = match f.format.as_ref().or(fl.format.as_ref()) {
        Some(text) => LogFormat::parse(text).map_err(|e| anyhow!("flow_log.format: {e}"))?,
        None => LogFormat::default_v2(),
    };
    let conversion = &flags.conversion;
    let interval_secs = conversion.interval.or(fl.interval).unwrap_or(600);
    let interval =
        Interval::from_secs(interval_secs).map_err(|e| anyhow!("flow_log.interval: {e}"))?;
    let traffic_type = conversion
        .traffic_type
        .or(fl.traffic_type)
        .unwrap_or_default();

    let out = &file.output;
    let files = &flags.output;
    let (layout, file_format) = layout_and_file_format(files, out)?;
    let prefix_text = files.prefix.clone().or_else(|| out.prefix.clone());
    let prefix = Prefix::new(prefix_text.as_deref().unwrap_or_default())
        .map_err(|e| anyhow!("output.prefix: {e}"))?;
    let out_texts = if flags.destination.out.is_empty() {
        out.out.as_ref().map(|o| o.to_vec()).unwrap_or_default()
    } else {
        flags.destination.out.clone()
    };
    let (destinations, prefix) = destinations(
        &out_texts,
        prefix,
        prefix_text.is_some(),
        out,
        &flags.destination,
        &region,
    )?;
    if file_format == FileFormat::Parquet && destinations.contains(&Destination::Stdout) {
        bail!("output.file_format: parquet files need an output directory, not stdout (-)");
    }
    let max_file_bytes = conversion
        .max_file_bytes
        .or(out.max_file_bytes)
        .unwrap_or(DEFAULT_MAX_FILE_BYTES);
    if max_file_bytes < 1024 {
        bail!("output.max_file_bytes: {max_file_bytes} is below the minimum of 1024 bytes");
    }
    check_max(
        "output.max_file_bytes",
        max_file_bytes,
        max::FILE_BYTES,
        "bytes",
    )?;
    let gzip_level = conversion.gzip_level.or(out.gzip_level).unwrap_or(6);
    if gzip_level > 9 {
        bail!("output.gzip_level: {gzip_level} must be between 0 and 9");
    }

    let key_by_packet_addrs =
        format.contains(Field::PktSrcAddr) || format.contains(Field::PktDstAddr);
    let aggregation = aggregation(&file.aggregation, conversion, interval, key_by_packet_addrs)?;
    let capture = file.capture.settings(conversion)?;
    let interfaces = super::interface::by_name(&file.interfaces)?;
    let skydive = file.skydive.settings()?;
    let netflow = file.netflow.settings(interval.secs())?;
    let sflow = file.sflow.settings()?;
    let aws_ip_ranges = fl
        .aws_ip_ranges
        .as_deref()
        .map(AwsIpRanges::load)
        .transpose()?;
    let metrics_listen = metrics_listen(&file.metrics)?;
    let state_dir = file.state.dir()?;
    let sync_interval = file.durability.settings()?;

    Ok(Settings {
        policy,
        aws_ip_ranges,
        metrics_listen,
        skydive: skydive.converter,
        analyzers: skydive.analyzers,
        idle_delay_secs: skydive.idle_delay_secs,
        state_save_interval_secs: skydive.state_save_interval_secs,
        state_dir,
        netflow,
        sflow,
        sync_interval,
        captures: capture.live,
        capture_idle_delay_secs: capture.idle_delay_secs,
        capture: capture.files,
        interface_defaults: InterfaceDefaults {
            account_id: flow_log.account_id.clone(),
            region: flow_log.region.clone(),
        },
        flow_log,
        format,
        traffic_type,
        aggregation,
        destinations,
        layout,
        file_format,
        prefix,
        max_file_bytes,
        gzip_level,
        interfaces,
    })
}

/// The destinations of `out_texts` (none: `./flowlogs`), and the key prefix
/// (that of the URL when the first destination is S3). Each spooled
/// destination gets a spool folder of its own: the first S3 one the spool
/// folder itself (as with a single destination), every other one a folder
/// named after it below it.
fn destinations(
    out_texts: &[String],
    prefix: Prefix,
    prefix_given: bool,
    out: &OutputSection,
    flags: &super::flags::DestinationFlags,
    region: &str,
) -> Result<(Vec<Destination>, Prefix)> {
    if out_texts.is_empty() {
        return Ok((
            vec![Destination::Directory(PathBuf::from("flowlogs"))],
            prefix,
        ));
    }
    let mut list = Vec::new();
    let mut prefix_out = prefix.clone();
    let mut spool_root = None;
    let mut root = || -> Result<PathBuf> {
        if spool_root.is_none() {
            spool_root = Some(s3::spool_root(flags, out.spool_dir.as_deref())?);
        }
        Ok(spool_root.clone().unwrap_or_default())
    };
    let mut s3_seen = false;
    for (i, text) in out_texts.iter().enumerate() {
        let destination = match text.as_str() {
            "-" => Destination::Stdout,
            url if LogGroupDestination::is_meant(url) => Destination::CloudWatch(Box::new(
                super::record_stream::target(
                    url,
                    &out.cloudwatch,
                    out.spool_max_bytes,
                    &root()?,
                    region,
                )?,
            )),
            url if DeliveryStreamDestination::is_meant(url) => Destination::Firehose(Box::new(
                super::record_stream::target(
                    url,
                    &out.firehose,
                    out.spool_max_bytes,
                    &root()?,
                    region,
                )?,
            )),
            url if S3Destination::is_s3(url) => {
                let destination = s3::destination(url, &prefix, prefix_given)?;
                let mut settings = s3::s3_settings(
                    &out.s3,
                    out.spool_dir.as_deref(),
                    out.spool_max_bytes,
                    flags,
                    region,
                )?;
                if s3_seen {
                    let name = format!("s3-{}-{}", destination.bucket, destination.prefix.as_str());
                    settings.spool_dir = root()?.join(super::record_stream::folder_name(&name));
                }
                s3_seen = true;
                if i == 0 {
                    prefix_out = destination.prefix.clone();
                }
                Destination::S3(Box::new(S3Target {
                    destination,
                    settings,
                }))
            }
            dir if !dir.is_empty() => Destination::Directory(PathBuf::from(dir)),
            _ => bail!("output.out: must be a directory, -, s3://bucket/prefix/, a log group or a delivery stream"),
        };
        if list.contains(&destination) {
            bail!("output.out: {text:?} is given twice");
        }
        list.push(destination);
    }
    if list.iter().filter(|d| **d == Destination::Stdout).count() > 1 {
        bail!("output.out: - (standard output) is given twice");
    }
    Ok((list, prefix_out))
}

/// The key layout and file format: from the flags, else the file; at each
/// level from `layout` and `file_format` or from AWS's destination options,
/// which may not say otherwise.
fn layout_and_file_format(
    flags: &OutputFlags,
    section: &OutputSection,
) -> Result<(Layout, FileFormat)> {
    let level = |layout: Option<Layout>,
                 file_format: Option<FileFormat>,
                 options: Option<&DestinationOptions>,
                 names: [&str; 3]|
     -> Result<(Option<Layout>, Option<FileFormat>)> {
        let [layout_name, format_name, options_name] = names;
        let Some(o) = options else {
            return Ok((layout, file_format));
        };
        if let Some(l) = layout.filter(|l| *l != o.layout()) {
            bail!("{options_name}: the layout they give ({}) differs from {layout_name} {l}; give one of them", o.layout());
        }
        if let Some(f) = file_format.filter(|f| *f != o.file_format()) {
            bail!("{options_name}: the file format they give ({}) differs from {format_name} {f}; give one of them", o.file_format());
        }
        Ok((Some(o.layout()), Some(o.file_format())))
    };
    let (flag_layout, flag_format) = level(
        flags.layout,
        flags.file_format,
        flags.destination_options.as_ref(),
        ["--layout", "--file-format", "--destination-options"],
    )?;
    let (file_layout, file_format) = level(
        section.layout,
        section.file_format,
        section.destination_options.as_ref(),
        [
            "output.layout",
            "output.file_format",
            "output.destination_options",
        ],
    )?;
    Ok((
        flag_layout.or(file_layout).unwrap_or_default(),
        flag_format.or(file_format).unwrap_or_default(),
    ))
}

/// `[aggregation]` with its flags; the interval and whether the packet
/// addresses are part of the key come from the flow log's settings.
fn aggregation(
    section: &AggregationSection,
    flags: &ConversionFlags,
    interval: Interval,
    key_by_packet_addrs: bool,
) -> Result<AggregatorConfig> {
    let max_open_flows = flags
        .max_open_flows
        .or(section.max_open_flows)
        .unwrap_or(2_000_000);
    if max_open_flows == 0 {
        bail!("aggregation.max_open_flows: must be at least 1");
    }
    check_max(
        "aggregation.max_open_flows",
        max_open_flows as u64,
        max::OPEN_FLOWS,
        "",
    )?;
    let overflow = match section.overflow.as_deref() {
        None | Some("flush") => OverflowPolicy::Flush,
        Some("skip") => OverflowPolicy::Skip,
        Some(other) => bail!("aggregation.overflow: {other:?} must be flush or skip"),
    };
    let allowed_lateness = section.allowed_lateness.unwrap_or(60);
    if allowed_lateness > 3600 {
        bail!(
            "aggregation.allowed_lateness: {allowed_lateness} s is more than the maximum of 3600 s"
        );
    }
    let nodata_max_gap = section.nodata_max_gap.unwrap_or(86_400);
    check_max(
        "aggregation.nodata_max_gap",
        nodata_max_gap,
        max::NODATA_MAX_GAP_SECS,
        "s",
    )?;
    Ok(AggregatorConfig {
        interval,
        allowed_lateness_secs: allowed_lateness,
        max_open_flows,
        key_by_packet_addrs,
        overflow,
        emit_nodata: !flags.no_nodata && section.nodata.unwrap_or(true),
        nodata_max_gap_secs: nodata_max_gap,
    })
}

fn metrics_listen(section: &MetricsSection) -> Result<Option<SocketAddr>> {
    section
        .listen
        .as_ref()
        .map(|a| {
            a.parse::<SocketAddr>().map_err(|_| {
                anyhow!("metrics.listen: {a:?} is not an address and port such as 127.0.0.1:9808")
            })
        })
        .transpose()
}

/// A stable 12-digit account id derived from the host name, for runs that do
/// not configure one.
fn default_account_id() -> String {
    let host = host_name();
    let hex = derived_id("", &["account", &host]);
    let n = u64::from_str_radix(&hex[..15], 16).unwrap_or(0) % 1_000_000_000_000;
    format!("{n:012}")
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string())
}
