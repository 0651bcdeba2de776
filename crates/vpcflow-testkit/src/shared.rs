//! Where the shared test data is: `$VPCFLOW_SHARED`, or `shared/` beside the
//! workspace (`../shared` from its root).

use std::path::PathBuf;

/// The shared data folder's location, whether or not it is there.
pub fn shared_location() -> PathBuf {
    std::env::var_os("VPCFLOW_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

/// The shared data folder when it holds the shared captures; `None` (after
/// printing a `SKIPPED:` line) when it does not, and a panic instead when
/// `VPCFLOW_REQUIRE_SHARED=1`.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = shared_location();
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
