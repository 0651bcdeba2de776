//! Decoding of JSON messages into flows that borrow the message text.

use std::borrow::Cow;

use crate::skydive::message::{parse_json, Flow, MessageError, Payload};

fn flows_of(payload: Payload<'_>) -> Vec<Flow<'_>> {
    match payload {
        Payload::Flows { flows, .. } => flows,
        other => panic!("expected flows, got {other:?}"),
    }
}

#[test]
fn strings_borrow_the_message_text_unless_escaped() {
    let text = br#"[{"UUID":"u-1","NodeTID":"eth\u0030","CaptureID":"c\"1",
        "LayersPath":"Ethernet/IPv4/UDP","L3TrackingID":"t",
        "Network":{"Protocol":"IPV4","A":"10.0.0.1","B":"10.0.0.2"},
        "Transport":{"Protocol":17,"A":"53","B":5353},"ICMP":{"Type":"ECHO"}}]"#;
    let f = flows_of(parse_json(text).unwrap()).remove(0);
    assert!(matches!(f.uuid, Cow::Borrowed("u-1")));
    assert!(matches!(f.layers_path, Cow::Borrowed("Ethernet/IPv4/UDP")));
    // Escapes are decoded into owned text with the same meaning.
    assert!(matches!(&f.node_tid, Cow::Owned(s) if s == "eth0"));
    assert_eq!(f.capture_id, "c\"1");
    let n = f.network.as_ref().unwrap();
    assert!(matches!(n.a, Cow::Borrowed("10.0.0.1")));
    assert_eq!((&*n.protocol, &*n.b), ("IPV4", "10.0.0.2"));
    // An enum by number is kept as its decimal text.
    let t = f.transport.as_ref().unwrap();
    assert_eq!((&*t.protocol, t.a, t.b), ("17", 53, 5353));
    assert_eq!(f.icmp.as_ref().unwrap().kind, "ECHO");
    assert_eq!(f.l3_tracking_id, "t");
}

#[test]
fn owned_payloads_equal_borrowed_ones() {
    let text = br#"{"Namespace":"flow","Type":"store","Obj":[{"UUID":"a",
        "ParentUUID":"p","Network":{"Protocol":"IPV6","A":"::1","B":"::2","ID":7},
        "Transport":{"Protocol":"TCP","A":1,"B":2},"ICMP":{"Type":3,"Code":1,"ID":9},
        "Metric":{"ABPackets":1,"ABBytes":60,"Start":5,"Last":6},
        "LastUpdateMetric":{"BAPackets":2},"TCPMetric":{"ABSynStart":5},
        "Start":5,"Last":6,"FinishType":1}]}"#;
    let borrowed = parse_json(text).unwrap();
    let owned: Payload<'static> = borrowed.clone().into_owned();
    assert_eq!(owned, borrowed);
    let f = &flows_of(owned)[0];
    assert!(matches!(f.uuid, Cow::Owned(_)));
    assert_eq!(f.icmp.as_ref().unwrap().kind, "3");
    // Stats and other messages are owned already.
    let stats = parse_json(br#"{"Type":"stats","Obj":{"CaptureID":"c","FlowDropped":2}}"#).unwrap();
    assert_eq!(stats.clone().into_owned(), stats);
}

#[test]
fn malformed_fields_are_errors_naming_what_and_where() {
    for (text, what) in [
        (&br#"[{"UUID":5}]"#[..], "invalid type: integer `5`"),
        (
            br#"[{"UUID":"a","NodeTID":["x"]}]"#,
            "invalid type: sequence",
        ),
        (br#"[{"Network":{"A":1}}]"#, "invalid type: integer `1`"),
        (
            br#"[{"Network":{"Protocol":true}}]"#,
            "an enum name or number",
        ),
        (br#"[{"ICMP":{"Type":{}}}]"#, "an enum name or number"),
        (br#"[{"Transport":{"A":70000}}]"#, "port 70000 out of range"),
        (
            br#"[{"Transport":{"B":"http"}}]"#,
            "port \"http\" is not a number",
        ),
        (br#"[{"UUID":"a\u00"}]"#, "escape"),
        (br#"[{"UUID":"a"#, "EOF while parsing"),
        (
            br#"{"Type":"store","Obj":[{"UUID":"a","Start":"x"}]}"#,
            "invalid type: string",
        ),
    ] {
        let e = parse_json(text).unwrap_err();
        let shown = e.to_string();
        assert!(shown.contains(what), "{shown:?} should contain {what:?}");
        assert!(
            shown.contains("line 1 column "),
            "{shown:?} should say where"
        );
    }
    // Not UTF-8 (inside a string that would otherwise be borrowed).
    let e = parse_json(b"[{\"UUID\":\"a\xff\"}]").unwrap_err();
    assert!(matches!(e, MessageError::Utf8(_)), "{e}");
}

#[test]
fn a_struct_message_with_obj_before_type_borrows_too() {
    let text = br#"{"Obj":[{"UUID":"late","NodeTID":"n"}],"Namespace":"flow","Type":"store"}"#;
    let f = flows_of(parse_json(text).unwrap()).remove(0);
    assert!(matches!(f.uuid, Cow::Borrowed("late")));
    assert_eq!(f.node_tid, "n");
}
