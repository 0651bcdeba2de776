//! The hand-written decoder of common messages against `serde_json`: on
//! every text it accepts it gives what `serde_json` gives, and it leaves
//! every text `serde_json` refuses (and every unusual one) to `serde_json`.

use crate::skydive::message::fast;
use crate::skydive::message::{parse_json, parse_with_serde, Payload};

/// A message as an analyzer sends it (two flows, every field vpcflow reads
/// and some it skips).
const MESSAGE: &str = concat!(
    r#"{"Namespace":"flow","Type":"store","UUID":"m","Status":200,"Obj":["#,
    r#"{"UUID":"9e3779b97f4a7c15","LayersPath":"Ethernet/IPv4/TCP","Application":"TCP","NodeTID":"node-1","CaptureID":"cap-1","#,
    r#""Link":{"Protocol":"ETHERNET","A":"02:42:ac:11:00:01","B":"02:42:ac:11:00:02","ID":0},"#,
    r#""Network":{"Protocol":"IPV4","A":"10.1.1.1","B":"10.1.1.2","ID":0},"#,
    r#""Transport":{"Protocol":"TCP","A":10001,"B":"443","ID":0},"#,
    r#""LastUpdateMetric":{"ABPackets":2,"ABBytes":1200,"BAPackets":2,"BABytes":2400,"Start":1800000060000,"Last":1800000119000,"RTT":120000},"#,
    r#""Metric":{"ABPackets":4,"ABBytes":2400,"BAPackets":4,"BABytes":4800,"Start":1800000000001,"Last":1800000119000,"RTT":120000},"#,
    r#""TCPMetric":{"ABSynStart":1800000000001,"BASynStart":1800000000002,"ABSynTTL":64,"BASynTTL":64},"#,
    r#""Start":1800000000001,"Last":1800000119000,"TrackingID":"5554","L3TrackingID":"aaab","FinishType":0},"#,
    r#"{"UUID":"x","ParentUUID":"p","LayersPath":"IPv6/ICMPv6","NodeTID":"n","ICMP":{"Type":"ECHO","Code":0,"ID":7,"Extra":[1,2.5e-3,true,false,null,{"k":[]}]},"#,
    r#""Network":{"Protocol":41,"A":"fe80::1","B":"fe80::2"},"Transport":null,"Metric":{"ABPackets":1,"ABBytes":84},"Start":5,"Last":6,"FinishType":2}"#,
    r#"]}"#
);

/// Both decoders on `text`: the fast one gives nothing or the same payload as
/// `serde_json`, which must then accept the text. Returns whether the fast
/// path decoded it.
fn agree(text: &str) -> bool {
    let slow = parse_with_serde(text.as_bytes());
    match fast::parse(text) {
        Some(p) => {
            let slow = slow.unwrap_or_else(|e| panic!("fast path accepted {text:?}, serde: {e}"));
            assert_eq!(p, slow, "{text}");
            true
        }
        None => false,
    }
}

#[test]
fn the_common_message_takes_the_fast_path_with_the_same_result() {
    assert!(agree(MESSAGE));
    let Payload::Flows {
        flows, namespace, ..
    } = parse_json(MESSAGE.as_bytes()).unwrap()
    else {
        panic!("not flows")
    };
    assert_eq!(namespace.as_deref(), Some("flow"));
    assert_eq!(flows.len(), 2);
    assert_eq!(flows[0].transport.as_ref().unwrap().b, 443);
    assert_eq!(flows[1].network.as_ref().unwrap().protocol, "41");
    assert_eq!(flows[1].metric.unwrap().ab_bytes, 84);
    // A bare array, spaces between tokens, an empty and a null Obj.
    let obj = &MESSAGE[MESSAGE.find('[').unwrap()..MESSAGE.len() - 1];
    assert!(agree(obj));
    assert!(agree(&obj.replace(',', " , ").replace(':', " : ")));
    assert!(agree(r#"{"Type":"store","Obj":[]}"#));
    assert!(agree(r#"{"Type":"store","Obj":null,"Namespace":"flow/c"}"#));
    assert!(agree(r#" [ { } , {"UUID":""} ] "#));
}

#[test]
fn unusual_messages_are_left_to_serde() {
    for text in [
        // Escapes, control characters, tabs and newlines.
        r#"[{"UUID":"a\"b"}]"#,
        r#"[{"\u0055UID":"a"}]"#,
        "[{\"UUID\":\"a\tb\"}]",
        "[{\"UUID\":\"a\"}\n]",
        // Numbers serde reads differently or refuses in a decoded field.
        r#"[{"Start":-0}]"#,
        r#"[{"Start":-5}]"#,
        r#"[{"Start":01}]"#,
        r#"[{"Start":1.0}]"#,
        r#"[{"Start":1e3}]"#,
        r#"[{"Start":9223372036854775808}]"#,
        r#"[{"Start":99999999999999999999999}]"#,
        r#"[{"ICMP":{"Code":4294967296}}]"#,
        r#"[{"Transport":{"A":65536}}]"#,
        r#"[{"Transport":{"A":"x"}}]"#,
        r#"[{"Network":{"Protocol":-1}}]"#,
        // null where a value is needed, wrong types.
        r#"[{"UUID":null}]"#,
        r#"[{"Start":null}]"#,
        r#"[{"Transport":{"A":null}}]"#,
        r#"[{"UUID":5}]"#,
        r#"[null]"#,
        r#"[["a"]]"#,
        // Duplicate keys.
        r#"[{"UUID":"a","UUID":"b"}]"#,
        r#"[{"Metric":{"Start":1,"Start":2}}]"#,
        r#"{"Type":"store","Type":"store","Obj":[]}"#,
        // Obj before Type, other types, no Type or no Obj.
        r#"{"Obj":[],"Type":"store"}"#,
        r#"{"Type":"stats","Obj":{"CaptureID":"c"}}"#,
        r#"{"Type":"other","Obj":1}"#,
        r#"{"Namespace":"flow"}"#,
        r#"{"Type":"store"}"#,
        // Malformed.
        r#"[{"UUID":"a"},]"#,
        r#"[{"UUID":"a",}]"#,
        r#"[{"UUID":"a"}] x"#,
        r#"[{"UUID":"a"}"#,
        r#"[{"UUID" "a"}]"#,
        r#"[{"X":1.}]"#,
        r#"[{"X":.5}]"#,
        r#"[{"X":1e}]"#,
        r#"[{"X":-}]"#,
        r#"[{"X":tru}]"#,
        r#"[{"X":nul}]"#,
        r#"[{"X":[1,]}]"#,
    ] {
        assert!(!agree(text), "the fast path took {text:?}");
    }
}

#[test]
fn deep_nesting_is_left_to_serde() {
    for depth in [70, 200] {
        let text = format!(r#"[{{"X":{}{}}}]"#, "[".repeat(depth), "]".repeat(depth));
        assert!(!agree(&text));
    }
    assert!(agree(r#"[{"X":[[[[[[[[[[{"a":[[]]}]]]]]]]]]]}]"#));
}

#[test]
fn too_many_flows_are_left_to_serde() {
    let n = crate::skydive::message::MAX_FLOWS_PER_MESSAGE;
    let at_cap = format!("[{}]", vec!["{}"; n].join(","));
    assert!(agree(&at_cap));
    let over = format!("[{}]", vec!["{}"; n + 1].join(","));
    assert!(!agree(&over));
}

/// Every one-byte deletion and replacement of the common message: whatever
/// the fast path accepts, serde_json accepts with the same result.
#[test]
fn mutated_messages_never_decode_differently() {
    let bytes = MESSAGE.as_bytes();
    let mut fast_taken = 0;
    for at in 0..bytes.len() {
        let mut variants = vec![[&bytes[..at], &bytes[at + 1..]].concat()];
        for c in b"\"',:{}[]0159-.eE nt \\x" {
            let mut v = bytes.to_vec();
            v[at] = *c;
            variants.push(v);
        }
        for v in variants {
            if let Ok(text) = std::str::from_utf8(&v) {
                fast_taken += usize::from(agree(text));
            }
        }
    }
    // Most mutations inside skipped or string values stay decodable.
    assert!(fast_taken > bytes.len(), "{fast_taken}");
}
