//! [`TrafficType`]: which records a flow log writes (`flow_log.traffic_type`,
//! `--traffic-type`).

use std::str::FromStr;

use serde::Deserialize;

/// Which records are written, by action (NODATA and SKIPDATA always are).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TrafficType {
    /// ACCEPT records only.
    Accept,
    /// REJECT records only.
    Reject,
    /// Both.
    #[default]
    All,
}

impl TrafficType {
    /// The name AWS uses: `ACCEPT`, `REJECT` or `ALL`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrafficType::Accept => "ACCEPT",
            TrafficType::Reject => "REJECT",
            TrafficType::All => "ALL",
        }
    }
}

impl FromStr for TrafficType {
    type Err = String;
    fn from_str(s: &str) -> Result<TrafficType, String> {
        match s {
            "ACCEPT" => Ok(TrafficType::Accept),
            "REJECT" => Ok(TrafficType::Reject),
            "ALL" => Ok(TrafficType::All),
            other => Err(format!("{other:?} must be ACCEPT, REJECT or ALL")),
        }
    }
}
