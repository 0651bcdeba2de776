//! The README's DuckDB recipe stays true: its views are what `vpcflow athena
//! --duckdb` prints, and its statements, run in DuckDB over a converted
//! capture (text and Parquet), give the same top talkers over both and the
//! totals of the input.

mod common;
mod duckdb;

use std::path::Path;

use common::vpcflow_ok;
use duckdb::{run, statements};
use serde_json::json;

/// The ```sql block after `<!-- duckdb recipe -->` in the README.
fn recipe() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let start = readme
        .find("<!-- duckdb recipe -->\n```sql\n")
        .expect("recipe marker")
        + "<!-- duckdb recipe -->\n```sql\n".len();
    let end = start + readme[start..].find("```").unwrap();
    readme[start..end].to_string()
}

#[test]
fn readme_views_are_what_vpcflow_athena_prints() {
    let recipe = statements(&recipe());
    let view = |args: &[&str]| {
        let mut all = vec!["athena", "--duckdb", "flowlogs"];
        all.extend(args);
        statements(&String::from_utf8(vpcflow_ok(&all).stdout).unwrap()).remove(0)
    };
    assert_eq!(recipe[0], view(&[]));
    assert_eq!(
        recipe[1],
        view(&[
            "--file-format",
            "parquet",
            "--table",
            "vpc_flow_logs_parquet"
        ])
    );
}

#[test]
fn readme_recipe_runs_over_text_and_parquet_output() {
    if !duckdb::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo.pcap");
    let out = dir.path().join("flowlogs");
    for file_format in ["text", "parquet"] {
        vpcflow_ok(&[
            "convert",
            demo.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--file-format",
            file_format,
            "-q",
        ]);
    }
    let local = format!("'{}/", out.display());
    let mut sql: Vec<String> = statements(&recipe())
        .into_iter()
        .map(|s| s.replace("'flowlogs/", &local))
        .collect();
    let top_talkers = sql[2].clone();
    sql.push(top_talkers.replace("FROM vpc_flow_logs\n", "FROM vpc_flow_logs_parquet\n"));
    sql.push("SELECT SUM(packets), SUM(bytes) FROM vpc_flow_logs".into());
    let results = run(&sql);
    // demo.pcap: 1995 IP packets, 1061830 IP bytes (its convert summary).
    assert_eq!(results[3].rows, [[json!(1995), json!(1061830)]]);
    assert_eq!(results[5].rows, results[3].rows);
    assert_eq!(results[2].rows.len(), 10);
    assert_eq!(results[2], results[4], "top talkers, text vs Parquet");
}
