//! `[capture]` and `[[capture.interface]]`: how capture files are read, and
//! the live captures of `vpcflow run`.

use anyhow::{anyhow, bail, Result};
use serde::Deserialize;
use vpcflow_sources::live::{check_filter, CaptureSpec};
use vpcflow_sources::pcap::{FragmentPolicy, PacketSelection, PcapOptions};

use super::flags::ConversionFlags;
use super::time_arg::TimeArg;
use super::typed;
use super::validate::{check_max, max};

/// `[capture]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureSection {
    /// Name given to the interface of classic pcap files (and the first of pcapng).
    pub interface_name: Option<String>,
    /// zero or track-first.
    pub fragments: Option<String>,
    /// Capture files: only the frames matching this BPF filter.
    pub filter: Option<String>,
    /// Capture files: only the packets at or after this time.
    #[serde(default, deserialize_with = "typed::optional")]
    pub since: Option<TimeArg>,
    /// Capture files: only the packets before this time.
    #[serde(default, deserialize_with = "typed::optional")]
    pub until: Option<TimeArg>,
    /// `[[capture.interface]]`: live captures of `vpcflow run`.
    #[serde(default)]
    pub interface: Vec<LiveInterfaceSection>,
    /// Live capture: event time trails the wall clock by this many seconds
    /// (default 5).
    pub idle_delay: Option<u64>,
}

/// One `[[capture.interface]]`: a live capture.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveInterfaceSection {
    /// Interface name, or a pattern with `*` and `?` for interfaces that
    /// appear later.
    pub name: String,
    /// BPF filter (tcpdump syntax).
    pub filter: Option<String>,
    /// Promiscuous mode (default false).
    pub promisc: Option<bool>,
    /// Snap length in bytes (default 256, at least 64).
    pub snaplen: Option<u32>,
    /// Kernel buffer (ring) size in bytes (default 8 MiB).
    pub buffer: Option<u32>,
}

/// The validated `[capture]` settings.
pub struct CaptureSettings {
    /// How capture files are read.
    pub files: PcapOptions,
    /// Live captures.
    pub live: Vec<CaptureSpec>,
    /// Live capture: event time trails the wall clock by this many seconds.
    pub idle_delay_secs: u64,
}

impl CaptureSection {
    /// Validates the section with the flags that override it.
    pub fn settings(&self, flags: &ConversionFlags) -> Result<CaptureSettings> {
        let interface_name = flags
            .interface_name
            .clone()
            .or_else(|| self.interface_name.clone());
        if let Some(n) = &interface_name {
            if n.is_empty() {
                bail!("capture.interface_name: must not be empty");
            }
        }
        let fragments = match flags
            .fragments
            .clone()
            .or_else(|| self.fragments.clone())
            .as_deref()
        {
            None | Some("zero") => FragmentPolicy::Zero,
            Some("track-first") => FragmentPolicy::TrackFirst,
            Some(other) => bail!("capture.fragments: {other:?} must be zero or track-first"),
        };
        let filter = flags
            .filter
            .clone()
            .or_else(|| self.filter.clone())
            .filter(|f| !f.trim().is_empty());
        if let Some(f) = &filter {
            check_filter(f).map_err(|e| anyhow!("capture.filter: {f:?}: {e}"))?;
        }
        let since = flags.since.or(self.since);
        let until = flags.until.or(self.until);
        if let (Some(s), Some(u)) = (since, until) {
            if u <= s {
                bail!("capture.until: {u} s is not after capture.since ({s} s)");
            }
        }
        let idle_delay_secs = self.idle_delay.unwrap_or(5);
        check_max("capture.idle_delay", idle_delay_secs, max::DAY_SECS, "s")?;
        let live = self
            .interface
            .iter()
            .enumerate()
            .map(|(i, c)| c.spec(i))
            .collect::<Result<Vec<_>>>()?;
        Ok(CaptureSettings {
            files: PcapOptions {
                interface_name,
                fragments,
                select: PacketSelection {
                    filter,
                    since_ns: since.map(|t| t.0),
                    until_ns: until.map(|t| t.0),
                },
            },
            live,
            idle_delay_secs,
        })
    }
}

impl LiveInterfaceSection {
    fn spec(&self, i: usize) -> Result<CaptureSpec> {
        let key = |k: &str| format!("capture.interface[{i}].{k}");
        if self.name.is_empty() {
            bail!("{}: must not be empty", key("name"));
        }
        let mut spec = CaptureSpec::new(self.name.clone());
        spec.filter = self.filter.clone().filter(|f| !f.trim().is_empty());
        if let Some(filter) = &spec.filter {
            check_filter(filter).map_err(|e| anyhow!("{}: {filter:?}: {e}", key("filter")))?;
        }
        spec.promisc = self.promisc.unwrap_or(false);
        if let Some(n) = self.snaplen {
            if !(64..=262_144).contains(&n) {
                bail!("{}: {n} must be between 64 and 262144", key("snaplen"));
            }
            spec.snaplen = n;
        }
        if let Some(n) = self.buffer {
            if n < 65_536 {
                bail!(
                    "{}: {n} bytes is less than the minimum of 65536",
                    key("buffer")
                );
            }
            check_max(
                &key("buffer"),
                u64::from(n),
                max::CAPTURE_BUFFER_BYTES,
                "bytes",
            )?;
            spec.buffer_bytes = n;
        }
        Ok(spec)
    }
}
