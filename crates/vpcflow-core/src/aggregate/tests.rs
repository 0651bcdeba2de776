use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::flow::{Action, FlowKey, FlowUpdate, PacketAddrs};
use crate::tcp_flags::TcpFlags;

const S: u64 = NANOS_PER_SEC;

fn key(sport: u16) -> FlowKey {
    FlowKey {
        src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        src_port: sport,
        dst_port: 80,
        protocol: 6,
    }
}

fn packet(iface: u32, sport: u16, t_ns: u64, bytes: u64) -> FlowUpdate {
    FlowUpdate {
        interface: InterfaceIndex(iface),
        key: key(sport),
        packet_addrs: None,
        packets: 1,
        bytes,
        first: t_ns,
        last: t_ns,
        tcp_flags: TcpFlags::NONE,
        action: Action::Accept,
        direction: None,
    }
}

fn config(interval: Interval) -> AggregatorConfig {
    AggregatorConfig {
        interval,
        allowed_lateness_secs: 0,
        ..AggregatorConfig::default()
    }
}

/// End of input, in file order.
fn finish_sorted(a: &mut Aggregator) -> Vec<FlowRecord> {
    a.finish().into_sorted_records()
}

fn ok(records: &[FlowRecord]) -> Vec<&FlowRecord> {
    records
        .iter()
        .filter(|r| r.status == LogStatus::Ok)
        .collect()
}

#[test]
fn sums_packets_of_one_flow_in_one_window() {
    let mut a = Aggregator::new(config(Interval::OneMinute));
    a.observe(&packet(0, 1000, 61 * S + 5, 100));
    a.observe(&packet(0, 1000, 70 * S, 200));
    let r = finish_sorted(&mut a);
    assert_eq!(r.len(), 1);
    let t = r[0].traffic.unwrap();
    assert_eq!((t.packets, t.bytes), (2, 300));
    assert_eq!((r[0].start, r[0].end, r[0].window_start), (61, 70, 60));
}

#[test]
fn a_flow_across_windows_gets_one_record_per_window() {
    let mut a = Aggregator::new(config(Interval::OneMinute));
    a.observe(&packet(0, 1000, 59 * S, 10));
    a.observe(&packet(0, 1000, 60 * S, 20));
    let first = a
        .take_released()
        .map(|c| {
            let cb = c.complete_before;
            (c.into_sorted_records(), cb)
        })
        .expect("window 0 closed when 60 s arrived");
    assert_eq!(first.0.len(), 1);
    assert_eq!(first.1, 60);
    assert_eq!(first.0[0].end, 59);
    let rest = a.finish().into_sorted_records();
    assert_eq!(rest.len(), 1);
    assert_eq!((rest[0].start, rest[0].end), (60, 60));
}

#[test]
fn lateness_keeps_windows_open() {
    let mut a = Aggregator::new(AggregatorConfig {
        allowed_lateness_secs: 30,
        ..config(Interval::OneMinute)
    });
    a.observe(&packet(0, 1, 50 * S, 10));
    a.observe(&packet(0, 1, 80 * S, 10));
    assert!(
        a.take_released().is_none(),
        "watermark 50 s has not passed 60 s"
    );
    a.observe(&packet(0, 1, 55 * S, 10)); // late but within lateness
    a.observe(&packet(0, 1, 95 * S, 10));
    let r = a.take_released().unwrap().into_sorted_records();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].traffic.unwrap().packets, 2);
    assert_eq!(a.stats().late_updates, 0);
}

#[test]
fn late_packets_after_close_get_their_own_record() {
    let mut a = Aggregator::new(config(Interval::OneMinute));
    a.observe(&packet(0, 1, 10 * S, 10));
    a.observe(&packet(0, 1, 70 * S, 10));
    a.observe(&packet(0, 1, 20 * S, 10));
    assert_eq!(a.stats().late_updates, 1);
    let mut all = a.take_released().unwrap().into_sorted_records();
    all.extend(a.finish().into_sorted_records());
    let packets: u64 = all.iter().map(|r| r.traffic.unwrap().packets).sum();
    assert_eq!(packets, 3);
    assert_eq!(all.iter().filter(|r| r.window_start == 0).count(), 2);
}

#[test]
fn nodata_for_known_idle_interface_and_gap_windows() {
    let mut a = Aggregator::new(config(Interval::OneMinute));
    a.add_interface(InterfaceIndex(0));
    a.add_interface(InterfaceIndex(1));
    a.observe(&packet(0, 1, 5 * S, 10));
    a.observe(&packet(0, 1, 185 * S, 10));
    let r = finish_sorted(&mut a);
    let nodata: Vec<(u32, u64, u64)> = r
        .iter()
        .filter(|r| r.status == LogStatus::NoData)
        .map(|r| (r.interface.0, r.start, r.end))
        .collect();
    assert_eq!(
        nodata,
        vec![
            (1, 0, 59),
            (0, 60, 119),
            (1, 60, 119),
            (0, 120, 179),
            (1, 120, 179),
            (1, 180, 239)
        ]
    );
    assert_eq!(ok(&r).len(), 2);
}

#[test]
fn loss_marks_window_skipdata_without_nodata() {
    let mut a = Aggregator::new(config(Interval::TenMinutes));
    a.add_interface(InterfaceIndex(0));
    a.add_interface(InterfaceIndex(1));
    a.observe(&packet(0, 1, 5 * S, 10));
    a.lose(&LossEvent {
        interface: InterfaceIndex(1),
        at: 7 * S,
        count: 3,
    });
    let r = finish_sorted(&mut a);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].status, LogStatus::Ok);
    assert_eq!(r[1].status, LogStatus::SkipData);
    assert_eq!((r[1].start, r[1].end), (0, 599));
    assert_eq!(a.stats().lost_units, 3);
}

#[test]
fn full_table_flushes_partial_records_without_loss() {
    let mut a = Aggregator::new(AggregatorConfig {
        max_open_flows: 2,
        ..config(Interval::OneMinute)
    });
    for sport in 0..5u16 {
        a.observe(&packet(0, sport, S, 10));
        a.observe(&packet(0, 0, 2 * S, 10));
    }
    assert!(a.open_flows() <= 2);
    let mut all = a.take_released().unwrap().into_sorted_records();
    all.extend(a.finish().into_sorted_records());
    let packets: u64 = all.iter().map(|r| r.traffic.unwrap().packets).sum();
    assert_eq!(packets, 10);
    assert!(a.stats().overflow_flushes >= 1);
    assert!(all.iter().all(|r| r.status == LogStatus::Ok));
}

#[test]
fn full_table_with_skip_policy_marks_skipdata() {
    let mut a = Aggregator::new(AggregatorConfig {
        max_open_flows: 1,
        overflow: OverflowPolicy::Skip,
        ..config(Interval::OneMinute)
    });
    a.observe(&packet(0, 1, S, 10));
    a.observe(&packet(0, 2, S, 10));
    a.observe(&packet(0, 1, S, 10));
    let r = finish_sorted(&mut a);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].traffic.unwrap().packets, 2);
    assert_eq!(r[1].status, LogStatus::SkipData);
    assert_eq!(a.stats().overflow_dropped_updates, 1);
}

#[test]
fn packet_addresses_split_records_only_when_keyed() {
    let inner = |n: u8| PacketAddrs {
        src: IpAddr::V4(Ipv4Addr::new(192, 168, 0, n)),
        dst: IpAddr::V4(Ipv4Addr::new(192, 168, 1, n)),
    };
    for (keyed, expect) in [(false, 1), (true, 2)] {
        let mut a = Aggregator::new(AggregatorConfig {
            key_by_packet_addrs: keyed,
            ..config(Interval::OneMinute)
        });
        for n in [1, 2] {
            let mut p = packet(0, 1, S, 10);
            p.packet_addrs = Some(inner(n));
            a.observe(&p);
        }
        assert_eq!(a.finish().into_sorted_records().len(), expect);
    }
}

#[test]
fn multi_packet_updates_are_clamped_to_the_window_of_their_last_packet() {
    let mut a = Aggregator::new(config(Interval::OneMinute));
    let mut u = packet(0, 1, 130 * S, 500);
    u.first = 50 * S;
    u.packets = 5;
    a.observe(&u);
    let r = finish_sorted(&mut a);
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].window_start, r[0].start, r[0].end), (120, 120, 130));
}

#[test]
fn records_are_sorted_by_end_then_interface() {
    let mut a = Aggregator::new(config(Interval::OneMinute));
    a.observe(&packet(1, 1, 30 * S, 10));
    a.observe(&packet(0, 2, 30 * S, 10));
    a.observe(&packet(0, 3, 10 * S, 10));
    let r = a.finish().into_sorted_records();
    let order: Vec<(u64, u32)> = r.iter().map(|r| (r.end, r.interface.0)).collect();
    assert_eq!(order, vec![(10, 0), (30, 0), (30, 1)]);
}

#[test]
fn long_idle_gaps_get_no_nodata() {
    let mut a = Aggregator::new(AggregatorConfig {
        nodata_max_gap_secs: 180,
        ..config(Interval::OneMinute)
    });
    a.add_interface(InterfaceIndex(0));
    a.add_interface(InterfaceIndex(1));
    a.observe(&packet(0, 1, 5 * S, 10));
    a.observe(&packet(0, 1, 185 * S, 10)); // a 2-window gap: NODATA
    a.observe(&packet(0, 1, 100_000 * S, 10)); // a long gap: none
    let r = finish_sorted(&mut a);
    let nodata = r.iter().filter(|r| r.status == LogStatus::NoData).count();
    // Windows 0, 180 and 99960: interface 1 idle (3); windows 60, 120: both idle (4).
    assert_eq!(nodata, 7);
    assert_eq!(a.stats().nodata_gaps_skipped, 1);
    assert_eq!(r.iter().filter(|r| r.status == LogStatus::Ok).count(), 3);
}

#[test]
fn hand_over_in_batches_keeps_order_and_holds_back_complete_before() {
    let mut a = Aggregator::new(config(Interval::OneMinute));
    a.add_interface(InterfaceIndex(0));
    a.add_interface(InterfaceIndex(1));
    for sport in 0..10u16 {
        a.observe(&packet(0, sport, (5 + u64::from(sport)) * S, 10));
    }
    a.observe(&packet(0, 1, 130 * S, 10));
    let closed = a.take_released().unwrap();
    assert_eq!(closed.len(), 10 + 1 + 2); // flows, NODATA of 1 at 0, NODATA of 0 and 1 at 60
    let batches: Vec<Released> = closed.into_released(4).collect();
    assert_eq!(
        batches.iter().map(|b| b.records.len()).collect::<Vec<_>>(),
        vec![4, 4, 4, 1]
    );
    // Each batch but the last completes up to the end of its last record
    // (later ones end no earlier); the last one what the hand-over does.
    let cbs: Vec<u64> = batches.iter().map(|b| b.complete_before).collect();
    assert_eq!(cbs, vec![8, 12, 119, 120]);
    for b in &batches[..3] {
        assert_eq!(b.complete_before, b.records.last().unwrap().end);
    }
    let all: Vec<FlowRecord> = batches.into_iter().flat_map(|b| b.records).collect();
    assert!(all.windows(2).all(|w| w[0].sort_key() <= w[1].sort_key()));
    let next = a.finish();
    let batches: Vec<Released> = next.into_released(100).collect();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].complete_before, u64::MAX);
}

#[test]
fn records_differing_in_action_or_reject_reason_are_separate() {
    let mut a = Aggregator::new(config(Interval::OneMinute));
    for (action, bytes) in [
        (Action::Accept, 100),
        (Action::Reject, 20),
        (Action::RejectBpa, 3),
        (Action::Reject, 40),
    ] {
        let mut p = packet(0, 1000, 61 * S, bytes);
        p.action = action;
        a.observe(&p);
    }
    let r = finish_sorted(&mut a);
    let mut got: Vec<(Action, u64, u64)> = ok(&r)
        .iter()
        .map(|r| {
            let t = r.traffic.unwrap();
            (t.action, t.packets, t.bytes)
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (Action::Accept, 1, 100),
            (Action::Reject, 2, 60),
            (Action::RejectBpa, 1, 3)
        ]
    );
}

#[test]
fn idle_windows_give_the_same_nodata_records_made_lazily() {
    // Three interfaces; traffic at 0 s and at 10 min: windows 60..540 are
    // idle for all three.
    let mut a = Aggregator::new(config(Interval::OneMinute));
    for i in [2, 0, 1] {
        a.add_interface(InterfaceIndex(i));
    }
    a.observe(&packet(1, 1, 5 * S, 10));
    a.observe(&packet(1, 1, 605 * S, 10));
    let closed = a.take_released().unwrap();
    // Held as one run, not as records.
    assert_eq!(closed.status.len(), 2);
    assert_eq!(closed.idle.len(), 1);
    assert_eq!(closed.len(), 1 + 2 + 9 * 3);
    let records = closed.into_sorted_records();
    assert!(records
        .windows(2)
        .all(|w| w[0].sort_key() < w[1].sort_key()));
    let nodata: Vec<(u64, u32)> = records
        .iter()
        .filter(|r| r.status == LogStatus::NoData)
        .map(|r| (r.window_start, r.interface.0))
        .collect();
    let mut want = vec![(0, 0), (0, 2)];
    for w in 1..10 {
        for i in 0..3 {
            want.push((w * 60, i));
        }
    }
    assert_eq!(nodata, want);
    for r in records.iter().filter(|r| r.status == LogStatus::NoData) {
        assert_eq!((r.start, r.end), (r.window_start, r.window_start + 59));
    }
    assert_eq!(a.stats().nodata_records, 29);
}

#[test]
fn nodata_of_many_interfaces_and_windows_is_streamed_in_bounded_batches() {
    // 2,000 interfaces idle for a day of one-minute windows: 2.9 million
    // NODATA records, made batch by batch, each batch completing the slots
    // behind it.
    let mut a = Aggregator::new(config(Interval::OneMinute));
    for i in 0..2_000 {
        a.add_interface(InterfaceIndex(i));
    }
    a.observe(&packet(0, 1, 30 * S, 10));
    a.observe(&packet(0, 1, 86_430 * S, 10));
    let closed = a.take_released().unwrap();
    assert!(closed.status.len() < 2_000);
    let final_cb = closed.complete_before;
    let mut count = 0u64;
    let mut previous_cb = 0;
    let mut previous_end = 0;
    for b in closed.into_released(16_384) {
        assert!(b.records.len() <= 16_384);
        assert!(b.complete_before >= previous_cb);
        assert!(b.records.iter().all(|r| r.end >= previous_end));
        previous_end = b.records.last().map_or(previous_end, |r| r.end);
        previous_cb = b.complete_before;
        count += b.records.len() as u64;
    }
    assert_eq!(previous_cb, final_cb);
    assert_eq!(count, 1 + 1_999 + 1_439 * 2_000);
}

#[test]
fn sums_saturate_instead_of_wrapping() {
    let mut a = Aggregator::new(config(Interval::OneMinute));
    for packets in [u64::MAX / 2 + 1, u64::MAX / 2 + 1, 5] {
        let mut p = packet(0, 1, 61 * S, u64::MAX - 1);
        p.packets = packets;
        a.observe(&p);
    }
    let r = finish_sorted(&mut a);
    let t = r[0].traffic.unwrap();
    assert_eq!((t.packets, t.bytes), (u64::MAX, u64::MAX));
}
