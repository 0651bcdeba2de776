//! The bytes of a journal segment (`STATE/journal/segment-GEN.wal`).
//!
//! ```text
//! magic        8 bytes  "VPCFWAL\0"
//! version      u32      FORMAT_VERSION
//! fingerprint  32 bytes SHA-256 of the configuration identity
//! identity     u32 length + UTF-8 text (for messages)
//! frames       until the end of the file:
//!   length     u32      bytes of the payload
//!   crc32      u32      of the payload
//!   payload    kind u8 (1 snapshot, 2 changes), then
//!              last_seq u64     the last batch numbered so far
//!              interfaces       u32 count, then u32 length + name each
//!                               (registered since the previous frame;
//!                               a snapshot lists all, in index order)
//!              state            u32 length + the aggregation state
//!                               (`Aggregator::encode_state`)
//!              batches          u32 count, then seq u64,
//!                               complete_before u64, u32 length + the
//!                               records (`Closed::encode`)
//! ```
//!
//! The first frame of a segment is a snapshot. A frame is complete only
//! when its length and checksum match: a torn frame at the end (a write cut
//! by a crash) and whatever follows a damaged frame are not read.

use sha2::{Digest, Sha256};
use vpcflow_core::aggregate::Reader;

/// The first bytes of a segment.
pub const MAGIC: &[u8; 8] = b"VPCFWAL\0";

/// The format version this vpcflow writes and reads.
pub const FORMAT_VERSION: u32 = 3;

/// Frame kind: the whole state (first frame of a segment).
pub const SNAPSHOT: u8 = 1;
/// Frame kind: what changed since the previous frame.
pub const CHANGES: u8 = 2;

/// A released batch, in journal form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Its number: batches are sent to the writer in this order.
    pub seq: u64,
    /// `complete_before` of the batch.
    pub complete_before: u64,
    /// `Closed::encode` bytes.
    pub bytes: Vec<u8>,
}

/// One frame, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// [`SNAPSHOT`] or [`CHANGES`].
    pub kind: u8,
    /// The last batch number given so far.
    pub last_seq: u64,
    /// Interfaces registered (in index order).
    pub interfaces: Vec<String>,
    /// The aggregation state (full or changes).
    pub state: Vec<u8>,
    /// Released batches.
    pub batches: Vec<Batch>,
}

/// SHA-256 of the configuration identity.
pub fn fingerprint(identity: &str) -> [u8; 32] {
    Sha256::digest(identity.as_bytes()).into()
}

/// The header of a segment.
pub fn header(identity: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + identity.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&fingerprint(identity));
    out.extend_from_slice(&(identity.len() as u32).to_le_bytes());
    out.extend_from_slice(identity.as_bytes());
    out
}

/// Appends a frame (length, checksum, payload) to `out`; the batches are
/// given as (seq, complete_before, bytes). A payload beyond 4 GiB cannot be
/// framed: an error, and `out` is left as it was.
pub fn put_frame<'a>(
    out: &mut Vec<u8>,
    kind: u8,
    last_seq: u64,
    interfaces: &[String],
    state: &[u8],
    batches: impl ExactSizeIterator<Item = (u64, u64, &'a [u8])>,
) -> std::io::Result<()> {
    let start = out.len();
    out.extend_from_slice(&[0; 8]);
    out.push(kind);
    out.extend_from_slice(&last_seq.to_le_bytes());
    out.extend_from_slice(&(interfaces.len() as u32).to_le_bytes());
    for name in interfaces {
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
    }
    out.extend_from_slice(&(state.len() as u32).to_le_bytes());
    out.extend_from_slice(state);
    out.extend_from_slice(&(batches.len() as u32).to_le_bytes());
    for (seq, complete_before, bytes) in batches {
        out.extend_from_slice(&seq.to_le_bytes());
        out.extend_from_slice(&complete_before.to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    let payload = &out[start + 8..];
    let Ok(len) = u32::try_from(payload.len()) else {
        out.truncate(start);
        return Err(std::io::Error::other("a journal frame beyond 4 GiB"));
    };
    let crc = crc32fast::hash(payload);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// Why a segment cannot be used at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentError {
    /// Not a journal segment, or a version this vpcflow does not read.
    NotASegment(String),
    /// Written for another configuration (its identity).
    ForeignConfiguration(String),
    /// No complete snapshot frame at its start.
    NoSnapshot,
}

impl std::fmt::Display for SegmentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SegmentError::NotASegment(why) => write!(f, "not a journal segment ({why})"),
            SegmentError::ForeignConfiguration(identity) => write!(
                f,
                "written for another configuration ({identity}); the flow log, format, aggregation, output or sources differ"
            ),
            SegmentError::NoSnapshot => write!(f, "no complete snapshot at its start"),
        }
    }
}

/// A segment read: its complete frames, and the bytes after the last one
/// (a torn or damaged frame and what follows it).
#[derive(Debug)]
pub struct Segment {
    /// Complete frames, the first a snapshot.
    pub frames: Vec<Frame>,
    /// Bytes not read at the end.
    pub ignored_bytes: usize,
}

/// Reads a segment written for `identity`.
pub fn read(bytes: &[u8], identity: &str) -> Result<Segment, SegmentError> {
    let mut r = Reader::new(bytes);
    let bad = |why: &str| SegmentError::NotASegment(why.to_string());
    let magic = r.take(8, "magic").map_err(|_| bad("too short"))?;
    if magic != MAGIC {
        return Err(bad("bad magic"));
    }
    let version = r.u32("version").map_err(|_| bad("too short"))?;
    if version != FORMAT_VERSION {
        return Err(bad(&format!("format version {version}")));
    }
    let print = r.take(32, "fingerprint").map_err(|_| bad("too short"))?;
    let len = r.count(1, "identity").map_err(|_| bad("identity"))?;
    let written = r.take(len, "identity").map_err(|_| bad("identity"))?;
    if print != fingerprint(identity) {
        return Err(SegmentError::ForeignConfiguration(
            String::from_utf8_lossy(written).into_owned(),
        ));
    }
    let mut offset = bytes.len() - remaining(&r);
    let mut frames = Vec::new();
    while offset + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(bytes[offset + 4..offset + 8].try_into().unwrap());
        let Some(payload) = bytes.get(offset + 8..offset + 8 + len) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        let Ok(frame) = decode_frame(payload) else {
            break;
        };
        if frames.is_empty() != (frame.kind == SNAPSHOT) {
            break;
        }
        frames.push(frame);
        offset += 8 + len;
    }
    if frames.is_empty() {
        return Err(SegmentError::NoSnapshot);
    }
    Ok(Segment {
        frames,
        ignored_bytes: bytes.len() - offset,
    })
}

fn remaining(r: &Reader) -> usize {
    r.remaining()
}

fn decode_frame(payload: &[u8]) -> Result<Frame, vpcflow_core::aggregate::StateDecodeError> {
    let mut r = Reader::new(payload);
    let kind = r.u8("frame kind")?;
    if kind != SNAPSHOT && kind != CHANGES {
        return Err(vpcflow_core::aggregate::StateDecodeError("frame kind"));
    }
    let last_seq = r.u64("frame")?;
    let n = r.count(4, "interfaces")?;
    let mut interfaces = Vec::with_capacity(n);
    for _ in 0..n {
        let len = r.count(1, "interface name")?;
        let name = r.take(len, "interface name")?;
        let name = std::str::from_utf8(name)
            .map_err(|_| vpcflow_core::aggregate::StateDecodeError("interface name"))?;
        interfaces.push(name.to_string());
    }
    let len = r.count(1, "state")?;
    let state = r.take(len, "state")?.to_vec();
    let n = r.count(20, "batches")?;
    let mut batches = Vec::with_capacity(n);
    for _ in 0..n {
        let seq = r.u64("batch")?;
        let complete_before = r.u64("batch")?;
        let len = r.count(1, "batch")?;
        batches.push(Batch {
            seq,
            complete_before,
            bytes: r.take(len, "batch")?.to_vec(),
        });
    }
    if !r.is_empty() {
        return Err(vpcflow_core::aggregate::StateDecodeError("trailing bytes"));
    }
    Ok(Frame {
        kind,
        last_seq,
        interfaces,
        state,
        batches,
    })
}
