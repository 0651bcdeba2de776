//! Object key layouts (spec §3.6, §3.7): default, Hive-compatible, hourly and
//! both, below an optional prefix.

use std::fmt;
use std::str::FromStr;

use crate::name::FileName;
use crate::time::UtcMinute;

/// How object keys are partitioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Layout {
    /// `key=value` folders (`HiveCompatiblePartitions`).
    pub hive: bool,
    /// An hour folder below the day (`PerHourPartition`).
    pub hourly: bool,
}

/// A layout name other than `default`, `hive`, `hourly` or `hive-hourly`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("layout {0:?} is not one of default, hive, hourly, hive-hourly")]
pub struct LayoutError(pub String);

impl FromStr for Layout {
    type Err = LayoutError;
    fn from_str(s: &str) -> Result<Layout, LayoutError> {
        let (hive, hourly) = match s {
            "default" => (false, false),
            "hive" => (true, false),
            "hourly" => (false, true),
            "hive-hourly" | "hourly-hive" => (true, true),
            other => return Err(LayoutError(other.to_string())),
        };
        Ok(Layout { hive, hourly })
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match (self.hive, self.hourly) {
            (false, false) => "default",
            (true, false) => "hive",
            (false, true) => "hourly",
            (true, true) => "hive-hourly",
        })
    }
}

/// A key prefix (the "folder" of an S3 destination), checked like AWS checks it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Prefix(String);

/// A prefix AWS would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    /// `AWSLogs` is reserved.
    #[error("prefix {0:?}: AWSLogs is reserved and cannot be used as a folder name")]
    Reserved(String),
    /// `a//b`.
    #[error("prefix {0:?} has an empty folder name")]
    EmptySegment(String),
    /// Characters that break keys or paths.
    #[error("prefix {0:?}: folder names must not be . or .. nor contain control characters or backslashes")]
    BadSegment(String),
}

impl Prefix {
    /// A checked prefix; leading and trailing `/` are dropped.
    pub fn new(text: &str) -> Result<Prefix, PrefixError> {
        let trimmed = text.trim_matches('/');
        if trimmed.is_empty() {
            return Ok(Prefix::default());
        }
        for segment in trimmed.split('/') {
            if segment.is_empty() {
                return Err(PrefixError::EmptySegment(text.to_string()));
            }
            if segment == "AWSLogs" {
                return Err(PrefixError::Reserved(text.to_string()));
            }
            if segment == "."
                || segment == ".."
                || segment.chars().any(|c| c.is_control() || c == '\\')
            {
                return Err(PrefixError::BadSegment(text.to_string()));
            }
        }
        Ok(Prefix(trimmed.to_string()))
    }

    /// The prefix without slashes at either end (empty when none).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Layout {
    /// The folder part of the key (ending in `/`) for files of `name`.
    pub fn folder(self, prefix: &Prefix, name: &FileName) -> String {
        let t = UtcMinute::from_unix(name.slot);
        let id = &name.id;
        let mut key = String::with_capacity(128);
        if !prefix.as_str().is_empty() {
            key.push_str(prefix.as_str());
            key.push('/');
        }
        if self.hive {
            key.push_str(&format!(
                "AWSLogs/aws-account-id={}/aws-service=vpcflowlogs/aws-region={}/year={:04}/month={:02}/day={:02}/",
                id.account_id, id.region, t.year, t.month, t.day
            ));
            if self.hourly {
                key.push_str(&format!("hour={:02}/", t.hour));
            }
        } else {
            key.push_str(&format!(
                "AWSLogs/{}/vpcflowlogs/{}/{:04}/{:02}/{:02}/",
                id.account_id, id.region, t.year, t.month, t.day
            ));
            if self.hourly {
                key.push_str(&format!("{:02}/", t.hour));
            }
        }
        key
    }

    /// The full object key of `name`.
    pub fn key(self, prefix: &Prefix, name: &FileName) -> String {
        let mut key = self.folder(prefix, name);
        key.push_str(&name.to_string());
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::{FileKind, FlowLogId};

    const DEFAULT_RE: &str = r"^(?:(?P<prefix>[^/]+(?:/[^/]+)*)/)?AWSLogs/(?P<account_id>[0-9]{12})/vpcflowlogs/(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]+)/(?P<Y>[0-9]{4})/(?P<m>[0-9]{2})/(?P<d>[0-9]{2})/(?:(?P<H>[0-9]{2})/)?(?P<file>[^/]+)$";
    const HIVE_RE: &str = r"^(?:(?P<prefix>[^/]+(?:/[^/]+)*)/)?AWSLogs/aws-account-id=(?P<account_id>[0-9]{12})/aws-service=vpcflowlogs/aws-region=(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]+)/year=(?P<Y>[0-9]{4})/month=(?P<m>[0-9]{2})/day=(?P<d>[0-9]{2})/(?:hour=(?P<H>[0-9]{2})/)?(?P<file>[^/]+)$";

    fn name(slot: u64) -> FileName {
        FileName {
            id: FlowLogId::new("123456789012", "us-east-1", "fl-1234abcd").unwrap(),
            slot,
            hash: 0xfe123456,
            kind: FileKind::TextGzip,
        }
    }

    #[test]
    fn documented_default_key() {
        let k = Layout::default().key(&Prefix::default(), &name(1529511600));
        assert_eq!(
            k,
            "AWSLogs/123456789012/vpcflowlogs/us-east-1/2018/06/20/123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz"
        );
    }

    #[test]
    fn every_layout_matches_its_regex_and_the_name_date() {
        let default_re = regex::Regex::new(DEFAULT_RE).unwrap();
        let hive_re = regex::Regex::new(HIVE_RE).unwrap();
        for layout in ["default", "hive", "hourly", "hive-hourly"] {
            let layout: Layout = layout.parse().unwrap();
            for prefix in ["", "my-logs", "/a/b/"] {
                let prefix = Prefix::new(prefix).unwrap();
                // 2021-04-01T09:05Z, zero padding everywhere.
                let n = name(1617267900);
                let key = layout.key(&prefix, &n);
                let re = if layout.hive { &hive_re } else { &default_re };
                let c = re.captures(&key).unwrap_or_else(|| panic!("{key}"));
                assert_eq!((&c["Y"], &c["m"], &c["d"]), ("2021", "04", "01"), "{key}");
                assert_eq!(
                    c.name("H").map(|h| h.as_str()),
                    layout.hourly.then_some("09"),
                    "{key}"
                );
                assert_eq!(&c["file"], n.to_string());
                assert_eq!(
                    c.name("prefix").map(|p| p.as_str()).unwrap_or(""),
                    prefix.as_str()
                );
            }
        }
    }

    #[test]
    fn hive_hourly_key() {
        let layout: Layout = "hive-hourly".parse().unwrap();
        let k = layout.key(&Prefix::new("logs").unwrap(), &name(1663251600));
        assert_eq!(
            k,
            "logs/AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2022/month=09/day=15/hour=14/123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20220915T1420Z_fe123456.log.gz"
        );
    }

    #[test]
    fn prefix_rules() {
        assert_eq!(Prefix::new("/my-logs/").unwrap().as_str(), "my-logs");
        assert!(matches!(
            Prefix::new("AWSLogs"),
            Err(PrefixError::Reserved(_))
        ));
        assert!(matches!(
            Prefix::new("a/AWSLogs/b"),
            Err(PrefixError::Reserved(_))
        ));
        assert!(matches!(
            Prefix::new("a//b"),
            Err(PrefixError::EmptySegment(_))
        ));
        assert!(matches!(
            Prefix::new("a/../b"),
            Err(PrefixError::BadSegment(_))
        ));
        assert!(Prefix::new("awslogs").is_ok());
        assert!("weekly".parse::<Layout>().is_err());
    }
}
