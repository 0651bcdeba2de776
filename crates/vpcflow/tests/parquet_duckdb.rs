//! Text and Parquet output of the same generated capture, read back by a real
//! engine (DuckDB) through the views `vpcflow athena --duckdb` prints: the
//! same records row for row, the generator's exact packet and byte totals,
//! the same top talkers as the ground truth, and the documented Parquet
//! physical types and codec.

mod common;
mod duckdb;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use common::{files_below, vpcflow_ok};
use duckdb::{quoted, run, statements};
use serde_json::{json, Value};
use vpcflow_core::fields::{Field, ParquetType};

const ACCOUNT: &str = "123456789012";
const FLOW_LOG: &str = "fl-0630869f236e76872";
/// The spec's 29-field version-5 example format.
const V5: &str = "${version} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${start} ${end} ${type} ${packets} ${bytes} ${account-id} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} ${region} ${az-id} ${sublocation-type} ${sublocation-id} ${action} ${tcp-flags} ${pkt-srcaddr} ${pkt-dstaddr} ${pkt-src-aws-service} ${pkt-dst-aws-service} ${traffic-path} ${flow-direction} ${log-status}";

/// What the generator says the capture holds.
struct Truth {
    packets: u64,
    bytes: u64,
    /// Bytes per (source, destination) address pair.
    pairs: HashMap<(IpAddr, IpAddr), u64>,
}

fn generate(dir: &Path) -> (PathBuf, Truth) {
    let path = dir.join("gen.pcap");
    let config = pcapgen::Config {
        flows: 4000,
        packets: Some(40_000),
        duration_ns: 1800 * 1_000_000_000,
        seed: 11,
        truth: true,
        ..pcapgen::Config::default()
    };
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let truth = pcapgen::generate(config, file).unwrap().truth.unwrap();
    let mut t = Truth {
        packets: 0,
        bytes: 0,
        pairs: HashMap::new(),
    };
    for f in &truth.totals {
        t.packets += f.packets;
        t.bytes += f.bytes;
        *t.pairs.entry((f.key.src, f.key.dst)).or_default() += f.bytes;
    }
    (path, t)
}

/// Converts `pcap` into `out` and returns the DuckDB view over it, named `table`.
fn convert(pcap: &Path, out: &Path, format: &str, file_format: &str, table: &str) -> String {
    let common = [
        "--format",
        format,
        "--file-format",
        file_format,
        "--account-id",
        ACCOUNT,
        "--flow-log-id",
        FLOW_LOG,
    ];
    let mut args = vec![
        "convert",
        pcap.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ];
    args.extend(common);
    vpcflow_ok(&args);
    let mut args = vec![
        "athena",
        "--table",
        table,
        "--duckdb",
        out.to_str().unwrap(),
    ];
    args.extend(common);
    let sql = String::from_utf8(vpcflow_ok(&args).stdout).unwrap();
    statements(&sql).remove(0)
}

fn int(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

#[test]
fn text_and_parquet_hold_the_same_records_and_the_input_totals() {
    if !duckdb::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (pcap, truth) = generate(dir.path());
    let (text_dir, parquet_dir) = (dir.path().join("text"), dir.path().join("parquet"));
    let text_view = convert(&pcap, &text_dir, V5, "text", "text_logs");
    let parquet_view = convert(&pcap, &parquet_dir, V5, "parquet", "parquet_logs");

    // One Parquet file per text file, same keys but for hash and suffix.
    let stems = |dir: &Path, suffix: &str| -> Vec<String> {
        files_below(dir)
            .iter()
            .filter_map(|p| p.to_str().unwrap().strip_suffix(suffix).map(str::to_string))
            .map(|s| s[..s.len() - 9].to_string())
            .collect()
    };
    let text_files = stems(&text_dir, ".log.gz");
    assert!(text_files.len() > 4, "{text_files:?}");
    assert_eq!(text_files, stems(&parquet_dir, ".log.parquet"));

    let top = |table: &str| {
        format!(
            "SELECT srcaddr, dstaddr, SUM(bytes) AS b FROM {table} WHERE srcaddr IS NOT NULL \
             GROUP BY ALL ORDER BY b DESC, srcaddr, dstaddr LIMIT 10"
        )
    };
    let results = run(&[
        text_view,
        parquet_view,
        "SELECT * FROM text_logs ORDER BY ALL".into(),
        "SELECT * FROM parquet_logs ORDER BY ALL".into(),
        "SELECT SUM(packets), SUM(bytes), COUNT(*) FROM text_logs".into(),
        "SELECT SUM(packets), SUM(bytes), COUNT(*) FROM parquet_logs".into(),
        top("text_logs"),
        top("parquet_logs"),
        "SELECT column_name, column_type FROM (DESCRIBE parquet_logs)".into(),
    ]);
    let (text_rows, parquet_rows) = (&results[2].rows, &results[3].rows);
    assert_eq!(results[2].columns, results[3].columns);
    assert_eq!(text_rows.len(), parquet_rows.len());
    for (i, (t, p)) in text_rows.iter().zip(parquet_rows).enumerate() {
        assert_eq!(t, p, "row {i} differs");
    }
    let header: Vec<String> = V5
        .split(' ')
        .map(|f| f.trim_matches(|c| "${}".contains(c)).replace('-', "_"))
        .collect();
    assert_eq!(results[2].columns, header);

    for totals in [&results[4], &results[5]] {
        let row = &totals.rows[0];
        assert_eq!(int(&row[0]), truth.packets, "packets");
        assert_eq!(int(&row[1]), truth.bytes, "bytes");
        assert_eq!(int(&row[2]) as usize, text_rows.len());
    }

    let mut pairs: Vec<((IpAddr, IpAddr), u64)> = truth.pairs.into_iter().collect();
    pairs.sort_by_key(|((s, d), b)| (std::cmp::Reverse(*b), s.to_string(), d.to_string()));
    let expected: Vec<Vec<Value>> = pairs[..10]
        .iter()
        .map(|((s, d), b)| vec![json!(s.to_string()), json!(d.to_string()), json!(b)])
        .collect();
    assert_eq!(results[6].rows, expected, "top talkers of the text files");
    assert_eq!(
        results[7].rows, expected,
        "top talkers of the Parquet files"
    );

    // DuckDB's types of the Parquet columns: INTEGER for INT32 (protocol
    // included), BIGINT for INT64, VARCHAR for strings.
    for row in &results[8].rows {
        let field = Field::from_name(&row[0].as_str().unwrap().replace('_', "-")).unwrap();
        let expected = match field.parquet_type() {
            ParquetType::Int32 => "INTEGER",
            ParquetType::Int64 => "BIGINT",
            ParquetType::String => "VARCHAR",
        };
        assert_eq!(row[1], json!(expected), "{field}");
    }
}

#[test]
fn parquet_physical_types_and_codec_are_the_documented_ones() {
    if !duckdb::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let all: Vec<String> = Field::ALL.iter().map(|f| format!("${{{f}}}")).collect();
    let out = dir.path().join("out");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo.pcap");
    convert(&demo, &out, &all.join(" "), "parquet", "t");
    let glob = quoted(&format!("{}/**/*.log.parquet", out.display()));
    let one = files_below(&out)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap();
    let one = quoted(out.join(one).to_str().unwrap());
    let results = run(&[
        format!(
            "SELECT name, type, repetition_type, converted_type, logical_type \
             FROM parquet_schema({one}) WHERE name <> 'schema'"
        ),
        format!("SELECT DISTINCT compression FROM parquet_metadata({glob})"),
        format!("SELECT DISTINCT unnest(string_split(encodings, ', ')) AS e FROM parquet_metadata({glob}) ORDER BY e"),
        format!("SELECT DISTINCT key_value_metadata::VARCHAR FROM parquet_metadata({glob})"),
    ]);
    let schema = &results[0].rows;
    assert_eq!(schema.len(), Field::ALL.len());
    for (row, field) in schema.iter().zip(Field::ALL) {
        assert_eq!(row[0], json!(field.column_name()));
        assert_eq!(row[2], json!("OPTIONAL"), "{field}");
        let (physical, converted) = match field.parquet_type() {
            ParquetType::Int32 => ("INT32", Value::Null),
            ParquetType::Int64 => ("INT64", Value::Null),
            ParquetType::String => ("BYTE_ARRAY", json!("UTF8")),
        };
        assert_eq!(row[1], json!(physical), "{field}");
        assert_eq!(row[3], converted, "{field}");
        if field.parquet_type() == ParquetType::String {
            assert!(
                row[4].as_str().unwrap().contains("String"),
                "{field}: {}",
                row[4]
            );
        }
    }
    assert_eq!(results[1].rows, [[json!("GZIP")]]);
    // Levels (RLE), PLAIN values and dictionary indices only.
    for row in &results[2].rows {
        let e = row[0].as_str().unwrap();
        assert!(
            ["PLAIN", "RLE", "RLE_DICTIONARY", "PLAIN_DICTIONARY"].contains(&e),
            "{e}"
        );
    }
}
