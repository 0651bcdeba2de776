//! One spooled object: its data file, and the sidecar that says where it goes.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::SinkError;

/// Extension of a spooled object's data file in `ready/`.
pub const DATA_EXT: &str = "obj";
/// Extension of a spooled object's sidecar in `ready/`.
pub const SIDECAR_EXT: &str = "json";

/// What the delivery needs to know about a spooled object, written next to
/// it as JSON before the object is committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sidecar {
    /// The bucket it goes to.
    pub bucket: String,
    /// The keys it may be stored at, in order of preference: the key of name
    /// attempt 0 first, then the alternatives used when a key holds another
    /// object.
    pub keys: Vec<String>,
    /// Size of the object.
    pub bytes: u64,
    /// SHA-256 of the object, lower-case hex.
    pub sha256: String,
    /// When it was spooled, seconds since the Unix epoch.
    pub created: u64,
}

/// A committed object in the spool, ready for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Sequence number: entries are delivered in this order.
    pub seq: u64,
    /// The data file.
    pub data: PathBuf,
    /// The sidecar file.
    pub sidecar_path: PathBuf,
    /// The sidecar's content.
    pub sidecar: Sidecar,
}

impl Entry {
    /// The entry of sequence number `seq` in `ready`.
    pub fn paths(ready: &Path, seq: u64) -> (PathBuf, PathBuf) {
        (
            ready.join(format!("{seq:020}.{DATA_EXT}")),
            ready.join(format!("{seq:020}.{SIDECAR_EXT}")),
        )
    }

    /// The SHA-256 of the object as raw bytes.
    pub fn sha256_bytes(&self) -> Option<[u8; 32]> {
        let hex = self.sidecar.sha256.as_bytes();
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in hex.chunks(2).enumerate() {
            let s = std::str::from_utf8(pair).ok()?;
            out[i] = u8::from_str_radix(s, 16).ok()?;
        }
        Some(out)
    }
}

/// The sequence number of a file name `<seq>.<ext>` in `ready/`, with the
/// extension.
pub fn parse_name(name: &str) -> Option<(u64, &str)> {
    let (stem, ext) = name.split_once('.')?;
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((stem.parse().ok()?, ext))
}

/// SHA-256 of a file, lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String, SinkError> {
    let mut file = fs::File::open(path).map_err(|e| SinkError::io("open", path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(SinkError::io("read", path, e)),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_digests() {
        assert_eq!(parse_name("00000000000000000042.obj"), Some((42, "obj")));
        assert_eq!(parse_name("00000000000000000042.json"), Some((42, "json")));
        assert_eq!(parse_name("x.obj"), None);
        assert_eq!(parse_name(".obj"), None);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, b"abc").unwrap();
        let digest = sha256_file(&p).unwrap();
        assert_eq!(
            digest,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let (data, _) = Entry::paths(dir.path(), 1);
        let e = Entry {
            seq: 1,
            data,
            sidecar_path: p,
            sidecar: Sidecar {
                bucket: "b".into(),
                keys: vec![],
                bytes: 3,
                sha256: digest,
                created: 0,
            },
        };
        assert_eq!(e.sha256_bytes().unwrap()[0], 0xba);
    }
}
