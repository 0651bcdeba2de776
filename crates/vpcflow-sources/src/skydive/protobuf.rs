//! The protobuf form of Skydive's messages (`X-Client-Protocol: protobuf`):
//! the `StructMessage` envelope and capture `Stats`, decoded with `prost` on
//! hand-written structs (no generated code).
//!
//! Flow lists still arrive as JSON inside the envelope (`Format` 0); capture
//! statistics arrive as protobuf (`Format` 1, Skydive 0.28) or JSON (later).

use prost::Message as _;

use super::message::{payload_of, MessageError, Payload, Stats};

/// The envelope: Namespace=1, Type=2, UUID=3, Status=4, Format=5, Obj=6.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PbStructMessage {
    /// Namespace.
    #[prost(string, tag = "1")]
    pub namespace: String,
    /// Type.
    #[prost(string, tag = "2")]
    pub kind: String,
    /// UUID.
    #[prost(string, tag = "3")]
    pub uuid: String,
    /// Status.
    #[prost(int64, tag = "4")]
    pub status: i64,
    /// Format of Obj: 0 JSON, 1 protobuf.
    #[prost(int32, tag = "5")]
    pub format: i32,
    /// The payload.
    #[prost(bytes = "vec", tag = "6")]
    pub obj: Vec<u8>,
}

/// Capture statistics: CaptureID=1, FlowCount=2, FlowDropped=3,
/// KernelFlowDropped=4, PacketsDropped=5, PacketsReceived=6.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PbStats {
    /// CaptureID.
    #[prost(string, tag = "1")]
    pub capture_id: String,
    /// FlowCount.
    #[prost(int64, tag = "2")]
    pub flow_count: i64,
    /// FlowDropped.
    #[prost(int64, tag = "3")]
    pub flow_dropped: i64,
    /// KernelFlowDropped.
    #[prost(int64, tag = "4")]
    pub kernel_flow_dropped: i64,
    /// PacketsDropped.
    #[prost(int64, tag = "5")]
    pub packets_dropped: i64,
    /// PacketsReceived.
    #[prost(int64, tag = "6")]
    pub packets_received: i64,
}

/// `Format` of a JSON Obj.
pub const FORMAT_JSON: i32 = 0;
/// `Format` of a protobuf Obj.
pub const FORMAT_PROTOBUF: i32 = 1;

/// Decodes one protobuf message into its namespace and payload.
pub fn parse_protobuf(bytes: &[u8]) -> Result<(String, Payload<'static>), MessageError> {
    let m = PbStructMessage::decode(bytes).map_err(|e| MessageError::Protobuf(e.to_string()))?;
    let payload = match (m.format, m.kind.as_str()) {
        (FORMAT_JSON, kind) => {
            let obj = (!m.obj.is_empty()).then_some(m.obj.as_slice());
            payload_of(&m.namespace, kind, obj)?.into_owned()
        }
        (FORMAT_PROTOBUF, "stats") => {
            let s = PbStats::decode(m.obj.as_slice())
                .map_err(|e| MessageError::Protobuf(format!("Stats: {e}")))?;
            Payload::Stats(Stats {
                capture_id: s.capture_id,
                flow_count: s.flow_count,
                flow_dropped: s.flow_dropped,
                kernel_flow_dropped: s.kernel_flow_dropped,
                packets_dropped: s.packets_dropped,
                packets_received: s.packets_received,
            })
        }
        (FORMAT_PROTOBUF, "store") => {
            return Err(MessageError::Protobuf(
                "flows in protobuf format are not supported (Skydive sends them as JSON)".into(),
            ))
        }
        (FORMAT_PROTOBUF, other) => Payload::Other(other.to_string()),
        (f, _) => return Err(MessageError::Protobuf(format!("unknown Format {f}"))),
    };
    Ok((m.namespace, payload))
}

/// Encodes a message (for tests and test servers).
pub fn encode(namespace: &str, kind: &str, format: i32, obj: Vec<u8>) -> Vec<u8> {
    PbStructMessage {
        namespace: namespace.into(),
        kind: kind.into(),
        uuid: String::new(),
        status: 200,
        format,
        obj,
    }
    .encode_to_vec()
}

/// Encodes statistics as protobuf (for tests and test servers).
pub fn encode_stats(s: &Stats) -> Vec<u8> {
    PbStats {
        capture_id: s.capture_id.clone(),
        flow_count: s.flow_count,
        flow_dropped: s.flow_dropped,
        kernel_flow_dropped: s.kernel_flow_dropped,
        packets_dropped: s.packets_dropped,
        packets_received: s.packets_received,
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_with_json_flows_and_protobuf_stats() {
        let flows = encode("flow", "store", FORMAT_JSON, br#"[{"UUID":"a"}]"#.to_vec());
        let (ns, p) = parse_protobuf(&flows).unwrap();
        assert_eq!(ns, "flow");
        assert!(matches!(p, Payload::Flows { ref flows, .. } if flows[0].uuid == "a"));
        let s = Stats {
            capture_id: "c".into(),
            packets_dropped: 7,
            ..Stats::default()
        };
        let stats = encode("stats", "stats", FORMAT_PROTOBUF, encode_stats(&s));
        assert_eq!(parse_protobuf(&stats).unwrap().1, Payload::Stats(s.clone()));
        let json_stats = encode(
            "stats",
            "stats",
            FORMAT_JSON,
            br#"{"CaptureID":"c","PacketsDropped":7}"#.to_vec(),
        );
        assert_eq!(parse_protobuf(&json_stats).unwrap().1, Payload::Stats(s));
        assert!(parse_protobuf(b"\xff\xff\xff").is_err());
        assert!(parse_protobuf(&encode("flow", "store", FORMAT_PROTOBUF, vec![1])).is_err());
    }
}
