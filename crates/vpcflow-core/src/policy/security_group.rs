//! Security groups: stateful allow lists, one for each direction.

use std::net::IpAddr;

use super::rule::Match;
use crate::flow::FlowKey;
use crate::values::FlowDirection;

/// One security group: what may enter and what may leave the interfaces it
/// is attached to. Rules only allow; traffic no rule allows is rejected,
/// unless it belongs to a connection the group already allowed (connection
/// tracking is done by the [`PolicyEngine`](super::PolicyEngine)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroup {
    /// The group's name (for messages).
    pub name: String,
    /// Interface names or `*`/`?` patterns the group is attached to.
    pub interfaces: Vec<String>,
    /// Inbound rules: `cidr` is the source.
    pub inbound: Vec<Match>,
    /// Outbound rules: `cidr` is the destination.
    pub outbound: Vec<Match>,
}

impl SecurityGroup {
    /// Whether a rule of direction `direction` allows a packet with `key`
    /// exchanged with `peer`.
    #[inline]
    pub fn allows(&self, direction: FlowDirection, key: &FlowKey, peer: IpAddr) -> bool {
        let rules = match direction {
            FlowDirection::Ingress => &self.inbound,
            FlowDirection::Egress => &self.outbound,
        };
        rules.iter().any(|r| r.matches(key, peer))
    }
}
