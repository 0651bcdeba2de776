//! Security groups: inbound and outbound rules, ports, protocols, IPv6.

use super::*;

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
