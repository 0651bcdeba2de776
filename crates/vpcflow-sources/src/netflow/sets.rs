//! NetFlow v9 and IPFIX messages: a header, then sets (flowsets) of
//! templates, options templates and data records.
//!
//! The two differ in their header, set ids (v9: 0 templates, 1 options
//! templates; IPFIX: 2 and 3), the options template layout, enterprise
//! fields and variable-length fields (IPFIX only), and template withdrawal
//! (IPFIX only). Data sets of ids 256 and up are read with their template;
//! what is left after the last whole record is padding.

use super::fields::FlowFields;
use super::templates::{Clock, FieldSpec, Template, VARIABLE};
use super::DecodeError;

/// Which of the two protocols a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// NetFlow v9 (RFC 3954).
    V9,
    /// IPFIX (RFC 7011).
    Ipfix,
}

impl Dialect {
    /// The version number in the header.
    pub fn version(self) -> u16 {
        match self {
            Dialect::V9 => 9,
            Dialect::Ipfix => 10,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Dialect::V9 => "NetFlow v9",
            Dialect::Ipfix => "IPFIX",
        }
    }
}

/// The header of a v9 or IPFIX message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Which protocol.
    pub dialect: Dialect,
    /// Times of the message.
    pub clock: Clock,
    /// v9: export packet number; IPFIX: data records sent before this message.
    pub sequence: u32,
    /// Source id (v9) or observation domain id (IPFIX).
    pub domain: u32,
    /// Offset of the first set.
    pub sets_at: usize,
    /// End of the message (IPFIX: its length field; v9: the datagram).
    pub end: usize,
}

/// Parses the header of `msg` (whose first two bytes are 9 or 10).
pub fn header(msg: &[u8], dialect: Dialect) -> Result<Header, DecodeError> {
    let be16 = |at: usize| u16::from_be_bytes([msg[at], msg[at + 1]]);
    let be32 = |at: usize| u32::from_be_bytes([msg[at], msg[at + 1], msg[at + 2], msg[at + 3]]);
    match dialect {
        Dialect::V9 => {
            if msg.len() < 20 {
                return Err(DecodeError::new(
                    "NetFlow v9 header",
                    0,
                    "shorter than 20 bytes",
                ));
            }
            Ok(Header {
                dialect,
                clock: Clock {
                    export_ns: u64::from(be32(8)) * 1_000_000_000,
                    uptime_ms: Some(be32(4)),
                },
                sequence: be32(12),
                domain: be32(16),
                sets_at: 20,
                end: msg.len(),
            })
        }
        Dialect::Ipfix => {
            if msg.len() < 16 {
                return Err(DecodeError::new("IPFIX header", 0, "shorter than 16 bytes"));
            }
            let length = usize::from(be16(2));
            if length < 16 || length > msg.len() {
                return Err(DecodeError::new(
                    "IPFIX header",
                    2,
                    "message length field disagrees with the datagram",
                ));
            }
            Ok(Header {
                dialect,
                clock: Clock {
                    export_ns: u64::from(be32(4)) * 1_000_000_000,
                    uptime_ms: None,
                },
                sequence: be32(8),
                domain: be32(12),
                sets_at: 16,
                end: length,
            })
        }
    }
}

/// One set of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Set<'a> {
    /// Set id (flowset id).
    pub id: u16,
    /// Offset of its body in the message.
    pub at: usize,
    /// Its body (after the 4-byte set header).
    pub body: &'a [u8],
}

/// The sets of a message, in order; a set whose length is impossible ends
/// the walk with an error (the sets before it are kept).
pub fn sets<'a>(msg: &'a [u8], h: &Header) -> impl Iterator<Item = Result<Set<'a>, DecodeError>> {
    let name = h.dialect.name();
    let mut at = h.sets_at;
    let end = h.end;
    let mut failed = false;
    std::iter::from_fn(move || {
        // Fewer than 4 bytes left: padding of the message (v9 allows it).
        if failed || at + 4 > end {
            return None;
        }
        let id = u16::from_be_bytes([msg[at], msg[at + 1]]);
        let len = usize::from(u16::from_be_bytes([msg[at + 2], msg[at + 3]]));
        if len < 4 || at + len > end {
            failed = true;
            return Some(Err(DecodeError::new(
                name,
                at,
                "set length runs past the message",
            )));
        }
        let set = Set {
            id,
            at: at + 4,
            body: &msg[at + 4..at + len],
        };
        at += len;
        Some(Ok(set))
    })
}

/// A template definition found in a template or options template set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Definition {
    /// Template `id` is (re)defined.
    Define(u16, Template),
    /// Template `id` is withdrawn (IPFIX, field count 0).
    Withdraw(u16),
    /// Every template of the set's kind is withdrawn (IPFIX, id 2 or 3).
    WithdrawAll,
}

/// Whether set `id` holds templates (`Some(false)`), options templates
/// (`Some(true)`), or data (`None`).
pub fn template_kind(dialect: Dialect, id: u16) -> Option<bool> {
    match (dialect, id) {
        (Dialect::V9, 0) | (Dialect::Ipfix, 2) => Some(false),
        (Dialect::V9, 1) | (Dialect::Ipfix, 3) => Some(true),
        _ => None,
    }
}

/// The definitions of a template set (`options == false`) or options
/// template set.
pub fn definitions(
    dialect: Dialect,
    set: &Set<'_>,
    options: bool,
    out: &mut Vec<Definition>,
) -> Result<(), DecodeError> {
    let b = set.body;
    let be16 = |at: usize| u16::from_be_bytes([b[at], b[at + 1]]);
    let name = dialect.name();
    let mut at = 0;
    // What is left shorter than a template header is padding.
    while at + 4 <= b.len() {
        let id = be16(at);
        let count = usize::from(be16(at + 2));
        let here = set.at + at;
        if dialect == Dialect::V9 && options {
            // v9 options template: id, scope length, option length (bytes),
            // then the (type, length) pairs of both.
            if at + 6 > b.len() {
                break;
            }
            let scope_bytes = usize::from(be16(at + 2));
            let option_bytes = usize::from(be16(at + 4));
            let start = at + 6;
            let stop = start + scope_bytes + option_bytes;
            if stop > b.len() || (scope_bytes + option_bytes) % 4 != 0 {
                return Err(DecodeError::new(
                    name,
                    here,
                    "options template longer than its set",
                ));
            }
            let mut fields = Vec::with_capacity((stop - start) / 4);
            let mut p = start;
            while p < stop {
                fields.push(FieldSpec {
                    id: be16(p),
                    pen: 0,
                    len: be16(p + 2),
                });
                p += 4;
            }
            if id < 256 {
                return Err(DecodeError::new(name, here, "template id below 256"));
            }
            out.push(Definition::Define(id, template(fields, true, name, here)?));
            at = stop;
            continue;
        }
        let mut p = at + 4;
        if dialect == Dialect::Ipfix && options && count > 0 {
            // IPFIX options template: the scope field count follows.
            if p + 2 > b.len() {
                return Err(DecodeError::new(name, here, "options template cut short"));
            }
            p += 2;
        }
        if count == 0 && dialect == Dialect::Ipfix {
            out.push(if id == 2 || id == 3 {
                Definition::WithdrawAll
            } else {
                Definition::Withdraw(id)
            });
            at = p;
            continue;
        }
        if count == 0 {
            // v9: an empty template is padding.
            break;
        }
        let mut fields = Vec::with_capacity(count);
        for _ in 0..count {
            if p + 4 > b.len() {
                return Err(DecodeError::new(name, here, "template longer than its set"));
            }
            let raw = be16(p);
            let len = be16(p + 2);
            p += 4;
            let (fid, pen) = if dialect == Dialect::Ipfix && raw & 0x8000 != 0 {
                if p + 4 > b.len() {
                    return Err(DecodeError::new(name, here, "template longer than its set"));
                }
                let pen = u32::from_be_bytes([b[p], b[p + 1], b[p + 2], b[p + 3]]);
                p += 4;
                (raw & 0x7FFF, pen)
            } else {
                (raw, 0)
            };
            if len == VARIABLE && dialect == Dialect::V9 {
                return Err(DecodeError::new(
                    name,
                    here,
                    "variable-length field in a v9 template",
                ));
            }
            fields.push(FieldSpec { id: fid, pen, len });
        }
        if id < 256 {
            return Err(DecodeError::new(name, here, "template id below 256"));
        }
        out.push(Definition::Define(
            id,
            template(fields, options, name, here)?,
        ));
        at = p;
    }
    Ok(())
}

fn template(
    fields: Vec<FieldSpec>,
    options: bool,
    name: &'static str,
    at: usize,
) -> Result<Template, DecodeError> {
    Template::new(fields, options)
        .ok_or_else(|| DecodeError::new(name, at, "template of records without bytes"))
}

/// Reads the records of a data set with `template`, calling `each` with the
/// fields of every record; returns how many there were. A template of
/// fixed-length fields is read by its plan: only the fields vpcflow uses,
/// at offsets computed when it was defined. The bytes after the
/// last whole record are padding; a variable-length field that runs past
/// the set is an error (the records before it were read).
#[inline]
pub fn records(
    template: &Template,
    data: &[u8],
    at: usize,
    mut each: impl FnMut(&FlowFields),
) -> Result<u32, DecodeError> {
    if let Some(plan) = &template.plan {
        let mut n = 0u32;
        // Every field of the plan is written by every record; the others stay
        // empty. Only the fields whose new value depends on the old one are
        // cleared between records (a record is 300 bytes; copying a fresh
        // one each time showed in the profile).
        let mut f = FlowFields::EMPTY;
        for record in data.chunks_exact(template.min_len) {
            f.clear_carried();
            for step in plan.iter() {
                let at = step.at as usize;
                f.apply(step.usage, &record[at..at + usize::from(step.len)]);
            }
            each(&f);
            n += 1;
        }
        return Ok(n);
    }
    let mut p = 0;
    let mut n = 0u32;
    while data.len() - p >= template.min_len {
        let mut f = FlowFields::EMPTY;
        for (spec, usage) in template.fields.iter().zip(template.uses.iter()) {
            let len = if spec.len == VARIABLE {
                let Some(&first) = data.get(p) else {
                    return Err(DecodeError::new(
                        "IPFIX data set",
                        at + p,
                        "record cut short",
                    ));
                };
                if first < 255 {
                    p += 1;
                    usize::from(first)
                } else {
                    let Some(l) = data.get(p + 1..p + 3) else {
                        return Err(DecodeError::new(
                            "IPFIX data set",
                            at + p,
                            "record cut short",
                        ));
                    };
                    p += 3;
                    usize::from(u16::from_be_bytes([l[0], l[1]]))
                }
            } else {
                usize::from(spec.len)
            };
            let Some(v) = data.get(p..p + len) else {
                return Err(DecodeError::new("data set", at + p, "record cut short"));
            };
            if let Some(usage) = *usage {
                f.apply(usage, v);
            }
            p += len;
        }
        each(&f);
        n += 1;
    }
    Ok(n)
}
