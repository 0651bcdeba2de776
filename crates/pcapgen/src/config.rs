//! What to generate: the [`Config`] of a run and its checks.

use std::fmt;

/// 2025-12-31T23:50:00Z: ten minutes before a day (and year) boundary, and a
/// multiple of 600 s, so the default 600 s capture fills exactly one 10-minute
/// window and a longer one crosses midnight.
pub const DEFAULT_START_SECS: u64 = 1_767_225_000;

/// Timestamp resolution of the capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TsResolution {
    /// Magic 0xa1b2c3d4: microseconds.
    #[default]
    Micro,
    /// Magic 0xa1b23c4d: nanoseconds.
    Nano,
}

/// Relative weights of conversation protocols (any scale; percentages read best).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mix {
    /// TCP conversations: 95% sessions, 2% refused, 1% unanswered SYNs.
    pub tcp: f64,
    /// UDP conversations: 65% DNS, 25% bulk, 10% one-way.
    pub udp: f64,
    /// ICMP/ICMPv6 echo conversations: 10% unanswered.
    pub icmp: f64,
}

impl Default for Mix {
    fn default() -> Mix {
        Mix {
            tcp: 80.0,
            udp: 16.0,
            icmp: 4.0,
        }
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Exact number of distinct unidirectional flows (5-tuples). Most
    /// conversations give two; unanswered ones give one.
    pub flows: u64,
    /// Target number of packets (default: from `bytes`, or 8 per flow).
    pub packets: Option<u64>,
    /// Target capture file size in bytes (default: 600 bytes per packet).
    pub bytes: Option<u64>,
    /// First possible timestamp, Unix nanoseconds.
    pub start_ns: u64,
    /// Every timestamp is in `[start_ns, start_ns + duration_ns)`.
    pub duration_ns: u64,
    pub seed: u64,
    pub mix: Mix,
    /// Share of conversations over IPv6, percent.
    pub ipv6_percent: f64,
    /// Share of conversations carried in 802.1Q-tagged frames, percent.
    pub vlan_percent: f64,
    /// Start every conversation in the first 5% of the duration and keep it
    /// going until near the end: all flows are open at the same time.
    pub open_at_once: bool,
    /// Client hosts (default: conversations / 64, between 64 and 4096; raised
    /// when needed so that every conversation gets its own ephemeral port).
    pub hosts: Option<u32>,
    /// Server hosts (a third of them public).
    pub servers: u32,
    pub resolution: TsResolution,
    /// Keep per-flow totals ([`Summary::truth`](crate::Summary::truth)); costs memory per flow.
    pub truth: bool,
    /// Window widths (seconds) for per-window truth totals.
    pub truth_windows: Vec<u64>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            flows: 1000,
            packets: None,
            bytes: None,
            start_ns: DEFAULT_START_SECS * 1_000_000_000,
            duration_ns: 600 * 1_000_000_000,
            seed: 1,
            mix: Mix::default(),
            ipv6_percent: 10.0,
            vlan_percent: 2.0,
            open_at_once: false,
            hosts: None,
            servers: 450,
            resolution: TsResolution::Micro,
            truth: false,
            truth_windows: vec![60, 600],
        }
    }
}

/// A configuration the generator cannot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid pcapgen configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Checks every field; [`Generator::new`](crate::Generator::new) calls it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |m: String| Err(ConfigError(m));
        if self.duration_ns < 1_000_000 {
            return err("duration must be at least 1 ms".into());
        }
        if self.start_ns.checked_add(self.duration_ns).is_none()
            || (self.start_ns + self.duration_ns) / 1_000_000_000 > u64::from(u32::MAX)
        {
            return err("start + duration must fit a 32-bit pcap timestamp (before 2106)".into());
        }
        let m = &self.mix;
        for (name, v) in [("tcp", m.tcp), ("udp", m.udp), ("icmp", m.icmp)] {
            if !(v.is_finite() && v >= 0.0) {
                return err(format!("mix weight {name} must be a non-negative number"));
            }
        }
        if m.tcp + m.udp + m.icmp <= 0.0 {
            return err("the mix weights add up to 0".into());
        }
        for (name, v) in [("ipv6", self.ipv6_percent), ("vlan", self.vlan_percent)] {
            if !(0.0..=100.0).contains(&v) {
                return err(format!(
                    "{name} percentage must be between 0 and 100, not {v}"
                ));
            }
        }
        if self.truth_windows.contains(&0) {
            return err("truth window widths must be positive".into());
        }
        if self.hosts == Some(0) {
            return err("hosts must be positive".into());
        }
        Ok(())
    }
}
