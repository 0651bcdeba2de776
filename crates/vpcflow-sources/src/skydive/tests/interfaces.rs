//! Nodes as interfaces, and capture drops as losses.

use vpcflow_core::{InterfaceIndex, LossEvent};

use super::*;

#[test]
fn node_tids_are_interfaces() {
    let a = with_delta(
        tcp_flow("a"),
        metric(1, 60, 0, 0, 1_000, 1_000),
        metric(1, 60, 0, 0, 1_000, 1_000),
    );
    let mut b = a.clone();
    b.uuid = "b".into();
    b.node_tid = "node-2".into();
    let (sink, _) = run(&[vec![a, b]]);
    assert_eq!(sink.names, vec!["node-1", "node-2"]);
    assert_eq!(sink.updates[0].interface, InterfaceIndex(0));
    assert_eq!(sink.updates[1].interface, InterfaceIndex(1));
}

#[test]
fn drop_statistics_become_losses() {
    let f = with_delta(
        tcp_flow("s"),
        metric(1, 60, 0, 0, 1_000, 90_000),
        metric(1, 60, 0, 0, 1_000, 90_000),
    );
    let mut c = Converter::new(ConverterOptions::default());
    let mut sink = RecordingConsumer::default();
    let stats = |dropped: i64| Stats {
        capture_id: "cap-1".into(),
        packets_dropped: dropped,
        packets_received: 1000,
        ..Stats::default()
    };
    c.flows(&[f], &mut sink);
    // Each statistics message carries the drops of its own period (Skydive's
    // flow table resets its counters after each send): every one counts.
    c.capture_stats(&stats(0), None, &mut sink); // a quiet period
    assert!(sink.losses.is_empty());
    c.capture_stats(&stats(5), None, &mut sink);
    c.capture_stats(&stats(3), None, &mut sink); // fewer: not a reset
    assert_eq!(
        sink.losses,
        vec![
            LossEvent {
                interface: InterfaceIndex(0),
                at: 90_000 * MS,
                count: 5
            },
            LossEvent {
                interface: InterfaceIndex(0),
                at: 90_000 * MS,
                count: 3
            }
        ]
    );
    assert_eq!(c.stats().dropped_units, 8);
    sink.losses.clear();
    // The same interface seen under a second capture: that capture's drops
    // are attributed to it too.
    let mut g = tcp_flow("s2");
    g.capture_id = "cap-2".into();
    let g = with_delta(
        g,
        metric(1, 60, 0, 0, 1_000, 90_000),
        metric(1, 60, 0, 0, 1_000, 90_000),
    );
    c.flows(&[g], &mut sink);
    let cap2 = |dropped: i64| Stats {
        capture_id: "cap-2".into(),
        ..stats(dropped)
    };
    c.capture_stats(&cap2(0), None, &mut sink);
    c.capture_stats(&cap2(2), None, &mut sink);
    assert_eq!(sink.losses.len(), 1);
    assert_eq!(sink.losses[0].interface, InterfaceIndex(0));
    sink.losses.pop();
    // Unknown capture: counted, not attributed.
    c.capture_stats(
        &Stats {
            capture_id: "cap-9".into(),
            ..stats(1)
        },
        None,
        &mut sink,
    );
    c.capture_stats(
        &Stats {
            capture_id: "cap-9".into(),
            ..stats(4)
        },
        Some(95_000),
        &mut sink,
    );
    assert!(sink.losses.is_empty());
    assert_eq!(c.stats().unattributed_drops, 1 + 4);
}

#[test]
fn drop_statistics_near_the_limits_saturate_and_negative_ones_count_nothing() {
    let f = with_delta(
        tcp_flow("s"),
        metric(1, 60, 0, 0, 1_000, 90_000),
        metric(1, 60, 0, 0, 1_000, 90_000),
    );
    let mut c = Converter::new(ConverterOptions::default());
    let mut sink = RecordingConsumer::default();
    c.flows(&[f], &mut sink);
    let huge = Stats {
        capture_id: "cap-1".into(),
        packets_dropped: i64::MAX,
        flow_dropped: i64::MAX,
        kernel_flow_dropped: i64::MAX,
        ..Stats::default()
    };
    c.capture_stats(&huge, None, &mut sink);
    c.capture_stats(&huge, None, &mut sink);
    assert_eq!(sink.losses.len(), 2);
    assert_eq!(sink.losses[0].count, u64::MAX, "the sum saturates");
    assert_eq!(c.stats().dropped_units, u64::MAX);
    let negative = Stats {
        capture_id: "cap-1".into(),
        packets_dropped: i64::MIN,
        flow_dropped: -1,
        ..Stats::default()
    };
    c.capture_stats(&negative, None, &mut sink);
    assert_eq!(sink.losses.len(), 2);
}
