//! The REJECT policy: security groups, network ACLs and VPC Block Public
//! Access, evaluated packet by packet to decide each observation's `action`
//! (spec §2.5) and `reject-reason` (spec §1.6).
//!
//! Evaluation of one packet on an interface, in AWS's order:
//!
//! 1. Its direction comes from the interface's own addresses
//!    ([`flow_direction`]): ingress when addressed to one of them, egress when
//!    sent from one. A packet with neither (or on an interface without known
//!    addresses) has no direction; the policy does not apply and it is ACCEPT.
//! 2. Block Public Access, when on and the interface is not excluded:
//!    traffic with a public peer ([`is_public`]) is REJECT with reason `BPA`
//!    (`ingress` mode: only inbound traffic that is not a response of a
//!    connection the interface opened).
//! 3. Inbound: the network ACL's inbound rules, then the security groups.
//!    Outbound: the security groups, then the network ACL's outbound rules.
//!    Either refusing is REJECT with no reason (`-`).
//!
//! Security groups are stateful: a packet of a connection they allowed — in
//! either orientation — passes whatever the rules of its direction say
//! ([`ConnTable`]). An interface with several groups gets the union of their
//! rules; an interface with none is not restricted by security groups
//! (AWS's default group is not assumed). Network ACLs are stateless: every
//! packet is evaluated on its own, so a response can be REJECT while its
//! request was ACCEPT. An interface gets the first ACL (in configuration
//! order) that names it, or none (no ACL restriction).
//!
//! A REJECT decided by the source itself (Skydive's two-capture-point
//! REJECT) is kept as is; the policy only turns ACCEPT into REJECT.

mod bpa;
mod cidr;
mod conntrack;
mod network_acl;
mod rule;
mod security_group;
#[cfg(test)]
mod tests;

use std::net::IpAddr;

pub use bpa::{is_public, BlockPublicAccess, BpaMode};
pub use cidr::{Cidr, CidrError};
pub use conntrack::{
    ConnTable, Tracked, DEFAULT_MAX_CONNECTIONS, TCP_CLOSING_TIMEOUT_SECS,
    TCP_ESTABLISHED_TIMEOUT_SECS, UDP_STREAM_TIMEOUT_SECS, UDP_TIMEOUT_SECS,
};
pub use network_acl::{AclAction, AclRule, NetworkAcl};
pub use rule::{Match, PortRange, Protocol};
pub use security_group::SecurityGroup;

use crate::flow::{Action, FlowUpdate, InterfaceIndex};
use crate::interface::flow_direction;
use crate::values::FlowDirection;

/// A whole policy, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Security groups.
    pub security_groups: Vec<SecurityGroup>,
    /// Network ACLs.
    pub network_acls: Vec<NetworkAcl>,
    /// Block Public Access.
    pub block_public_access: BlockPublicAccess,
    /// Bound on tracked connections.
    pub max_connections: usize,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            security_groups: Vec::new(),
            network_acls: Vec::new(),
            block_public_access: BlockPublicAccess::default(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Whether an interface name matches a configured name or pattern.
pub type NameMatcher = fn(pattern: &str, name: &str) -> bool;

/// What applies to one interface.
#[derive(Debug, Clone)]
struct Attached {
    name: String,
    own: Vec<IpAddr>,
    groups: Vec<usize>,
    acl: Option<usize>,
    bpa: BpaMode,
}

impl Attached {
    fn is_active(&self) -> bool {
        !self.groups.is_empty() || self.acl.is_some() || self.bpa != BpaMode::Off
    }

    /// Whether packets of this interface need connection tracking.
    fn is_stateful(&self) -> bool {
        !self.groups.is_empty() || self.bpa == BpaMode::Ingress
    }
}

/// Applies a [`Policy`] to observations: per-interface attachments and the
/// table of tracked connections.
#[derive(Debug)]
pub struct PolicyEngine {
    policy: Policy,
    matcher: NameMatcher,
    interfaces: Vec<Option<Attached>>,
    conns: ConnTable,
}

impl PolicyEngine {
    /// An engine for `policy`; `matcher` tells whether an interface name
    /// matches a name or pattern of the policy.
    pub fn new(policy: Policy, matcher: NameMatcher) -> PolicyEngine {
        let conns = ConnTable::new(policy.max_connections);
        PolicyEngine {
            policy,
            matcher,
            interfaces: Vec::new(),
            conns,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The tracked connections.
    pub fn connections(&self) -> &ConnTable {
        &self.conns
    }

    fn resolve(&self, name: String, own: Vec<IpAddr>) -> Attached {
        let m = self.matcher;
        let named = |patterns: &[String]| patterns.iter().any(|p| m(p, &name));
        let p = &self.policy;
        let groups = (0..p.security_groups.len())
            .filter(|&g| named(&p.security_groups[g].interfaces))
            .collect();
        let acl = (0..p.network_acls.len()).find(|&a| named(p.network_acls[a].interfaces()));
        let bpa = if named(&p.block_public_access.exclusions) {
            BpaMode::Off
        } else {
            p.block_public_access.mode
        };
        Attached {
            name,
            own,
            groups,
            acl,
            bpa,
        }
    }

    /// Registers interface `index` called `name` with its own addresses.
    pub fn attach(&mut self, index: InterfaceIndex, name: &str, own: &[IpAddr]) {
        let i = index.0 as usize;
        if self.interfaces.len() <= i {
            self.interfaces.resize(i + 1, None);
        }
        self.interfaces[i] = Some(self.resolve(name.to_string(), own.to_vec()));
    }

    /// Adds own addresses to interface `index` (already attached).
    pub fn add_addresses(&mut self, index: InterfaceIndex, addresses: &[IpAddr]) {
        if let Some(Some(a)) = self.interfaces.get_mut(index.0 as usize) {
            for addr in addresses {
                if !a.own.contains(addr) {
                    a.own.push(*addr);
                }
            }
        }
    }

    /// Replaces the policy. Interfaces are attached again by name; tracked
    /// connections of interfaces that keep a stateful policy (security groups
    /// or ingress-only Block Public Access) survive, as AWS keeps tracked
    /// connections when rules change.
    pub fn replace(&mut self, policy: Policy) {
        self.policy = policy;
        self.conns.set_capacity(self.policy.max_connections);
        let old = std::mem::take(&mut self.interfaces);
        self.interfaces = old
            .into_iter()
            .map(|a| a.map(|a| self.resolve(a.name, a.own)))
            .collect();
        let interfaces = &self.interfaces;
        self.conns.retain_interfaces(|i| {
            interfaces
                .get(i.0 as usize)
                .and_then(Option::as_ref)
                .is_some_and(Attached::is_stateful)
        });
    }

    /// The action of one observation. A source's own REJECT is kept.
    #[inline]
    pub fn decide(&mut self, u: &FlowUpdate) -> Action {
        if u.action != Action::Accept {
            return u.action;
        }
        let Some(Some(a)) = self.interfaces.get(u.interface.0 as usize) else {
            return Action::Accept;
        };
        if !a.is_active() {
            return Action::Accept;
        }
        let k = &u.key;
        let Some(direction) = flow_direction(&a.own, k.src, k.dst) else {
            return Action::Accept;
        };
        let peer = match direction {
            FlowDirection::Ingress => k.src,
            FlowDirection::Egress => k.dst,
        };
        let stateful = a.is_stateful();
        let tracked = if stateful {
            self.conns.find(u.interface, k, u.last)
        } else {
            None
        };
        if a.bpa != BpaMode::Off && is_public(peer) {
            let response_of_own = matches!(
                tracked,
                Some((
                    Tracked {
                        opened: FlowDirection::Egress
                    },
                    _
                ))
            );
            let blocked = match a.bpa {
                BpaMode::Bidirectional => true,
                BpaMode::Ingress => direction == FlowDirection::Ingress && !response_of_own,
                BpaMode::Off => false,
            };
            if blocked {
                return Action::RejectBpa;
            }
        }
        let p = &self.policy;
        let acl_allows = || {
            a.acl
                .is_none_or(|i| p.network_acls[i].allows(direction, k, peer))
        };
        let groups_allow = || {
            a.groups.is_empty()
                || tracked.is_some()
                || a.groups
                    .iter()
                    .any(|&g| p.security_groups[g].allows(direction, k, peer))
        };
        let accepted = match direction {
            FlowDirection::Ingress => acl_allows() && groups_allow(),
            FlowDirection::Egress => groups_allow() && acl_allows(),
        };
        if !accepted {
            return Action::Reject;
        }
        if stateful {
            self.conns.record(
                u.interface,
                k,
                u.last,
                u.tcp_flags,
                tracked.map(|(_, reply)| reply),
                direction,
            );
        }
        Action::Accept
    }

    /// Sets the action of each observation, in order.
    #[inline]
    pub fn apply(&mut self, updates: &mut [FlowUpdate]) {
        for u in updates {
            u.action = self.decide(u);
        }
    }
}
