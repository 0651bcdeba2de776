//! What the configuration says of an interface ([`InterfaceConfig`], with
//! its ECS task), the flow-log-wide defaults, and the stable IDs derived for
//! what it leaves out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use sha2::{Digest, Sha256};

/// ECS task metadata written in the version-7 fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize, serde::Serialize),
    serde(deny_unknown_fields)
)]
#[allow(missing_docs)] // one member per `ecs-*` field of the same name
pub struct EcsTask {
    pub cluster_arn: Option<String>,
    pub cluster_name: Option<String>,
    pub container_instance_arn: Option<String>,
    pub container_instance_id: Option<String>,
    pub container_id: Option<String>,
    pub second_container_id: Option<String>,
    pub service_name: Option<String>,
    pub task_definition_arn: Option<String>,
    pub task_arn: Option<String>,
    pub task_id: Option<String>,
}

impl EcsTask {
    /// Every value with the name of its field (without the `ecs-` prefix, `-`
    /// as `_`), in field order.
    pub fn values(&self) -> [(&'static str, Option<&str>); 10] {
        [
            ("cluster_arn", self.cluster_arn.as_deref()),
            ("cluster_name", self.cluster_name.as_deref()),
            (
                "container_instance_arn",
                self.container_instance_arn.as_deref(),
            ),
            (
                "container_instance_id",
                self.container_instance_id.as_deref(),
            ),
            ("container_id", self.container_id.as_deref()),
            ("second_container_id", self.second_container_id.as_deref()),
            ("service_name", self.service_name.as_deref()),
            ("task_definition_arn", self.task_definition_arn.as_deref()),
            ("task_arn", self.task_arn.as_deref()),
            ("task_id", self.task_id.as_deref()),
        ]
    }
}

/// One `[[interface]]` of the configuration: the capture interface's name and
/// what is known of it; every field left `None` (or empty) is derived by
/// [`InterfaceMeta::resolve`](super::InterfaceMeta::resolve). This is the one
/// definition of the configurable interface fields: the configuration file is
/// deserialized into it directly (with the `serde` feature).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct InterfaceConfig {
    /// The capture interface's name (pcapng `if_name`, `capture0`, or the
    /// configured `capture.interface_name`).
    pub name: String,
    /// `account-id`: owner of the interface, 12 digits or `unknown`.
    pub account_id: Option<String>,
    /// `interface-id` (`eni-…`).
    pub interface_id: Option<String>,
    /// `vpc-id` (`vpc-…`).
    pub vpc_id: Option<String>,
    /// `subnet-id` (`subnet-…`).
    pub subnet_id: Option<String>,
    /// `instance-id` (`i-…`), or `-` for a requester-managed interface.
    pub instance_id: Option<String>,
    /// `region` (default: the flow log's).
    pub region: Option<String>,
    /// `az-id`.
    pub az_id: Option<String>,
    /// `sublocation-type`: wavelength, outpost or localzone.
    pub sublocation_type: Option<String>,
    /// `sublocation-id`.
    pub sublocation_id: Option<String>,
    /// The interface's own addresses (they decide flow-direction).
    #[cfg_attr(feature = "serde", serde(default))]
    pub addresses: Vec<IpAddr>,
    /// The primary IPv4 address (default: the first IPv4 one of `addresses`).
    pub primary_ipv4: Option<Ipv4Addr>,
    /// The primary IPv6 address (default: the first IPv6 one of `addresses`
    /// that is not link-local).
    pub primary_ipv6: Option<Ipv6Addr>,
    /// Networks reached through the interface (NAT or router inside
    /// networks), in CIDR notation.
    #[cfg_attr(feature = "serde", serde(default))]
    pub networks: Vec<IpNet>,
    /// `[interface.ecs]`: ECS task metadata (version-7 fields), keys named
    /// like the fields without `ecs-` (`cluster_arn`, `task_id`, …).
    pub ecs: Option<EcsTask>,
}

/// The flow-log-wide defaults interface metadata is derived from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceDefaults {
    /// Account of interfaces without their own.
    pub account_id: String,
    /// Region of interfaces without their own.
    pub region: String,
}

/// `prefix` followed by 17 lower-case hex digits derived from `parts`.
pub fn derived_id(prefix: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(b"vpcflow-id");
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{}", &hex[..17])
}

/// The short form of a region in AZ IDs: `us-east-1` → `use1`,
/// `ap-southeast-2` → `apse2`, `us-gov-west-1` → `usgw1`.
pub fn region_short_name(region: &str) -> String {
    let parts: Vec<&str> = region.split('-').collect();
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 || part.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(part);
            continue;
        }
        let short = match *part {
            "northeast" => "ne",
            "northwest" => "nw",
            "southeast" => "se",
            "southwest" => "sw",
            other => &other[..1],
        };
        out.push_str(short);
    }
    out
}
