//! The on-disk form of a [`ConverterSnapshot`]: the Skydive state file of
//! `vpcflow run` (`STATE_DIR/skydive-state.bin`).
//!
//! ```text
//! magic        8 bytes  "VPCFSKY\0"
//! version      u32      FORMAT_VERSION (the layout of everything below
//!                       depends on it; magic, version and the checksum
//!                       never move)
//! fingerprint  32 bytes SHA-256 of the configuration identity
//! identity     u32 length + UTF-8 text (the identity itself, for messages)
//! written      i64      wall clock when written (Unix ms)
//! body         the snapshot (see `put_body`)
//! checksum     32 bytes SHA-256 of every byte before it
//! ```
//!
//! Integers are little-endian; strings and lists are a `u32` length then
//! their items; an address is a tag byte (4 or 6, 0 for none) then 4 or 16
//! bytes. Every length is checked against what is left, so a damaged file is
//! an error, never a panic or a huge allocation.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use sha2::{Digest, Sha256};
use vpcflow_core::PacketAddrs;

use super::snapshot::{
    ConversationEntry, ConverterSnapshot, DirectionEntry, FlowEntry, SideEntry, TemplateEntry,
};

/// The first bytes of a state file.
pub const MAGIC: &[u8; 8] = b"VPCFSKY\0";

/// The format version this vpcflow writes. A newer vpcflow keeps a decoder
/// for every older version; a file of an unknown (newer) version is refused.
pub const FORMAT_VERSION: u32 = 1;

const CHECKSUM_LEN: usize = 32;

/// Why a state file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateFileError {
    /// Shorter than the smallest possible file.
    Truncated,
    /// Not a vpcflow state file.
    BadMagic,
    /// A format version this vpcflow cannot read.
    UnsupportedVersion(u32),
    /// The checksum does not match the content (damaged or truncated).
    BadChecksum,
    /// The content is inconsistent (names what).
    Malformed(&'static str),
    /// Written for another configuration (its identity).
    ForeignConfiguration(String),
}

impl fmt::Display for StateFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateFileError::Truncated => write!(f, "the file is truncated"),
            StateFileError::BadMagic => write!(f, "not a vpcflow Skydive state file"),
            StateFileError::UnsupportedVersion(v) => write!(
                f,
                "format version {v} is not one this vpcflow reads (it writes version {FORMAT_VERSION})"
            ),
            StateFileError::BadChecksum => write!(f, "the checksum does not match (damaged file)"),
            StateFileError::Malformed(what) => write!(f, "malformed content ({what})"),
            StateFileError::ForeignConfiguration(identity) => write!(
                f,
                "written for another configuration ({identity}); the flow log, the capture ids, the two-point settings or the analyzers differ"
            ),
        }
    }
}

impl std::error::Error for StateFileError {}

/// A decoded state file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateFile {
    /// The format version it was written in.
    pub version: u32,
    /// When it was written (wall clock, Unix ms).
    pub written_ms: i64,
    /// The converter state.
    pub snapshot: ConverterSnapshot,
}

/// SHA-256 of a configuration identity text.
pub fn fingerprint(identity: &str) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(&Sha256::digest(identity.as_bytes()));
    out
}

/// The bytes of a state file for `snapshot`, written at `written_ms` by the
/// configuration `identity`.
pub fn encode(snapshot: &ConverterSnapshot, identity: &str, written_ms: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + snapshot.flows.len() * 96);
    out.extend_from_slice(MAGIC);
    put_u32(&mut out, FORMAT_VERSION);
    out.extend_from_slice(&fingerprint(identity));
    put_str(&mut out, identity);
    put_i64(&mut out, written_ms);
    put_body(&mut out, snapshot);
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    out
}

/// Decodes a state file written by the configuration `identity`.
pub fn decode(bytes: &[u8], identity: &str) -> Result<StateFile, StateFileError> {
    if bytes.len() < MAGIC.len() + 4 + CHECKSUM_LEN {
        return Err(if bytes.starts_with(MAGIC) || MAGIC.starts_with(bytes) {
            StateFileError::Truncated
        } else {
            StateFileError::BadMagic
        });
    }
    if &bytes[..MAGIC.len()] != MAGIC {
        return Err(StateFileError::BadMagic);
    }
    let (content, sum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
    if Sha256::digest(content).as_slice() != sum {
        return Err(StateFileError::BadChecksum);
    }
    let mut r = Reader(&content[MAGIC.len()..]);
    let version = r.u32()?;
    match version {
        1 => decode_v1(&mut r, identity),
        v => Err(StateFileError::UnsupportedVersion(v)),
    }
}

fn decode_v1(r: &mut Reader, identity: &str) -> Result<StateFile, StateFileError> {
    let print = r.take(32)?;
    let written_for = r.string()?;
    if print != fingerprint(identity).as_slice() || written_for != identity {
        return Err(StateFileError::ForeignConfiguration(written_for));
    }
    let written_ms = r.i64()?;
    let snapshot = get_body(r)?;
    if !r.0.is_empty() {
        return Err(StateFileError::Malformed("bytes after the content"));
    }
    Ok(StateFile {
        version: 1,
        written_ms,
        snapshot,
    })
}

fn put_body(out: &mut Vec<u8>, s: &ConverterSnapshot) {
    put_i64(out, s.now_ms);
    put_i64(out, s.last_sweep_ms);
    put_u32(out, s.flows.len() as u32);
    for f in &s.flows {
        out.extend_from_slice(&f.id.to_le_bytes());
        put_i64(out, f.delta_span.0);
        put_i64(out, f.delta_span.1);
        for v in f.metric {
            put_i64(out, v);
        }
        put_i64(out, f.metric_last);
        put_i64(out, f.last_seen);
        out.extend_from_slice(&[f.bits, f.flags_done[0], f.flags_done[1]]);
        put_pair(out, f.inner);
    }
    put_u32(out, s.interfaces.len() as u32);
    for (name, capture) in &s.interfaces {
        put_str(out, name);
        put_str(out, capture);
    }
    put_u32(out, s.capture_interfaces.len() as u32);
    for (capture, names) in &s.capture_interfaces {
        put_str(out, capture);
        put_u32(out, names.len() as u32);
        for n in names {
            put_str(out, n);
        }
    }
    // Formerly the cumulative drop baselines per capture: capture statistics
    // are per period (see `Converter::capture_stats`), so there are none; the
    // empty list keeps the format readable both ways.
    put_u32(out, 0);
    put_u32(out, s.conversations.len() as u32);
    for c in &s.conversations {
        put_str(out, &c.tracking);
        put_i64(out, c.last_seen_ms);
        for d in &c.dirs {
            match &d.template {
                None => out.push(0),
                Some(t) => {
                    out.push(1);
                    put_str(out, &t.interface);
                    put_ip(out, Some(t.src));
                    put_ip(out, Some(t.dst));
                    out.extend_from_slice(&t.src_port.to_le_bytes());
                    out.extend_from_slice(&t.dst_port.to_le_bytes());
                    out.push(t.protocol);
                    put_pair(out, t.packet_addrs);
                }
            }
            put_side(out, &d.outside);
            put_u64(out, d.decided_packets);
            put_u64(out, d.decided_bytes);
            put_u64(out, d.first);
            put_u64(out, d.last);
            out.push(d.flags);
        }
        for s in &c.inside {
            put_side(out, s);
        }
    }
}

fn get_body(r: &mut Reader) -> Result<ConverterSnapshot, StateFileError> {
    let now_ms = r.i64()?;
    let last_sweep_ms = r.i64()?;
    // 16 + 8 * 8 + 3 + 1: the smallest flow entry.
    let n = r.count(84)?;
    let mut flows = Vec::with_capacity(n);
    for _ in 0..n {
        let id = u128::from_le_bytes(r.array()?);
        let delta_span = (r.i64()?, r.i64()?);
        let metric = [r.i64()?, r.i64()?, r.i64()?, r.i64()?];
        let metric_last = r.i64()?;
        let last_seen = r.i64()?;
        let [bits, f0, f1] = r.array::<3>()?;
        flows.push(FlowEntry {
            id,
            delta_span,
            metric,
            metric_last,
            last_seen,
            bits,
            flags_done: [f0, f1],
            inner: r.pair()?,
        });
    }
    let n = r.count(8)?;
    let mut interfaces = Vec::with_capacity(n);
    for _ in 0..n {
        interfaces.push((r.string()?, r.string()?));
    }
    let n = r.count(8)?;
    let mut capture_interfaces = Vec::with_capacity(n);
    for _ in 0..n {
        let capture = r.string()?;
        let m = r.count(4)?;
        let mut names = Vec::with_capacity(m);
        for _ in 0..m {
            names.push(r.string()?);
        }
        capture_interfaces.push((capture, names));
    }
    // Drop baselines of older versions: not needed any more (per-period
    // statistics), read past.
    let n = r.count(12)?;
    for _ in 0..n {
        r.string()?;
        r.i64()?;
    }
    let n = r.count(12)?;
    let mut conversations = Vec::with_capacity(n);
    for _ in 0..n {
        let tracking = r.string()?;
        let last_seen_ms = r.i64()?;
        let mut dirs: [DirectionEntry; 2] = Default::default();
        for d in &mut dirs {
            d.template = match r.u8()? {
                0 => None,
                1 => Some(TemplateEntry {
                    interface: r.string()?,
                    src: r
                        .ip()?
                        .ok_or(StateFileError::Malformed("template address"))?,
                    dst: r
                        .ip()?
                        .ok_or(StateFileError::Malformed("template address"))?,
                    src_port: u16::from_le_bytes(r.array()?),
                    dst_port: u16::from_le_bytes(r.array()?),
                    protocol: r.u8()?,
                    packet_addrs: r.pair()?,
                }),
                _ => return Err(StateFileError::Malformed("template tag")),
            };
            d.outside = r.side()?;
            d.decided_packets = r.u64()?;
            d.decided_bytes = r.u64()?;
            d.first = r.u64()?;
            d.last = r.u64()?;
            d.flags = r.u8()?;
        }
        let inside = [r.side()?, r.side()?];
        conversations.push(ConversationEntry {
            tracking,
            last_seen_ms,
            dirs,
            inside,
        });
    }
    Ok(ConverterSnapshot {
        now_ms,
        last_sweep_ms,
        flows,
        interfaces,
        capture_interfaces,
        conversations,
    })
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len() as u32);
    out.extend_from_slice(s.as_bytes());
}

fn put_ip(out: &mut Vec<u8>, ip: Option<IpAddr>) {
    match ip {
        None => out.push(0),
        Some(IpAddr::V4(a)) => {
            out.push(4);
            out.extend_from_slice(&a.octets());
        }
        Some(IpAddr::V6(a)) => {
            out.push(6);
            out.extend_from_slice(&a.octets());
        }
    }
}

fn put_pair(out: &mut Vec<u8>, p: Option<PacketAddrs>) {
    match p {
        None => out.push(0),
        Some(p) => {
            out.push(1);
            put_ip(out, Some(p.src));
            put_ip(out, Some(p.dst));
        }
    }
}

fn put_side(out: &mut Vec<u8>, s: &SideEntry) {
    put_ip(out, s.src);
    put_u64(out, s.packets);
    put_u64(out, s.bytes);
}

/// Reads the content of a state file, front to back.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StateFileError> {
        if self.0.len() < n {
            return Err(StateFileError::Malformed("content ends early"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StateFileError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, StateFileError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, StateFileError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, StateFileError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, StateFileError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// A list length, checked against what is left given that each item
    /// takes at least `min_item` bytes.
    fn count(&mut self, min_item: usize) -> Result<usize, StateFileError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item) > self.0.len() {
            return Err(StateFileError::Malformed("a list is longer than the file"));
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String, StateFileError> {
        let n = self.u32()? as usize;
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| StateFileError::Malformed("text not UTF-8"))
    }

    fn ip(&mut self) -> Result<Option<IpAddr>, StateFileError> {
        match self.u8()? {
            0 => Ok(None),
            4 => Ok(Some(IpAddr::V4(Ipv4Addr::from(self.array::<4>()?)))),
            6 => Ok(Some(IpAddr::V6(Ipv6Addr::from(self.array::<16>()?)))),
            _ => Err(StateFileError::Malformed("address tag")),
        }
    }

    fn pair(&mut self) -> Result<Option<PacketAddrs>, StateFileError> {
        match self.u8()? {
            0 => Ok(None),
            1 => {
                let src = self
                    .ip()?
                    .ok_or(StateFileError::Malformed("inner address"))?;
                let dst = self
                    .ip()?
                    .ok_or(StateFileError::Malformed("inner address"))?;
                Ok(Some(PacketAddrs { src, dst }))
            }
            _ => Err(StateFileError::Malformed("inner address tag")),
        }
    }

    fn side(&mut self) -> Result<SideEntry, StateFileError> {
        Ok(SideEntry {
            src: self.ip()?,
            packets: self.u64()?,
            bytes: self.u64()?,
        })
    }
}
