//! The configuration file (TOML) and its validation into [`Settings`].
//!
//! Every key is optional; command-line flags override the file. Unknown keys
//! and bad values are errors at start-up that name the key.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use vpcflow_core::aggregate::{AggregatorConfig, OverflowPolicy};
use vpcflow_core::format::LogFormat;
use vpcflow_core::interface::{derived_id, EcsTask, InterfaceDefaults, InterfaceOverrides};
use vpcflow_core::layout::{Layout, Prefix};
use vpcflow_core::name::{is_region_code, FlowLogId};
use vpcflow_core::window::Interval;
use vpcflow_sinks::{FileFormat, S3Destination};

use crate::s3_config::{
    destination as s3_destination, s3_settings, S3Flags, S3Section, S3Settings,
};
use vpcflow_sources::live::CaptureSpec;
use vpcflow_sources::pcap::{FragmentPolicy, PcapOptions};
use vpcflow_sources::skydive::subscriber::{AnalyzerConfig, WireProtocol};
use vpcflow_sources::skydive::{ConverterOptions, TwoPoint};

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
    /// `[capture]`: how capture files are read.
    #[serde(default)]
    pub capture: CaptureSection,
    /// `[[interface]]`: metadata per capture interface.
    #[serde(default, rename = "interface")]
    pub interfaces: Vec<InterfaceSection>,
    /// `[skydive]`: Skydive flows (recordings and analyzers).
    #[serde(default)]
    pub skydive: SkydiveSection,
}

/// `[skydive]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkydiveSection {
    /// Count only flows of these capture ids (default: all).
    #[serde(default)]
    pub capture_ids: Vec<String>,
    /// Seconds of event time after which a silent flow UUID's state is forgotten.
    pub state_ttl: Option<u64>,
    /// Cap on flow UUIDs tracked at once.
    pub max_tracked_flows: Option<usize>,
    /// Seconds an inner flow waits for its parent.
    pub orphan_wait: Option<u64>,
    /// `vpcflow run`: event time follows the wall clock minus this many
    /// seconds while traffic is quiet, so windows close.
    pub idle_delay: Option<u64>,
    /// `[[skydive.analyzer]]`: analyzers subscribed to by `vpcflow run`.
    #[serde(default)]
    pub analyzer: Vec<AnalyzerSection>,
    /// `[skydive.reject]`: REJECT from two capture points around a firewall.
    pub reject: Option<RejectSection>,
}

/// `[skydive.reject]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectSection {
    /// NodeTID of the capture point before the firewall.
    pub outside: String,
    /// NodeTID of the capture point after it.
    pub inside: String,
    /// Seconds (event time) after which traffic seen only outside is REJECT.
    pub timeout: Option<u64>,
}

/// One `[[skydive.analyzer]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyzerSection {
    /// `ws://HOST[:PORT][/path]` or `wss://…`.
    pub url: String,
    /// json (default) or protobuf.
    pub protocol: Option<String>,
    /// Basic authentication user.
    pub username: Option<String>,
    /// Basic authentication password.
    pub password: Option<String>,
    /// Authentication token (cookie `authtoken`).
    pub token: Option<String>,
    /// Extra cookies, name = value.
    #[serde(default)]
    pub cookies: std::collections::BTreeMap<String, String>,
    /// PEM CA certificates of the analyzer (wss).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (mutual TLS).
    pub client_cert: Option<PathBuf>,
    /// PEM key of the client certificate.
    pub client_key: Option<PathBuf>,
    /// Subscribe to `flow/CAPTURE_ID` only.
    pub capture_id: Option<String>,
    /// Subscribe to capture statistics (default true).
    pub stats: Option<bool>,
    /// `X-Host-ID` (default `vpcflow-HOSTNAME`).
    pub host_id: Option<String>,
    /// `X-Client-Type` (default `vpcflow`).
    pub client_type: Option<String>,
}

impl AnalyzerSection {
    fn config(&self, i: usize) -> Result<AnalyzerConfig> {
        let key = |k: &str| format!("skydive.analyzer[{i}].{k}");
        let mut c = AnalyzerConfig::new(&self.url);
        c.endpoint().map_err(|e| anyhow!("{}: {e}", key("url")))?;
        c.protocol = match self.protocol.as_deref() {
            None | Some("json") => WireProtocol::Json,
            Some("protobuf") => WireProtocol::Protobuf,
            Some(other) => bail!("{}: {other:?} must be json or protobuf", key("protocol")),
        };
        if self.password.is_some() && self.username.is_none() {
            bail!("{}: a password needs a username", key("password"));
        }
        c.username = self.username.clone();
        c.password = self.password.clone();
        c.token = self.token.clone();
        c.cookies = self
            .cookies
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if c.url.starts_with("wss:") && self.ca_file.is_none() {
            bail!("{}: wss needs a CA file", key("ca_file"));
        }
        if self.client_cert.is_some() != self.client_key.is_some() {
            bail!(
                "{}: client_cert and client_key go together",
                key("client_cert")
            );
        }
        c.ca_file = self.ca_file.clone();
        c.client_cert = self.client_cert.clone();
        c.client_key = self.client_key.clone();
        c.capture_id = self.capture_id.clone();
        c.stats = self.stats.unwrap_or(true);
        if let Some(h) = &self.host_id {
            check_token(&key("host_id"), Some(h))?;
            c.host_id = h.clone();
        }
        if let Some(t) = &self.client_type {
            check_token(&key("client_type"), Some(t))?;
            c.client_type = t.clone();
        }
        Ok(c)
    }
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
    /// AWS log format string, `${version} ${srcaddr} …`.
    pub format: Option<String>,
    /// Aggregation interval, 60 or 600 seconds.
    pub interval: Option<u64>,
    /// ACCEPT, REJECT or ALL.
    pub traffic_type: Option<String>,
}

/// `[output]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    /// A directory, `-` for stdout, or `s3://bucket/prefix/` (or
    /// `arn:aws:s3:::bucket/prefix/`).
    pub out: Option<String>,
    /// default, hive, hourly or hive-hourly.
    pub layout: Option<String>,
    /// text or parquet.
    pub file_format: Option<String>,
    /// Folder below the destination, before `AWSLogs/`.
    pub prefix: Option<String>,
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

/// `[capture]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureSection {
    /// Name given to the interface of classic pcap files (and the first of pcapng).
    pub interface_name: Option<String>,
    /// zero or track-first.
    pub fragments: Option<String>,
    /// `[[capture.interface]]`: live captures of `vpcflow run`.
    #[serde(default)]
    pub interface: Vec<LiveInterfaceSection>,
    /// Live capture: event time trails the wall clock by this many seconds
    /// (default 5).
    pub idle_delay: Option<u64>,
}

/// One `[[capture.interface]]`: a live capture.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveInterfaceSection {
    /// Interface name, or a pattern with `*` and `?` for interfaces that
    /// appear later.
    pub name: String,
    /// BPF filter (tcpdump syntax).
    pub filter: Option<String>,
    /// Promiscuous mode (default false).
    pub promisc: Option<bool>,
    /// Snap length in bytes (default 256, at least 64).
    pub snaplen: Option<u32>,
    /// Kernel buffer (ring) size in bytes (default 8 MiB).
    pub buffer: Option<u32>,
}

impl LiveInterfaceSection {
    fn spec(&self, i: usize) -> Result<CaptureSpec> {
        let key = |k: &str| format!("capture.interface[{i}].{k}");
        if self.name.is_empty() {
            bail!("{}: must not be empty", key("name"));
        }
        let mut spec = CaptureSpec::new(self.name.clone());
        spec.filter = self.filter.clone().filter(|f| !f.trim().is_empty());
        spec.promisc = self.promisc.unwrap_or(false);
        if let Some(n) = self.snaplen {
            if !(64..=262_144).contains(&n) {
                bail!("{}: {n} must be between 64 and 262144", key("snaplen"));
            }
            spec.snaplen = n;
        }
        if let Some(n) = self.buffer {
            if n < 65_536 {
                bail!(
                    "{}: {n} bytes is less than the minimum of 65536",
                    key("buffer")
                );
            }
            spec.buffer_bytes = n;
        }
        Ok(spec)
    }
}

/// One `[[interface]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // the members are the record fields of the same names
pub struct InterfaceSection {
    /// The capture interface's name (pcapng if_name, `capture0`, or the
    /// configured `capture.interface_name`).
    pub name: String,
    pub account_id: Option<String>,
    pub interface_id: Option<String>,
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub instance_id: Option<String>,
    pub region: Option<String>,
    pub az_id: Option<String>,
    pub sublocation_type: Option<String>,
    pub sublocation_id: Option<String>,
    /// The interface's own addresses (they decide flow-direction).
    #[serde(default)]
    pub addresses: Vec<String>,
    /// `[interface.ecs]`: ECS task metadata (version-7 fields), keys named
    /// like the fields without `ecs-` (`cluster_arn`, `task_id`, …).
    pub ecs: Option<EcsTask>,
}

/// Which records are written, by action (NODATA and SKIPDATA always are).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrafficType {
    /// ACCEPT records only.
    Accept,
    /// REJECT records only.
    Reject,
    /// Both.
    #[default]
    All,
}

/// Where records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A local directory with the S3 key layout.
    Directory(PathBuf),
    /// Uncompressed records on standard output.
    Stdout,
    /// An S3 bucket (through the spool), with its delivery settings.
    S3(Box<S3Target>),
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
    /// Where files go.
    pub destination: Destination,
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
    pub interfaces: HashMap<String, InterfaceOverrides>,
    /// How Skydive flows are converted.
    pub skydive: ConverterOptions,
    /// Skydive analyzers (`vpcflow run`).
    pub analyzers: Vec<AnalyzerConfig>,
    /// Event time trails the wall clock by this many seconds (`vpcflow run`).
    pub idle_delay_secs: u64,
    /// Live captures (`vpcflow run`).
    pub captures: Vec<CaptureSpec>,
    /// Live capture: event time trails the wall clock by this many seconds.
    pub capture_idle_delay_secs: u64,
}

/// Command-line values that override the file (`None`: not given).
#[derive(Debug, Default, Clone)]
#[allow(missing_docs)] // same meaning as the configuration keys
pub struct Overrides {
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub flow_log_id: Option<String>,
    pub format: Option<String>,
    pub interval: Option<u64>,
    pub traffic_type: Option<String>,
    pub out: Option<String>,
    pub layout: Option<String>,
    pub file_format: Option<String>,
    pub prefix: Option<String>,
    pub max_file_bytes: Option<u64>,
    pub gzip_level: Option<u32>,
    pub max_open_flows: Option<usize>,
    pub interface_name: Option<String>,
    pub fragments: Option<String>,
    pub no_nodata: bool,
    pub s3: S3Flags,
}

/// The default size cap of a file: 75 MB, as AWS documented it.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 75_000_000;

/// Reads a configuration file.
pub fn read_file(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read configuration file {}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        anyhow!(
            "configuration file {}: {}",
            path.display(),
            e.to_string().trim_end()
        )
    })
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

fn check_id(key: &str, value: &Option<String>, prefix: &str) -> Result<()> {
    if let Some(v) = value {
        let hex = v.strip_prefix(prefix).unwrap_or("");
        if hex.is_empty()
            || !hex.bytes().all(|b| b.is_ascii_hexdigit())
            || hex.bytes().any(|b| b.is_ascii_uppercase())
        {
            bail!("{key}: {v:?} must be {prefix} followed by lower-case hex digits");
        }
    }
    Ok(())
}

fn check_token(key: &str, value: Option<&str>) -> Result<()> {
    if let Some(v) = value {
        if v.is_empty()
            || v == "-"
            || v.bytes()
                .any(|b| b.is_ascii_whitespace() || !b.is_ascii_graphic() || b == b'"')
        {
            bail!("{key}: {v:?} must be a non-empty token without spaces, quotes or non-ASCII characters");
        }
    }
    Ok(())
}

impl InterfaceSection {
    fn overrides(&self, i: usize) -> Result<InterfaceOverrides> {
        let key = |k: &str| format!("interface[{i}] ({}).{k}", self.name);
        if let Some(a) = &self.account_id {
            let twelve_digits = a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit());
            if !twelve_digits && a != "unknown" {
                bail!(
                    "{}: {a:?} must be 12 digits or \"unknown\"",
                    key("account_id")
                );
            }
        }
        check_id(&key("interface_id"), &self.interface_id, "eni-")?;
        check_id(&key("vpc_id"), &self.vpc_id, "vpc-")?;
        check_id(&key("subnet_id"), &self.subnet_id, "subnet-")?;
        if self.instance_id.as_deref() != Some("-") {
            check_id(&key("instance_id"), &self.instance_id, "i-")?;
        }
        if let Some(r) = &self.region {
            if !is_region_code(r) {
                bail!(
                    "{}: {r:?} is not a Region code such as us-east-1",
                    key("region")
                );
            }
        }
        check_token(&key("az_id"), self.az_id.as_deref())?;
        if let Some(t) = &self.sublocation_type {
            if !["wavelength", "outpost", "localzone"].contains(&t.as_str()) {
                bail!(
                    "{}: {t:?} must be wavelength, outpost or localzone",
                    key("sublocation_type")
                );
            }
        }
        check_token(&key("sublocation_id"), self.sublocation_id.as_deref())?;
        if self.sublocation_type.is_some() != self.sublocation_id.is_some() {
            bail!(
                "{}: sublocation_type and sublocation_id go together",
                key("sublocation_type")
            );
        }
        let addresses = self
            .addresses
            .iter()
            .map(|a| {
                a.parse::<IpAddr>()
                    .map_err(|_| anyhow!("{}: {a:?} is not an IP address", key("addresses")))
            })
            .collect::<Result<Vec<_>>>()?;
        if let Some(ecs) = &self.ecs {
            for (k, v) in ecs.values() {
                check_token(&key(&format!("ecs.{k}")), v)?;
            }
        }
        Ok(InterfaceOverrides {
            account_id: self.account_id.clone(),
            interface_id: self.interface_id.clone(),
            vpc_id: self.vpc_id.clone(),
            subnet_id: self.subnet_id.clone(),
            instance_id: self.instance_id.clone(),
            region: self.region.clone(),
            az_id: self.az_id.clone(),
            sublocation_type: self.sublocation_type.clone(),
            sublocation_id: self.sublocation_id.clone(),
            addresses,
            ecs: self.ecs.clone(),
        })
    }
}

/// Combines the file and the command line into validated [`Settings`].
pub fn settings(file: ConfigFile, cli: Overrides) -> Result<Settings> {
    let fl = &file.flow_log;
    let region = cli
        .region
        .or_else(|| fl.region.clone())
        .unwrap_or_else(|| "us-east-1".to_string());
    let account_id = cli
        .account_id
        .or_else(|| fl.account_id.clone())
        .unwrap_or_else(default_account_id);
    let flow_log_id = cli
        .flow_log_id
        .or_else(|| fl.flow_log_id.clone())
        .unwrap_or_else(|| derived_id("fl-", &[&account_id, &region, "flow-log", &host_name()]));
    let flow_log =
        FlowLogId::new(&account_id, &region, &flow_log_id).map_err(|e| anyhow!("flow_log: {e}"))?;

    let format = match cli.format.or_else(|| fl.format.clone()) {
        Some(f) => LogFormat::parse(&f).map_err(|e| anyhow!("flow_log.format: {e}"))?,
        None => LogFormat::default_v2(),
    };
    let interval_secs = cli.interval.or(fl.interval).unwrap_or(600);
    let interval =
        Interval::from_secs(interval_secs).map_err(|e| anyhow!("flow_log.interval: {e}"))?;
    let traffic_type = match cli
        .traffic_type
        .or_else(|| fl.traffic_type.clone())
        .as_deref()
    {
        None | Some("ALL") => TrafficType::All,
        Some("ACCEPT") => TrafficType::Accept,
        Some("REJECT") => TrafficType::Reject,
        Some(other) => bail!("flow_log.traffic_type: {other:?} must be ACCEPT, REJECT or ALL"),
    };

    let out = &file.output;
    let out_text = cli.out.or_else(|| out.out.clone());
    let layout: Layout = cli
        .layout
        .or_else(|| out.layout.clone())
        .unwrap_or_else(|| "default".into())
        .parse()
        .map_err(|e| anyhow!("output.layout: {e}"))?;
    let file_format: FileFormat = cli
        .file_format
        .or_else(|| out.file_format.clone())
        .unwrap_or_else(|| "text".into())
        .parse()
        .map_err(|e| anyhow!("output.file_format: {e}"))?;
    let prefix_text = cli.prefix.or_else(|| out.prefix.clone());
    let prefix = Prefix::new(prefix_text.as_deref().unwrap_or_default())
        .map_err(|e| anyhow!("output.prefix: {e}"))?;
    let (destination, prefix) = match out_text.as_deref() {
        Some("-") => (Destination::Stdout, prefix),
        Some(url) if S3Destination::is_s3(url) => {
            let destination = s3_destination(url, &prefix, prefix_text.is_some())?;
            let settings = s3_settings(
                &out.s3,
                out.spool_dir.as_deref(),
                out.spool_max_bytes,
                &cli.s3,
                &region,
            )?;
            let prefix = destination.prefix.clone();
            let target = S3Target {
                destination,
                settings,
            };
            (Destination::S3(Box::new(target)), prefix)
        }
        Some(dir) if !dir.is_empty() => (Destination::Directory(PathBuf::from(dir)), prefix),
        Some(_) => bail!("output.out: must be a directory, - or s3://bucket/prefix/"),
        None => (Destination::Directory(PathBuf::from("flowlogs")), prefix),
    };
    if file_format == FileFormat::Parquet && destination == Destination::Stdout {
        bail!("output.file_format: parquet files need an output directory, not stdout (-)");
    }
    let max_file_bytes = cli
        .max_file_bytes
        .or(out.max_file_bytes)
        .unwrap_or(DEFAULT_MAX_FILE_BYTES);
    if max_file_bytes < 1024 {
        bail!("output.max_file_bytes: {max_file_bytes} is below the minimum of 1024 bytes");
    }
    let gzip_level = cli.gzip_level.or(out.gzip_level).unwrap_or(6);
    if gzip_level > 9 {
        bail!("output.gzip_level: {gzip_level} must be between 0 and 9");
    }

    let ag = &file.aggregation;
    let max_open_flows = cli
        .max_open_flows
        .or(ag.max_open_flows)
        .unwrap_or(2_000_000);
    if max_open_flows == 0 {
        bail!("aggregation.max_open_flows: must be at least 1");
    }
    let overflow = match ag.overflow.as_deref() {
        None | Some("flush") => OverflowPolicy::Flush,
        Some("skip") => OverflowPolicy::Skip,
        Some(other) => bail!("aggregation.overflow: {other:?} must be flush or skip"),
    };
    let allowed_lateness = ag.allowed_lateness.unwrap_or(60);
    if allowed_lateness > 3600 {
        bail!(
            "aggregation.allowed_lateness: {allowed_lateness} s is more than the maximum of 3600 s"
        );
    }
    let aggregation = AggregatorConfig {
        interval,
        allowed_lateness_secs: allowed_lateness,
        max_open_flows,
        key_by_packet_addrs: format.contains(vpcflow_core::fields::Field::PktSrcAddr)
            || format.contains(vpcflow_core::fields::Field::PktDstAddr),
        overflow,
        emit_nodata: !cli.no_nodata && ag.nodata.unwrap_or(true),
        nodata_max_gap_secs: ag.nodata_max_gap.unwrap_or(86_400),
    };

    let cap = &file.capture;
    let interface_name = cli.interface_name.or_else(|| cap.interface_name.clone());
    if let Some(n) = &interface_name {
        if n.is_empty() {
            bail!("capture.interface_name: must not be empty");
        }
    }
    let fragments = match cli.fragments.or_else(|| cap.fragments.clone()).as_deref() {
        None | Some("zero") => FragmentPolicy::Zero,
        Some("track-first") => FragmentPolicy::TrackFirst,
        Some(other) => bail!("capture.fragments: {other:?} must be zero or track-first"),
    };
    let capture = PcapOptions {
        interface_name,
        fragments,
    };
    let captures = cap
        .interface
        .iter()
        .enumerate()
        .map(|(i, c)| c.spec(i))
        .collect::<Result<Vec<_>>>()?;
    let capture_idle_delay_secs = cap.idle_delay.unwrap_or(5);

    let mut interfaces = HashMap::new();
    for (i, section) in file.interfaces.iter().enumerate() {
        if section.name.is_empty() {
            bail!("interface[{i}].name: must not be empty");
        }
        let o = section.overrides(i)?;
        if interfaces.insert(section.name.clone(), o).is_some() {
            bail!(
                "interface[{i}].name: {:?} is configured twice",
                section.name
            );
        }
    }

    let sd = &file.skydive;
    let defaults = ConverterOptions::default();
    let skydive = ConverterOptions {
        state_ttl_secs: sd.state_ttl.unwrap_or(defaults.state_ttl_secs),
        max_tracked_flows: sd.max_tracked_flows.unwrap_or(defaults.max_tracked_flows),
        capture_ids: sd.capture_ids.clone(),
        orphan_wait_secs: sd.orphan_wait.unwrap_or(defaults.orphan_wait_secs),
        two_point: match &sd.reject {
            None => None,
            Some(r) => {
                if r.outside.is_empty() || r.inside.is_empty() || r.outside == r.inside {
                    bail!("skydive.reject: outside and inside must be two different NodeTIDs");
                }
                Some(TwoPoint {
                    outside: r.outside.clone(),
                    inside: r.inside.clone(),
                    timeout_secs: r.timeout.unwrap_or(120),
                })
            }
        },
    };
    if skydive.state_ttl_secs < 60 {
        bail!(
            "skydive.state_ttl: {} s is less than the minimum of 60 s",
            skydive.state_ttl_secs
        );
    }
    if skydive.max_tracked_flows == 0 {
        bail!("skydive.max_tracked_flows: must be at least 1");
    }
    let analyzers = sd
        .analyzer
        .iter()
        .enumerate()
        .map(|(i, a)| a.config(i))
        .collect::<Result<Vec<_>>>()?;
    let idle_delay_secs = sd.idle_delay.unwrap_or(90);

    Ok(Settings {
        skydive,
        analyzers,
        idle_delay_secs,
        captures,
        capture_idle_delay_secs,
        interface_defaults: InterfaceDefaults {
            account_id: flow_log.account_id.clone(),
            region: flow_log.region.clone(),
        },
        flow_log,
        format,
        traffic_type,
        aggregation,
        destination,
        layout,
        file_format,
        prefix,
        max_file_bytes,
        gzip_level,
        capture,
        interfaces,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| anyhow!("{e}"))?;
        settings(file, Overrides::default())
    }

    #[test]
    fn file_format_from_file_and_flag() {
        assert_eq!(parse("").unwrap().file_format, FileFormat::Text);
        let s = parse("[output]\nfile_format = \"parquet\"").unwrap();
        assert_eq!(s.file_format, FileFormat::Parquet);
        let file: ConfigFile = toml::from_str("[output]\nfile_format = \"parquet\"").unwrap();
        let flag = Overrides {
            file_format: Some("text".into()),
            ..Overrides::default()
        };
        assert_eq!(settings(file, flag).unwrap().file_format, FileFormat::Text);
        let e = parse("[output]\nfile_format = \"csv\"").unwrap_err();
        assert_eq!(
            e.to_string(),
            "output.file_format: file format \"csv\" is not one of text, parquet"
        );
        let e = parse("[output]\nfile_format = \"parquet\"\nout = \"-\"").unwrap_err();
        assert!(e.to_string().contains("need an output directory"), "{e}");
    }

    #[test]
    fn empty_config_gives_defaults() {
        let s = parse("").unwrap();
        assert_eq!(s.format, LogFormat::default_v2());
        assert_eq!(s.aggregation.interval, Interval::TenMinutes);
        assert_eq!(s.flow_log.region, "us-east-1");
        assert_eq!(s.flow_log.account_id.len(), 12);
        assert_eq!(s.destination, Destination::Directory("flowlogs".into()));
        assert_eq!(s.max_file_bytes, DEFAULT_MAX_FILE_BYTES);
        assert!(!s.aggregation.key_by_packet_addrs);
    }

    #[test]
    fn full_config() {
        let s = parse(
            r#"
            [flow_log]
            account_id = "123456789012"
            region = "eu-west-1"
            flow_log_id = "fl-0630869f236e76872"
            format = "${version} ${pkt-srcaddr} ${srcaddr}"
            interval = 60
            traffic_type = "ACCEPT"
            [output]
            out = "-"
            layout = "hive-hourly"
            prefix = "a/b"
            max_file_bytes = 1000000
            gzip_level = 1
            [aggregation]
            max_open_flows = 10
            overflow = "skip"
            allowed_lateness = 5
            nodata = false
            [capture]
            interface_name = "eth0"
            fragments = "track-first"
            [[interface]]
            name = "eth0"
            interface_id = "eni-1235b8ca123456789"
            addresses = ["10.0.0.1", "2001:db8::1"]
            [interface.ecs]
            cluster_name = "prod"
            "#,
        )
        .unwrap();
        assert_eq!(s.format.version(), 3);
        assert!(s.aggregation.key_by_packet_addrs);
        assert_eq!(s.destination, Destination::Stdout);
        assert!(s.layout.hive && s.layout.hourly);
        assert_eq!(s.interfaces["eth0"].addresses.len(), 2);
        assert_eq!(
            s.interfaces["eth0"]
                .ecs
                .as_ref()
                .unwrap()
                .cluster_name
                .as_deref(),
            Some("prod")
        );
        assert_eq!(s.capture.interface_name.as_deref(), Some("eth0"));
        assert!(!s.aggregation.emit_nodata);
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("[flow_log]\ninterval = 300", "flow_log.interval"),
            (
                "[flow_log]\nformat = \"${version} ${nope}\"",
                "flow_log.format: unknown field \"nope\"",
            ),
            ("[flow_log]\naccount_id = \"12\"", "flow_log: account id"),
            (
                "[flow_log]\nflow_log_id = \"fl-XYZ\"",
                "flow_log: flow log id",
            ),
            ("[output]\nprefix = \"x/AWSLogs\"", "output.prefix"),
            ("[output]\nlayout = \"daily\"", "output.layout"),
            ("[output]\ngzip_level = 11", "output.gzip_level"),
            ("[aggregation]\noverflow = \"grow\"", "aggregation.overflow"),
            (
                "[[interface]]\nname = \"a\"\naddresses = [\"10.0.0.300\"]",
                "interface[0] (a).addresses",
            ),
            (
                "[[interface]]\nname = \"a\"\ninterface_id = \"eth0\"",
                "interface[0] (a).interface_id",
            ),
            (
                "[[interface]]\nname = \"a\"\n[[interface]]\nname = \"a\"",
                "configured twice",
            ),
            ("[capture]\nfragments = \"all\"", "capture.fragments"),
            (
                "[[interface]]\nname = \"a\"\n[interface.ecs]\ntask_id = \"a b\"",
                "interface[0] (a).ecs.task_id",
            ),
        ];
        for (text, expected) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(expected), "{text:?}: {e}");
        }
    }

    #[test]
    fn unknown_ecs_keys_are_rejected_by_name() {
        let e = toml::from_str::<ConfigFile>(
            "[[interface]]\nname = \"a\"\n[interface.ecs]\ntask = \"x\"",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("task"), "{e}");
    }

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let e = toml::from_str::<ConfigFile>("[output]\nlayuot = \"hive\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("layuot"), "{e}");
    }

    #[test]
    fn live_captures() {
        let s = parse(
            r#"
            [capture]
            idle_delay = 2
            [[capture.interface]]
            name = "eth0"
            filter = "ip or ip6"
            promisc = true
            snaplen = 128
            buffer = 1048576
            [[capture.interface]]
            name = "veth*"
        "#,
        )
        .unwrap();
        assert_eq!(s.capture_idle_delay_secs, 2);
        assert_eq!(s.captures.len(), 2);
        assert_eq!(s.captures[0].filter.as_deref(), Some("ip or ip6"));
        assert!(s.captures[0].promisc);
        assert_eq!(s.captures[0].snaplen, 128);
        assert_eq!(s.captures[0].buffer_bytes, 1 << 20);
        assert!(s.captures[1].is_pattern());
        assert!(!s.captures[1].promisc);
        for (text, key) in [
            (
                "[[capture.interface]]\nname = \"\"",
                "capture.interface[0].name",
            ),
            (
                "[[capture.interface]]\nname = \"a\"\nsnaplen = 10",
                "capture.interface[0].snaplen",
            ),
            (
                "[[capture.interface]]\nname = \"a\"\nbuffer = 10",
                "capture.interface[0].buffer",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
    }

    #[test]
    fn skydive_analyzers() {
        let s = parse(
            r#"
            [skydive]
            capture_ids = ["c1"]
            idle_delay = 30
            [[skydive.analyzer]]
            url = "ws://a1:8082"
            username = "admin"
            password = "pw"
            [[skydive.analyzer]]
            url = "wss://a2"
            protocol = "protobuf"
            token = "tok"
            ca_file = "/etc/ca.pem"
            capture_id = "c1"
            stats = false
            cookies = { lb = "x" }
            "#,
        )
        .unwrap();
        assert_eq!(s.analyzers.len(), 2);
        assert_eq!(s.analyzers[0].username.as_deref(), Some("admin"));
        assert_eq!(s.analyzers[1].protocol, WireProtocol::Protobuf);
        assert_eq!(s.analyzers[1].namespaces(), vec!["flow/c1"]);
        assert_eq!(s.analyzers[1].cookies, vec![("lb".into(), "x".into())]);
        assert_eq!(s.skydive.capture_ids, vec!["c1"]);
        assert_eq!(s.idle_delay_secs, 30);
        for (text, expected) in [
            (
                "[[skydive.analyzer]]\nurl = \"http://a\"",
                "skydive.analyzer[0].url",
            ),
            (
                "[[skydive.analyzer]]\nurl = \"ws://a\"\nprotocol = \"xml\"",
                "skydive.analyzer[0].protocol",
            ),
            (
                "[[skydive.analyzer]]\nurl = \"wss://a\"",
                "skydive.analyzer[0].ca_file",
            ),
            (
                "[[skydive.analyzer]]\nurl = \"ws://a\"\npassword = \"x\"",
                "skydive.analyzer[0].password",
            ),
            ("[skydive]\nstate_ttl = 5", "skydive.state_ttl"),
            (
                "[skydive.reject]\noutside = \"a\"\ninside = \"a\"",
                "skydive.reject",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(expected), "{text:?}: {e}");
        }
    }

    #[test]
    fn command_line_wins() {
        let file: ConfigFile = toml::from_str("[flow_log]\ninterval = 60").unwrap();
        let s = settings(
            file,
            Overrides {
                interval: Some(600),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(s.aggregation.interval, Interval::TenMinutes);
    }
}
