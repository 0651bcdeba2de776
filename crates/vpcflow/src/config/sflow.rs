//! `[sflow]` and `[[sflow.listen]]`: how sFlow samples are counted
//! (collector and `vpcflow convert --sflow`), and the UDP sockets
//! `vpcflow run` collects on.

use anyhow::Result;
use serde::Deserialize;
use vpcflow_sources::sflow::DecoderOptions;
use vpcflow_sources::udp::ListenSpec;

use super::netflow::{idle_delay, listen_specs, sampling, ListenSection};

/// `[sflow]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SflowSection {
    /// `scale` (default): each sample counts for sampling-rate packets;
    /// `raw`: for the one sampled packet.
    pub sampling: Option<String>,
    /// Socket receive buffer asked for, bytes.
    pub receive_buffer: Option<usize>,
    /// `vpcflow run`: event time follows the wall clock minus this many
    /// seconds while agents are quiet, so windows close.
    pub idle_delay: Option<u64>,
    /// `[[sflow.listen]]`: the UDP sockets of `vpcflow run`.
    #[serde(default)]
    pub listen: Vec<ListenSection>,
}

/// The validated `[sflow]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SflowSettings {
    /// How samples are counted.
    pub decoder: DecoderOptions,
    /// The sockets of `vpcflow run`.
    pub listen: Vec<ListenSpec>,
    /// Event time trails the wall clock by this many seconds.
    pub idle_delay_secs: u64,
}

impl SflowSection {
    /// Validates the section.
    pub fn settings(&self) -> Result<SflowSettings> {
        Ok(SflowSettings {
            decoder: DecoderOptions {
                sampling: sampling("sflow", self.sampling.as_deref())?,
            },
            // Samples carry their arrival time: a short delay suffices.
            idle_delay_secs: idle_delay("sflow", self.idle_delay, 5)?,
            listen: listen_specs("sflow", &self.listen, self.receive_buffer, 6343)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vpcflow_sources::netflow::Sampling;

    fn section(toml_text: &str) -> SflowSection {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn defaults_and_listeners() {
        let s = section("sampling = \"raw\"\n[[listen]]\naddress = \"0.0.0.0:6343\"\n")
            .settings()
            .unwrap();
        assert_eq!(s.listen.len(), 1);
        assert_eq!(s.listen[0].address.port(), 6343);
        assert_eq!(s.decoder.sampling, Sampling::Raw);
        assert_eq!(s.idle_delay_secs, 5);
        assert_eq!(
            section("").settings().unwrap().decoder.sampling,
            Sampling::Scale
        );
    }

    #[test]
    fn errors_name_the_key() {
        for (text, key) in [
            ("sampling = \"half\"", "sflow.sampling"),
            ("receive_buffer = 10", "sflow.receive_buffer"),
            ("idle_delay = 99999", "sflow.idle_delay"),
            ("[[listen]]\naddress = \"6343\"", "sflow.listen[0].address"),
            (
                "[[listen]]\naddress = \"127.0.0.1:6343\"\n[[listen]]\naddress = \"127.0.0.1:6343\"",
                "sflow.listen[1].address",
            ),
        ] {
            let e = section(text).settings().unwrap_err().to_string();
            assert!(e.starts_with(key), "{e}");
        }
        assert!(toml::from_str::<SflowSection>("bogus = 1").is_err());
    }
}
