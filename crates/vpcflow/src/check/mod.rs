//! `vpcflow check`: validates a configuration and shows what a run with it
//! would produce, without capturing or writing anything.

mod text;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use serde::Serialize;
use vpcflow_core::fields::Field;
use vpcflow_core::interface::{InterfaceConfig, InterfaceMeta};
use vpcflow_core::name::{slot_of, ContentHasher, FileName};
use vpcflow_sources::live::{interface_addresses, matches, present_interfaces};

use crate::config::{Destination, Settings};

pub use text::write_text;

/// What `vpcflow check` reports (also its `--json` form).
#[derive(Debug, Serialize)]
pub struct Report {
    /// The configuration file.
    pub config: String,
    /// The flow log's identity and record format.
    pub flow_log: FlowLogReport,
    /// Files and where they go.
    pub output: OutputReport,
    /// Live captures, Skydive analyzers and NetFlow/IPFIX sockets (`vpcflow run`).
    pub sources: SourcesReport,
    /// Interfaces known now, with the metadata their records carry.
    pub interfaces: Vec<InterfaceReport>,
    /// The AWS ip-ranges file, when configured.
    pub aws_ip_ranges: Option<IpRangesReport>,
    /// The REJECT policy, when configured.
    pub policy: Option<PolicyReport>,
    /// Where `vpcflow run` serves `/metrics` and `/healthz`.
    pub metrics_listen: Option<String>,
    /// The state folder of `vpcflow run`, when it keeps something there (the
    /// durability journal, the Skydive state).
    pub state_dir: Option<String>,
    /// What `vpcflow run` keeps in the state folder.
    pub state_kept: Vec<&'static str>,
    /// Things that are valid but probably not meant.
    pub warnings: Vec<String>,
}

/// The REJECT policy.
#[derive(Debug, Serialize)]
pub struct PolicyReport {
    /// Security groups (stateful).
    pub security_groups: Vec<RuleSetReport>,
    /// Network ACLs (stateless).
    pub network_acls: Vec<RuleSetReport>,
    /// Block Public Access: `off`, `bidirectional` or `ingress`.
    pub block_public_access: String,
    /// Interfaces Block Public Access does not apply to.
    pub block_public_access_exclusions: Vec<String>,
}

/// One security group or network ACL.
#[derive(Debug, Serialize)]
pub struct RuleSetReport {
    /// Its name.
    pub name: String,
    /// The interface names or patterns it applies to.
    pub interfaces: Vec<String>,
    /// Number of inbound rules.
    pub inbound_rules: usize,
    /// Number of outbound rules.
    pub outbound_rules: usize,
}

fn policy_report(policy: &vpcflow_core::policy::Policy) -> PolicyReport {
    use vpcflow_core::values::FlowDirection;
    PolicyReport {
        security_groups: policy
            .security_groups
            .iter()
            .map(|g| RuleSetReport {
                name: g.name.clone(),
                interfaces: g.interfaces.clone(),
                inbound_rules: g.inbound.len(),
                outbound_rules: g.outbound.len(),
            })
            .collect(),
        network_acls: policy
            .network_acls
            .iter()
            .map(|a| RuleSetReport {
                name: a.name().to_string(),
                interfaces: a.interfaces().to_vec(),
                inbound_rules: a.rules(FlowDirection::Ingress).len(),
                outbound_rules: a.rules(FlowDirection::Egress).len(),
            })
            .collect(),
        block_public_access: format!("{:?}", policy.block_public_access.mode).to_lowercase(),
        block_public_access_exclusions: policy.block_public_access.exclusions.clone(),
    }
}

/// The flow log.
#[derive(Debug, Serialize)]
#[allow(missing_docs)] // named like the configuration keys
pub struct FlowLogReport {
    pub flow_log_id: String,
    pub account_id: String,
    pub region: String,
    pub format: String,
    /// The format's version: the highest version among its fields.
    pub version: u8,
    pub fields: Vec<FieldReport>,
    pub traffic_type: &'static str,
    pub interval_secs: u64,
}

/// One field of the format.
#[derive(Debug, Serialize)]
pub struct FieldReport {
    /// Its name.
    pub name: &'static str,
    /// The version it was introduced in.
    pub version: u8,
}

/// One destination of the run.
#[derive(Debug, Serialize)]
pub struct DestinationReport {
    /// `directory`, `stdout`, `s3`, `cloudwatch` or `firehose`.
    pub kind: &'static str,
    /// The folder, URL or ARN.
    pub target: String,
    /// Its spool folder (destinations delivered through one).
    pub spool_dir: Option<String>,
    /// The endpoint URL, when set.
    pub endpoint: Option<String>,
    /// The Region the client uses when set (else the SDK's chain, else the
    /// flow log's).
    pub region: Option<String>,
    /// CloudWatch Logs: the log stream of each interface
    /// (`<interface-id>-<traffic type>`).
    pub log_streams: Option<String>,
}

/// What `vpcflow check` says of a destination.
fn destination_report(d: &Destination, settings: &Settings) -> DestinationReport {
    let spool_dir = d.spool_dir().map(|p| p.display().to_string());
    let (kind, endpoint, region, log_streams) = match d {
        Destination::Directory(_) => ("directory", None, None, None),
        Destination::Stdout => ("stdout", None, None, None),
        Destination::S3(t) => (
            "s3",
            t.settings.options.endpoint.clone(),
            t.settings.options.region.clone(),
            None,
        ),
        Destination::CloudWatch(t) => (
            "cloudwatch",
            t.options.delivery.client.endpoint.clone(),
            t.options.delivery.client.region.clone(),
            Some(format!(
                "<interface-id>-{}",
                settings.traffic_type.as_str().to_ascii_lowercase()
            )),
        ),
        Destination::Firehose(t) => (
            "firehose",
            t.options.client.endpoint.clone(),
            t.options.client.region.clone(),
            None,
        ),
    };
    DestinationReport {
        kind,
        target: d.describe(),
        spool_dir,
        endpoint,
        region,
        log_streams,
    }
}

/// Files and their destination.
#[derive(Debug, Serialize)]
pub struct OutputReport {
    /// Every destination, in the order given.
    pub destinations: Vec<DestinationReport>,
    /// The first destination: `directory`, `stdout`, `s3`, `cloudwatch` or
    /// `firehose`.
    pub destination: &'static str,
    /// The output directory.
    pub directory: Option<String>,
    /// S3: the destination URL (`s3://bucket/prefix/`).
    pub s3_url: Option<String>,
    /// S3: the spool folder objects wait in until the store confirms them.
    pub spool_dir: Option<String>,
    /// S3: the endpoint URL of an S3-compatible store, when set.
    pub s3_endpoint: Option<String>,
    /// `text` or `parquet`.
    pub file_format: String,
    /// The key layout.
    pub layout: String,
    /// The folder before `AWSLogs/`.
    pub prefix: String,
    /// The key of a file of the current 5-minute slot (its 8 hex digits
    /// depend on the file's content).
    pub example_key: Option<String>,
    /// That file's name.
    pub example_file: Option<String>,
    /// Size cap of one file (compressed bytes).
    pub max_file_bytes: u64,
    /// gzip level.
    pub gzip_level: u32,
}

/// Sources of `vpcflow run`.
#[derive(Debug, Serialize)]
pub struct SourcesReport {
    /// `[[capture.interface]]`.
    pub captures: Vec<CaptureReport>,
    /// `[[skydive.analyzer]]`.
    pub analyzers: Vec<AnalyzerReport>,
    /// `[[netflow.listen]]`: the addresses the collector binds.
    pub netflow_listen: Vec<String>,
    /// `[[sflow.listen]]`: the addresses the collector binds.
    pub sflow_listen: Vec<String>,
}

/// One live capture.
#[derive(Debug, Serialize)]
#[allow(missing_docs)] // named like the configuration keys
pub struct CaptureReport {
    pub name: String,
    /// Whether `name` is a pattern.
    pub pattern: bool,
    /// Interfaces present now that it captures.
    pub present: Vec<String>,
    pub filter: Option<String>,
    pub promisc: bool,
    pub snaplen: u32,
    pub buffer: u32,
}

/// One Skydive analyzer.
#[derive(Debug, Serialize)]
pub struct AnalyzerReport {
    /// As configured.
    pub url: String,
    /// The WebSocket endpoint subscribed to.
    pub endpoint: String,
    /// `json` or `protobuf`.
    pub protocol: &'static str,
    /// Namespaces subscribed to.
    pub namespaces: Vec<String>,
}

/// One interface and the metadata of its records.
#[derive(Debug, Serialize)]
pub struct InterfaceReport {
    /// The metadata its records carry, with the configured addresses only
    /// and the primary address of each family as resolved (configured, or
    /// taken from the configured and OS addresses).
    #[serde(flatten)]
    pub meta: InterfaceMeta,
    /// Has an `[[interface]]` block (else every ID is derived).
    pub configured: bool,
    /// Captured live (named by, or matching, a `[[capture.interface]]`).
    pub live: bool,
    /// Addresses the operating system has on it now (live interfaces).
    pub os_addresses: Vec<IpAddr>,
}

/// The AWS ip-ranges file.
#[derive(Debug, Serialize)]
pub struct IpRangesReport {
    /// Where it is.
    pub path: String,
    /// Prefixes (IPv4 and IPv6 entries) read.
    pub prefixes: usize,
    /// Distinct service names.
    pub services: usize,
}

/// The report on validated `settings` read from `path`, at Unix second `now`.
pub fn report(path: &Path, settings: &Settings, now: u64) -> Report {
    let format = &settings.format;
    let flow_log = FlowLogReport {
        flow_log_id: settings.flow_log.flow_log_id.clone(),
        account_id: settings.flow_log.account_id.clone(),
        region: settings.flow_log.region.clone(),
        format: format.to_string(),
        version: format.version(),
        fields: format
            .fields()
            .iter()
            .map(|f| FieldReport {
                name: f.name(),
                version: f.version(),
            })
            .collect(),
        traffic_type: settings.traffic_type.as_str(),
        interval_secs: settings.aggregation.interval.secs(),
    };
    let name = FileName {
        id: settings.flow_log.clone(),
        slot: slot_of(now),
        hash: ContentHasher::new().name_hash(&settings.flow_log, slot_of(now), 0),
        kind: settings.file_format.kind(),
    };
    let primary = &settings.destinations[0];
    let (destination, directory, example_key, example_file) = match primary {
        Destination::Stdout => ("stdout", None, None, None),
        Destination::Directory(dir) => (
            "directory",
            Some(dir.display().to_string()),
            Some(settings.layout.key(&settings.prefix, &name)),
            Some(name.to_string()),
        ),
        Destination::S3(target) => (
            "s3",
            None,
            Some(settings.layout.key(&target.destination.prefix, &name)),
            Some(name.to_string()),
        ),
        Destination::CloudWatch(_) => ("cloudwatch", None, None, None),
        Destination::Firehose(_) => ("firehose", None, None, None),
    };
    let s3 = match primary {
        Destination::S3(target) => Some(target),
        _ => None,
    };
    let output = OutputReport {
        destinations: settings
            .destinations
            .iter()
            .map(|d| destination_report(d, settings))
            .collect(),
        destination,
        directory,
        s3_url: s3.map(|t| {
            let prefix = t.destination.prefix.as_str();
            match prefix.is_empty() {
                true => format!("s3://{}/", t.destination.bucket),
                false => format!("s3://{}/{prefix}/", t.destination.bucket),
            }
        }),
        spool_dir: s3.map(|t| t.settings.spool_dir.display().to_string()),
        s3_endpoint: s3.and_then(|t| t.settings.options.endpoint.clone()),
        file_format: settings.file_format.to_string(),
        layout: settings.layout.to_string(),
        prefix: settings.prefix.as_str().to_string(),
        example_key,
        example_file,
        max_file_bytes: settings.max_file_bytes,
        gzip_level: settings.gzip_level,
    };
    let present = present_interfaces();
    let captures: Vec<CaptureReport> = settings
        .captures
        .iter()
        .map(|c| CaptureReport {
            name: c.name.clone(),
            pattern: c.is_pattern(),
            present: present
                .iter()
                .filter(|p| matches(&c.name, p))
                .cloned()
                .collect(),
            filter: c.filter.clone(),
            promisc: c.promisc,
            snaplen: c.snaplen,
            buffer: c.buffer_bytes,
        })
        .collect();
    let analyzers = settings
        .analyzers
        .iter()
        .map(|a| AnalyzerReport {
            url: a.url.clone(),
            endpoint: a.endpoint().map(|u| u.to_string()).unwrap_or_else(|e| e),
            protocol: match a.protocol {
                vpcflow_sources::skydive::subscriber::WireProtocol::Json => "json",
                vpcflow_sources::skydive::subscriber::WireProtocol::Protobuf => "protobuf",
            },
            namespaces: a.namespaces(),
        })
        .collect();

    // Configured interfaces, then live ones without a block: named captures
    // and present interfaces matching a pattern.
    let mut names: Vec<String> = settings.interfaces.keys().cloned().collect();
    names.sort();
    for c in &captures {
        let live_names = if c.pattern {
            c.present.clone()
        } else {
            vec![c.name.clone()]
        };
        for n in live_names {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    let interfaces = names
        .iter()
        .map(|n| interface_report(settings, &captures, n))
        .collect();

    let aws_ip_ranges = settings.aws_ip_ranges.as_ref().map(|r| IpRangesReport {
        path: r.path.display().to_string(),
        prefixes: r.services.ranges(),
        services: r.services.services().count(),
    });
    let mut warnings = Vec::new();
    let shows_services =
        format.contains(Field::PktSrcAwsService) || format.contains(Field::PktDstAwsService);
    match (&aws_ip_ranges, shows_services) {
        (Some(_), false) => warnings.push(
            "flow_log.aws_ip_ranges: the format has neither pkt-src-aws-service nor pkt-dst-aws-service; the file is not used".to_string(),
        ),
        (None, true) => warnings.push(
            "flow_log.format: pkt-src-aws-service and pkt-dst-aws-service are always - without flow_log.aws_ip_ranges".to_string(),
        ),
        _ => {}
    }
    for c in &captures {
        if !c.pattern && c.present.is_empty() {
            warnings.push(format!(
                "capture.interface: {} does not exist now; vpcflow run fails to open it",
                c.name
            ));
        }
    }
    let mut state_kept = Vec::new();
    if settings.journaled() {
        state_kept.push("the durability journal");
    }
    if !settings.analyzers.is_empty() {
        state_kept.push("the Skydive state across restarts");
    }
    let state_dir = if state_kept.is_empty() {
        None
    } else {
        match crate::config::state_dir(settings.state_dir.as_deref()) {
            Ok(dir) => Some(dir.display().to_string()),
            Err(e) => {
                warnings.push(format!("{e:#}"));
                None
            }
        }
    };
    Report {
        config: path.display().to_string(),
        flow_log,
        output,
        sources: SourcesReport {
            captures,
            analyzers,
            netflow_listen: settings
                .netflow
                .listen
                .iter()
                .map(|l| l.address.to_string())
                .collect(),
            sflow_listen: settings
                .sflow
                .listen
                .iter()
                .map(|l| l.address.to_string())
                .collect(),
        },
        interfaces,
        aws_ip_ranges,
        policy: settings.policy.as_ref().map(policy_report),
        metrics_listen: settings.metrics_listen.map(|a| a.to_string()),
        state_dir,
        state_kept,
        warnings,
    }
}

fn interface_report(
    settings: &Settings,
    captures: &[CaptureReport],
    name: &str,
) -> InterfaceReport {
    let configured = settings.interfaces.get(name);
    let empty = InterfaceConfig::default();
    let mut meta = InterfaceMeta::resolve(
        name,
        configured.unwrap_or(&empty),
        &settings.interface_defaults,
    );
    let live = captures.iter().any(|c| matches(&c.name, name));
    let os_addresses = if live {
        interface_addresses(name)
    } else {
        Vec::new()
    };
    let mut with_os = meta.clone();
    for a in &os_addresses {
        if !with_os.addresses.contains(a) {
            with_os.addresses.push(*a);
        }
    }
    meta.primary_ipv4 = match with_os.primary(IpAddr::V4(Ipv4Addr::UNSPECIFIED)) {
        Some(IpAddr::V4(a)) => Some(a),
        _ => None,
    };
    meta.primary_ipv6 = match with_os.primary(IpAddr::V6(Ipv6Addr::UNSPECIFIED)) {
        Some(IpAddr::V6(a)) => Some(a),
        _ => None,
    };
    InterfaceReport {
        meta,
        configured: configured.is_some(),
        live,
        os_addresses,
    }
}
