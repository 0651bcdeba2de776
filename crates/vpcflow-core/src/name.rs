//! File names of delivered objects (spec §3.4, §3.5).

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::time::UtcMinute;

/// Length of a file slot: records are published per 5 minutes of `end` time.
pub const SLOT_SECS: u64 = 300;

/// Start of the 5-minute slot (Unix seconds) of a record ending at `end`.
#[inline]
pub fn slot_of(end: u64) -> u64 {
    end - end % SLOT_SECS
}

/// What a flow log is identified by in keys and names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowLogId {
    /// The 12-digit account that owns the flow log.
    pub account_id: String,
    /// The Region code.
    pub region: String,
    /// `fl-` and 8 or 17 hex digits.
    pub flow_log_id: String,
}

/// A flow log identity value that AWS would not produce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// Not 12 digits.
    #[error("account id {0:?} must be exactly 12 digits")]
    AccountId(String),
    /// Not a Region code.
    #[error("region {0:?} is not a Region code such as us-east-1 or ap-southeast-2")]
    Region(String),
    /// Not a flow log id.
    #[error("flow log id {0:?} must be fl- followed by 8 or 17 lower-case hex digits")]
    FlowLogId(String),
}

/// Whether `region` looks like a Region code: `[a-z]{2}(-[a-z]+)+-[0-9]+`.
pub fn is_region_code(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl FlowLogId {
    /// A checked identity.
    pub fn new(
        account_id: &str,
        region: &str,
        flow_log_id: &str,
    ) -> Result<FlowLogId, IdentityError> {
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdentityError::AccountId(account_id.to_string()));
        }
        if !is_region_code(region) {
            return Err(IdentityError::Region(region.to_string()));
        }
        let hex = flow_log_id.strip_prefix("fl-").unwrap_or("");
        if !matches!(hex.len(), 8 | 17) || !is_lower_hex(hex) {
            return Err(IdentityError::FlowLogId(flow_log_id.to_string()));
        }
        Ok(FlowLogId {
            account_id: account_id.to_string(),
            region: region.to_string(),
            flow_log_id: flow_log_id.to_string(),
        })
    }
}

/// The kind of object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// gzip-compressed text, `.log.gz`.
    TextGzip,
    /// Parquet, `.log.parquet`.
    Parquet,
}

impl FileKind {
    /// The name suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            FileKind::TextGzip => ".log.gz",
            FileKind::Parquet => ".log.parquet",
        }
    }
}

/// The name of one delivered object:
/// `{account}_vpcflowlogs_{region}_{fl-id}_{YYYYMMDD}T{HHmm}Z_{hash}.log.gz`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileName {
    /// The flow log.
    pub id: FlowLogId,
    /// Start of the 5-minute slot (Unix seconds, a multiple of 300).
    pub slot: u64,
    /// The 8-hex-digit hash.
    pub hash: u32,
    /// Text or Parquet.
    pub kind: FileKind,
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = UtcMinute::from_unix(self.slot);
        write!(
            f,
            "{}_vpcflowlogs_{}_{}_{:04}{:02}{:02}T{:02}{:02}Z_{:08x}{}",
            self.id.account_id,
            self.id.region,
            self.id.flow_log_id,
            t.year,
            t.month,
            t.day,
            t.hour,
            t.minute,
            self.hash,
            self.kind.suffix()
        )
    }
}

/// A string that is not a flow log file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a VPC flow log file name: {0:?}")]
pub struct NameError(pub String);

impl FromStr for FileName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<FileName, NameError> {
        let err = || NameError(s.to_string());
        let (stem, kind) = if let Some(stem) = s.strip_suffix(".log.gz") {
            (stem, FileKind::TextGzip)
        } else if let Some(stem) = s.strip_suffix(".log.parquet") {
            (stem, FileKind::Parquet)
        } else {
            return Err(err());
        };
        let parts: Vec<&str> = stem.split('_').collect();
        let [account, "vpcflowlogs", region, flid, ts, hash] = parts[..] else {
            return Err(err());
        };
        let id = FlowLogId::new(account, region, flid).map_err(|_| err())?;
        if hash.len() != 8 || !is_lower_hex(hash) {
            return Err(err());
        }
        let hash = u32::from_str_radix(hash, 16).map_err(|_| err())?;
        let slot = parse_slot(ts).ok_or_else(err)?;
        Ok(FileName {
            id,
            slot,
            hash,
            kind,
        })
    }
}

/// `YYYYMMDDTHHmmZ` with minutes a multiple of 5, as Unix seconds.
fn parse_slot(ts: &str) -> Option<u64> {
    let b = ts.as_bytes();
    if b.len() != 14 || b[8] != b'T' || b[13] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = ts.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, mo, d, h, mi) = (
        num(0..4)?,
        num(4..6)?,
        num(6..8)?,
        num(9..11)?,
        num(11..13)?,
    );
    if mi % 5 != 0 || mi > 59 || h > 23 {
        return None;
    }
    let month = ::time::Month::try_from(u8::try_from(mo).ok()?).ok()?;
    let date =
        ::time::Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(d).ok()?)
            .ok()?;
    let secs = date
        .with_hms(h as u8, mi as u8, 0)
        .ok()?
        .assume_utc()
        .unix_timestamp();
    u64::try_from(secs).ok()
}

/// Streams the body of a file to derive its name hash: the same content in the
/// same slot of the same flow log always gets the same name, so a retried
/// delivery writes the same key.
#[derive(Clone, Default)]
pub struct ContentHasher {
    digest: Sha256,
}

impl ContentHasher {
    /// A hasher for an empty body.
    pub fn new() -> ContentHasher {
        ContentHasher::default()
    }

    /// Adds body bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.digest.update(bytes);
    }

    /// The name hash for `id` and `slot`. `attempt` 0 is the normal hash; higher
    /// values give other hashes for the rare case where the name is already taken
    /// by a different object.
    pub fn name_hash(&self, id: &FlowLogId, slot: u64, attempt: u32) -> u32 {
        let body = self.digest.clone().finalize();
        let mut h = Sha256::new();
        for part in [
            id.account_id.as_bytes(),
            id.region.as_bytes(),
            id.flow_log_id.as_bytes(),
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.update(slot.to_be_bytes());
        h.update(attempt.to_be_bytes());
        h.update(body);
        let d = h.finalize();
        u32::from_be_bytes([d[0], d[1], d[2], d[3]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const NAME_RE: &str = r"^(?P<account_id>[0-9]{12})_vpcflowlogs_(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]+)_(?P<flow_log_id>fl-[0-9a-f]{8}(?:[0-9a-f]{9})?)_(?P<ts>(?P<Y>[0-9]{4})(?P<m>0[1-9]|1[0-2])(?P<d>0[1-9]|[12][0-9]|3[01])T(?P<H>[01][0-9]|2[0-3])(?P<M>[0-5][05])Z)_(?P<hash>[0-9a-f]{8})\.log\.(?P<ext>gz|parquet)$";

    fn id() -> FlowLogId {
        FlowLogId::new("123456789012", "us-east-1", "fl-1234abcd").unwrap()
    }

    #[test]
    fn documented_example_name() {
        // 2018-06-20T16:20Z, from the spec's historical example key.
        let n = FileName {
            id: id(),
            slot: 1529511600,
            hash: 0xfe123456,
            kind: FileKind::TextGzip,
        };
        let s = n.to_string();
        assert_eq!(
            s,
            "123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz"
        );
        assert!(regex::Regex::new(NAME_RE).unwrap().is_match(&s));
        assert_eq!(s.parse::<FileName>().unwrap(), n);
    }

    #[test]
    fn slots_are_five_minutes_of_end_time() {
        assert_eq!(slot_of(1616729349), 1616729100); // 03:29:09 -> 03:25
        assert_eq!(slot_of(1616729100), 1616729100);
        assert_eq!(slot_of(1616729099), 1616728800);
        let n = FileName {
            id: FlowLogId::new("123456789012", "ap-southeast-2", "fl-0630869f236e76872").unwrap(),
            slot: slot_of(1616729349),
            hash: 1,
            kind: FileKind::Parquet,
        };
        assert_eq!(
            n.to_string(),
            "123456789012_vpcflowlogs_ap-southeast-2_fl-0630869f236e76872_20210326T0325Z_00000001.log.parquet"
        );
        assert!(regex::Regex::new(NAME_RE).unwrap().is_match(&n.to_string()));
    }

    #[test]
    fn identity_is_checked() {
        assert!(FlowLogId::new("12345678901", "us-east-1", "fl-1234abcd").is_err());
        assert!(FlowLogId::new("123456789012", "useast1", "fl-1234abcd").is_err());
        assert!(FlowLogId::new("123456789012", "us-east-1", "fl-1234ABCD").is_err());
        assert!(FlowLogId::new("123456789012", "us-east-1", "fl-123456789").is_err());
        assert!(FlowLogId::new("123456789012", "us-gov-west-1", "fl-0630869f236e76872").is_ok());
        assert!(FlowLogId::new("123456789012", "cn-north-1", "fl-1234abcd").is_ok());
        assert_eq!(
            FlowLogId::new("1", "us-east-1", "fl-1234abcd")
                .unwrap_err()
                .to_string(),
            "account id \"1\" must be exactly 12 digits"
        );
    }

    #[test]
    fn rejects_bad_names() {
        for bad in [
            "123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1621Z_fe123456.log.gz",
            "123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe12345.log.gz",
            "123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log",
            "123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180231T1620Z_fe123456.log.gz",
            "123456789012_cloudtrail_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz",
        ] {
            assert!(bad.parse::<FileName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn hash_depends_on_content_slot_and_attempt() {
        let mut a = ContentHasher::new();
        a.update(b"header\nline\n");
        let mut b = ContentHasher::new();
        b.update(b"header\n");
        b.update(b"line\n");
        assert_eq!(a.name_hash(&id(), 0, 0), b.name_hash(&id(), 0, 0));
        assert_ne!(a.name_hash(&id(), 0, 0), a.name_hash(&id(), 300, 0));
        assert_ne!(a.name_hash(&id(), 0, 0), a.name_hash(&id(), 0, 1));
        b.update(b"more\n");
        assert_ne!(a.name_hash(&id(), 0, 0), b.name_hash(&id(), 0, 0));
    }
}
