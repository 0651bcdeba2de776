//! Tests of the policy engine as a whole, one file per part of the policy;
//! the rule and packet builders they share are here.

mod block_public_access;
mod network_acls;
mod security_groups;
mod tracking;

use std::net::IpAddr;

use super::*;
use crate::flow::{FlowKey, FlowUpdate, InterfaceIndex, Timestamp, NANOS_PER_SEC};
use crate::tcp_flags::TcpFlags;

const ETH0: InterfaceIndex = InterfaceIndex(0);
const ETH1: InterfaceIndex = InterfaceIndex(1);
const ME: &str = "172.31.16.139";
const ME6: &str = "2001:db8:1::10";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn m(protocol: &str, ports: &str, cidr: &str) -> Match {
    Match {
        protocol: Protocol::parse(protocol).unwrap(),
        ports: PortRange::parse(ports).unwrap(),
        cidr: cidr.parse().unwrap(),
    }
}

fn sg(name: &str, interfaces: &[&str], inbound: Vec<Match>, outbound: Vec<Match>) -> SecurityGroup {
    SecurityGroup {
        name: name.into(),
        interfaces: interfaces.iter().map(|s| s.to_string()).collect(),
        inbound,
        outbound,
    }
}

fn rule(number: u16, allow: bool, traffic: Match) -> AclRule {
    AclRule {
        number,
        action: if allow {
            AclAction::Allow
        } else {
            AclAction::Deny
        },
        traffic,
    }
}

fn acl(interfaces: &[&str], inbound: Vec<AclRule>, outbound: Vec<AclRule>) -> NetworkAcl {
    NetworkAcl::new(
        "acl".into(),
        interfaces.iter().map(|s| s.to_string()).collect(),
        inbound,
        outbound,
    )
    .unwrap()
}

/// Exact names and a trailing `*` are enough for these tests.
fn matcher(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

fn engine(policy: Policy) -> PolicyEngine {
    let mut e = PolicyEngine::new(policy, matcher);
    e.attach(ETH0, "eth0", &[ip(ME), ip(ME6)]);
    e.attach(ETH1, "eth1", &[ip("10.9.0.1")]);
    e
}

fn packet(
    interface: InterfaceIndex,
    (src, src_port): (&str, u16),
    (dst, dst_port): (&str, u16),
    protocol: u8,
    secs: u64,
) -> FlowUpdate {
    FlowUpdate {
        interface,
        key: FlowKey {
            src: ip(src),
            dst: ip(dst),
            src_port,
            dst_port,
            protocol,
        },
        packet_addrs: None,
        packets: 1,
        bytes: 60,
        first: secs * NANOS_PER_SEC,
        last: secs * NANOS_PER_SEC,
        tcp_flags: TcpFlags::NONE,
        action: Action::Accept,
        direction: None,
    }
}

fn tcp(src: (&str, u16), dst: (&str, u16), secs: u64) -> FlowUpdate {
    packet(ETH0, src, dst, 6, secs)
}

fn web_policy() -> Policy {
    Policy {
        security_groups: vec![sg(
            "web",
            &["eth*"],
            vec![m("tcp", "80", "0.0.0.0/0"), m("icmp", "0", "10.0.0.0/8")],
            vec![m("udp", "53", "10.0.0.2/32")],
        )],
        ..Policy::default()
    }
}
