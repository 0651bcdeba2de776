//! Interface metadata: the ENI identity each capture point is reported as.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::IpNet;
use sha2::{Digest, Sha256};

use crate::aws_service::AwsServices;
use crate::enrich::record_values;
use crate::flow::InterfaceIndex;
use crate::record::FlowRecord;
use crate::values::{FlowDirection, RecordValues};

/// ECS task metadata written in the version-7 fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize),
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

/// The identity of one interface as VPC Flow Logs reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceMeta {
    /// The capture point's own name (e.g. `eth0`, a pcapng interface name).
    pub name: String,
    /// `account-id`: owner of the interface.
    pub account_id: String,
    /// `interface-id`.
    pub interface_id: String,
    /// `vpc-id`.
    pub vpc_id: Option<String>,
    /// `subnet-id`.
    pub subnet_id: Option<String>,
    /// `instance-id` (`None` for requester-managed interfaces).
    pub instance_id: Option<String>,
    /// `region`.
    pub region: String,
    /// `az-id` (`None` in a sublocation).
    pub az_id: Option<String>,
    /// `sublocation-type`.
    pub sublocation_type: Option<String>,
    /// `sublocation-id`.
    pub sublocation_id: Option<String>,
    /// The interface's own addresses; they decide `flow-direction`, and the
    /// primary one of each family is the interface's side of `srcaddr` /
    /// `dstaddr` (see [`InterfaceMeta::primary`]).
    pub addresses: Vec<IpAddr>,
    /// The configured primary IPv4 address (also one of `addresses`).
    pub primary_ipv4: Option<Ipv4Addr>,
    /// The configured primary IPv6 address (also one of `addresses`).
    pub primary_ipv6: Option<Ipv6Addr>,
    /// Networks reached through the interface (a router's or NAT's inside
    /// networks): traffic between them and elsewhere that is not addressed to
    /// one of `addresses` gets its direction from them (see
    /// [`InterfaceMeta::direction`]).
    pub networks: Vec<IpNet>,
    /// ECS task metadata, when the interface belongs to one.
    pub ecs: Option<EcsTask>,
}

/// Configured values for one interface; what is left `None` is derived.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(missing_docs)] // see the members of the same name in [`InterfaceMeta`]
pub struct InterfaceOverrides {
    pub account_id: Option<String>,
    pub interface_id: Option<String>,
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub instance_id: Option<String>,
    pub region: Option<String>,
    pub az_id: Option<String>,
    pub sublocation_type: Option<String>,
    pub sublocation_id: Option<String>,
    pub addresses: Vec<IpAddr>,
    pub primary_ipv4: Option<Ipv4Addr>,
    pub primary_ipv6: Option<Ipv6Addr>,
    pub networks: Vec<IpNet>,
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

impl InterfaceMeta {
    /// The metadata of interface `name`: `overrides` where given, otherwise
    /// valid-looking IDs derived stably from the account, region and name.
    pub fn resolve(
        name: &str,
        overrides: &InterfaceOverrides,
        defaults: &InterfaceDefaults,
    ) -> InterfaceMeta {
        let account_id = overrides
            .account_id
            .clone()
            .unwrap_or_else(|| defaults.account_id.clone());
        let region = overrides
            .region
            .clone()
            .unwrap_or_else(|| defaults.region.clone());
        let in_sublocation = overrides.sublocation_id.is_some();
        InterfaceMeta {
            name: name.to_string(),
            interface_id: overrides
                .interface_id
                .clone()
                .unwrap_or_else(|| derived_id("eni-", &[&account_id, &region, "interface", name])),
            vpc_id: Some(
                overrides
                    .vpc_id
                    .clone()
                    .unwrap_or_else(|| derived_id("vpc-", &[&account_id, &region, "vpc"])),
            ),
            subnet_id: Some(
                overrides
                    .subnet_id
                    .clone()
                    .unwrap_or_else(|| derived_id("subnet-", &[&account_id, &region, "subnet"])),
            ),
            // `-`: a requester-managed interface (NAT gateway, load balancer, …)
            // that is attached to no instance of the account.
            instance_id: match overrides.instance_id.as_deref() {
                Some("-") => None,
                Some(id) => Some(id.to_string()),
                None => Some(derived_id("i-", &[&account_id, &region, "instance"])),
            },
            az_id: match (&overrides.az_id, in_sublocation) {
                (Some(az), _) => Some(az.clone()),
                (None, true) => None,
                (None, false) => Some(format!("{}-az1", region_short_name(&region))),
            },
            sublocation_type: overrides.sublocation_type.clone(),
            sublocation_id: overrides.sublocation_id.clone(),
            addresses: own_addresses(overrides),
            primary_ipv4: overrides.primary_ipv4,
            primary_ipv6: overrides.primary_ipv6,
            networks: overrides.networks.clone(),
            ecs: overrides.ecs.clone(),
            account_id,
            region,
        }
    }

    /// The interface's primary address of the family of `like` (IPv4 or
    /// IPv6): the configured `primary_ipv4` / `primary_ipv6`, else the first
    /// address of that family in `addresses` that is not link-local
    /// (configured addresses come before those read from the operating
    /// system, which keep the system's order), else the first link-local one.
    /// `None` when the interface has no address of that family.
    pub fn primary(&self, like: IpAddr) -> Option<IpAddr> {
        match like {
            IpAddr::V4(_) => self.primary_ipv4.map(IpAddr::V4).or_else(|| {
                self.first_address(|a| match a {
                    IpAddr::V4(v4) => Some(!v4.is_link_local()),
                    IpAddr::V6(_) => None,
                })
            }),
            IpAddr::V6(_) => self.primary_ipv6.map(IpAddr::V6).or_else(|| {
                self.first_address(|a| match a {
                    IpAddr::V6(v6) => Some(!v6.is_unicast_link_local()),
                    IpAddr::V4(_) => None,
                })
            }),
        }
    }

    /// The first address for which `preferred` says `Some(true)`, else the
    /// first for which it says `Some(false)`.
    fn first_address(&self, preferred: impl Fn(&IpAddr) -> Option<bool>) -> Option<IpAddr> {
        let mut fallback = None;
        for a in &self.addresses {
            match preferred(a) {
                Some(true) => return Some(*a),
                Some(false) if fallback.is_none() => fallback = Some(*a),
                _ => {}
            }
        }
        fallback
    }

    /// `flow-direction` of a packet from `src` to `dst` on this interface:
    /// ingress when addressed to one of its own addresses, egress when sent
    /// from one; otherwise, with `networks` configured, ingress from them to
    /// elsewhere and egress from elsewhere to them (what a NAT or router
    /// interface forwards); unknown in every other case.
    pub fn direction(&self, src: IpAddr, dst: IpAddr) -> Option<FlowDirection> {
        if let Some(d) = crate::enrich::flow_direction(&self.addresses, src, dst) {
            return Some(d);
        }
        let inside = |a: IpAddr| self.networks.iter().any(|n| n.contains(&a));
        match (inside(src), inside(dst)) {
            (true, false) => Some(FlowDirection::Ingress),
            (false, true) => Some(FlowDirection::Egress),
            _ => None,
        }
    }
}

/// The configured addresses, with configured primaries that are missing
/// from them in front.
fn own_addresses(o: &InterfaceOverrides) -> Vec<IpAddr> {
    let primaries = [
        o.primary_ipv4.map(IpAddr::V4),
        o.primary_ipv6.map(IpAddr::V6),
    ];
    let mut out: Vec<IpAddr> = primaries
        .into_iter()
        .flatten()
        .filter(|p| !o.addresses.contains(p))
        .collect();
    out.extend_from_slice(&o.addresses);
    out
}

/// All interfaces of a run, by index, with the configuration they are
/// resolved from, and the AWS service ranges records are enriched with: what
/// a sink needs to turn records into field values ([`InterfaceTable::values`]).
#[derive(Debug, Clone)]
pub struct InterfaceTable {
    defaults: InterfaceDefaults,
    configured: HashMap<String, InterfaceOverrides>,
    interfaces: Vec<InterfaceMeta>,
    by_name: HashMap<String, InterfaceIndex>,
    aws_services: Option<Arc<AwsServices>>,
    /// Addresses given by [`InterfaceTable::add_addresses`], by index, kept
    /// for [`InterfaceTable::reconfigure`].
    added: Vec<Vec<IpAddr>>,
}

impl InterfaceTable {
    /// A table resolving names with `configured` overrides and `defaults`.
    pub fn new(
        defaults: InterfaceDefaults,
        configured: HashMap<String, InterfaceOverrides>,
    ) -> InterfaceTable {
        InterfaceTable {
            defaults,
            configured,
            interfaces: Vec::new(),
            by_name: HashMap::new(),
            aws_services: None,
            added: Vec::new(),
        }
    }

    /// Uses `services` for `pkt-src-aws-service` / `pkt-dst-aws-service` from
    /// now on (`None`: both `-`); a reload swaps in a fresh table this way.
    pub fn set_aws_services(&mut self, services: Option<Arc<AwsServices>>) {
        self.aws_services = services;
    }

    /// The AWS service ranges in use.
    pub fn aws_services(&self) -> Option<&Arc<AwsServices>> {
        self.aws_services.as_ref()
    }

    /// The field values of `record` (of a registered interface) for a format
    /// of `version`: its interface's metadata, and the AWS services of its
    /// packet addresses when a table is set.
    ///
    /// # Panics
    /// If `record.interface` was not returned by [`InterfaceTable::register`].
    #[inline]
    pub fn values(&self, record: &FlowRecord, version: u8) -> RecordValues<'_> {
        let mut v = record_values(record, self.get(record.interface), version);
        if let Some(services) = &self.aws_services {
            v.pkt_src_aws_service = v.pkt_srcaddr.and_then(|a| services.lookup(a));
            v.pkt_dst_aws_service = v.pkt_dstaddr.and_then(|a| services.lookup(a));
        }
        v
    }

    /// The index of interface `name`, registering it on first use.
    pub fn register(&mut self, name: &str) -> InterfaceIndex {
        if let Some(i) = self.by_name.get(name) {
            return *i;
        }
        let empty = InterfaceOverrides::default();
        let overrides = self.configured.get(name).unwrap_or(&empty);
        let meta = InterfaceMeta::resolve(name, overrides, &self.defaults);
        let index = InterfaceIndex(self.interfaces.len() as u32);
        self.interfaces.push(meta);
        self.added.push(Vec::new());
        self.by_name.insert(name.to_string(), index);
        index
    }

    /// Replaces the configured overrides (a configuration reload): every
    /// registered interface keeps its index and the addresses added with
    /// [`InterfaceTable::add_addresses`], and is resolved again from
    /// `configured`, as are interfaces registered later.
    pub fn reconfigure(&mut self, configured: HashMap<String, InterfaceOverrides>) {
        self.configured = configured;
        let empty = InterfaceOverrides::default();
        for (i, meta) in self.interfaces.iter_mut().enumerate() {
            let overrides = self.configured.get(&meta.name).unwrap_or(&empty);
            let mut resolved = InterfaceMeta::resolve(&meta.name, overrides, &self.defaults);
            for a in &self.added[i] {
                if !resolved.addresses.contains(a) {
                    resolved.addresses.push(*a);
                }
            }
            *meta = resolved;
        }
    }

    /// Adds `addresses` to the own addresses of a registered interface (those
    /// it already has are kept, duplicates ignored): the addresses a live
    /// capture reads from the operating system.
    ///
    /// # Panics
    /// If `index` was not returned by [`InterfaceTable::register`].
    pub fn add_addresses(&mut self, index: InterfaceIndex, addresses: &[IpAddr]) {
        let own = &mut self.interfaces[index.0 as usize].addresses;
        let added = &mut self.added[index.0 as usize];
        for a in addresses {
            if !own.contains(a) {
                own.push(*a);
            }
            if !added.contains(a) {
                added.push(*a);
            }
        }
    }

    /// The metadata of a registered interface.
    ///
    /// # Panics
    /// If `index` was not returned by [`InterfaceTable::register`].
    pub fn get(&self, index: InterfaceIndex) -> &InterfaceMeta {
        &self.interfaces[index.0 as usize]
    }

    /// Every registered interface, by index.
    pub fn iter(&self) -> impl Iterator<Item = (InterfaceIndex, &InterfaceMeta)> {
        self.interfaces
            .iter()
            .enumerate()
            .map(|(i, m)| (InterfaceIndex(i as u32), m))
    }

    /// Number of registered interfaces.
    pub fn len(&self) -> usize {
        self.interfaces.len()
    }

    /// Whether no interface is registered.
    pub fn is_empty(&self) -> bool {
        self.interfaces.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> InterfaceDefaults {
        InterfaceDefaults {
            account_id: "123456789012".into(),
            region: "eu-west-1".into(),
        }
    }

    #[test]
    fn derived_ids_are_stable_and_valid_looking() {
        let a = InterfaceMeta::resolve("eth0", &InterfaceOverrides::default(), &defaults());
        let b = InterfaceMeta::resolve("eth0", &InterfaceOverrides::default(), &defaults());
        let c = InterfaceMeta::resolve("eth1", &InterfaceOverrides::default(), &defaults());
        assert_eq!(a, b);
        assert_ne!(a.interface_id, c.interface_id);
        let re = regex::Regex::new(r"^eni-[0-9a-f]{17}$").unwrap();
        assert!(re.is_match(&a.interface_id), "{}", a.interface_id);
        assert!(regex::Regex::new(r"^vpc-[0-9a-f]{17}$")
            .unwrap()
            .is_match(a.vpc_id.as_deref().unwrap()));
        assert!(regex::Regex::new(r"^subnet-[0-9a-f]{17}$")
            .unwrap()
            .is_match(a.subnet_id.as_deref().unwrap()));
        assert!(regex::Regex::new(r"^i-[0-9a-f]{17}$")
            .unwrap()
            .is_match(a.instance_id.as_deref().unwrap()));
        assert_eq!(a.az_id.as_deref(), Some("euw1-az1"));
        assert_eq!(a.account_id, "123456789012");
    }

    #[test]
    fn overrides_win() {
        let o = InterfaceOverrides {
            interface_id: Some("eni-1235b8ca123456789".into()),
            region: Some("ap-southeast-2".into()),
            sublocation_type: Some("outpost".into()),
            sublocation_id: Some("op-1".into()),
            ..Default::default()
        };
        let m = InterfaceMeta::resolve("x", &o, &defaults());
        assert_eq!(m.interface_id, "eni-1235b8ca123456789");
        assert_eq!(m.region, "ap-southeast-2");
        assert_eq!(m.az_id, None, "traffic from a sublocation has no az-id");
        let requester_managed = InterfaceOverrides {
            instance_id: Some("-".into()),
            ..Default::default()
        };
        assert_eq!(
            InterfaceMeta::resolve("nat", &requester_managed, &defaults()).instance_id,
            None
        );
    }

    #[test]
    fn region_short_names() {
        assert_eq!(region_short_name("us-east-1"), "use1");
        assert_eq!(region_short_name("ap-southeast-2"), "apse2");
        assert_eq!(region_short_name("us-gov-west-1"), "usgw1");
        assert_eq!(region_short_name("eu-central-1"), "euc1");
        assert_eq!(region_short_name("ap-northeast-1"), "apne1");
    }

    #[test]
    fn table_registers_once() {
        let mut t = InterfaceTable::new(defaults(), HashMap::new());
        let a = t.register("eth0");
        let b = t.register("eth1");
        assert_eq!(t.register("eth0"), a);
        assert_ne!(a, b);
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(b).name, "eth1");
    }

    #[test]
    fn os_addresses_are_added_to_configured_ones() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut configured = HashMap::new();
        configured.insert(
            "eth0".to_string(),
            InterfaceOverrides {
                addresses: vec![ip("10.0.0.5")],
                ..InterfaceOverrides::default()
            },
        );
        let mut t = InterfaceTable::new(defaults(), configured);
        let a = t.register("eth0");
        t.add_addresses(a, &[ip("10.0.0.6"), ip("10.0.0.5"), ip("fd00::6")]);
        assert_eq!(
            t.get(a).addresses,
            vec![ip("10.0.0.5"), ip("10.0.0.6"), ip("fd00::6")]
        );
    }

    #[test]
    fn values_look_up_aws_services_of_the_packet_addresses() {
        use crate::aws_service::AwsServices;
        use crate::flow::{Action, FlowKey};
        use crate::record::{FlowRecord, LogStatus, Traffic};
        use crate::tcp_flags::TcpFlags;

        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut t = InterfaceTable::new(defaults(), HashMap::new());
        let eth0 = t.register("eth0");
        let record = FlowRecord {
            interface: eth0,
            window_start: 0,
            start: 1,
            end: 2,
            status: LogStatus::Ok,
            traffic: Some(Traffic {
                key: FlowKey {
                    src: ip("52.95.128.179"),
                    dst: ip("10.0.0.71"),
                    src_port: 80,
                    dst_port: 34210,
                    protocol: 6,
                },
                packet_addrs: None,
                packets: 1,
                bytes: 40,
                tcp_flags: TcpFlags::NONE,
                action: Action::Accept,
            }),
        };
        let v = t.values(&record, 5);
        assert_eq!((v.pkt_src_aws_service, v.pkt_dst_aws_service), (None, None));
        let mut services = AwsServices::new();
        services
            .insert("52.95.128.0/21".parse().unwrap(), "AMAZON")
            .unwrap();
        services
            .insert("52.95.128.0/21".parse().unwrap(), "S3")
            .unwrap();
        t.set_aws_services(Some(Arc::new(services)));
        let v = t.values(&record, 5);
        assert_eq!(
            (v.pkt_src_aws_service, v.pkt_dst_aws_service),
            (Some("S3"), None)
        );
        let nodata = FlowRecord {
            traffic: None,
            status: LogStatus::NoData,
            ..record
        };
        assert_eq!(t.values(&nodata, 5).pkt_src_aws_service, None);
    }

    #[test]
    fn reconfigure_keeps_indices_and_os_addresses() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let configured = |id: &str, addr: &str| {
            let mut c = HashMap::new();
            c.insert(
                "eth0".to_string(),
                InterfaceOverrides {
                    interface_id: Some(id.into()),
                    addresses: vec![ip(addr)],
                    ..InterfaceOverrides::default()
                },
            );
            c
        };
        let mut t =
            InterfaceTable::new(defaults(), configured("eni-0000000000000000a", "10.0.0.5"));
        let other = t.register("eth1");
        let a = t.register("eth0");
        t.add_addresses(a, &[ip("10.0.0.6")]);
        let eth1_before = t.get(other).clone();
        t.reconfigure(configured("eni-0000000000000000b", "10.0.0.7"));
        assert_eq!(t.register("eth0"), a);
        assert_eq!(t.get(a).interface_id, "eni-0000000000000000b");
        assert_eq!(t.get(a).addresses, vec![ip("10.0.0.7"), ip("10.0.0.6")]);
        assert_eq!(t.get(other), &eth1_before);
        t.reconfigure(HashMap::new());
        assert_eq!(
            t.get(a).interface_id,
            InterfaceMeta::resolve("eth0", &InterfaceOverrides::default(), &defaults())
                .interface_id
        );
        assert_eq!(t.get(a).addresses, vec![ip("10.0.0.6")]);
    }
}
