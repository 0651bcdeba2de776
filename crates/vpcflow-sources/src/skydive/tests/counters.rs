//! Counters that cannot wrap: impossible values are rejected and counted,
//! settings of any size are horizons, sums saturate.

use super::*;

fn metric_only(uuid: &str, packets: i64, last: i64) -> Flow<'static> {
    let mut f = tcp_flow(uuid);
    f.metric = Some(metric(
        packets,
        packets.saturating_mul(100),
        0,
        0,
        1_000,
        last,
    ));
    f.start = 1_000;
    f.last = last;
    f
}

fn delta_only(uuid: &str, packets: i64, span: (i64, i64)) -> Flow<'static> {
    let mut f = tcp_flow(uuid);
    f.last_update_metric = Some(metric(packets, packets, 0, 0, span.0, span.1));
    f.start = 1_000;
    f.last = span.1;
    f
}

fn total_packets(sink: &RecordingConsumer) -> u64 {
    sink.updates.iter().map(|u| u.packets).sum()
}

#[test]
fn a_huge_state_ttl_is_a_horizon_not_a_wrapped_one() {
    // state_ttl * 1000 overflowed: every sweep forgot every flow, and the
    // cumulative 5 -> 8 -> 12 was counted 5 + 8 + 12 = 25.
    let mut c = Converter::new(ConverterOptions {
        state_ttl_secs: 10_000_000_000_000_000,
        ..ConverterOptions::default()
    });
    let mut sink = RecordingConsumer::default();
    for (packets, last) in [(5, 2_000), (8, 400_000), (12, 900_000)] {
        c.flows(&[metric_only("m", packets, last)], &mut sink);
    }
    c.finish(&mut sink);
    assert_eq!(total_packets(&sink), 12);
    assert_eq!(c.stats().expired_states, 0);
    let mut c = Converter::new(ConverterOptions {
        state_ttl_secs: u64::MAX,
        orphan_wait_secs: u64::MAX,
        ..ConverterOptions::default()
    });
    c.flows(&[metric_only("m", 5, i64::MAX)], &mut sink);
}

#[test]
fn a_negative_cumulative_counter_is_rejected_not_counted_as_huge() {
    // Metric 5 -> i64::MIN -> 8: the impossible value is rejected; the
    // flow goes on from its last good value.
    let (sink, c) = run(&[
        vec![metric_only("m", 5, 2_000)],
        vec![metric_only("m", i64::MIN, 3_000)],
        vec![metric_only("m", 8, 4_000)],
    ]);
    assert_eq!(total_packets(&sink), 8);
    assert_eq!(c.stats().rejected_counters, 1);
    assert_eq!(c.stats().counter_resets, 0);
}

#[test]
fn absurd_deltas_are_rejected_so_that_sums_cannot_wrap() {
    // Three deltas of (2^63 - 1, 2^63 - 1, 5) packets summed to 3 in u64.
    let (sink, c) = run(&[
        vec![delta_only("d", i64::MAX, (1_000, 2_000))],
        vec![delta_only("d", i64::MAX, (2_000, 3_000))],
        vec![delta_only("d", 5, (3_000, 4_000))],
    ]);
    assert_eq!(total_packets(&sink), 5);
    assert_eq!(c.stats().rejected_counters, 2);
    // At the limit is accepted, one above is not.
    let (sink, c) = run(&[
        vec![delta_only("e", MAX_DELTA_PACKETS, (1_000, 2_000))],
        vec![delta_only("e", MAX_DELTA_PACKETS + 1, (2_000, 3_000))],
    ]);
    assert_eq!(total_packets(&sink), MAX_DELTA_PACKETS as u64);
    assert_eq!(c.stats().rejected_counters, 1);
    // A cumulative jump beyond the limit is rejected too, and the next
    // difference is counted from the new value.
    let (sink, c) = run(&[
        vec![metric_only("j", 5, 2_000)],
        vec![metric_only("j", 1 << 56, 3_000)],
        vec![metric_only("j", (1 << 56) + 4, 4_000)],
    ]);
    assert_eq!(total_packets(&sink), 5 + 4);
    assert_eq!(c.stats().rejected_counters, 1);
}

#[test]
fn bytes_near_the_limits_do_not_wrap_the_link_overhead_arithmetic() {
    let mut f = tcp_flow("b");
    f.layers_path = "Ethernet/IPv4/TCP".into();
    f.last_update_metric = Some(metric(1, MAX_DELTA_BYTES, 0, 0, 1_000, 2_000));
    f.start = 1_000;
    f.last = 2_000;
    let (sink, _) = run(&[vec![f]]);
    assert_eq!(sink.updates[0].bytes, MAX_DELTA_BYTES as u64 - 14);
}

#[test]
fn times_before_1970_or_after_2554_are_rejected_and_counted() {
    let mut old = delta_only("t1", 3, (-5_000, -1_000));
    old.start = -5_000;
    old.last = -1_000;
    let mut late = delta_only("t2", 3, (i64::MAX - 10, i64::MAX));
    late.start = i64::MAX - 10;
    late.last = i64::MAX;
    let good = delta_only("t3", 2, (1_000, 2_000));
    let (sink, c) = run(&[vec![old, late, good]]);
    assert_eq!(total_packets(&sink), 2);
    assert_eq!(c.stats().bad_times, 2);
}

#[test]
fn a_message_keeps_at_most_the_cap_of_flows_and_counts_the_rest() {
    use crate::skydive::message::MAX_FLOWS_PER_MESSAGE;
    let n = MAX_FLOWS_PER_MESSAGE + 7;
    let bare = format!("[{}]", vec!["{}"; n].join(","));
    let wrapped = format!(r#"{{"Namespace":"flow","Type":"store","Obj":{bare}}}"#);
    let late = format!(r#"{{"Obj":{bare},"Namespace":"flow","Type":"store"}}"#);
    for text in [&bare, &wrapped, &late] {
        let Payload::Flows {
            flows, over_cap, ..
        } = parse_json(text.as_bytes()).unwrap()
        else {
            panic!("flows expected");
        };
        assert_eq!((flows.len(), over_cap), (MAX_FLOWS_PER_MESSAGE, 7));
    }
    // Bad JSON beyond the cap is still an error.
    let broken = format!("[{},{{]", vec!["{}"; n].join(","));
    assert!(parse_json(broken.as_bytes()).is_err());
}

#[test]
fn flows_over_the_cap_make_the_window_skipdata_for_known_interfaces() {
    let mut c = Converter::new(ConverterOptions::default());
    let mut sink = RecordingConsumer::default();
    // Before any interface is known: counted only.
    c.flows_over_cap(4, None, &mut sink);
    assert!(sink.losses.is_empty());
    c.flows(&[delta_only("a", 1, (1_000, 90_000))], &mut sink);
    c.flows_over_cap(6, None, &mut sink);
    assert_eq!(
        sink.losses,
        vec![vpcflow_core::LossEvent {
            interface: vpcflow_core::InterfaceIndex(0),
            at: 90_000 * MS,
            count: 6
        }]
    );
    assert_eq!(c.stats().flows_over_cap, 10);
}
