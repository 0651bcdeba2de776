//! `[state]`: the state folder of `vpcflow run`, where what must survive a
//! restart is kept (the Skydive converter's state), and the identity that
//! ties a state to the configuration it was written by.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::Deserialize;
use vpcflow_core::name::FlowLogId;
use vpcflow_sources::skydive::subscriber::AnalyzerConfig;
use vpcflow_sources::skydive::ConverterOptions;

use super::state_home::default_dir;

/// `[state]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSection {
    /// The state folder (default: `$STATE_DIRECTORY` under systemd,
    /// `/var/lib/vpcflow` for root, else `$XDG_STATE_HOME/vpcflow` or
    /// `~/.local/state/vpcflow`).
    pub dir: Option<PathBuf>,
}

impl StateSection {
    /// The configured folder, checked (`None`: the default, found when
    /// `vpcflow run` needs it with [`default_state_dir`]).
    pub fn dir(&self) -> Result<Option<PathBuf>> {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        if dir.as_os_str().is_empty() {
            bail!("state.dir: must not be empty");
        }
        if dir.exists() && !dir.is_dir() {
            bail!("state.dir: {} exists and is not a folder", dir.display());
        }
        Ok(Some(dir.clone()))
    }
}

/// `$STATE_DIRECTORY` under systemd (`StateDirectory=`), else
/// `/var/lib/vpcflow` for root, else `$XDG_STATE_HOME/vpcflow`
/// (`~/.local/state/vpcflow`).
pub fn default_state_dir() -> Result<PathBuf> {
    default_dir("", "/var/lib/vpcflow", "state.dir", "set dir in [state]")
}

/// The identity of a Skydive state: what changes the meaning of the per-UUID
/// state, as `key=value` items separated by `; `. A state written under another identity
/// is not used: the flow log it is counted into, the capture ids counted
/// (`skydive.capture_ids`), the two-point REJECT points and timeout, and the
/// analyzers (URL and subscribed capture, sorted: their order does not
/// matter). Tuning keys (`state_ttl`, `max_tracked_flows`, `orphan_wait`,
/// `idle_delay`) and the output do not change it.
pub fn skydive_identity(
    flow_log: &FlowLogId,
    converter: &ConverterOptions,
    analyzers: &[AnalyzerConfig],
) -> String {
    let mut analyzers: Vec<String> = analyzers
        .iter()
        .map(|a| match &a.capture_id {
            Some(c) => format!("{} (capture {c})", a.url),
            None => a.url.clone(),
        })
        .collect();
    analyzers.sort();
    let reject = match &converter.two_point {
        Some(t) => format!(
            "outside {} inside {} timeout {} s",
            t.outside, t.inside, t.timeout_secs
        ),
        None => "none".to_string(),
    };
    format!(
        "flow_log={}/{}/{}; capture_ids={}; reject={reject}; analyzers={}",
        flow_log.account_id,
        flow_log.region,
        flow_log.flow_log_id,
        converter.capture_ids.join(","),
        analyzers.join(", ")
    )
}

/// The state folder of `settings`-like values: `configured` or the default.
pub fn state_dir(configured: Option<&Path>) -> Result<PathBuf> {
    match configured {
        Some(dir) => Ok(dir.to_path_buf()),
        None => default_state_dir(),
    }
}

/// The folder of the state folder that holds the durability journal.
pub const JOURNAL_FOLDER: &str = "journal";

/// Fails, naming the folder, when this process could not write in the state
/// folder `dir`: the folder (or, while it does not exist, the closest folder
/// above it, where it would be made) or its journal folder is not writable
/// by this process's user. The usual cause is a folder made by an earlier
/// `vpcflow run` as root and used now by a service user.
pub fn check_writable(dir: &Path) -> Result<()> {
    let mut existing = dir;
    while !existing.exists() {
        match existing.parent() {
            Some(up) if !up.as_os_str().is_empty() => existing = up,
            _ => return Ok(()),
        }
    }
    let mut folders = vec![existing.to_path_buf()];
    if existing == dir {
        folders.push(dir.join(JOURNAL_FOLDER));
    }
    for folder in folders.iter().filter(|f| f.exists()) {
        if let Err(e) = writable(folder) {
            // SAFETY: geteuid has no preconditions and cannot fail.
            let uid = unsafe { libc::geteuid() };
            bail!(
                "state.dir: {} is not writable by this user (uid {uid}: {e}); give it to the user that runs vpcflow (chown -R), or set dir in [state]",
                folder.display()
            );
        }
    }
    Ok(())
}

/// Whether this user may create and remove entries in `folder` (the error
/// says why not: permissions, a read-only file system).
fn writable(folder: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(folder.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // access(2) checks the real user, which is the effective one (vpcflow is
    // not set-user-ID); faccessat's AT_EACCESS needs faccessat2, which
    // older seccomp filters (systemd's @system-service) refuse.
    // SAFETY: `path` is a valid NUL-terminated string; access only reads it.
    let r = unsafe { libc::access(path.as_ptr(), libc::W_OK | libc::X_OK) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vpcflow_sources::skydive::TwoPoint;

    #[test]
    fn the_identity_changes_with_what_changes_the_state_only() {
        let fl = FlowLogId::new("123456789012", "eu-west-1", "fl-0123456789abcdef0").unwrap();
        let a = AnalyzerConfig::new("ws://a:8082");
        let b = AnalyzerConfig::new("ws://b:8082");
        let options = ConverterOptions::default();
        let base = skydive_identity(&fl, &options, &[a.clone(), b.clone()]);
        assert_eq!(
            base,
            skydive_identity(&fl, &options, &[b.clone(), a.clone()])
        );
        let tuned = ConverterOptions {
            state_ttl_secs: 60,
            max_tracked_flows: 5,
            ..options.clone()
        };
        assert_eq!(base, skydive_identity(&fl, &tuned, &[a.clone(), b.clone()]));
        let other_fl = FlowLogId::new("123456789012", "eu-west-1", "fl-0123456789abcdef1").unwrap();
        let captures = ConverterOptions {
            capture_ids: vec!["c1".into()],
            ..options.clone()
        };
        let reject = ConverterOptions {
            two_point: Some(TwoPoint {
                outside: "o".into(),
                inside: "i".into(),
                timeout_secs: 120,
            }),
            ..options.clone()
        };
        for changed in [
            skydive_identity(&other_fl, &options, &[a.clone(), b.clone()]),
            skydive_identity(&fl, &captures, &[a.clone(), b.clone()]),
            skydive_identity(&fl, &reject, &[a.clone(), b.clone()]),
            skydive_identity(&fl, &options, std::slice::from_ref(&a)),
        ] {
            assert_ne!(base, changed);
        }
    }

    #[test]
    fn a_bad_state_dir_names_the_key() {
        let empty = StateSection {
            dir: Some(PathBuf::new()),
        };
        assert!(empty
            .dir()
            .unwrap_err()
            .to_string()
            .starts_with("state.dir:"));
        let file = tempfile::NamedTempFile::new().unwrap();
        let not_a_folder = StateSection {
            dir: Some(file.path().to_path_buf()),
        };
        let e = not_a_folder.dir().unwrap_err().to_string();
        assert!(
            e.starts_with("state.dir:") && e.contains("not a folder"),
            "{e}"
        );
        assert_eq!(StateSection::default().dir().unwrap(), None);
    }
}
