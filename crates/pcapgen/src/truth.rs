//! Ground truth: per-direction 5-tuple totals, counted from the packet
//! descriptions as they are written (never by parsing the output back).
//!
//! The counting rules are those of the `policy` object of the reference
//! captures' `*.truth.json` files, and the JSON has the same shape.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::net::IpAddr;

/// A unidirectional flow key. Ports are 0 for ICMP and ICMPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6).
    pub proto: u8,
}

/// Totals of one unidirectional flow (over the whole capture or one window).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowTotal {
    pub key: FlowKey,
    pub packets: u64,
    /// IP-layer bytes: IPv4 total length, IPv6 payload length + 40.
    pub bytes: u64,
    /// Captured frame bytes (Ethernet, VLAN tag and padding included).
    pub frame_bytes: u64,
    /// Timestamp of the first packet, Unix nanoseconds (as written to the file).
    pub first_ns: u64,
    /// Timestamp of the last packet, Unix nanoseconds.
    pub last_ns: u64,
    /// OR of the raw TCP flags bytes (0 for other protocols).
    pub tcp_flags: u8,
    /// OR of the per-packet AWS values: FIN 1, SYN 2, RST 4, +16 if SYN and ACK.
    pub tcp_flags_aws: u8,
}

/// [`FlowTotal`] restricted to one aggregation window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowTotal {
    /// `floor(ts / width) * width`, Unix seconds.
    pub window_start: u64,
    pub flow: FlowTotal,
}

/// Everything the generator wrote, per flow and per window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Truth {
    /// One entry per unidirectional flow, ordered by first packet then key.
    pub totals: Vec<FlowTotal>,
    /// Window width (seconds) → per-window flow totals, ordered by window
    /// start, first packet, key.
    pub windows: BTreeMap<u64, Vec<WindowTotal>>,
}

impl Truth {
    /// The whole-capture totals of one flow (linear search; build a map for many).
    pub fn get(&self, key: &FlowKey) -> Option<&FlowTotal> {
        self.totals.iter().find(|t| t.key == *key)
    }

    /// Totals as a map, for tests that look up many flows.
    pub fn by_key(&self) -> HashMap<FlowKey, FlowTotal> {
        self.totals.iter().map(|t| (t.key, *t)).collect()
    }
}

/// The AWS `tcp-flags` value of one packet's TCP flags byte.
#[inline]
pub fn aws_tcp_flags(raw: u8) -> u8 {
    let mut v = raw & 0x07;
    if raw & 0x02 != 0 && raw & 0x10 != 0 {
        v |= 0x10;
    }
    v
}

#[derive(Debug, Clone, Copy)]
struct Acc {
    packets: u64,
    bytes: u64,
    frame_bytes: u64,
    first_ns: u64,
    last_ns: u64,
    tcp_flags: u8,
    tcp_flags_aws: u8,
}

impl Acc {
    fn new(ts: u64) -> Acc {
        Acc {
            packets: 0,
            bytes: 0,
            frame_bytes: 0,
            first_ns: ts,
            last_ns: ts,
            tcp_flags: 0,
            tcp_flags_aws: 0,
        }
    }

    #[inline]
    fn add(&mut self, ip_len: u64, frame_len: u64, ts: u64, flags: u8) {
        self.packets += 1;
        self.bytes += ip_len;
        self.frame_bytes += frame_len;
        self.first_ns = self.first_ns.min(ts);
        self.last_ns = self.last_ns.max(ts);
        self.tcp_flags |= flags;
        self.tcp_flags_aws |= aws_tcp_flags(flags);
    }

    fn total(&self, key: FlowKey) -> FlowTotal {
        FlowTotal {
            key,
            packets: self.packets,
            bytes: self.bytes,
            frame_bytes: self.frame_bytes,
            first_ns: self.first_ns,
            last_ns: self.last_ns,
            tcp_flags: self.tcp_flags,
            tcp_flags_aws: self.tcp_flags_aws,
        }
    }
}

/// Per-(flow, window start) accumulators of one window width.
type WindowMap = HashMap<(FlowKey, u64), Acc>;

/// Accumulates [`Truth`] packet by packet.
#[derive(Debug, Default)]
pub(crate) struct TruthAcc {
    totals: HashMap<FlowKey, Acc>,
    windows: Vec<(u64, WindowMap)>,
}

impl TruthAcc {
    pub(crate) fn new(windows: &[u64]) -> TruthAcc {
        TruthAcc {
            totals: HashMap::new(),
            windows: windows.iter().map(|&w| (w, HashMap::new())).collect(),
        }
    }

    #[inline]
    pub(crate) fn record(&mut self, key: FlowKey, ip_len: u64, frame_len: u64, ts: u64, flags: u8) {
        self.totals
            .entry(key)
            .or_insert_with(|| Acc::new(ts))
            .add(ip_len, frame_len, ts, flags);
        let secs = ts / 1_000_000_000;
        for (w, map) in &mut self.windows {
            let ws = secs / *w * *w;
            map.entry((key, ws))
                .or_insert_with(|| Acc::new(ts))
                .add(ip_len, frame_len, ts, flags);
        }
    }

    pub(crate) fn finish(self) -> Truth {
        let mut totals: Vec<FlowTotal> = self.totals.iter().map(|(k, a)| a.total(*k)).collect();
        totals.sort_unstable_by_key(|t| (t.first_ns, t.key));
        let windows = self
            .windows
            .into_iter()
            .map(|(w, map)| {
                let mut v: Vec<WindowTotal> = map
                    .iter()
                    .map(|((k, ws), a)| WindowTotal {
                        window_start: *ws,
                        flow: a.total(*k),
                    })
                    .collect();
                v.sort_unstable_by_key(|t| (t.window_start, t.flow.first_ns, t.flow.key));
                (w, v)
            })
            .collect();
        Truth { totals, windows }
    }
}

/// A JSON string literal.
pub(crate) fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub(crate) fn write_flow<W: Write>(
    w: &mut W,
    t: &FlowTotal,
    window: Option<u64>,
) -> io::Result<()> {
    write!(w, "{{")?;
    if let Some(ws) = window {
        write!(w, "\"window_start\": {ws}, ")?;
    }
    write!(
        w,
        "\"src\": \"{}\", \"dst\": \"{}\", \"sport\": {}, \"dport\": {}, \"proto\": {}, \
         \"packets\": {}, \"bytes\": {}, \"frame_bytes\": {}, \"first_ns\": {}, \"last_ns\": {}, \
         \"tcp_flags\": {}, \"tcp_flags_aws\": {}}}",
        t.key.src,
        t.key.dst,
        t.key.sport,
        t.key.dport,
        t.key.proto,
        t.packets,
        t.bytes,
        t.frame_bytes,
        t.first_ns,
        t.last_ns,
        t.tcp_flags,
        t.tcp_flags_aws
    )
}

/// The `policy` object of the reference truth files.
pub(crate) const POLICY: &[(&str, &str)] = &[
    ("key", "src,dst,sport,dport,proto (unidirectional)"),
    (
        "ip_layer",
        "outermost IPv4/IPv6 after L2/VLAN/QinQ/MPLS/PPPoE/LLC-SNAP; tunnels not decapsulated",
    ),
    ("ports", "TCP/UDP/SCTP only; else 0; 0 if L4 not captured"),
    (
        "bytes",
        "IPv4 total length / IPv6 payload length + 40 (wire length - L2 header if field is 0)",
    ),
    (
        "tcp_flags_aws",
        "per packet FIN=1|SYN=2|RST=4, +16 if SYN and ACK; OR-ed",
    ),
    ("windows", "epoch aligned floor(ts/W)*W"),
    ("fragments", "zero"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_flags() {
        assert_eq!(aws_tcp_flags(0x02), 2);
        assert_eq!(aws_tcp_flags(0x12), 18);
        assert_eq!(aws_tcp_flags(0x10), 0);
        assert_eq!(aws_tcp_flags(0x11), 1);
        assert_eq!(aws_tcp_flags(0x14), 4);
        assert_eq!(aws_tcp_flags(0x18), 0);
        assert_eq!(aws_tcp_flags(0xff), 23);
    }

    #[test]
    fn json_escaping() {
        assert_eq!(json_str("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
    }
}
