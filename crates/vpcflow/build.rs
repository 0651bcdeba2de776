//! The version `vpcflow --version` prints: the package version and, when
//! built from a git checkout, the commit (`0.1.0 (git 5ed1aaf2c3d4)`).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    let package = env!("CARGO_PKG_VERSION");
    let version = match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(commit) => format!("{package} (git {commit})"),
        None => package.to_string(),
    };
    println!("cargo:rustc-env=VPCFLOW_VERSION={version}");
    // Built again when HEAD moves to another commit. Only files that exist
    // are watched: cargo runs a build script whose watched file is missing
    // (a repository without packed refs) on every build, and that rebuilds
    // the binary every time. A ref being packed removes its loose file,
    // which is watched.
    for path in [
        git(&["rev-parse", "--git-path", "HEAD"]),
        git(&["symbolic-ref", "-q", "HEAD"]).and_then(|r| git(&["rev-parse", "--git-path", &r])),
        git(&["rev-parse", "--git-path", "packed-refs"]),
    ]
    .into_iter()
    .flatten()
    {
        let absolute = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        if absolute.exists() {
            println!("cargo:rerun-if-changed={}", absolute.display());
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
