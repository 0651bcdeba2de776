//! Interface metadata: the ENI identity each capture point is reported as.
//!
//! [`InterfaceConfig`] is what the configuration gives for one interface
//! (every field optional); [`InterfaceMeta::resolve`] turns it, with the
//! flow log's [`InterfaceDefaults`], into the identity records carry.
//! [`crate::enrich`] builds on this module, never the other way.

mod config;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

pub use config::{derived_id, region_short_name, EcsTask, InterfaceConfig, InterfaceDefaults};

use crate::values::FlowDirection;

/// The identity of one interface as VPC Flow Logs reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
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

impl InterfaceMeta {
    /// The metadata of interface `name`: `overrides` where given, otherwise
    /// valid-looking IDs derived stably from the account, region and name.
    pub fn resolve(
        name: &str,
        overrides: &InterfaceConfig,
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
        if let Some(d) = flow_direction(&self.addresses, src, dst) {
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
fn own_addresses(o: &InterfaceConfig) -> Vec<IpAddr> {
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

/// `flow-direction` of a packet relative to an interface with `own` addresses:
/// ingress when addressed to one of them, egress when sent from one, unknown
/// otherwise (and when the interface has no known address).
pub fn flow_direction(own: &[IpAddr], src: IpAddr, dst: IpAddr) -> Option<FlowDirection> {
    if own.contains(&dst) {
        Some(FlowDirection::Ingress)
    } else if own.contains(&src) {
        Some(FlowDirection::Egress)
    } else {
        None
    }
}
