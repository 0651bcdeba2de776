//! `[netflow]`, `[[netflow.listen]]` and `[[netflow.exporter]]`: how NetFlow
//! v5/v9 and IPFIX records are decoded (collector and `vpcflow convert
//! --netflow`), the UDP sockets `vpcflow run` collects on, and the names of
//! exporters' interfaces.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use anyhow::{anyhow, bail, Result};
use serde::Deserialize;
use vpcflow_sources::netflow::names::{InterfaceNames, NamePattern};
use vpcflow_sources::netflow::templates::Limits;
use vpcflow_sources::netflow::{DecoderOptions, Sampling};
use vpcflow_sources::udp::ListenSpec;

/// `[netflow]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetflowSection {
    /// `scale` (default): sampled records' packets and bytes are multiplied
    /// by the sampling rate; `raw`: kept as exported.
    pub sampling: Option<String>,
    /// Seconds of export time a data set waits for its template.
    pub template_wait: Option<u64>,
    /// Bytes of data sets held for their templates, over all exporters.
    pub max_held_bytes: Option<usize>,
    /// Socket receive buffer asked for, bytes.
    pub receive_buffer: Option<usize>,
    /// `vpcflow run`: event time follows the wall clock minus this many
    /// seconds while exporters are quiet, so windows close.
    pub idle_delay: Option<u64>,
    /// The interface name pattern of exporters without one of their own
    /// (`{exporter}/ifindex-{ifindex}`).
    pub interface_name: Option<String>,
    /// `[[netflow.listen]]`: the UDP sockets of `vpcflow run`.
    #[serde(default)]
    pub listen: Vec<ListenSection>,
    /// `[[netflow.exporter]]`: settings of one exporter.
    #[serde(default)]
    pub exporter: Vec<ExporterSection>,
}

/// One `[[netflow.exporter]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExporterSection {
    /// The exporter's address (the source address of its datagrams).
    pub address: String,
    /// The pattern of its interfaces' names (`{exporter}`, `{ifindex}`).
    pub interface_name: Option<String>,
}

/// One `[[netflow.listen]]` (or `[[sflow.listen]]`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenSection {
    /// `ADDRESS:PORT` to bind (`0.0.0.0:2055`, `[::]:4739`).
    pub address: String,
}

/// The validated `[netflow]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetflowSettings {
    /// How records are decoded (its interval is set from the flow log's).
    pub decoder: DecoderOptions,
    /// The sockets of `vpcflow run`.
    pub listen: Vec<ListenSpec>,
    /// Event time trails the wall clock by this many seconds.
    pub idle_delay_secs: u64,
    /// The names of exporters' interfaces.
    pub names: InterfaceNames,
}

/// Default of `netflow.receive_buffer`: 32 MiB, a burst of about 20 000
/// full-size datagrams.
pub const DEFAULT_RECEIVE_BUFFER: usize = 32 << 20;

impl NetflowSection {
    /// Validates the section; `interval_secs` is the aggregation interval.
    pub fn settings(&self, interval_secs: u64) -> Result<NetflowSettings> {
        let sampling = sampling("netflow", self.sampling.as_deref())?;
        let defaults = DecoderOptions::default();
        let template_wait_secs = self.template_wait.unwrap_or(defaults.template_wait_secs);
        if template_wait_secs > 3600 {
            bail!(
                "netflow.template_wait: {template_wait_secs} s is more than the maximum of 3600 s"
            );
        }
        let pending_bytes = self.max_held_bytes.unwrap_or(defaults.limits.pending_bytes);
        if pending_bytes > 1 << 30 {
            bail!("netflow.max_held_bytes: {pending_bytes} is more than the maximum of 1 GiB");
        }
        let idle_delay_secs = idle_delay("netflow", self.idle_delay, 60)?;
        let listen = listen_specs("netflow", &self.listen, self.receive_buffer, 2055)?;
        let names = self.names()?;
        Ok(NetflowSettings {
            decoder: DecoderOptions {
                sampling,
                interval_secs,
                limits: Limits {
                    pending_bytes,
                    ..defaults.limits
                },
                template_wait_secs,
            },
            listen,
            idle_delay_secs,
            names,
        })
    }

    /// `netflow.interface_name` and the `[[netflow.exporter]]` blocks.
    fn names(&self) -> Result<InterfaceNames> {
        let default = match &self.interface_name {
            None => NamePattern::default(),
            Some(text) => {
                NamePattern::parse(text).map_err(|e| anyhow!("netflow.interface_name: {e}"))?
            }
        };
        let mut exporters = HashMap::new();
        for (i, e) in self.exporter.iter().enumerate() {
            let address: IpAddr = e.address.parse().map_err(|_| {
                anyhow!(
                    "netflow.exporter[{i}].address: {:?} is not an IP address such as 192.0.2.1",
                    e.address
                )
            })?;
            let pattern = match &e.interface_name {
                None => default.clone(),
                Some(text) => NamePattern::parse(text)
                    .map_err(|err| anyhow!("netflow.exporter[{i}].interface_name: {err}"))?,
            };
            if exporters.insert(address, pattern).is_some() {
                bail!("netflow.exporter[{i}].address: {address} is given twice");
            }
        }
        Ok(InterfaceNames { default, exporters })
    }
}

/// `SECTION.sampling`: `scale` (default) or `raw`.
pub(super) fn sampling(section: &str, value: Option<&str>) -> Result<Sampling> {
    match value {
        None | Some("scale") => Ok(Sampling::Scale),
        Some("raw") => Ok(Sampling::Raw),
        Some(other) => bail!("{section}.sampling: {other:?} must be scale or raw"),
    }
}

/// `SECTION.idle_delay`, seconds (at most an hour).
pub(super) fn idle_delay(section: &str, value: Option<u64>, default: u64) -> Result<u64> {
    let secs = value.unwrap_or(default);
    if secs > 3600 {
        bail!("{section}.idle_delay: {secs} s is more than the maximum of 3600 s");
    }
    Ok(secs)
}

/// The sockets of `[[SECTION.listen]]` with `SECTION.receive_buffer`
/// (`port` in the example of the error message).
pub(super) fn listen_specs(
    section: &str,
    blocks: &[ListenSection],
    receive_buffer: Option<usize>,
    port: u16,
) -> Result<Vec<ListenSpec>> {
    let receive_buffer = receive_buffer.unwrap_or(DEFAULT_RECEIVE_BUFFER);
    if !(4096..=1 << 30).contains(&receive_buffer) {
        bail!(
            "{section}.receive_buffer: {receive_buffer} must be between 4096 and 1073741824 bytes"
        );
    }
    let mut listen = Vec::with_capacity(blocks.len());
    for (i, l) in blocks.iter().enumerate() {
        let address: SocketAddr = l.address.parse().map_err(|_| {
            anyhow!(
                "{section}.listen[{i}].address: {:?} is not an address and port such as 0.0.0.0:{port}",
                l.address
            )
        })?;
        if listen
            .iter()
            .any(|s: &ListenSpec| s.address == address && address.port() != 0)
        {
            bail!("{section}.listen[{i}].address: {address} is given twice");
        }
        listen.push(ListenSpec {
            address,
            receive_buffer,
        });
    }
    Ok(listen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(toml_text: &str) -> NetflowSection {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn defaults_and_listeners() {
        let s = section(
            "[[listen]]\naddress = \"127.0.0.1:2055\"\n[[listen]]\naddress = \"[::1]:4739\"\n",
        )
        .settings(60)
        .unwrap();
        assert_eq!(s.listen.len(), 2);
        assert_eq!(s.listen[0].receive_buffer, DEFAULT_RECEIVE_BUFFER);
        assert_eq!(s.decoder.sampling, Sampling::Scale);
        assert_eq!(s.decoder.interval_secs, 60);
    }

    #[test]
    fn interface_name_patterns() {
        let s = section(
            "interface_name = \"{exporter}:{ifindex}\"\n[[exporter]]\naddress = \"192.0.2.1\"\ninterface_name = \"rtr1-{ifindex}\"\n[[exporter]]\naddress = \"2001:db8::1\"\n",
        )
        .settings(60)
        .unwrap();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(s.names.name(a, 3), "rtr1-3");
        assert_eq!(
            s.names.name("2001:db8::1".parse().unwrap(), 3),
            "2001:db8::1:3"
        );
        assert_eq!(s.names.name("192.0.2.9".parse().unwrap(), 4), "192.0.2.9:4");
        let d = section("").settings(60).unwrap();
        assert_eq!(d.names.name(a, 3), "192.0.2.1/ifindex-3");
    }

    #[test]
    fn errors_name_the_key() {
        for (text, key) in [
            ("sampling = \"half\"", "netflow.sampling"),
            ("template_wait = 4000", "netflow.template_wait"),
            ("receive_buffer = 10", "netflow.receive_buffer"),
            ("idle_delay = 99999", "netflow.idle_delay"),
            ("[[listen]]\naddress = \"2055\"", "netflow.listen[0].address"),
            (
                "[[listen]]\naddress = \"127.0.0.1:2055\"\n[[listen]]\naddress = \"127.0.0.1:2055\"",
                "netflow.listen[1].address",
            ),
            (
                "interface_name = \"rtr-{ifidx}\"",
                "netflow.interface_name: \"rtr-{ifidx}\": unknown placeholder {ifidx}",
            ),
            (
                "[[exporter]]\naddress = \"192.0.2.1\"\ninterface_name = \"rtr1\"",
                "netflow.exporter[0].interface_name: \"rtr1\" has no {ifindex}",
            ),
            (
                "[[exporter]]\naddress = \"rtr1\"",
                "netflow.exporter[0].address",
            ),
            (
                "[[exporter]]\naddress = \"192.0.2.1\"\n[[exporter]]\naddress = \"192.0.2.1\"",
                "netflow.exporter[1].address",
            ),
        ] {
            let e = section(text).settings(600).unwrap_err().to_string();
            assert!(e.starts_with(key), "{e}");
        }
    }
}
