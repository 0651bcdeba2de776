use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;
use crate::aggregate::{AggregatorConfig, OverflowPolicy};
use crate::flow::{Action, FlowKey, FlowUpdate, LossEvent, NANOS_PER_SEC};
use crate::window::Interval;

const S: u64 = NANOS_PER_SEC;

fn update(iface: u32, n: u32, t_secs: u64, inner: bool) -> FlowUpdate {
    let v6 = n % 5 == 0;
    FlowUpdate {
        interface: InterfaceIndex(iface),
        key: FlowKey {
            src: if v6 {
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n as u16))
            } else {
                IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
            },
            dst: if v6 {
                "2001:db8::ffff".parse().unwrap()
            } else {
                IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1))
            },
            src_port: (n % 65_000) as u16,
            dst_port: 443,
            protocol: if n % 3 == 0 { 17 } else { 6 },
        },
        packet_addrs: inner.then(|| PacketAddrs {
            src: IpAddr::V4(Ipv4Addr::new(192, 168, 0, (n % 250) as u8)),
            dst: "fd00::1".parse().unwrap(),
        }),
        packets: 1 + u64::from(n % 3),
        bytes: 60 + u64::from(n % 1400),
        first: t_secs * S,
        last: t_secs * S + u64::from(n % 1000) * 1_000_000,
        tcp_flags: TcpFlags((n % 64) as u8),
        action: match n % 7 {
            0 => Action::Reject,
            1 => Action::RejectBpa,
            _ => Action::Accept,
        },
        direction: None,
    }
}

fn config(tunnels: bool, max_open_flows: usize) -> AggregatorConfig {
    AggregatorConfig {
        interval: Interval::OneMinute,
        allowed_lateness_secs: 30,
        key_by_packet_addrs: tunnels,
        max_open_flows,
        overflow: OverflowPolicy::Flush,
        ..AggregatorConfig::default()
    }
}

/// Feeds `a` a stretch of traffic from `t0` (late updates and losses
/// included); returns what it released, encoded.
fn feed(a: &mut Aggregator, t0: u64, seed: u32, tunnels: bool) -> Vec<Vec<u8>> {
    let mut released = Vec::new();
    for i in 0..3_000u32 {
        let n = (i.wrapping_mul(2_654_435_761).wrapping_add(seed)) % 700;
        let t = t0 + u64::from(i) / 40;
        if i % 10 == 0 {
            a.add_interface(InterfaceIndex(n % 4));
        }
        a.observe(&update(n % 4, n, t, tunnels && n % 2 == 0));
        if i % 500 == 0 {
            // Late: a window already closed opens again.
            a.observe(&update(1, n, t.saturating_sub(200), false));
            a.lose(&LossEvent {
                interface: InterfaceIndex(2),
                at: t * S,
                count: 3,
            });
        }
        if let Some(c) = a.take_released() {
            let mut bytes = Vec::new();
            c.encode(&mut bytes);
            released.push(bytes);
        }
    }
    released
}

fn records(bytes: &[Vec<u8>]) -> Vec<FlowRecord> {
    bytes
        .iter()
        .flat_map(|b| Closed::decode(b).unwrap().into_sorted_records())
        .collect()
}

#[test]
fn a_state_rebuilt_from_a_full_state_and_changes_releases_the_same_records() {
    for (tunnels, max_open_flows) in [(false, 2_000_000), (true, 2_000_000), (false, 300)] {
        let mut original = Aggregator::new(config(tunnels, max_open_flows));
        let mut journal = Vec::new();
        let mut out = Vec::new();
        feed(&mut original, 1_000, 1, tunnels);
        original.encode_state(true, &mut out);
        journal.push(std::mem::take(&mut out));
        for (step, seed) in [(1, 7u32), (2, 13), (3, 21)] {
            feed(&mut original, 1_000 + step * 60, seed, tunnels);
            original.encode_state(false, &mut out);
            journal.push(std::mem::take(&mut out));
        }
        let mut restored = Aggregator::new(config(tunnels, max_open_flows));
        for frame in &journal {
            restored.apply_state(frame).unwrap();
        }
        assert_eq!(restored.open_flows(), original.open_flows());
        assert_eq!(restored.stats(), original.stats());
        // Both go on with the same input and release the same records.
        let a = feed(&mut original, 1_300, 99, tunnels);
        let b = feed(&mut restored, 1_300, 99, tunnels);
        assert_eq!(
            records(&a),
            records(&b),
            "tunnels {tunnels} cap {max_open_flows}"
        );
        let (mut fa, mut fb) = (Vec::new(), Vec::new());
        original.finish().encode(&mut fa);
        restored.finish().encode(&mut fb);
        let (ra, rb) = (records(&[fa]), records(&[fb]));
        assert!(!ra.is_empty());
        assert_eq!(ra, rb);
    }
}

#[test]
fn closed_windows_round_trip_and_filter_by_end() {
    let mut a = Aggregator::new(config(true, 2_000_000));
    let released = feed(&mut a, 5_000, 3, true);
    assert!(!released.is_empty());
    for bytes in &released {
        let closed = Closed::decode(bytes).unwrap();
        let mut again = Vec::new();
        closed.encode(&mut again);
        assert_eq!(&again, bytes);
        let all = Closed::decode(bytes).unwrap().into_sorted_records();
        let cut = all[all.len() / 2].end;
        let mut kept = Closed::decode(bytes).unwrap();
        kept.retain_ends(|end| end >= cut);
        let want: Vec<FlowRecord> = all.iter().filter(|r| r.end >= cut).copied().collect();
        assert_eq!(kept.into_sorted_records(), want);
    }
    // NODATA runs are cut at the first kept window.
    let mut idle = Aggregator::new(config(false, 10));
    idle.add_interface(InterfaceIndex(0));
    idle.add_interface(InterfaceIndex(1));
    idle.observe(&update(0, 1, 60, false));
    idle.observe(&update(0, 1, 60 * 20, false));
    let mut closed = idle.take_released().unwrap();
    let all = closed.len();
    closed.retain_ends(|end| end >= 60 * 10);
    let kept = closed.into_sorted_records();
    assert!(kept.len() < all && !kept.is_empty());
    assert!(kept.iter().all(|r| r.end >= 600));
}

#[test]
fn damaged_bytes_are_errors_never_panics() {
    let mut a = Aggregator::new(config(true, 2_000_000));
    feed(&mut a, 9_000, 5, true);
    let mut state = Vec::new();
    a.encode_state(true, &mut state);
    let mut closed = Vec::new();
    a.finish().encode(&mut closed);
    for bytes in [&state, &closed] {
        for cut in (0..bytes.len()).step_by(bytes.len() / 300 + 1) {
            let torn = &bytes[..cut];
            assert!(Aggregator::new(config(true, 10)).apply_state(torn).is_err());
            assert!(Closed::decode(torn).is_err());
        }
        for i in (0..bytes.len()).step_by(bytes.len() / 300 + 1) {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0xa5;
            let _ = Aggregator::new(config(true, 10)).apply_state(&flipped);
            let _ = Closed::decode(&flipped);
        }
    }
    // A count larger than what follows is refused without allocating it.
    let mut huge = vec![0u8; 16];
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        Closed::decode(&huge).unwrap_err(),
        StateDecodeError("closed flows")
    );
}

#[test]
fn keys_and_sums_are_compact_and_round_trip_at_their_extremes() {
    use crate::aggregate::entry::{put_varint, take_varint};
    for v in [
        0,
        1,
        127,
        128,
        300,
        u64::from(u32::MAX),
        u64::MAX - 1,
        u64::MAX,
    ] {
        let mut b = Vec::new();
        put_varint(&mut b, v);
        assert_eq!(
            b.len(),
            (64 - v.leading_zeros() as usize).div_ceil(7).max(1)
        );
        let mut r = b.as_slice();
        assert_eq!(take_varint(&mut r), Some(v));
        assert!(r.is_empty());
        // Cut short: not a value.
        assert_eq!(take_varint(&mut &b[..b.len() - 1]), None);
    }
    // Eleven bytes, or a tenth byte above 1, do not fit a u64.
    assert_eq!(take_varint(&mut &[0xff; 11][..]), None);
    assert_eq!(
        take_varint(&mut &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02][..]),
        None
    );

    for (n, interface) in [(1, 0), (5, 7), (7, u32::MAX)] {
        let u = update(interface, n, 60, false);
        let key = TableKey::new(u.interface, &u.key, u.action, u.direction);
        let mut b = Vec::new();
        key.encode(&mut b);
        let v6 = u.key.src.is_ipv6();
        let addresses = if v6 { 32 } else { 8 };
        let interface_len = if interface < 128 { 1 } else { 5 };
        assert_eq!(b.len(), 1 + addresses + 4 + interface_len + 1, "{key:?}");
        let mut r = b.as_slice();
        assert_eq!(TableKey::decode(&mut r), Some(key));
        assert!(r.is_empty());
        for cut in 0..b.len() {
            assert_eq!(TableKey::decode(&mut &b[..cut]), None);
        }
    }
    // Unknown flag bits are not a key.
    assert_eq!(TableKey::decode(&mut &[0x80; 20][..]), None);
}

/// Closed flows carry their window as the difference from the previous
/// flow's: windows going back, forward and far apart round-trip, and a flow
/// of a repeated window costs one byte for it.
#[test]
fn closed_windows_round_trip_as_differences() {
    let mut a = Aggregator::new(config(false, 2_000_000));
    let at = [9_000u64, 60, 9_000, 4_000_000_000 - 60, 120, 9_000];
    for (n, t) in at.iter().enumerate() {
        a.observe(&update(0, n as u32 + 1, *t, false));
    }
    let closed = a.finish();
    let mut bytes = Vec::new();
    closed.encode(&mut bytes);
    let again = Closed::decode(&bytes).unwrap();
    let mut re = Vec::new();
    again.encode(&mut re);
    assert_eq!(re, bytes);
    let windows = |c: Closed| -> Vec<u64> {
        c.into_sorted_records()
            .iter()
            .map(|r| r.window_start)
            .collect()
    };
    let expected = windows(Closed::decode(&bytes).unwrap());
    assert_eq!(expected, [60, 120, 9_000, 9_000, 9_000, 3_999_999_900]);
    let mut b = Aggregator::new(config(false, 2_000_000));
    for (n, t) in [9_000u64; 40].iter().enumerate() {
        b.observe(&update(0, 5 * n as u32 + 1, *t, false));
    }
    let (mut one, mut forty) = (Vec::new(), Vec::new());
    let mut c = Aggregator::new(config(false, 2_000_000));
    c.observe(&update(0, 1, 9_000, false));
    c.finish().encode(&mut one);
    b.finish().encode(&mut forty);
    // Each flow after the first: one byte of window, 15 of IPv4 key, at
    // most 8 of these small counters, one of packet addresses (five bytes
    // of window before).
    let per_flow = (forty.len() - one.len()) as f64 / 39.0;
    assert!((20.0..=25.0).contains(&per_flow), "{per_flow} bytes a flow");
}
