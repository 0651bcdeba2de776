//! Tests of the policy engine as a whole.

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

#[test]
fn without_policy_everything_is_accepted() {
    let mut e = engine(Policy::default());
    for u in [
        tcp(("203.0.113.5", 40000), (ME, 22), 1),
        tcp((ME, 22), ("203.0.113.5", 40000), 1),
        packet(ETH0, ("8.8.8.8", 0), ("1.1.1.1", 0), 1, 1),
        packet(InterfaceIndex(9), ("8.8.8.8", 0), (ME, 0), 1, 1),
    ] {
        assert_eq!(e.decide(&u), Action::Accept);
    }
}

#[test]
fn security_group_allows_inbound_rule_and_its_responses() {
    let mut e = engine(web_policy());
    let request = tcp(("203.0.113.5", 40000), (ME, 80), 1);
    let response = tcp((ME, 80), ("203.0.113.5", 40000), 1);
    // The response is not allowed by any outbound rule: only tracking lets it out.
    assert_eq!(e.decide(&response), Action::Reject);
    assert_eq!(e.decide(&request), Action::Accept);
    assert_eq!(e.decide(&response), Action::Accept);
    assert_eq!(e.decide(&request), Action::Accept);
    assert_eq!(e.connections().len(), 1);
}

#[test]
fn security_group_rejects_what_no_rule_allows_and_tracks_nothing() {
    let mut e = engine(web_policy());
    let ssh = tcp(("203.0.113.5", 40000), (ME, 22), 1);
    assert_eq!(e.decide(&ssh), Action::Reject);
    // Its would-be response is rejected too: the connection was never allowed.
    assert_eq!(
        e.decide(&tcp((ME, 22), ("203.0.113.5", 40000), 1)),
        Action::Reject
    );
    assert!(e.connections().is_empty());
    // Outbound: only UDP 53 to 10.0.0.2.
    let dns = packet(ETH0, (ME, 5353), ("10.0.0.2", 53), 17, 1);
    assert_eq!(e.decide(&dns), Action::Accept);
    let dns_other = packet(ETH0, (ME, 5353), ("10.0.0.3", 53), 17, 1);
    assert_eq!(e.decide(&dns_other), Action::Reject);
    let dns_reply = packet(ETH0, ("10.0.0.2", 53), (ME, 5353), 17, 2);
    assert_eq!(
        e.decide(&dns_reply),
        Action::Accept,
        "response of an outbound flow"
    );
}

#[test]
fn several_groups_are_a_union_and_other_interfaces_are_free() {
    let mut p = web_policy();
    p.security_groups.push(sg(
        "ssh",
        &["eth0"],
        vec![m("tcp", "22", "203.0.113.0/24")],
        vec![],
    ));
    let mut e = engine(p);
    assert_eq!(
        e.decide(&tcp(("203.0.113.5", 40000), (ME, 22), 1)),
        Action::Accept
    );
    assert_eq!(
        e.decide(&tcp(("198.51.100.5", 40000), (ME, 22), 1)),
        Action::Reject
    );
    // eth1 only has "web".
    let on_eth1 = packet(ETH1, ("10.0.0.7", 40000), ("10.9.0.1", 22), 6, 1);
    assert_eq!(e.decide(&on_eth1), Action::Reject);
    // An interface no group names is not restricted.
    e.attach(InterfaceIndex(2), "lo", &[ip("127.0.0.1")]);
    let lo = packet(InterfaceIndex(2), ("127.0.0.2", 1), ("127.0.0.1", 22), 6, 1);
    assert_eq!(e.decide(&lo), Action::Accept);
}

#[test]
fn port_ranges_and_protocol_numbers() {
    let p = Policy {
        security_groups: vec![sg(
            "g",
            &["eth0"],
            vec![
                m("tcp", "1000-2000", "0.0.0.0/0"),
                m("47", "0", "10.0.0.0/8"),
            ],
            vec![],
        )],
        ..Policy::default()
    };
    let mut e = engine(p);
    for (port, action) in [
        (999, Action::Reject),
        (1000, Action::Accept),
        (1500, Action::Accept),
        (2000, Action::Accept),
        (2001, Action::Reject),
    ] {
        let u = tcp(("10.1.1.1", 30000 + port), (ME, port), 1);
        assert_eq!(e.decide(&u), action, "port {port}");
    }
    let gre = packet(ETH0, ("10.1.1.1", 0), (ME, 0), 47, 1);
    assert_eq!(e.decide(&gre), Action::Accept);
    let gre_outside = packet(ETH0, ("11.1.1.1", 0), (ME, 0), 47, 1);
    assert_eq!(e.decide(&gre_outside), Action::Reject);
    let udp = packet(ETH0, ("10.1.1.1", 1500), (ME, 1500), 17, 1);
    assert_eq!(e.decide(&udp), Action::Reject);
}

#[test]
fn ipv6_rules_match_ipv6_only() {
    let p = Policy {
        security_groups: vec![sg(
            "g",
            &["eth0"],
            vec![m("tcp", "443", "::/0"), m("icmpv6", "0", "2001:db8::/32")],
            vec![],
        )],
        ..Policy::default()
    };
    let mut e = engine(p);
    assert_eq!(
        e.decide(&tcp(("2001:db8:9::1", 40000), (ME6, 443), 1)),
        Action::Accept
    );
    assert_eq!(
        e.decide(&tcp((ME6, 443), ("2001:db8:9::1", 40000), 1)),
        Action::Accept
    );
    assert_eq!(
        e.decide(&tcp(("203.0.113.1", 40000), (ME, 443), 1)),
        Action::Reject,
        "::/0 does not cover IPv4"
    );
    let echo = packet(ETH0, ("2001:db8:9::1", 0), (ME6, 0), 58, 1);
    assert_eq!(e.decide(&echo), Action::Accept);
    let echo_far = packet(ETH0, ("2600::1", 0), (ME6, 0), 58, 1);
    assert_eq!(e.decide(&echo_far), Action::Reject);
}

/// Spec §2.5 (AWS's documented example): a ping into the instance is allowed
/// by the security group and the network ACL's inbound rules, but the ACL
/// has no outbound rule for ICMP: the request is ACCEPT, the response REJECT.
#[test]
fn icmp_request_accepted_response_rejected_by_stateless_acl() {
    let p = Policy {
        security_groups: vec![sg(
            "g",
            &["eth0"],
            vec![m("icmp", "0", "203.0.113.0/24")],
            vec![],
        )],
        network_acls: vec![acl(
            &["eth0"],
            vec![rule(100, true, m("icmp", "0", "0.0.0.0/0"))],
            vec![rule(100, true, m("tcp", "1024-65535", "0.0.0.0/0"))],
        )],
        ..Policy::default()
    };
    let mut e = engine(p);
    let request = packet(ETH0, ("203.0.113.12", 0), (ME, 0), 1, 1);
    let response = packet(ETH0, (ME, 0), ("203.0.113.12", 0), 1, 1);
    for _ in 0..4 {
        assert_eq!(e.decide(&request), Action::Accept);
        assert_eq!(e.decide(&response), Action::Reject);
    }
}

#[test]
fn acl_first_match_wins_in_number_order_and_denies_by_default() {
    let p = Policy {
        network_acls: vec![acl(
            &["eth0"],
            // Given out of order: 90 must be evaluated before 100.
            vec![
                rule(100, true, m("all", "0", "0.0.0.0/0")),
                rule(90, false, m("tcp", "22", "203.0.113.0/24")),
                rule(110, false, m("all", "0", "0.0.0.0/0")),
            ],
            vec![rule(10, true, m("tcp", "0-65535", "10.0.0.0/8"))],
        )],
        ..Policy::default()
    };
    let mut e = engine(p);
    assert_eq!(
        e.decide(&tcp(("203.0.113.5", 40000), (ME, 22), 1)),
        Action::Reject
    );
    assert_eq!(
        e.decide(&tcp(("198.51.100.5", 40000), (ME, 22), 1)),
        Action::Accept
    );
    assert_eq!(
        e.decide(&tcp(("203.0.113.5", 40000), (ME, 80), 1)),
        Action::Accept
    );
    // Outbound: the only rule is TCP to 10/8; the rest hits the implicit deny.
    assert_eq!(e.decide(&tcp((ME, 1), ("10.1.1.1", 2), 1)), Action::Accept);
    assert_eq!(
        e.decide(&tcp((ME, 80), ("203.0.113.5", 40000), 1)),
        Action::Reject
    );
    let udp = packet(ETH0, (ME, 1), ("10.1.1.1", 2), 17, 1);
    assert_eq!(e.decide(&udp), Action::Reject);
    // IPv6 falls through to the implicit deny inbound (no IPv6 rule).
    assert_eq!(
        e.decide(&tcp(("2001:db8:9::1", 1), (ME6, 80), 1)),
        Action::Reject
    );
}

#[test]
fn acl_numbers_are_unique_per_direction() {
    let r = NetworkAcl::new(
        "a".into(),
        vec![],
        vec![rule(5, true, m("all", "0", "0.0.0.0/0"))],
        vec![
            rule(5, true, m("all", "0", "0.0.0.0/0")),
            rule(5, false, m("all", "0", "::/0")),
        ],
    );
    assert_eq!(r.unwrap_err(), (FlowDirection::Egress, 5));
}

#[test]
fn acl_inbound_runs_before_groups_and_outbound_after() {
    // Both must allow; a denied inbound request is never tracked, so its
    // response is judged by the outbound rules.
    let p = Policy {
        security_groups: vec![sg(
            "g",
            &["eth0"],
            vec![m("tcp", "80", "0.0.0.0/0")],
            vec![],
        )],
        network_acls: vec![acl(
            &["eth0"],
            vec![rule(1, false, m("tcp", "80", "203.0.113.0/24"))],
            vec![rule(1, true, m("all", "0", "0.0.0.0/0"))],
        )],
        ..Policy::default()
    };
    let mut e = engine(p);
    assert_eq!(
        e.decide(&tcp(("203.0.113.5", 40000), (ME, 80), 1)),
        Action::Reject
    );
    assert!(e.connections().is_empty());
    assert_eq!(
        e.decide(&tcp((ME, 80), ("203.0.113.5", 40000), 1)),
        Action::Reject,
        "no outbound group rule and no tracked connection"
    );
}

#[test]
fn unknown_direction_is_not_judged() {
    let mut e = engine(web_policy());
    // Neither address is eth0's: a transit packet.
    let transit = tcp(("203.0.113.5", 40000), ("10.0.0.9", 22), 1);
    assert_eq!(e.decide(&transit), Action::Accept);
    // An interface without addresses: nothing has a direction.
    e.attach(InterfaceIndex(3), "eth3", &[]);
    let u = packet(
        InterfaceIndex(3),
        ("203.0.113.5", 1),
        ("10.0.0.9", 22),
        6,
        1,
    );
    assert_eq!(e.decide(&u), Action::Accept);
    e.add_addresses(InterfaceIndex(3), &[ip("10.0.0.9")]);
    assert_eq!(e.decide(&u), Action::Reject);
}

#[test]
fn source_rejects_are_kept() {
    let mut e = engine(Policy::default());
    let mut u = tcp(("203.0.113.5", 40000), (ME, 80), 1);
    u.action = Action::Reject;
    assert_eq!(e.decide(&u), Action::Reject);
}

#[test]
fn udp_and_icmp_connections_expire_after_their_timeouts() {
    let mut e = engine(web_policy());
    let query = packet(ETH0, (ME, 5353), ("10.0.0.2", 53), 17, 100);
    let reply = |secs| packet(ETH0, ("10.0.0.2", 53), (ME, 5353), 17, secs);
    assert_eq!(e.decide(&query), Action::Accept);
    // No response for 31 s: the flow expired.
    assert_eq!(e.decide(&reply(100 + UDP_TIMEOUT_SECS + 1)), Action::Reject);
    // Again, with a response in time: it becomes a stream (180 s).
    assert_eq!(
        e.decide(&packet(ETH0, (ME, 5353), ("10.0.0.2", 53), 17, 200)),
        Action::Accept
    );
    assert_eq!(e.decide(&reply(210)), Action::Accept);
    assert_eq!(
        e.decide(&reply(210 + UDP_STREAM_TIMEOUT_SECS)),
        Action::Accept
    );
    assert_eq!(
        e.decide(&reply(210 + 2 * UDP_STREAM_TIMEOUT_SECS + 1)),
        Action::Reject
    );
    // ICMP: 30 s.
    let ping = packet(ETH0, ("10.0.0.5", 0), (ME, 0), 1, 1000);
    let pong = |secs| packet(ETH0, (ME, 0), ("10.0.0.5", 0), 1, secs);
    assert_eq!(e.decide(&ping), Action::Accept);
    assert_eq!(e.decide(&pong(1000 + UDP_TIMEOUT_SECS)), Action::Accept);
    assert_eq!(
        e.decide(&pong(1000 + 2 * UDP_TIMEOUT_SECS + 1)),
        Action::Reject
    );
}

#[test]
fn tcp_lives_five_days_and_closes_after_fin() {
    let mut e = engine(web_policy());
    let request = tcp(("203.0.113.5", 40000), (ME, 80), 0);
    let response = |secs| tcp((ME, 80), ("203.0.113.5", 40000), secs);
    assert_eq!(e.decide(&request), Action::Accept);
    assert_eq!(
        e.decide(&response(TCP_ESTABLISHED_TIMEOUT_SECS)),
        Action::Accept
    );
    let late = 2 * TCP_ESTABLISHED_TIMEOUT_SECS + 1;
    assert_eq!(e.decide(&response(late)), Action::Reject);
    // A new connection that closes: 10 s later its packets are new traffic.
    let mut syn = tcp(("203.0.113.5", 40001), (ME, 80), late);
    syn.tcp_flags = TcpFlags(2);
    assert_eq!(e.decide(&syn), Action::Accept);
    let mut fin = tcp((ME, 80), ("203.0.113.5", 40001), late + 1);
    fin.tcp_flags = TcpFlags(1);
    assert_eq!(e.decide(&fin), Action::Accept);
    let after = tcp(
        (ME, 80),
        ("203.0.113.5", 40001),
        late + 1 + TCP_CLOSING_TIMEOUT_SECS + 1,
    );
    assert_eq!(e.decide(&after), Action::Reject);
}

#[test]
fn table_is_bounded_and_evicts_the_longest_idle() {
    let p = Policy {
        max_connections: 64,
        ..web_policy()
    };
    let mut e = engine(p);
    // 64 TCP connections (which never expire within the test), port n at time n.
    for n in 0..64u16 {
        let u = tcp(("203.0.113.5", 10000 + n), (ME, 80), u64::from(n));
        assert_eq!(e.decide(&u), Action::Accept);
    }
    assert_eq!(e.connections().len(), 64);
    // Refresh the oldest one so that it is no longer the longest idle.
    let oldest = tcp((ME, 80), ("203.0.113.5", 10000), 100);
    assert_eq!(e.decide(&oldest), Action::Accept);
    // One more: an eighth (8) is dropped, the longest idle: ports 10001..=10008.
    assert_eq!(
        e.decide(&tcp(("203.0.113.5", 20000), (ME, 80), 101)),
        Action::Accept
    );
    assert_eq!(e.connections().len(), 57);
    assert_eq!(e.connections().evicted(), 8);
    let response = |port| tcp((ME, 80), ("203.0.113.5", port), 102);
    assert_eq!(e.decide(&response(10000)), Action::Accept);
    for port in 10001..=10008 {
        assert_eq!(e.decide(&response(port)), Action::Reject, "{port}");
    }
    assert_eq!(e.decide(&response(10009)), Action::Accept);
    assert_eq!(e.decide(&response(20000)), Action::Accept);
}

#[test]
fn full_table_drops_expired_connections_first() {
    let p = Policy {
        max_connections: 16,
        ..web_policy()
    };
    let mut e = engine(p);
    for n in 0..16u16 {
        let u = packet(ETH0, (ME, 1000 + n), ("10.0.0.2", 53), 17, 0);
        assert_eq!(e.decide(&u), Action::Accept);
    }
    let u = packet(ETH0, (ME, 2000), ("10.0.0.2", 53), 17, 100);
    assert_eq!(e.decide(&u), Action::Accept);
    assert_eq!(e.connections().len(), 1);
    assert_eq!(e.connections().evicted(), 0);
}

fn bpa_policy(mode: BpaMode) -> Policy {
    Policy {
        block_public_access: BlockPublicAccess {
            mode,
            exclusions: vec!["eth1".into()],
        },
        ..Policy::default()
    }
}

#[test]
fn bpa_bidirectional_rejects_public_peers_with_reason() {
    let mut e = engine(bpa_policy(BpaMode::Bidirectional));
    let from_public = tcp(("8.8.8.8", 40000), (ME, 80), 1);
    let to_public = tcp((ME, 40000), ("8.8.8.8", 443), 1);
    let to_public6 = tcp((ME6, 40000), ("2600:1f18::1", 443), 1);
    let private = tcp(("10.0.0.5", 40000), (ME, 80), 1);
    assert_eq!(e.decide(&from_public), Action::RejectBpa);
    assert_eq!(e.decide(&to_public), Action::RejectBpa);
    assert_eq!(e.decide(&to_public6), Action::RejectBpa);
    assert_eq!(e.decide(&private), Action::Accept);
    let local6 = tcp(("fd00::5", 1), (ME6, 80), 1);
    assert_eq!(e.decide(&local6), Action::Accept);
    // Excluded interface.
    let on_eth1 = packet(ETH1, ("8.8.8.8", 1), ("10.9.0.1", 80), 6, 1);
    assert_eq!(e.decide(&on_eth1), Action::Accept);
    assert_eq!(Action::RejectBpa.as_str(), "REJECT");
    assert_eq!(Action::RejectBpa.reject_reason(), Some("BPA"));
    assert_eq!(Action::Reject.reject_reason(), None);
}

#[test]
fn bpa_ingress_allows_responses_of_own_connections() {
    let mut e = engine(bpa_policy(BpaMode::Ingress));
    let inbound = tcp(("8.8.8.8", 40000), (ME, 80), 1);
    assert_eq!(e.decide(&inbound), Action::RejectBpa);
    let out = tcp((ME, 40001), ("8.8.8.8", 443), 1);
    let back = tcp(("8.8.8.8", 443), (ME, 40001), 1);
    assert_eq!(e.decide(&out), Action::Accept);
    assert_eq!(e.decide(&back), Action::Accept);
    // Once an inbound packet was blocked, its "response" opens nothing that
    // lets the next inbound packet in.
    let reply_to_blocked = tcp((ME, 80), ("8.8.8.8", 40000), 2);
    assert_eq!(e.decide(&reply_to_blocked), Action::Accept);
    assert_eq!(
        e.decide(&inbound),
        Action::Accept,
        "now a response of eth0's own flow"
    );
}

#[test]
fn bpa_comes_before_groups() {
    let mut p = web_policy();
    p.block_public_access = BlockPublicAccess {
        mode: BpaMode::Bidirectional,
        exclusions: vec![],
    };
    let mut e = engine(p);
    assert_eq!(
        e.decide(&tcp(("8.8.8.8", 40000), (ME, 80), 1)),
        Action::RejectBpa
    );
    assert_eq!(
        e.decide(&tcp(("8.8.8.8", 40000), (ME, 22), 1)),
        Action::RejectBpa
    );
    assert_eq!(
        e.decide(&tcp(("10.0.0.8", 40000), (ME, 22), 1)),
        Action::Reject
    );
}

#[test]
fn replacement_keeps_tracked_connections() {
    let mut e = engine(web_policy());
    let request = tcp(("203.0.113.5", 40000), (ME, 80), 1);
    let response = tcp((ME, 80), ("203.0.113.5", 40000), 2);
    assert_eq!(e.decide(&request), Action::Accept);
    // The new policy no longer allows port 80 in, but the connection lives on.
    let closed = Policy {
        security_groups: vec![sg("web", &["eth*"], vec![], vec![])],
        ..Policy::default()
    };
    e.replace(closed.clone());
    assert_eq!(e.policy(), &closed);
    assert_eq!(e.decide(&response), Action::Accept);
    assert_eq!(e.decide(&request), Action::Accept);
    let fresh = tcp(("203.0.113.5", 40001), (ME, 80), 3);
    assert_eq!(e.decide(&fresh), Action::Reject);
    // A policy without groups on eth0 has nothing to track: the table is emptied.
    e.replace(Policy::default());
    assert!(e.connections().is_empty());
    assert_eq!(e.decide(&fresh), Action::Accept);
}

#[test]
fn apply_sets_every_action_in_order() {
    let mut e = engine(web_policy());
    let mut batch = [
        tcp((ME, 80), ("203.0.113.5", 40000), 1),
        tcp(("203.0.113.5", 40000), (ME, 80), 1),
        tcp((ME, 80), ("203.0.113.5", 40000), 1),
    ];
    e.apply(&mut batch);
    let actions: Vec<Action> = batch.iter().map(|u| u.action).collect();
    assert_eq!(actions, [Action::Reject, Action::Accept, Action::Accept]);
}

#[test]
fn time_of_last_packet_is_used() {
    let mut e = engine(web_policy());
    let q: Timestamp = 5 * NANOS_PER_SEC;
    let mut query = packet(ETH0, (ME, 5353), ("10.0.0.2", 53), 17, 0);
    query.last = q;
    assert_eq!(e.decide(&query), Action::Accept);
    let reply = packet(ETH0, ("10.0.0.2", 53), (ME, 5353), 17, 5 + UDP_TIMEOUT_SECS);
    assert_eq!(e.decide(&reply), Action::Accept);
}
