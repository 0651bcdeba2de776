//! The converter's state across a restart: export, import, and what is
//! counted afterwards.

use vpcflow_core::{Action, LossEvent};

use super::*;
use crate::skydive::snapshot::ConverterSnapshot;
use crate::skydive::state_file::{decode, encode};

const T0: i64 = 1_700_000_000_000;

/// `c`'s state after a trip through the state file.
fn through_file(c: &Converter) -> ConverterSnapshot {
    let bytes = encode(&c.export(), "test", T0);
    decode(&bytes, "test").unwrap().snapshot
}

fn restarted(options: ConverterOptions, from: &Converter) -> (Converter, RecordingConsumer) {
    let mut c = Converter::new(options);
    let mut sink = RecordingConsumer::default();
    c.import(through_file(from), &mut sink);
    (c, sink)
}

fn packets(sink: &RecordingConsumer) -> u64 {
    sink.updates.iter().map(|u| u.packets).sum()
}

fn delta_flow(uuid: &str, cumulative: i64, delta: i64, span: (i64, i64)) -> Flow<'static> {
    with_delta(
        tcp_flow(uuid),
        metric(cumulative, cumulative * 100, 0, 0, T0, span.1),
        metric(delta, delta * 100, 0, 0, span.0, span.1),
    )
}

fn metric_only(uuid: &str, cumulative: i64, last: i64) -> Flow<'static> {
    let mut f = tcp_flow(uuid);
    f.start = T0;
    f.last = last;
    f.metric = Some(metric(cumulative, cumulative * 100, 1, 60, T0, last));
    f
}

#[test]
fn a_delta_resent_after_a_restart_is_not_counted_again() {
    let first = delta_flow("f", 3, 3, (T0, T0 + 1000));
    let (before, c1) = run(&[vec![first.clone()]]);
    assert_eq!(packets(&before), 3);

    let (mut c2, mut sink) = restarted(ConverterOptions::default(), &c1);
    c2.flows(std::slice::from_ref(&first), &mut sink);
    assert_eq!(packets(&sink), 0, "the resent delta is counted once");
    assert_eq!(c2.stats().duplicate_deltas, 1);
    c2.flows(&[delta_flow("f", 5, 2, (T0 + 1000, T0 + 2000))], &mut sink);
    assert_eq!(packets(&sink), 2, "the next delta counts");

    // Without the state, the resend would be counted a second time.
    let (fresh, _) = run(&[vec![first]]);
    assert_eq!(packets(&fresh), 3);
}

#[test]
fn a_metric_only_flow_counts_only_the_difference_after_a_restart() {
    let (before, c1) = run(&[vec![metric_only("m", 5, T0 + 1000)]]);
    assert_eq!(packets(&before), 6); // 5 AB + 1 BA

    let (mut c2, mut sink) = restarted(ConverterOptions::default(), &c1);
    c2.flows(&[metric_only("m", 8, T0 + 2000)], &mut sink);
    assert_eq!(sink.updates.len(), 1, "{:?}", sink.updates);
    let u = sink.updates[0];
    assert_eq!((u.packets, u.bytes), (3, 300));
    // The delta starts where the previous Metric ended.
    assert_eq!(u.first, (T0 as u64 + 1000) * MS);

    let (fresh, _) = run(&[vec![metric_only("m", 8, T0 + 2000)]]);
    assert_eq!(packets(&fresh), 9, "without the state: the whole Metric");
}

#[test]
fn imported_states_expire_by_event_time_as_in_memory() {
    let options = ConverterOptions::default();
    let ttl_ms = options.state_ttl_secs as i64 * 1000;
    let old = delta_flow("old", 1, 1, (T0, T0 + 1000));
    let fresh = delta_flow("fresh", 1, 1, (T0 + 600_000, T0 + 601_000));
    let later = delta_flow(
        "later",
        1,
        1,
        (T0 + ttl_ms + 300_000, T0 + ttl_ms + 301_000),
    );

    // In memory, without a restart.
    let (_, memory) = run(&[vec![old.clone()], vec![fresh.clone()], vec![later.clone()]]);

    let (_, c1) = run(&[vec![old.clone()], vec![fresh]]);
    let (mut c2, mut sink) = restarted(options, &c1);
    assert_eq!(c2.tracked_flows(), 2);
    assert_eq!(c2.now_ms(), T0 + 601_000);
    c2.flows(&[later], &mut sink);
    assert_eq!(c2.tracked_flows(), memory.tracked_flows());
    assert_eq!(c2.tracked_flows(), 2, "old expired, fresh and later kept");
    assert_eq!(c2.stats().expired_states, memory.stats().expired_states);
    // The expired state is gone: its delta would count again.
    c2.flows(&[old], &mut sink);
    assert_eq!(packets(&sink), 2);
}

#[test]
fn an_import_keeps_the_most_recently_seen_within_the_cap() {
    let flows: Vec<Vec<Flow>> = (0..10)
        .map(|i| {
            vec![delta_flow(
                &format!("f{i}"),
                1,
                1,
                (T0 + i * 1000, T0 + i * 1000 + 1),
            )]
        })
        .collect();
    let (_, c1) = run(&flows);
    let options = ConverterOptions {
        max_tracked_flows: 4,
        ..ConverterOptions::default()
    };
    let (mut c2, mut sink) = restarted(options, &c1);
    assert_eq!(c2.tracked_flows(), 4);
    // The newest are known (resends are duplicates), the oldest are not.
    let all: Vec<Flow> = flows.into_iter().flatten().collect();
    c2.flows(&all[6..], &mut sink);
    assert_eq!(packets(&sink), 0);
    c2.flows(&all[..1], &mut sink);
    assert_eq!(packets(&sink), 1);
}

#[test]
fn capture_interfaces_survive_a_restart() {
    let stats = |dropped| Stats {
        capture_id: "cap-1".into(),
        packets_dropped: dropped,
        ..Stats::default()
    };
    let (_, mut c1) = run(&[vec![delta_flow("f", 1, 1, (T0, T0 + 1000))]]);
    let mut sink = RecordingConsumer::default();
    c1.capture_stats(&stats(10), None, &mut sink);
    assert_eq!(sink.losses.len(), 1, "per-period drops count at once");

    let (mut c2, mut sink) = restarted(ConverterOptions::default(), &c1);
    c2.capture_stats(&stats(5), None, &mut sink);
    assert_eq!(sink.losses.len(), 1);
    let loss: &LossEvent = &sink.losses[0];
    assert_eq!(loss.count, 5, "the drops of the period, no baseline");
    assert_eq!(sink.names[loss.interface.0 as usize], "node-1");
}

#[test]
fn two_point_traffic_undecided_at_the_restart_is_decided_after_it() {
    let options = ConverterOptions {
        two_point: Some(TwoPoint {
            outside: "fw-out".into(),
            inside: "fw-in".into(),
            timeout_secs: 120,
        }),
        ..ConverterOptions::default()
    };
    let mut outside = delta_flow("o", 10, 10, (T0, T0 + 1000));
    outside.node_tid = "fw-out".into();
    outside.l3_tracking_id = "conv".into();
    let mut c1 = Converter::new(options.clone());
    let mut sink1 = RecordingConsumer::default();
    c1.flows(&[outside], &mut sink1);
    assert!(sink1.updates.is_empty(), "undecided before the timeout");

    // A crash-safe snapshot taken while running (no finish).
    let (mut c2, mut sink) = restarted(options, &c1);
    let mut elsewhere = delta_flow("e", 1, 1, (T0 + 200_000, T0 + 201_000));
    elsewhere.node_tid = "node-9".into();
    c2.flows(&[elsewhere], &mut sink);
    let rejected: Vec<_> = sink
        .updates
        .iter()
        .filter(|u| u.action == Action::Reject)
        .collect();
    assert_eq!(rejected.len(), 1, "{:?}", sink.updates);
    assert_eq!(rejected[0].packets, 10);
    assert_eq!(sink.names[rejected[0].interface.0 as usize], "fw-out");
    assert_eq!(rejected[0].key.dst_port, 80);
}
