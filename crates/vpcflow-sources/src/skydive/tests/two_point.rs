//! REJECT from two capture points.

use std::collections::BTreeMap;

use vpcflow_core::Action;

use super::*;

fn point_flow(
    uuid: &str,
    node: &str,
    tracking: &str,
    delta: (i64, i64),
    span: (i64, i64),
) -> Flow<'static> {
    let mut f = tcp_flow(uuid);
    f.node_tid = node.to_string().into();
    f.l3_tracking_id = tracking.to_string().into();
    with_delta(
        f,
        metric(
            delta.0,
            delta.0 * 100,
            delta.1,
            delta.1 * 100,
            span.0,
            span.1,
        ),
        metric(
            delta.0,
            delta.0 * 100,
            delta.1,
            delta.1 * 100,
            span.0,
            span.1,
        ),
    )
}

fn two_point() -> Converter {
    Converter::new(ConverterOptions {
        two_point: Some(TwoPoint {
            outside: "fw-out".into(),
            inside: "fw-in".into(),
            timeout_secs: 120,
        }),
        ..ConverterOptions::default()
    })
}

/// (interface name, source, action) → packets.
fn by_action(sink: &RecordingConsumer) -> BTreeMap<(String, IpAddr, Action), (u64, u64)> {
    let mut m = BTreeMap::new();
    for u in &sink.updates {
        let e = m
            .entry((
                sink.names[u.interface.0 as usize].clone(),
                u.key.src,
                u.action,
            ))
            .or_insert((0, 0));
        e.0 += u.packets;
        e.1 += u.bytes;
    }
    m
}

const T: i64 = 1_800_000_000_000;

#[test]
fn seen_on_both_sides_is_accept() {
    let mut c = two_point();
    let mut sink = RecordingConsumer::default();
    // The inside report may come first, or in a later message.
    c.flows(
        &[point_flow("in", "fw-in", "t1", (3, 2), (T, T + 5_000))],
        &mut sink,
    );
    c.flows(
        &[point_flow("out", "fw-out", "t1", (3, 2), (T, T + 5_000))],
        &mut sink,
    );
    let m = by_action(&sink);
    let a = ip("10.0.0.1");
    let b = ip("10.0.0.2");
    assert_eq!(m[&("fw-out".into(), a, Action::Accept)], (3, 300));
    assert_eq!(m[&("fw-out".into(), b, Action::Accept)], (2, 200));
    assert_eq!(m[&("fw-in".into(), a, Action::Accept)], (3, 300));
    assert!(!m.keys().any(|k| k.2 == Action::Reject));
    let s = c.reject_stats().unwrap();
    assert_eq!((s.accepted_packets, s.rejected_packets), (5, 0));
}

#[test]
fn seen_only_outside_past_the_timeout_is_reject() {
    let mut c = two_point();
    let mut sink = RecordingConsumer::default();
    c.flows(
        &[point_flow("out", "fw-out", "t2", (2, 0), (T, T + 1_000))],
        &mut sink,
    );
    // Within the timeout: undecided, nothing written yet.
    c.flows(
        &[point_flow(
            "x",
            "other",
            "",
            (1, 0),
            (T + 60_000, T + 60_000),
        )],
        &mut sink,
    );
    assert!(sink
        .updates
        .iter()
        .all(|u| sink.names[u.interface.0 as usize] == "other"));
    // Event time moves past the timeout (other traffic): REJECT.
    c.flows(
        &[point_flow(
            "y",
            "other",
            "",
            (1, 0),
            (T + 200_000, T + 200_000),
        )],
        &mut sink,
    );
    let m = by_action(&sink);
    assert_eq!(
        m[&("fw-out".into(), ip("10.0.0.1"), Action::Reject)],
        (2, 200)
    );
    let reject = sink
        .updates
        .iter()
        .find(|u| u.action == Action::Reject)
        .unwrap();
    assert_eq!(
        (reject.first, reject.last),
        (T as u64 * MS, (T as u64 + 1_000) * MS)
    );
}

#[test]
fn blocked_mid_stream_is_accept_then_reject() {
    let mut c = two_point();
    let mut sink = RecordingConsumer::default();
    c.flows(
        &[
            point_flow("out", "fw-out", "t3", (5, 5), (T, T + 50_000)),
            point_flow("in", "fw-in", "t3", (5, 5), (T, T + 50_000)),
        ],
        &mut sink,
    );
    // The firewall starts dropping: only the outside point sees more.
    let mut more = point_flow("out", "fw-out", "t3", (3, 0), (T, T + 110_000));
    more.last_update_metric = Some(metric(3, 300, 0, 0, T + 60_000, T + 120_000));
    more.metric = Some(metric(8, 800, 5, 500, T, T + 110_000));
    c.flows(&[more], &mut sink);
    c.flows(
        &[point_flow(
            "z",
            "other",
            "",
            (1, 0),
            (T + 400_000, T + 400_000),
        )],
        &mut sink,
    );
    let m = by_action(&sink);
    let a = ip("10.0.0.1");
    assert_eq!(m[&("fw-out".into(), a, Action::Accept)], (5, 500));
    assert_eq!(m[&("fw-out".into(), a, Action::Reject)], (3, 300));
    assert_eq!(
        m[&("fw-out".into(), ip("10.0.0.2"), Action::Accept)],
        (5, 500)
    );
    assert!(!m.contains_key(&("fw-out".into(), ip("10.0.0.2"), Action::Reject)));
}

#[test]
fn inside_capture_loss_and_end_of_input() {
    let mut c = two_point();
    let mut sink = RecordingConsumer::default();
    // The inside capture missed one packet: the smaller measurement is
    // ACCEPT, the difference REJECT once the timeout has passed.
    c.flows(
        &[
            point_flow("out", "fw-out", "t4", (10, 0), (T, T + 1_000)),
            point_flow("in", "fw-in", "t4", (9, 0), (T, T + 1_000)),
            point_flow("out2", "fw-out", "t5", (4, 0), (T + 500_000, T + 500_000)),
        ],
        &mut sink,
    );
    let m = by_action(&sink);
    assert_eq!(
        m[&("fw-out".into(), ip("10.0.0.1"), Action::Accept)],
        (9, 900)
    );
    assert_eq!(
        m[&("fw-out".into(), ip("10.0.0.1"), Action::Reject)],
        (1, 100)
    );
    // t5 is younger than the timeout at the end of input: written as ACCEPT
    // and counted as undecided.
    c.finish(&mut sink);
    let m = by_action(&sink);
    assert_eq!(
        m[&("fw-out".into(), ip("10.0.0.1"), Action::Accept)],
        (13, 1300)
    );
    assert_eq!(c.reject_stats().unwrap().undecided_packets, 4);
}
