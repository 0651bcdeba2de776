//! Helpers shared by the end-to-end tests: running the binary and reading what
//! it wrote.

#![allow(dead_code)] // each test file uses its own subset

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `vpcflow` with `args`.
pub fn vpcflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args(args)
        .env_remove("VPCFLOW_LOG")
        .output()
        .expect("run vpcflow")
}

/// Runs `vpcflow` and fails the test with its stderr unless it succeeds.
pub fn vpcflow_ok(args: &[&str]) -> Output {
    let out = vpcflow(args);
    assert!(
        out.status.success(),
        "vpcflow {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `$VPCFLOW_SHARED`, or `shared/` beside the workspace; `None` (after saying
/// so) when absent, a panic when `VPCFLOW_REQUIRE_SHARED=1`.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("VPCFLOW_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    if dir.join("pcaps").is_dir() {
        return Some(dir);
    }
    if std::env::var("VPCFLOW_REQUIRE_SHARED").as_deref() == Ok("1") {
        panic!(
            "shared test data not found at {} (set VPCFLOW_SHARED)",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED: shared test data not found at {} (set VPCFLOW_SHARED)",
        dir.display()
    );
    None
}

/// Every regular file below `root`, as paths relative to it, sorted.
pub fn files_below(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// The decompressed text of a `.log.gz` file, checking it is one gzip member.
pub fn gunzip(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let mut single = flate2::read::GzDecoder::new(&bytes[..]);
    let mut text = String::new();
    single.read_to_string(&mut text).unwrap();
    let mut all = flate2::read::MultiGzDecoder::new(&bytes[..]);
    let mut everything = String::new();
    all.read_to_string(&mut everything).unwrap();
    assert_eq!(
        text,
        everything,
        "{} has more than one gzip member",
        path.display()
    );
    text
}
