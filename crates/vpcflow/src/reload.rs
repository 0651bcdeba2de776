//! SIGHUP: the configuration file is read again; what can change while
//! running is applied, what cannot is reported and kept.

use std::path::PathBuf;

use anyhow::Result;

use crate::config::{self, Overrides, Settings};
use crate::pipeline::Reloadable;

/// The delivery settings of an S3 destination, comparable (`None` for other
/// destinations). Compared as text: the settings hold no floating point or
/// unordered collections, so equal settings print equally.
fn s3_settings(settings: &Settings) -> Option<String> {
    let all: Vec<String> = settings
        .destinations
        .iter()
        .filter_map(|d| match d {
            crate::config::Destination::S3(target) => Some(format!("{:?}", target.settings)),
            _ => None,
        })
        .collect();
    (!all.is_empty()).then(|| all.join("; "))
}

/// Whether the `[netflow]` section changed beyond its sockets (a reload
/// opens and closes those; the decoder's copy of the aggregation interval is
/// `flow_log.interval`'s change, not this one).
fn netflow_changed(old: &Settings, new: &Settings) -> bool {
    let mut new = new.netflow.clone();
    new.decoder.interval_secs = old.netflow.decoder.interval_secs;
    new.listen.clone_from(&old.netflow.listen);
    old.netflow != new
}

/// Whether the `[sflow]` section changed beyond its sockets.
fn sflow_changed(old: &Settings, new: &Settings) -> bool {
    let mut new = new.sflow.clone();
    new.listen.clone_from(&old.sflow.listen);
    old.sflow != new
}

/// The keys whose values differ between `old` and `new` among those a reload
/// cannot change.
pub fn restart_only_changes(old: &Settings, new: &Settings) -> Vec<&'static str> {
    let (a, b) = (&old.aggregation, &new.aggregation);
    let checks = [
        (
            old.flow_log != new.flow_log,
            "flow_log.account_id/region/flow_log_id",
        ),
        (old.format != new.format, "flow_log.format"),
        (a.interval != b.interval, "flow_log.interval"),
        (
            old.traffic_type != new.traffic_type,
            "flow_log.traffic_type",
        ),
        (old.destinations != new.destinations, "output.out"),
        (old.layout != new.layout, "output.layout"),
        (old.file_format != new.file_format, "output.file_format"),
        (old.prefix != new.prefix, "output.prefix"),
        (
            old.max_file_bytes != new.max_file_bytes,
            "output.max_file_bytes",
        ),
        (old.gzip_level != new.gzip_level, "output.gzip_level"),
        (
            a.max_open_flows != b.max_open_flows,
            "aggregation.max_open_flows",
        ),
        (a.overflow != b.overflow, "aggregation.overflow"),
        (
            a.allowed_lateness_secs != b.allowed_lateness_secs,
            "aggregation.allowed_lateness",
        ),
        (a.emit_nodata != b.emit_nodata, "aggregation.nodata"),
        (
            a.nodata_max_gap_secs != b.nodata_max_gap_secs,
            "aggregation.nodata_max_gap",
        ),
        (
            old.capture != new.capture,
            "capture.interface_name/fragments",
        ),
        (old.captures != new.captures, "capture.interface"),
        (
            old.capture_idle_delay_secs != new.capture_idle_delay_secs,
            "capture.idle_delay",
        ),
        (old.skydive != new.skydive, "skydive"),
        (old.analyzers != new.analyzers, "skydive.analyzer"),
        (
            old.idle_delay_secs != new.idle_delay_secs,
            "skydive.idle_delay",
        ),
        (
            old.state_save_interval_secs != new.state_save_interval_secs,
            "skydive.state_save_interval",
        ),
        (old.state_dir != new.state_dir, "state.dir"),
        (netflow_changed(old, new), "netflow"),
        (sflow_changed(old, new), "sflow"),
        (old.sync_interval != new.sync_interval, "durability"),
        (old.metrics_listen != new.metrics_listen, "metrics.listen"),
        (
            s3_settings(old) != s3_settings(new),
            "output.spool_dir/spool_max_bytes/s3",
        ),
    ];
    checks
        .into_iter()
        .filter_map(|(changed, key)| changed.then_some(key))
        .collect()
}

/// Reads the configuration file again on request, comparing it with what the
/// run started with.
pub struct Reloader {
    path: PathBuf,
    running: Settings,
}

impl Reloader {
    /// A reloader of the file at `path` for a run started with `running`.
    pub fn new(path: PathBuf, running: Settings) -> Reloader {
        Reloader { path, running }
    }

    /// Reads and validates the file. An invalid file is an error (naming the
    /// key) and changes nothing. A valid one gives what to apply; keys that
    /// need a restart and changed are logged as warnings and keep their
    /// running values.
    pub fn reload(&mut self) -> Result<Reloadable> {
        let new = config::load(Some(&self.path), &Overrides::default())?;
        let kept = restart_only_changes(&self.running, &new);
        if !kept.is_empty() {
            tracing::warn!(
                keys = %kept.join(", "),
                "configuration reload: these settings need a restart; their running values are kept"
            );
        }
        let reloadable = Reloadable::of(&new);
        self.running.interfaces = new.interfaces;
        Ok(reloadable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> Settings {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vpcflow.toml");
        std::fs::write(&path, text).unwrap();
        config::load(Some(&path), &Overrides::default()).unwrap()
    }

    const BASE: &str = r#"
        [flow_log]
        account_id = "123456789012"
        flow_log_id = "fl-0630869f236e76872"
        [[interface]]
        name = "eth0"
        interface_id = "eni-0000000000000000a"
    "#;

    #[test]
    fn interface_changes_need_no_restart() {
        let old = settings(BASE);
        let new = settings(&BASE.replace("0000a", "0000b"));
        assert!(restart_only_changes(&old, &new).is_empty());
        assert_ne!(
            Reloadable::of(&old).interfaces,
            Reloadable::of(&new).interfaces
        );
    }

    #[test]
    fn policy_changes_need_no_restart_and_are_carried() {
        let old = settings(BASE);
        let new = settings(&format!(
            "{BASE}\n[[policy.security_group]]\nname = \"web\"\ninterfaces = [\"eth0\"]\ninbound = [ {{ protocol = \"tcp\", ports = \"80\", cidr = \"0.0.0.0/0\" }} ]\n"
        ));
        assert!(restart_only_changes(&old, &new).is_empty());
        assert!(Reloadable::of(&old).policy.is_none());
        assert!(Reloadable::of(&new).policy.is_some());
    }

    #[test]
    fn restart_only_keys_are_named() {
        let old = settings(BASE);
        let new = settings(&format!(
            "{BASE}\n[output]\nout = \"elsewhere\"\n[aggregation]\nnodata = false\n[capture]\nidle_delay = 9\n"
        ));
        assert_eq!(
            restart_only_changes(&old, &new),
            ["output.out", "aggregation.nodata", "capture.idle_delay"]
        );
        let new = settings(&BASE.replace("[flow_log]", "[flow_log]\ninterval = 60"));
        assert_eq!(restart_only_changes(&old, &new), ["flow_log.interval"]);
        // Sockets are opened and closed by a reload; the rest of the
        // collectors' sections needs a restart.
        let listening = |extra: &str| {
            settings(&format!(
                "{BASE}\n[[netflow.listen]]\naddress = \"127.0.0.1:2055\"\n[[sflow.listen]]\naddress = \"127.0.0.1:6343\"\n{extra}"
            ))
        };
        assert!(restart_only_changes(&old, &listening("")).is_empty());
        let reload = Reloadable::of(&listening("[netflow]\nreceive_buffer = 1048576\n"));
        assert_eq!(reload.listeners[0].0, "netflow.listen");
        assert_eq!(reload.listeners[0].1[0].receive_buffer, 1 << 20);
        assert_eq!(reload.listeners[1].1[0].address.port(), 6343);
        assert_eq!(
            restart_only_changes(&old, &listening("[netflow]\nsampling = \"raw\"\n")),
            ["netflow"]
        );
        assert_eq!(
            restart_only_changes(&old, &listening("[sflow]\nidle_delay = 9\n")),
            ["sflow"]
        );
        let s3 = |extra: &str| {
            settings(&format!(
                "{BASE}\n[output]\nout = \"s3://bucket/logs/\"\nspool_dir = \"/tmp/spool\"\n[output.s3]\nregion = \"eu-west-1\"\n{extra}"
            ))
        };
        assert!(restart_only_changes(&s3(""), &s3("")).is_empty());
        assert_eq!(
            restart_only_changes(&s3(""), &s3("max_concurrent_uploads = 8\n")),
            ["output.spool_dir/spool_max_bytes/s3"]
        );
    }

    #[test]
    fn reloader_applies_valid_files_and_rejects_broken_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, BASE).unwrap();
        let mut r = Reloader::new(path.clone(), settings(BASE));
        std::fs::write(&path, BASE.replace("0000a", "0000c")).unwrap();
        let applied = r.reload().unwrap();
        assert_eq!(
            applied.interfaces["eth0"].interface_id.as_deref(),
            Some("eni-0000000000000000c")
        );
        std::fs::write(&path, BASE.replace("0000a", "XYZ")).unwrap();
        let e = r.reload().unwrap_err().to_string();
        assert!(e.contains("interface[0] (eth0).interface_id"), "{e}");
        std::fs::write(&path, "[output\n").unwrap();
        assert!(r.reload().is_err());
    }
}
