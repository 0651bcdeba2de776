//! Network ACLs: stateless, ordered allow/deny rules, one list per direction.

use std::net::IpAddr;

use super::rule::Match;
use crate::flow::FlowKey;
use crate::values::FlowDirection;

/// What a network ACL rule does with the traffic it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AclAction {
    /// Let it through.
    Allow,
    /// Drop it (REJECT).
    Deny,
}

/// One numbered rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AclRule {
    /// Rule number: rules are evaluated from the lowest number up.
    pub number: u16,
    /// Allow or deny.
    pub action: AclAction,
    /// What it matches.
    pub traffic: Match,
}

/// One network ACL: every packet is evaluated on its own against the list of
/// its direction; the first matching rule decides, and a packet no rule
/// matches is denied (AWS's implicit `*` rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkAcl {
    name: String,
    interfaces: Vec<String>,
    inbound: Vec<AclRule>,
    outbound: Vec<AclRule>,
}

impl NetworkAcl {
    /// An ACL attached to `interfaces` (names or `*`/`?` patterns). Rules are
    /// put in number order; a number used twice in one direction is an error
    /// that returns it.
    pub fn new(
        name: String,
        interfaces: Vec<String>,
        mut inbound: Vec<AclRule>,
        mut outbound: Vec<AclRule>,
    ) -> Result<NetworkAcl, (FlowDirection, u16)> {
        for (direction, rules) in [
            (FlowDirection::Ingress, &mut inbound),
            (FlowDirection::Egress, &mut outbound),
        ] {
            rules.sort_by_key(|r| r.number);
            if let Some(w) = rules.windows(2).find(|w| w[0].number == w[1].number) {
                return Err((direction, w[0].number));
            }
        }
        Ok(NetworkAcl {
            name,
            interfaces,
            inbound,
            outbound,
        })
    }

    /// The ACL's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The interface names or patterns it is attached to.
    pub fn interfaces(&self) -> &[String] {
        &self.interfaces
    }

    /// The rules of `direction`, in evaluation order.
    pub fn rules(&self, direction: FlowDirection) -> &[AclRule] {
        match direction {
            FlowDirection::Ingress => &self.inbound,
            FlowDirection::Egress => &self.outbound,
        }
    }

    /// Whether a packet with `key` exchanged with `peer` in `direction` is
    /// allowed.
    #[inline]
    pub fn allows(&self, direction: FlowDirection, key: &FlowKey, peer: IpAddr) -> bool {
        self.rules(direction)
            .iter()
            .find(|r| r.traffic.matches(key, peer))
            .is_some_and(|r| r.action == AclAction::Allow)
    }
}
