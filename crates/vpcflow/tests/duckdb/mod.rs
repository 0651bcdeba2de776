//! Running SQL in DuckDB (its Python package) from the tests, through
//! `tests/duckdb/run.py`.
//!
//! When `python3` or its `duckdb` package is missing, [`available`] prints
//! `SKIPPED: …` and the test returns early — unless `VPCFLOW_REQUIRE_DUCKDB=1`
//! or `CI` is set, where it fails with how to install it.

#![allow(dead_code)] // each test file uses its own subset

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

/// The result of one statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

fn required() -> bool {
    std::env::var("VPCFLOW_REQUIRE_DUCKDB").as_deref() == Ok("1")
        || std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Whether DuckDB can be run; see the [module documentation](self).
pub fn available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import duckdb"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return true;
    }
    let why = "DuckDB's Python package is not installed (python3 -m pip install duckdb)";
    if required() {
        panic!("{why}; it is required here (VPCFLOW_REQUIRE_DUCKDB=1 or CI)");
    }
    eprintln!("SKIPPED: {why}");
    false
}

/// Runs `statements` in order in one DuckDB connection and returns each result.
pub fn run(statements: &[String]) -> Vec<Table> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/duckdb/run.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    let job = serde_json::json!({ "statements": statements });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "DuckDB failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    results
        .into_iter()
        .map(|r| Table {
            columns: serde_json::from_value(r["columns"].clone()).unwrap(),
            rows: serde_json::from_value(r["rows"].clone()).unwrap(),
        })
        .collect()
}

/// The statements of a SQL script as vpcflow prints it: split at `;` ending a
/// line, comment lines dropped, empty statements skipped.
pub fn statements(sql: &str) -> Vec<String> {
    sql.split(";\n")
        .map(|s| {
            s.lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
                .trim()
                .to_string()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// A SQL string literal.
pub fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
