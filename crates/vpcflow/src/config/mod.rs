//! The configuration: the TOML file ([`ConfigFile`]), the command-line flags
//! that override it ([`Overrides`]), and their validation into [`Settings`]
//! through one path, [`load`].
//!
//! Every key is optional; flags override the file. Unknown keys and bad
//! values are errors at start-up that name the key.
//!
//! One file per section: [`mod@file`] holds the file's general sections
//! (`[flow_log]`, `[output]`, `[aggregation]`, `[metrics]`); each source and
//! destination has its own (`capture`, `skydive`, `netflow`, `sflow`, `s3`, `cloudwatch`,
//! `firehose`), as do `interface`,
//! `policy` and `state`. A new source or destination adds its section in a file of
//! its own here, a field in [`ConfigFile`], and its validated form in
//! [`Settings`].

mod capture;
mod cloudwatch;
mod destination_options;
mod durability;
mod env;
mod file;
mod firehose;
mod flags;
mod interface;
mod netflow;
mod policy;
mod record_stream;
mod s3;
mod settings;
mod sflow;
mod skydive;
mod state;
mod state_home;
mod time_arg;
mod traffic_type;
mod typed;
mod validate;

#[cfg(test)]
mod tests;

use std::path::Path;

use anyhow::{anyhow, Context, Result};

pub use file::ConfigFile;
pub use flags::{ConversionFlags, DestinationFlags, FlowLogFlags, OutputFlags, Overrides};
pub use netflow::NetflowSettings;
pub use record_stream::RecordTarget;
pub use settings::{Destination, S3Target, Settings};
pub use sflow::SflowSettings;
pub use state::{check_writable, skydive_identity, state_dir, JOURNAL_FOLDER};
pub use traffic_type::TrafficType;

/// Reads a configuration file, with `${NAME}` in its strings replaced by
/// the environment variable NAME (see [`mod@env`]).
pub fn read_file(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read configuration file {}", path.display()))?;
    let lookup = |name: &str| std::env::var(name).ok();
    parse_text(&text, &path.display().to_string(), &lookup)
}

/// Parses the text of a configuration file named `name` in errors, `${VAR}`
/// references expanded with `lookup`.
pub fn parse_text(
    text: &str,
    name: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<ConfigFile> {
    let error = |e: toml::de::Error, note: &str| {
        anyhow!(
            "configuration file {name}{note}: {}",
            e.to_string().trim_end()
        )
    };
    let mut table: toml::Table = toml::from_str(text).map_err(|e| error(e, ""))?;
    let expanded =
        env::expand(&mut table, lookup).map_err(|e| anyhow!("configuration file {name}: {e:#}"))?;
    if !expanded {
        // Parsed from the text itself, so that errors show its lines.
        return toml::from_str(text).map_err(|e| error(e, ""));
    }
    let text = toml::to_string(&table).map_err(|e| anyhow!("configuration file {name}: {e}"))?;
    toml::from_str(&text).map_err(|e| error(e, " (after ${…} expansion)"))
}

/// Validates a configuration file with the flags that override it.
pub fn build(file: ConfigFile, flags: &Overrides) -> Result<Settings> {
    settings::build(file, flags)
}

pub fn load(path: Option<&Path>, flags: &Overrides) -> Result<Settings> {
    let file = match path {
        Some(path) => read_file(path)?,
        None => ConfigFile::default(),
    };
    build(file, flags)
}
