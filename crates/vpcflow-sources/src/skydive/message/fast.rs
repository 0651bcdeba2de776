//! A fast path for the JSON messages an analyzer sends: a `store` struct
//! message (or a bare flow array) in compact JSON, without escapes.
//!
//! It decodes the fields of [`Flow`] in one pass over the text, matching
//! keys as they come and skipping the unused values (`Application`, `Link`,
//! `TrackingID`, `RTT`, ...) without building them. It accepts only a subset
//! of JSON on which it gives exactly what [`serde_json`] gives; on anything
//! else (a backslash or a control character anywhere, `null` where a value
//! is expected, negative or non-integer numbers in a decoded field, a
//! duplicate key, a `Type` after the `Obj`, statistics messages, deep
//! nesting, more than [`MAX_FLOWS_PER_MESSAGE`] flows, or any malformed
//! text) it returns `None` and the caller decodes the message with
//! `serde_json`, which then also names any error. Accepting a message that
//! `serde_json` would decode differently, or reject, is a bug: the tests
//! compare both on valid and mutated messages.

use std::borrow::Cow;

use super::{
    Flow, FlowMetric, IcmpLayer, Layer, Payload, TcpMetric, TransportLayer, MAX_FLOWS_PER_MESSAGE,
};

/// Deeper nesting is left to `serde_json` (whose own limit is 128 levels).
const MAX_DEPTH: usize = 64;

/// Decodes `text` when it has the common shape; `None` otherwise (decode it
/// with `serde_json` then).
pub(in crate::skydive) fn parse(text: &str) -> Option<Payload<'_>> {
    if !plain(text.as_bytes()) {
        return None;
    }
    let mut p = Parser { s: text, i: 0 };
    p.ws();
    let payload = match p.peek()? {
        b'[' => Payload::Flows {
            namespace: None,
            flows: p.flows(1)?,
            over_cap: 0,
        },
        b'{' => p.envelope()?,
        _ => return None,
    };
    p.ws();
    (p.i == text.len()).then_some(payload)
}

/// No backslash (so no escape) and no control character (so no string that
/// JSON forbids, and whitespace only as spaces) anywhere in the text.
fn plain(b: &[u8]) -> bool {
    // Folded per chunk rather than stopping at the first hit: the compiler
    // turns this into vector compares.
    b.chunks(64).all(|c| {
        c.iter()
            .fold(true, |ok, &x| ok & (x >= 0x20) & (x != b'\\'))
    })
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
}

/// One bit per known key of an object, to refuse duplicates as the derived
/// decoders do.
fn once(seen: &mut u32, bit: u32) -> Option<()> {
    if *seen & bit != 0 {
        return None;
    }
    *seen |= bit;
    Some(())
}

impl<'a> Parser<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.s.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.i).copied()
    }

    /// Skips spaces (the only whitespace [`plain`] lets through).
    fn ws(&mut self) {
        let b = self.bytes();
        while b.get(self.i) == Some(&b' ') {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        if self.peek()? != c {
            return None;
        }
        self.i += 1;
        Some(())
    }

    /// A string: without escapes ([`plain`]), it ends at the next quote.
    fn string(&mut self) -> Option<&'a str> {
        self.ws();
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.i + 1;
        let len = self.bytes()[start..].iter().position(|&c| c == b'"')?;
        self.i = start + len + 1;
        // Quotes are ASCII: both ends are character boundaries.
        Some(&self.s[start..start + len])
    }

    /// `null`, consumed when it is next.
    fn null(&mut self) -> bool {
        self.ws();
        if self.bytes()[self.i..].starts_with(b"null") {
            self.i += 4;
            true
        } else {
            false
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if !self.bytes()[self.i..].starts_with(word) {
            return None;
        }
        self.i += word.len();
        Some(())
    }

    /// A non-negative integer of at most `max`, without fraction or exponent
    /// (anything else is left to `serde_json`, which reads `-0` as a float,
    /// for one).
    fn uint(&mut self, max: u64) -> Option<u64> {
        self.ws();
        let b = self.bytes();
        let start = self.i;
        let mut i = start;
        let mut v: u64 = 0;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            i += 1;
        }
        if i == start || (i - start > 1 && b[start] == b'0') || v > max {
            return None;
        }
        if matches!(b.get(i), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        self.i = i;
        Some(v)
    }

    fn i64(&mut self) -> Option<i64> {
        self.uint(i64::MAX as u64).map(|v| v as i64)
    }

    fn u32(&mut self) -> Option<u32> {
        self.uint(u64::from(u32::MAX)).map(|v| v as u32)
    }

    /// A port: a number, or a string holding one (empty: 0).
    fn port(&mut self) -> Option<u16> {
        self.ws();
        if self.peek()? == b'"' {
            let s = self.string()?;
            return if s.is_empty() {
                Some(0)
            } else {
                s.parse().ok()
            };
        }
        self.uint(u64::from(u16::MAX)).map(|v| v as u16)
    }

    /// An enum by name (borrowed) or by number (its decimal text).
    fn name_or_number(&mut self) -> Option<Cow<'a, str>> {
        self.ws();
        if self.peek()? == b'"' {
            return self.string().map(Cow::Borrowed);
        }
        self.uint(u64::MAX).map(|v| Cow::Owned(v.to_string()))
    }

    /// Any JSON number, checked against the grammar and not converted.
    fn number(&mut self) -> Option<()> {
        let b = self.bytes();
        let mut i = self.i;
        let digits = |i: &mut usize| {
            let from = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > from
        };
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                digits(&mut i);
            }
            _ => return None,
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                return None;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !digits(&mut i) {
                return None;
            }
        }
        self.i = i;
        Some(())
    }

    /// Skips any value, checking it is well-formed.
    fn skip(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => self.object(|p, _| p.skip(depth + 1)),
            b'[' => self.array(|p| p.skip(depth + 1)),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// An object: `field` reads the value of each key.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.eat(b':')?;
            field(self, key)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An array: `element` reads each element.
    fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        loop {
            element(self)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// `{"Namespace", "Type": "store", "Obj": [flows]}`.
    fn envelope(&mut self) -> Option<Payload<'a>> {
        let mut namespace = "";
        let mut kind = "";
        let mut flows = None;
        let mut seen = 0;
        self.object(|p, key| match key {
            "Namespace" => {
                once(&mut seen, 1)?;
                namespace = p.string()?;
                Some(())
            }
            "Type" => {
                once(&mut seen, 2)?;
                kind = p.string()?;
                Some(())
            }
            "Obj" => {
                once(&mut seen, 4)?;
                if kind != "store" {
                    return None;
                }
                flows = Some(if p.null() { Vec::new() } else { p.flows(2)? });
                Some(())
            }
            _ => p.skip(1),
        })?;
        Some(Payload::Flows {
            namespace: Some(namespace.to_string()),
            flows: flows?,
            over_cap: 0,
        })
    }

    /// An array of flows at nesting `depth`.
    fn flows(&mut self, depth: usize) -> Option<Vec<Flow<'a>>> {
        let mut flows = Vec::new();
        self.array(|p| {
            if flows.len() == MAX_FLOWS_PER_MESSAGE {
                return None;
            }
            flows.push(p.flow(depth + 1)?);
            Some(())
        })?;
        Some(flows)
    }

    fn flow(&mut self, depth: usize) -> Option<Flow<'a>> {
        let mut f = Flow::default();
        let mut seen = 0;
        self.object(|p, key| {
            match key {
                "UUID" => {
                    once(&mut seen, 1 << 0)?;
                    f.uuid = Cow::Borrowed(p.string()?);
                }
                "LayersPath" => {
                    once(&mut seen, 1 << 1)?;
                    f.layers_path = Cow::Borrowed(p.string()?);
                }
                "ParentUUID" => {
                    once(&mut seen, 1 << 2)?;
                    f.parent_uuid = Cow::Borrowed(p.string()?);
                }
                "NodeTID" => {
                    once(&mut seen, 1 << 3)?;
                    f.node_tid = Cow::Borrowed(p.string()?);
                }
                "CaptureID" => {
                    once(&mut seen, 1 << 4)?;
                    f.capture_id = Cow::Borrowed(p.string()?);
                }
                "Network" => {
                    once(&mut seen, 1 << 5)?;
                    f.network = if p.null() {
                        None
                    } else {
                        Some(p.layer(depth + 1)?)
                    };
                }
                "Transport" => {
                    once(&mut seen, 1 << 6)?;
                    f.transport = if p.null() {
                        None
                    } else {
                        Some(p.transport(depth + 1)?)
                    };
                }
                "ICMP" => {
                    once(&mut seen, 1 << 7)?;
                    f.icmp = if p.null() {
                        None
                    } else {
                        Some(p.icmp(depth + 1)?)
                    };
                }
                "Metric" => {
                    once(&mut seen, 1 << 8)?;
                    f.metric = if p.null() {
                        None
                    } else {
                        Some(p.metric(depth + 1)?)
                    };
                }
                "LastUpdateMetric" => {
                    once(&mut seen, 1 << 9)?;
                    f.last_update_metric = if p.null() {
                        None
                    } else {
                        Some(p.metric(depth + 1)?)
                    };
                }
                "TCPMetric" => {
                    once(&mut seen, 1 << 10)?;
                    f.tcp_metric = if p.null() {
                        None
                    } else {
                        Some(p.tcp_metric(depth + 1)?)
                    };
                }
                "Start" => {
                    once(&mut seen, 1 << 11)?;
                    f.start = p.i64()?;
                }
                "Last" => {
                    once(&mut seen, 1 << 12)?;
                    f.last = p.i64()?;
                }
                "L3TrackingID" => {
                    once(&mut seen, 1 << 13)?;
                    f.l3_tracking_id = Cow::Borrowed(p.string()?);
                }
                "FinishType" => {
                    once(&mut seen, 1 << 14)?;
                    f.finish_type = p.i64()?;
                }
                _ => p.skip(depth)?,
            }
            Some(())
        })?;
        Some(f)
    }

    fn layer(&mut self, depth: usize) -> Option<Layer<'a>> {
        let mut l = Layer::default();
        let mut seen = 0;
        self.object(|p, key| {
            match key {
                "Protocol" => {
                    once(&mut seen, 1)?;
                    l.protocol = p.name_or_number()?;
                }
                "A" => {
                    once(&mut seen, 2)?;
                    l.a = Cow::Borrowed(p.string()?);
                }
                "B" => {
                    once(&mut seen, 4)?;
                    l.b = Cow::Borrowed(p.string()?);
                }
                "ID" => {
                    once(&mut seen, 8)?;
                    l.id = p.i64()?;
                }
                _ => p.skip(depth)?,
            }
            Some(())
        })?;
        Some(l)
    }

    fn transport(&mut self, depth: usize) -> Option<TransportLayer<'a>> {
        let mut t = TransportLayer::default();
        let mut seen = 0;
        self.object(|p, key| {
            match key {
                "Protocol" => {
                    once(&mut seen, 1)?;
                    t.protocol = p.name_or_number()?;
                }
                "A" => {
                    once(&mut seen, 2)?;
                    t.a = p.port()?;
                }
                "B" => {
                    once(&mut seen, 4)?;
                    t.b = p.port()?;
                }
                "ID" => {
                    once(&mut seen, 8)?;
                    t.id = p.i64()?;
                }
                _ => p.skip(depth)?,
            }
            Some(())
        })?;
        Some(t)
    }

    fn icmp(&mut self, depth: usize) -> Option<IcmpLayer<'a>> {
        let mut l = IcmpLayer::default();
        let mut seen = 0;
        self.object(|p, key| {
            match key {
                "Type" => {
                    once(&mut seen, 1)?;
                    l.kind = p.name_or_number()?;
                }
                "Code" => {
                    once(&mut seen, 2)?;
                    l.code = p.u32()?;
                }
                "ID" => {
                    once(&mut seen, 4)?;
                    l.id = p.u32()?;
                }
                _ => p.skip(depth)?,
            }
            Some(())
        })?;
        Some(l)
    }

    fn metric(&mut self, depth: usize) -> Option<FlowMetric> {
        let mut m = FlowMetric::default();
        let mut seen = 0;
        self.object(|p, key| {
            let (bit, field) = match key {
                "ABPackets" => (1, &mut m.ab_packets),
                "ABBytes" => (2, &mut m.ab_bytes),
                "BAPackets" => (4, &mut m.ba_packets),
                "BABytes" => (8, &mut m.ba_bytes),
                "Start" => (16, &mut m.start),
                "Last" => (32, &mut m.last),
                "RTT" => (64, &mut m.rtt),
                _ => return p.skip(depth),
            };
            once(&mut seen, bit)?;
            *field = p.i64()?;
            Some(())
        })?;
        Some(m)
    }

    fn tcp_metric(&mut self, depth: usize) -> Option<TcpMetric> {
        let mut m = TcpMetric::default();
        let mut seen = 0;
        self.object(|p, key| {
            let (bit, field) = match key {
                "ABSynStart" => (1, &mut m.ab_syn_start),
                "BASynStart" => (2, &mut m.ba_syn_start),
                "ABFinStart" => (4, &mut m.ab_fin_start),
                "BAFinStart" => (8, &mut m.ba_fin_start),
                "ABRstStart" => (16, &mut m.ab_rst_start),
                "BARstStart" => (32, &mut m.ba_rst_start),
                _ => return p.skip(depth),
            };
            once(&mut seen, bit)?;
            *field = p.i64()?;
            Some(())
        })?;
        Some(m)
    }
}
