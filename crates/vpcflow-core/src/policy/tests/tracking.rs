//! Connection tracking (timeouts, a bounded table, a policy replaced), and
//! the action given to each update in order.

use super::*;

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
