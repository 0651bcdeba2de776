//! Network ACLs: stateless, numbered rules, and their order with the groups.

use super::*;

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
