//! Skydive's messages and flows, as the analyzer sends them in JSON.
//!
//! Written from the protocol's documented facts: a *struct message*
//! `{"Namespace","Type","UUID","Status","Obj"}` whose `Obj` is a list of flows
//! (`Type: "store"`) or capture statistics (`Type: "stats"`). Field names are
//! Skydive's (PascalCase); every field may be absent (Skydive omits zero values).
//! Ports are accepted as numbers or strings, enums by name, times are Unix
//! milliseconds.

use std::borrow::Cow;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

pub(super) mod fast;

/// One Skydive flow (a bidirectional A↔B conversation seen at one capture point).
///
/// Only the fields vpcflow uses are decoded (`Application`, `Link`,
/// `TrackingID` and unknown fields are skipped without being stored). Strings
/// borrow from the message text unless they hold JSON escapes; see
/// [`Flow::into_owned`] for a flow that outlives the text.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Flow<'a> {
    /// The flow's id (stable over its updates).
    #[serde(rename = "UUID", borrow)]
    pub uuid: Cow<'a, str>,
    /// Layers from the first captured one, e.g. `Ethernet/IPv4/TCP`; may start
    /// with `/` for captures without a link layer.
    #[serde(rename = "LayersPath", borrow)]
    pub layers_path: Cow<'a, str>,
    /// The outer flow of a tunnel's inner flow.
    #[serde(rename = "ParentUUID", borrow)]
    pub parent_uuid: Cow<'a, str>,
    /// The capture point (graph node) the flow was seen on.
    #[serde(rename = "NodeTID", borrow)]
    pub node_tid: Cow<'a, str>,
    /// The capture that saw it.
    #[serde(rename = "CaptureID", borrow)]
    pub capture_id: Cow<'a, str>,
    /// Network layer (absent for ARP and other non-IP flows).
    #[serde(rename = "Network", borrow)]
    pub network: Option<Layer<'a>>,
    /// Transport layer.
    #[serde(rename = "Transport", borrow)]
    pub transport: Option<TransportLayer<'a>>,
    /// ICMP layer.
    #[serde(rename = "ICMP", borrow)]
    pub icmp: Option<IcmpLayer<'a>>,
    /// Cumulative counters since the flow started.
    #[serde(rename = "Metric")]
    pub metric: Option<FlowMetric>,
    /// Counters since the previous update.
    #[serde(rename = "LastUpdateMetric")]
    pub last_update_metric: Option<FlowMetric>,
    /// TCP details (only with the capture's extra TCP metrics).
    #[serde(rename = "TCPMetric")]
    pub tcp_metric: Option<TcpMetric>,
    /// First packet (Unix ms).
    #[serde(rename = "Start")]
    pub start: i64,
    /// Last packet (Unix ms).
    #[serde(rename = "Last")]
    pub last: i64,
    /// Same for both capture points, from the IP layer up (survives L2 changes).
    #[serde(rename = "L3TrackingID", borrow)]
    pub l3_tracking_id: Cow<'a, str>,
    /// Why the flow ended (a number; 0 while it lives).
    #[serde(rename = "FinishType")]
    pub finish_type: i64,
}

/// A link or network layer: protocol name and the two endpoints.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Layer<'a> {
    /// `ETHERNET`, `IPV4`, `IPV6`, …
    #[serde(rename = "Protocol", borrow, deserialize_with = "name_or_number")]
    pub protocol: Cow<'a, str>,
    /// Endpoint A (the sender of the first packet).
    #[serde(rename = "A", borrow)]
    pub a: Cow<'a, str>,
    /// Endpoint B.
    #[serde(rename = "B", borrow)]
    pub b: Cow<'a, str>,
    /// VLAN or similar id.
    #[serde(rename = "ID")]
    pub id: i64,
}

/// The transport layer: protocol name and ports.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct TransportLayer<'a> {
    /// `TCP`, `UDP`, `SCTP`.
    #[serde(rename = "Protocol", borrow, deserialize_with = "name_or_number")]
    pub protocol: Cow<'a, str>,
    /// Port of A (a number or a string).
    #[serde(rename = "A", deserialize_with = "port")]
    pub a: u16,
    /// Port of B.
    #[serde(rename = "B", deserialize_with = "port")]
    pub b: u16,
    /// Id (unused).
    #[serde(rename = "ID")]
    pub id: i64,
}

/// The ICMP layer (its presence makes the flow ICMP or ICMPv6).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct IcmpLayer<'a> {
    /// Type, by name (`ECHO`, …) or number.
    #[serde(rename = "Type", borrow, deserialize_with = "name_or_number")]
    pub kind: Cow<'a, str>,
    /// Code.
    #[serde(rename = "Code")]
    pub code: u32,
    /// Echo identifier.
    #[serde(rename = "ID")]
    pub id: u32,
}

/// Packet and byte counters per direction, with their time span.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct FlowMetric {
    /// Packets from A to B.
    #[serde(rename = "ABPackets")]
    pub ab_packets: i64,
    /// Bytes from A to B, counted from the first captured layer.
    #[serde(rename = "ABBytes")]
    pub ab_bytes: i64,
    /// Packets from B to A.
    #[serde(rename = "BAPackets")]
    pub ba_packets: i64,
    /// Bytes from B to A.
    #[serde(rename = "BABytes")]
    pub ba_bytes: i64,
    /// Start of the span (Unix ms).
    #[serde(rename = "Start")]
    pub start: i64,
    /// End of the span (Unix ms).
    #[serde(rename = "Last")]
    pub last: i64,
    /// Round-trip time in nanoseconds (unused).
    #[serde(rename = "RTT")]
    pub rtt: i64,
}

/// Extra TCP metrics: the times (Unix ms, 0 when not seen) of SYN, FIN and RST
/// per direction.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct TcpMetric {
    /// First SYN from A.
    #[serde(rename = "ABSynStart")]
    pub ab_syn_start: i64,
    /// First SYN from B.
    #[serde(rename = "BASynStart")]
    pub ba_syn_start: i64,
    /// First FIN from A.
    #[serde(rename = "ABFinStart")]
    pub ab_fin_start: i64,
    /// First FIN from B.
    #[serde(rename = "BAFinStart")]
    pub ba_fin_start: i64,
    /// First RST from A.
    #[serde(rename = "ABRstStart")]
    pub ab_rst_start: i64,
    /// First RST from B.
    #[serde(rename = "BARstStart")]
    pub ba_rst_start: i64,
}

/// Capture statistics (`Type: "stats"`). Counters are cumulative per capture.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Stats {
    /// The capture they are about.
    #[serde(rename = "CaptureID")]
    pub capture_id: String,
    /// Flows in the capture's table.
    #[serde(rename = "FlowCount")]
    pub flow_count: i64,
    /// Flows dropped by the agent (table full).
    #[serde(rename = "FlowDropped")]
    pub flow_dropped: i64,
    /// Flows dropped in the kernel (eBPF).
    #[serde(rename = "KernelFlowDropped")]
    pub kernel_flow_dropped: i64,
    /// Packets dropped by the capture.
    #[serde(rename = "PacketsDropped")]
    pub packets_dropped: i64,
    /// Packets received by the capture.
    #[serde(rename = "PacketsReceived")]
    pub packets_received: i64,
}

/// What one recorded or received message carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload<'a> {
    /// Flows (`store` messages, or a bare flow array), with the namespace
    /// they came under (`None` for a bare array).
    Flows {
        /// `flow` or `flow/CAPTURE_ID`.
        namespace: Option<String>,
        /// The flows (at most [`MAX_FLOWS_PER_MESSAGE`]).
        flows: Vec<Flow<'a>>,
        /// Flows of the message beyond [`MAX_FLOWS_PER_MESSAGE`]: skipped
        /// without being decoded.
        over_cap: u64,
    },
    /// Capture statistics.
    Stats(Stats),
    /// Any other message type (ignored).
    Other(String),
}

/// The most flows decoded from one message. An analyzer sends flows in
/// batches of at most a few hundred; the flows of a larger message are
/// skipped undecoded beyond this count (and counted), so that the memory one
/// message takes is bounded (about 5 MB) whatever its size.
pub const MAX_FLOWS_PER_MESSAGE: usize = 10_000;

/// A JSON array of flows decoded one element at a time: the first
/// [`MAX_FLOWS_PER_MESSAGE`] kept, the rest skipped and counted.
#[derive(Debug, Default)]
struct FlowList<'a> {
    flows: Vec<Flow<'a>>,
    over_cap: u64,
}

impl<'de: 'a, 'a> Deserialize<'de> for FlowList<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<FlowList<'a>, D::Error> {
        struct ListVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ListVisitor<'a> {
            type Value = FlowList<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of flows")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<FlowList<'a>, A::Error> {
                let mut list = FlowList::default();
                while list.flows.len() < MAX_FLOWS_PER_MESSAGE {
                    match seq.next_element::<Flow>()? {
                        Some(f) => list.flows.push(f),
                        None => return Ok(list),
                    }
                }
                while seq.next_element::<de::IgnoredAny>()?.is_some() {
                    list.over_cap += 1;
                }
                Ok(list)
            }
        }
        d.deserialize_seq(ListVisitor(std::marker::PhantomData))
    }
}

impl<'a> FlowList<'a> {
    fn into_payload(self, namespace: Option<String>) -> Payload<'a> {
        Payload::Flows {
            namespace,
            flows: self.flows,
            over_cap: self.over_cap,
        }
    }
}

/// Why a message could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// Not JSON, or not the expected shape.
    #[error("not a Skydive message: {0}")]
    Json(#[from] serde_json::Error),
    /// Valid JSON that is neither a struct message nor a flow array.
    #[error("not a Skydive message: expected a JSON object or array")]
    Shape,
    /// Not UTF-8.
    #[error("not a Skydive message: {0}")]
    Utf8(String),
    /// A protobuf message that cannot be decoded.
    #[error("not a Skydive protobuf message: {0}")]
    Protobuf(String),
    /// A JSON object that is not a struct message: it has no `Type`.
    #[error("not a Skydive message: a JSON object without \"Type\"")]
    NoType,
    /// A struct message without its `Obj`.
    #[error("{0} message without Obj")]
    NoObj(String),
}

/// Decodes one JSON message: a struct message, or a bare array of flows.
///
/// The messages an analyzer sends (compact `store` messages without
/// escapes) are decoded by a hand-written pass over the text that builds
/// only the fields used; any other message by `serde_json`, with the same
/// result. A struct message is decoded in one pass: its `Obj` is decoded as flows or
/// statistics right away when `Type` comes before it (as Skydive writes it),
/// and kept raw and decoded afterwards otherwise.
pub fn parse_json(text: &[u8]) -> Result<Payload<'_>, MessageError> {
    let first = text.iter().find(|b| !b.is_ascii_whitespace());
    if matches!(first, Some(b'[' | b'{')) {
        if let Some(payload) = fast::parse(utf8(text)?) {
            return Ok(payload);
        }
    }
    parse_with_serde(text)
}

/// [`parse_json`] with `serde_json` alone (the reference the fast path is
/// tested against).
pub(in crate::skydive) fn parse_with_serde(text: &[u8]) -> Result<Payload<'_>, MessageError> {
    let first = text.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'[') => Ok(serde_json::from_str::<FlowList>(utf8(text)?)?.into_payload(None)),
        Some(b'{') => {
            let env: Envelope = serde_json::from_str(utf8(text)?)?;
            if env.kind.is_empty() {
                return Err(MessageError::NoType);
            }
            match env.obj {
                EnvObj::Flows(flows) => {
                    Ok(flows.unwrap_or_default().into_payload(Some(env.namespace)))
                }
                EnvObj::Stats(stats) => Ok(Payload::Stats(stats)),
                EnvObj::Raw(raw) => {
                    payload_of(&env.namespace, &env.kind, Some(raw.get().as_bytes()))
                }
                EnvObj::Missing => payload_of(&env.namespace, &env.kind, None),
            }
        }
        _ => Err(MessageError::Shape),
    }
}

/// The text of a message: validated once as a whole, which is cheaper than
/// validating every string inside it.
fn utf8(text: &[u8]) -> Result<&str, MessageError> {
    std::str::from_utf8(text).map_err(|e| MessageError::Utf8(e.to_string()))
}

/// A struct message with its Obj decoded by type.
struct Envelope<'a> {
    namespace: String,
    kind: String,
    obj: EnvObj<'a>,
}

enum EnvObj<'a> {
    Missing,
    Flows(Option<FlowList<'a>>),
    Stats(Stats),
    Raw(&'a RawValue),
}

#[derive(Deserialize)]
enum EnvField {
    Namespace,
    Type,
    Obj,
    #[serde(other)]
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Envelope<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Envelope<'a>, D::Error> {
        struct EnvVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for EnvVisitor<'a> {
            type Value = Envelope<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a Skydive struct message")
            }
            fn visit_map<A: de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Envelope<'a>, A::Error> {
                let mut env = Envelope {
                    namespace: String::new(),
                    kind: String::new(),
                    obj: EnvObj::Missing,
                };
                while let Some(field) = map.next_key::<EnvField>()? {
                    match field {
                        EnvField::Namespace => env.namespace = map.next_value()?,
                        EnvField::Type => env.kind = map.next_value()?,
                        EnvField::Obj => {
                            env.obj = match env.kind.as_str() {
                                "store" => EnvObj::Flows(map.next_value()?),
                                "stats" => match map.next_value::<Option<Stats>>()? {
                                    Some(s) => EnvObj::Stats(s),
                                    None => EnvObj::Missing,
                                },
                                _ => EnvObj::Raw(map.next_value()?),
                            }
                        }
                        EnvField::Other => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(env)
            }
        }
        d.deserialize_map(EnvVisitor(std::marker::PhantomData))
    }
}

/// Decodes the JSON `Obj` of a struct message of namespace `namespace` and
/// type `kind`.
pub fn payload_of<'a>(
    namespace: &str,
    kind: &str,
    obj: Option<&'a [u8]>,
) -> Result<Payload<'a>, MessageError> {
    match kind {
        "store" => {
            // A missing or `null` Obj is an empty list.
            let flows: Option<FlowList> = match obj {
                Some(obj) => serde_json::from_slice(obj)?,
                None => None,
            };
            Ok(flows
                .unwrap_or_default()
                .into_payload(Some(namespace.to_string())))
        }
        "stats" => {
            let obj = obj.ok_or_else(|| MessageError::NoObj(kind.to_string()))?;
            Ok(Payload::Stats(serde_json::from_slice(obj)?))
        }
        other => Ok(Payload::Other(other.to_string())),
    }
}

/// A port given as a number or a numeric string.
fn port<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    struct PortVisitor;
    impl Visitor<'_> for PortVisitor {
        type Value = u16;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a port number (0-65535) as a number or a string")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u16, E> {
            u16::try_from(v).map_err(|_| E::custom(format!("port {v} out of range")))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u16, E> {
            u16::try_from(v).map_err(|_| E::custom(format!("port {v} out of range")))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u16, E> {
            if v.is_empty() {
                return Ok(0);
            }
            v.parse()
                .map_err(|_| E::custom(format!("port {v:?} is not a number 0-65535")))
        }
        fn visit_unit<E: de::Error>(self) -> Result<u16, E> {
            Ok(0)
        }
    }
    d.deserialize_any(PortVisitor)
}

/// An enum given by name (kept as is) or by number (kept as its decimal text).
fn name_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Cow<'de, str>, D::Error> {
    struct NameVisitor;
    impl<'de> Visitor<'de> for NameVisitor {
        type Value = Cow<'de, str>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an enum name or number")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_string()))
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_string()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(""))
        }
    }
    d.deserialize_any(NameVisitor)
}

/// A string that owns its text.
fn owned(s: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(s.into_owned())
}

impl Flow<'_> {
    /// The same flow owning its strings (to keep it beyond the message text).
    pub fn into_owned(self) -> Flow<'static> {
        Flow {
            uuid: owned(self.uuid),
            layers_path: owned(self.layers_path),
            parent_uuid: owned(self.parent_uuid),
            node_tid: owned(self.node_tid),
            capture_id: owned(self.capture_id),
            network: self.network.map(|n| Layer {
                protocol: owned(n.protocol),
                a: owned(n.a),
                b: owned(n.b),
                id: n.id,
            }),
            transport: self.transport.map(|t| TransportLayer {
                protocol: owned(t.protocol),
                a: t.a,
                b: t.b,
                id: t.id,
            }),
            icmp: self.icmp.map(|i| IcmpLayer {
                kind: owned(i.kind),
                code: i.code,
                id: i.id,
            }),
            metric: self.metric,
            last_update_metric: self.last_update_metric,
            tcp_metric: self.tcp_metric,
            start: self.start,
            last: self.last,
            l3_tracking_id: owned(self.l3_tracking_id),
            finish_type: self.finish_type,
        }
    }
}

impl Payload<'_> {
    /// The same payload owning its strings (to send it on beyond the message
    /// text).
    pub fn into_owned(self) -> Payload<'static> {
        match self {
            Payload::Flows {
                namespace,
                flows,
                over_cap,
            } => Payload::Flows {
                namespace,
                flows: flows.into_iter().map(Flow::into_owned).collect(),
                over_cap,
            },
            Payload::Stats(s) => Payload::Stats(s),
            Payload::Other(o) => Payload::Other(o),
        }
    }
}
