//! `[skydive]`, `[skydive.reject]` and `[[skydive.analyzer]]`: how Skydive
//! flows are converted, and the analyzers `vpcflow run` subscribes to.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
use serde::Deserialize;
use vpcflow_sources::skydive::subscriber::{AnalyzerConfig, WireProtocol};
use vpcflow_sources::skydive::{ConverterOptions, TwoPoint};

use super::validate::{check_max, check_token, max};

/// `[skydive]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkydiveSection {
    /// Count only flows of these capture ids (default: all).
    #[serde(default)]
    pub capture_ids: Vec<String>,
    /// Seconds of event time after which a silent flow UUID's state is forgotten.
    pub state_ttl: Option<u64>,
    /// Cap on flow UUIDs tracked at once.
    pub max_tracked_flows: Option<usize>,
    /// Seconds an inner flow waits for its parent.
    pub orphan_wait: Option<u64>,
    /// `vpcflow run`: event time follows the wall clock minus this many
    /// seconds while traffic is quiet, so windows close.
    pub idle_delay: Option<u64>,
    /// `vpcflow run`: seconds between two writes of the converter's state
    /// to the state folder (it is also written at the stop).
    pub state_save_interval: Option<u64>,
    /// `[[skydive.analyzer]]`: analyzers subscribed to by `vpcflow run`.
    #[serde(default)]
    pub analyzer: Vec<AnalyzerSection>,
    /// `[skydive.reject]`: REJECT from two capture points around a firewall.
    pub reject: Option<RejectSection>,
}

/// `[skydive.reject]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectSection {
    /// NodeTID of the capture point before the firewall.
    pub outside: String,
    /// NodeTID of the capture point after it.
    pub inside: String,
    /// Seconds (event time) after which traffic seen only outside is REJECT.
    pub timeout: Option<u64>,
}

/// One `[[skydive.analyzer]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyzerSection {
    /// `ws://HOST[:PORT][/path]` or `wss://…`.
    pub url: String,
    /// json (default) or protobuf.
    pub protocol: Option<String>,
    /// Basic authentication user.
    pub username: Option<String>,
    /// Basic authentication password.
    pub password: Option<String>,
    /// A file holding the password (e.g. a systemd credential,
    /// `$CREDENTIALS_DIRECTORY/skydive-password`), instead of `password`.
    pub password_file: Option<PathBuf>,
    /// Authentication token (cookie `authtoken`).
    pub token: Option<String>,
    /// A file holding the token, instead of `token`.
    pub token_file: Option<PathBuf>,
    /// Extra cookies, name = value.
    #[serde(default)]
    pub cookies: BTreeMap<String, String>,
    /// PEM CA certificates of the analyzer (wss; default: the system's
    /// trust roots).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (mutual TLS).
    pub client_cert: Option<PathBuf>,
    /// PEM key of the client certificate.
    pub client_key: Option<PathBuf>,
    /// Subscribe to `flow/CAPTURE_ID` only.
    pub capture_id: Option<String>,
    /// Subscribe to capture statistics (default true).
    pub stats: Option<bool>,
    /// `X-Host-ID` (default `vpcflow-HOSTNAME`).
    pub host_id: Option<String>,
    /// `X-Client-Type` (default `vpcflow`).
    pub client_type: Option<String>,
}

/// The validated `[skydive]` settings.
pub struct SkydiveSettings {
    /// How Skydive flows are converted.
    pub converter: ConverterOptions,
    /// The analyzers of `vpcflow run`.
    pub analyzers: Vec<AnalyzerConfig>,
    /// Event time trails the wall clock by this many seconds.
    pub idle_delay_secs: u64,
    /// Seconds between two writes of the converter's state.
    pub state_save_interval_secs: u64,
}

/// Default of `skydive.state_save_interval`: what a crash can lose at most.
pub const DEFAULT_STATE_SAVE_INTERVAL_SECS: u64 = 60;

impl SkydiveSection {
    /// Validates the section.
    pub fn settings(&self) -> Result<SkydiveSettings> {
        let defaults = ConverterOptions::default();
        let converter = ConverterOptions {
            state_ttl_secs: self.state_ttl.unwrap_or(defaults.state_ttl_secs),
            max_tracked_flows: self.max_tracked_flows.unwrap_or(defaults.max_tracked_flows),
            capture_ids: self.capture_ids.clone(),
            orphan_wait_secs: self.orphan_wait.unwrap_or(defaults.orphan_wait_secs),
            two_point: self
                .reject
                .as_ref()
                .map(RejectSection::two_point)
                .transpose()?,
        };
        if converter.state_ttl_secs < 60 {
            bail!(
                "skydive.state_ttl: {} s is less than the minimum of 60 s",
                converter.state_ttl_secs
            );
        }
        check_max(
            "skydive.state_ttl",
            converter.state_ttl_secs,
            max::STATE_TTL_SECS,
            "s",
        )?;
        if converter.max_tracked_flows == 0 {
            bail!("skydive.max_tracked_flows: must be at least 1");
        }
        check_max(
            "skydive.max_tracked_flows",
            converter.max_tracked_flows as u64,
            max::TRACKED_FLOWS,
            "",
        )?;
        check_max(
            "skydive.orphan_wait",
            converter.orphan_wait_secs,
            max::DAY_SECS,
            "s",
        )?;
        let idle_delay_secs = self.idle_delay.unwrap_or(90);
        check_max("skydive.idle_delay", idle_delay_secs, max::DAY_SECS, "s")?;
        let state_save_interval_secs = self
            .state_save_interval
            .unwrap_or(DEFAULT_STATE_SAVE_INTERVAL_SECS);
        if !(1..=3600).contains(&state_save_interval_secs) {
            bail!(
                "skydive.state_save_interval: {state_save_interval_secs} s must be between 1 and 3600 s"
            );
        }
        let analyzers = self
            .analyzer
            .iter()
            .enumerate()
            .map(|(i, a)| a.config(i))
            .collect::<Result<Vec<_>>>()?;
        Ok(SkydiveSettings {
            converter,
            analyzers,
            idle_delay_secs,
            state_save_interval_secs,
        })
    }
}

impl RejectSection {
    fn two_point(&self) -> Result<TwoPoint> {
        if self.outside.is_empty() || self.inside.is_empty() || self.outside == self.inside {
            bail!("skydive.reject: outside and inside must be two different NodeTIDs");
        }
        let timeout_secs = self.timeout.unwrap_or(120);
        if timeout_secs == 0 {
            bail!("skydive.reject.timeout: must be at least 1 s");
        }
        check_max("skydive.reject.timeout", timeout_secs, max::DAY_SECS, "s")?;
        Ok(TwoPoint {
            outside: self.outside.clone(),
            inside: self.inside.clone(),
            timeout_secs,
        })
    }
}

impl AnalyzerSection {
    fn config(&self, i: usize) -> Result<AnalyzerConfig> {
        let key = |k: &str| format!("skydive.analyzer[{i}].{k}");
        let mut c = AnalyzerConfig::new(&self.url);
        c.endpoint().map_err(|e| anyhow!("{}: {e}", key("url")))?;
        c.protocol = match self.protocol.as_deref() {
            None | Some("json") => WireProtocol::Json,
            Some("protobuf") => WireProtocol::Protobuf,
            Some(other) => bail!("{}: {other:?} must be json or protobuf", key("protocol")),
        };
        let password = secret(&key, "password", &self.password, &self.password_file)?;
        if password.is_some() && self.username.is_none() {
            bail!("{}: a password needs a username", key("password"));
        }
        c.username = self.username.clone();
        c.password = password;
        c.token = secret(&key, "token", &self.token, &self.token_file)?;
        c.cookies = self
            .cookies
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if self.client_cert.is_some() != self.client_key.is_some() {
            bail!(
                "{}: client_cert and client_key go together",
                key("client_cert")
            );
        }
        c.ca_file = self.ca_file.clone();
        c.client_cert = self.client_cert.clone();
        c.client_key = self.client_key.clone();
        c.capture_id = self.capture_id.clone();
        c.stats = self.stats.unwrap_or(true);
        if let Some(h) = &self.host_id {
            check_token(&key("host_id"), Some(h))?;
            c.host_id = h.clone();
        }
        if let Some(t) = &self.client_type {
            check_token(&key("client_type"), Some(t))?;
            c.client_type = t.clone();
        }
        Ok(c)
    }
}

/// A secret given inline (`name`) or in a file (`name_file`, read now: its
/// content without the final line break), not both.
fn secret(
    key: &dyn Fn(&str) -> String,
    name: &str,
    inline: &Option<String>,
    file: &Option<PathBuf>,
) -> Result<Option<String>> {
    let file_key = format!("{name}_file");
    match (inline, file) {
        (Some(_), Some(_)) => bail!("{}: give {name} or {file_key}, not both", key(&file_key)),
        (Some(value), None) => Ok(Some(value.clone())),
        (None, None) => Ok(None),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow!("{}: cannot read {}: {e}", key(&file_key), path.display()))?;
            let value = text.strip_suffix('\n').unwrap_or(&text);
            let value = value.strip_suffix('\r').unwrap_or(value);
            if value.is_empty() {
                bail!("{}: {} is empty", key(&file_key), path.display());
            }
            Ok(Some(value.to_string()))
        }
    }
}
