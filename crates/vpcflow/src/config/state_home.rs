//! Where vpcflow keeps what it writes for itself (spool, Skydive state) when
//! the configuration does not say: systemd's `StateDirectory=`, else a
//! system folder for root, else the user's XDG state home.

use std::path::PathBuf;

use anyhow::{bail, Result};

/// `$STATE_DIRECTORY/below` under systemd (the first of a colon-separated
/// list), else `for_root` when running as root, else
/// `$XDG_STATE_HOME/vpcflow/below` (`~/.local/state/vpcflow/below`). Without
/// HOME there is no default: the error names `key` and says `hint`.
pub fn default_dir(below: &str, for_root: &str, key: &str, hint: &str) -> Result<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let below = |dir: PathBuf| {
        if below.is_empty() {
            dir
        } else {
            dir.join(below)
        }
    };
    if let Some(state) = var("STATE_DIRECTORY") {
        let first = state
            .to_string_lossy()
            .split(':')
            .next()
            .unwrap_or_default()
            .to_string();
        return Ok(below(PathBuf::from(first)));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return Ok(PathBuf::from(for_root));
    }
    if let Some(xdg) = var("XDG_STATE_HOME") {
        return Ok(below(PathBuf::from(xdg).join("vpcflow")));
    }
    match var("HOME") {
        Some(home) => Ok(below(PathBuf::from(home).join(".local/state/vpcflow"))),
        None => bail!("{key}: no default without HOME; {hint}"),
    }
}
