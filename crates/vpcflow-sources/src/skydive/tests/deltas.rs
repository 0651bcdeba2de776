//! Skydive messages, metric deltas, and the state kept per flow.

use super::*;
use crate::skydive::message::{IcmpLayer, MessageError};

#[test]
fn json_struct_message_with_ports_as_numbers_or_strings() {
    let line = br#"{"Namespace":"flow","Type":"store","UUID":"m1","Status":200,"Obj":[
        {"UUID":"f1","LayersPath":"Ethernet/IPv4/TCP","NodeTID":"n1","CaptureID":"c1",
         "Link":{"Protocol":"ETHERNET","A":"02:00:00:00:00:01","B":"02:00:00:00:00:02"},
         "Network":{"Protocol":"IPV4","A":"10.0.0.1","B":"10.0.0.2"},
         "Transport":{"Protocol":"TCP","A":"40000","B":80,"ID":7},
         "Metric":{"ABPackets":2,"ABBytes":148,"Start":1000,"Last":2000,"RTT":5000},
         "Start":1000,"Last":2000,"FinishType":0,"L3TrackingID":"x","SomethingNew":[1,2]},
        {"UUID":"f2","Network":{"Protocol":"IPV6","A":"2001:db8::1","B":"2001:db8::2"},
         "ICMP":{"Type":"ECHO","Code":0,"ID":12}}]}"#;
    let Payload::Flows {
        namespace, flows, ..
    } = parse_json(line).unwrap()
    else {
        panic!("flows expected")
    };
    assert_eq!(namespace.as_deref(), Some("flow"));
    assert_eq!(flows.len(), 2);
    let t = flows[0].transport.as_ref().unwrap();
    assert_eq!((&*t.protocol, t.a, t.b), ("TCP", 40000, 80));
    assert_eq!(flows[0].metric.unwrap().ab_bytes, 148);
    assert_eq!(flows[0].metric.unwrap().rtt, 5000);
    assert_eq!(
        flows[1].icmp,
        Some(IcmpLayer {
            kind: "ECHO".into(),
            code: 0,
            id: 12
        })
    );
}

#[test]
fn bare_flow_array_stats_and_other_messages() {
    let flows = parse_json(br#"[{"UUID":"a"},{"UUID":"b"}]"#).unwrap();
    assert!(matches!(flows, Payload::Flows { namespace: None, ref flows, .. } if flows.len() == 2));
    let stats = parse_json(
        br#"{"Namespace":"stats","Type":"stats","Obj":{"CaptureID":"c1","FlowCount":3,"FlowDropped":1,"KernelFlowDropped":2,"PacketsDropped":4,"PacketsReceived":100}}"#,
    )
    .unwrap();
    assert_eq!(
        stats,
        Payload::Stats(Stats {
            capture_id: "c1".into(),
            flow_count: 3,
            flow_dropped: 1,
            kernel_flow_dropped: 2,
            packets_dropped: 4,
            packets_received: 100,
        })
    );
    // Obj before Type: decoded after the envelope.
    let late =
        parse_json(br#"{"Obj":[{"UUID":"a"}],"Namespace":"flow/c","Type":"store"}"#).unwrap();
    assert!(
        matches!(late, Payload::Flows { ref flows, ref namespace, .. } if flows.len() == 1 && namespace.as_deref() == Some("flow/c"))
    );
    let other = parse_json(br#"{"Namespace":"flow","Type":"hello","Obj":null}"#).unwrap();
    assert_eq!(other, Payload::Other("hello".into()));
    // An object that is not a struct message is an error, not a message.
    for not_a_message in [&br#"{}"#[..], br#"{"a":1,"Obj":[]}"#, br#"{"Type":""}"#] {
        let e = parse_json(not_a_message).unwrap_err().to_string();
        assert_eq!(e, r#"not a Skydive message: a JSON object without "Type""#);
    }
    let empty = parse_json(br#"{"Namespace":"flow","Type":"store","Obj":null}"#).unwrap();
    assert!(matches!(empty, Payload::Flows { ref flows, .. } if flows.is_empty()));
}

#[test]
fn malformed_messages_are_errors() {
    for bad in [
        &b"not json"[..],
        b"42",
        b"{\"Type\":\"stats\"}",
        b"{\"Type\":\"store\",\"Obj\":{\"UUID\":1}}",
        b"[{\"Transport\":{\"A\":70000}}]",
        b"[{\"Transport\":{\"A\":\"http\"}}]",
        b"{\"Type\":\"store\",\"Obj\":[",
    ] {
        let e = parse_json(bad).unwrap_err();
        let text = e.to_string();
        assert!(!text.is_empty(), "{}", String::from_utf8_lossy(bad));
    }
    assert!(matches!(parse_json(b"42"), Err(MessageError::Shape)));
    assert!(matches!(
        parse_json(b"{\"Type\":\"stats\"}"),
        Err(MessageError::NoObj(_))
    ));
}

#[test]
fn deltas_are_counted_once_and_repeated_deltas_dropped() {
    let f = tcp_flow("u1");
    let m1 = with_delta(
        f.clone(),
        metric(3, 300, 2, 200, 1_000, 50_000),
        metric(3, 300, 2, 200, 1_000, 60_000),
    );
    // The same delta again (application timeout, agent stop, early expiry).
    let again = m1.clone();
    let m2 = with_delta(
        f,
        metric(5, 500, 2, 200, 1_000, 70_000),
        metric(2, 200, 0, 0, 60_000, 120_000),
    );
    let (sink, c) = run(&[vec![m1], vec![again], vec![m2]]);
    let ab: u64 = sink
        .updates
        .iter()
        .filter(|u| u.key.src == ip("10.0.0.1"))
        .map(|u| u.packets)
        .sum();
    let ba: u64 = sink
        .updates
        .iter()
        .filter(|u| u.key.src == ip("10.0.0.2"))
        .map(|u| u.packets)
        .sum();
    assert_eq!((ab, ba), (5, 2));
    assert_eq!(c.stats().duplicate_deltas, 1);
    assert_eq!(sink.updates.len(), 3);
    // Times: the first update spans the flow's start to its last packet; the
    // next one starts at the previous update.
    assert_eq!(sink.updates[0].first, 1_000 * MS);
    assert_eq!(sink.updates[0].last, 50_000 * MS);
    assert_eq!(sink.updates[2].first, 60_000 * MS);
    assert_eq!(sink.updates[2].last, 70_000 * MS);
}

#[test]
fn summing_every_delta_or_metric_would_overcount() {
    // A DNS flow sent at its application timeout and again at expiry with the
    // same delta: counted once.
    let mut f = tcp_flow("dns");
    f.transport = Some(TransportLayer {
        protocol: "UDP".into(),
        a: 5353,
        b: 53,
        id: 0,
    });
    f.layers_path = "IPv4/UDP/DNS".into();
    let m = with_delta(
        f,
        metric(1, 60, 1, 120, 5_000, 5_010),
        metric(1, 60, 1, 120, 5_000, 15_000),
    );
    let (sink, _) = run(&[vec![m.clone()], vec![m]]);
    let bytes: u64 = sink.updates.iter().map(|u| u.bytes).sum();
    assert_eq!(bytes, 180);
    assert_eq!(sink.updates[0].key.protocol, 17);
    assert_eq!(
        (sink.updates[0].key.src_port, sink.updates[0].key.dst_port),
        (5353, 53)
    );
    assert_eq!(
        (sink.updates[1].key.src_port, sink.updates[1].key.dst_port),
        (53, 5353)
    );
}

#[test]
fn metric_differences_when_the_delta_is_missing() {
    let mut f = tcp_flow("u2");
    let mk = |f: &mut Flow<'static>, m: FlowMetric| {
        f.metric = Some(m);
        f.start = m.start;
        f.last = m.last;
        f.clone()
    };
    let a = mk(&mut f, metric(2, 200, 1, 100, 1_000, 5_000));
    let same = a.clone();
    let b = mk(&mut f, metric(5, 500, 1, 100, 1_000, 65_000));
    // A restarted counter is taken as new.
    let c = mk(&mut f, metric(1, 100, 0, 0, 70_000, 70_500));
    let (sink, conv) = run(&[vec![a], vec![same], vec![b], vec![c]]);
    let got: Vec<(IpAddr, u64, u64, u64, u64)> = sink
        .updates
        .iter()
        .map(|u| (u.key.src, u.packets, u.bytes, u.first / MS, u.last / MS))
        .collect();
    assert_eq!(
        got,
        vec![
            (ip("10.0.0.1"), 2, 200, 1_000, 5_000),
            (ip("10.0.0.2"), 1, 100, 1_000, 5_000),
            (ip("10.0.0.1"), 3, 300, 5_000, 65_000),
            (ip("10.0.0.1"), 1, 100, 70_000, 70_500),
        ]
    );
    assert_eq!(conv.stats().counter_resets, 1);
}

#[test]
fn state_survives_analyzers_but_expires() {
    // The same converter serves every analyzer: a delta seen through one is
    // not counted again through another.
    let f = with_delta(
        tcp_flow("u3"),
        metric(1, 100, 0, 0, 1_000, 1_000),
        metric(1, 100, 0, 0, 1_000, 60_000),
    );
    let mut c = Converter::new(ConverterOptions {
        state_ttl_secs: 600,
        ..ConverterOptions::default()
    });
    let mut sink = RecordingConsumer::default();
    c.flows(std::slice::from_ref(&f), &mut sink);
    c.flows(std::slice::from_ref(&f), &mut sink);
    assert_eq!(sink.updates.len(), 1);
    assert_eq!(c.tracked_flows(), 1);
    // Much later, other traffic: the old state is forgotten.
    let later = with_delta(
        tcp_flow("u4"),
        metric(1, 100, 0, 0, 2_000_000, 2_000_000),
        metric(1, 100, 0, 0, 2_000_000, 2_000_000),
    );
    c.flows(&[later], &mut sink);
    assert_eq!(c.tracked_flows(), 1);
    assert_eq!(c.stats().expired_states, 1);
}

#[test]
fn tracked_flows_are_capped() {
    let mut c = Converter::new(ConverterOptions {
        max_tracked_flows: 100,
        ..ConverterOptions::default()
    });
    let mut sink = RecordingConsumer::default();
    for i in 0..1000i64 {
        let f = with_delta(
            tcp_flow(&format!("cap-{i}")),
            metric(1, 100, 0, 0, 1_000 + i, 1_000 + i),
            metric(1, 100, 0, 0, 1_000 + i, 1_000 + i),
        );
        c.flows(&[f], &mut sink);
        assert!(c.tracked_flows() <= 100);
    }
    assert_eq!(sink.updates.len(), 1000);
    assert!(c.stats().evicted_states >= 900);
}
