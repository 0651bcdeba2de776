//! `vpcflow athena` against the files `vpcflow convert` writes with the same
//! settings, for every layout, several formats and both file formats:
//!
//! * the DDL's columns are the text files' header / the Parquet schema, in
//!   order, with matching types for Parquet;
//! * the partitions read the layout: with `s3://YOUR-BUCKET/` standing for the
//!   output directory, every file lies below LOCATION, in `key=value` folders
//!   named like the partition columns in order (Hive layouts), or in a folder
//!   that `storage.location.template` produces (projection);
//! * DuckDB runs the DDL adapted as little as possible and every named query.
//!
//! The DuckDB adaptation (what is checked and what is not): the statement up
//! to its column list is run as `CREATE TABLE` (`EXTERNAL` dropped, backticks
//! made double quotes), so the column names and types parse and exist in a
//! SQL engine; `PARTITIONED BY`, `ROW FORMAT`/SerDe, `LOCATION`,
//! `TBLPROPERTIES` and `MSCK REPAIR TABLE` are Hive/Athena-only and are not
//! run — they are checked as text here (partition names, projection template
//! against the real folders) but not by an engine. The table is then filled
//! from the local files through the `--duckdb` view and every named query of
//! the Athena output runs verbatim against it and must give the same result as
//! over the view.

mod common;
mod duckdb;

use std::path::Path;

use common::{files_below, gunzip, vpcflow_ok};
use duckdb::{quoted, run, statements};
use regex::Regex;

use vpcflow_core::fields::Field;

const V3: &str = "${version} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} ${account-id} ${type} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${pkt-srcaddr} ${pkt-dstaddr} ${protocol} ${bytes} ${packets} ${start} ${end} ${action} ${tcp-flags} ${log-status}";
const V5: &str = "${version} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${start} ${end} ${type} ${packets} ${bytes} ${account-id} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} ${region} ${az-id} ${sublocation-type} ${sublocation-id} ${action} ${tcp-flags} ${pkt-srcaddr} ${pkt-dstaddr} ${pkt-src-aws-service} ${pkt-dst-aws-service} ${traffic-path} ${flow-direction} ${log-status}";

/// What the test reads from the printed DDL.
struct Ddl {
    create: String,
    columns: Vec<(String, String)>,
    partitions: Vec<String>,
    location: String,
    template: Option<String>,
    msck: bool,
}

fn parse_ddl(sql: &str) -> Ddl {
    let start = sql
        .find("CREATE EXTERNAL TABLE IF NOT EXISTS")
        .expect("CREATE");
    let end = start + sql[start..].find("\n)\n").expect("end of the column list") + 2;
    let create = sql[start..end].to_string();
    let columns = create
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("  `"))
        .map(|l| {
            let l = l.trim().trim_end_matches(',');
            let (name, ty) = l.rsplit_once(' ').unwrap();
            (name.trim_matches('`').to_string(), ty.to_string())
        })
        .collect();
    let part = Regex::new(r"\nPARTITIONED BY \(([^)]*)\)\n").unwrap();
    let partitions = part.captures(sql).expect("PARTITIONED BY")[1]
        .split(", ")
        .map(|p| {
            p.strip_suffix(" string")
                .unwrap()
                .trim_matches('`')
                .to_string()
        })
        .collect();
    let location = Regex::new(r"\nLOCATION '([^']*)'")
        .unwrap()
        .captures(sql)
        .unwrap()[1]
        .to_string();
    let template = Regex::new(r"'storage.location.template'='([^']*)'")
        .unwrap()
        .captures(sql)
        .map(|c| c[1].to_string());
    Ddl {
        create,
        columns,
        partitions,
        location,
        template,
        msck: sql.contains("\nMSCK REPAIR TABLE `vpc_flow_logs`;"),
    }
}

fn athena_type(physical: &str) -> &'static str {
    match physical {
        "INT32" => "int",
        "INT64" => "bigint",
        "BYTE_ARRAY" => "string",
        other => panic!("unexpected physical type {other}"),
    }
}

fn check(out: &Path, layout: &str, format: &str, file_format: &str) {
    let what = format!(
        "{layout} / {file_format} / {} fields",
        format.split(' ').count()
    );
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo.pcap");
    let settings = [
        "--format",
        format,
        "--layout",
        layout,
        "--file-format",
        file_format,
        "--prefix",
        "my-logs",
        "--account-id",
        "123456789012",
        "--region",
        "eu-west-1",
        "--flow-log-id",
        "fl-0630869f236e76872",
    ];
    let out_str = out.to_str().unwrap();
    let mut args = vec!["convert", demo.to_str().unwrap(), "--out", out_str, "-q"];
    args.extend(settings);
    vpcflow_ok(&args);
    let mut args = vec!["athena"];
    args.extend(settings);
    let athena = String::from_utf8(vpcflow_ok(&args).stdout).unwrap();
    let mut args = vec!["athena", "--table", "files", "--duckdb", out_str];
    args.extend(settings);
    let local = String::from_utf8(vpcflow_ok(&args).stdout).unwrap();
    let ddl = parse_ddl(&athena);

    // Columns: the format, in order.
    let names: Vec<&str> = ddl.columns.iter().map(|(n, _)| n.as_str()).collect();
    let suffix = if file_format == "text" {
        ".log.gz"
    } else {
        ".log.parquet"
    };
    let files: Vec<_> = files_below(out)
        .into_iter()
        .filter(|p| p.to_str().unwrap().ends_with(suffix))
        .collect();
    assert!(!files.is_empty(), "{what}");
    if file_format == "text" {
        for f in &files {
            let text = gunzip(&out.join(f));
            let header = text.lines().next().unwrap().replace('-', "_");
            assert_eq!(
                header.split(' ').collect::<Vec<_>>(),
                names,
                "{what}: {f:?}"
            );
        }
    }

    // Layout: every file below LOCATION, in the folders the partitions read.
    let location = ddl
        .location
        .replace("s3://YOUR-BUCKET/", &format!("{out_str}/"));
    for f in &files {
        let path = out.join(f);
        let rel = path
            .to_str()
            .unwrap()
            .strip_prefix(&location)
            .unwrap_or_else(|| panic!("{what}: {} not below {location}", path.display()));
        let folders: Vec<&str> = rel.split('/').collect();
        let folders = &folders[..folders.len() - 1];
        if layout.starts_with("hive") {
            assert!(ddl.msck && ddl.template.is_none(), "{what}");
            let keys: Vec<&str> = folders
                .iter()
                .map(|f| f.split('=').next().unwrap())
                .collect();
            assert_eq!(keys, ddl.partitions, "{what}");
        } else {
            assert!(!ddl.msck, "{what}");
            let template = ddl.template.as_ref().expect("projection template");
            let template = template.replace("s3://YOUR-BUCKET/", &format!("{out_str}/"));
            let pattern = regex::escape(&template)
                .replace(r"\$\{day\}", "[0-9]{4}/[0-9]{2}/[0-9]{2}")
                .replace(r"\$\{hour\}", "[0-9]{2}");
            let folder = path.parent().unwrap().to_str().unwrap();
            assert!(
                Regex::new(&format!("^{pattern}$"))
                    .unwrap()
                    .is_match(folder),
                "{what}: {folder} vs {template}"
            );
            let expected: Vec<&str> = if layout == "hourly" {
                vec!["day", "hour"]
            } else {
                vec!["day"]
            };
            assert_eq!(ddl.partitions, expected, "{what}");
        }
    }

    // DuckDB: the adapted CREATE, filled from the files, and every named query.
    let create = ddl
        .create
        .replacen("CREATE EXTERNAL TABLE", "CREATE TABLE", 1)
        .replace('`', "\"");
    let queries: Vec<String> = statements(&athena[athena.find("-- Named queries").unwrap()..]);
    assert!(!queries.is_empty(), "{what}");
    let view = statements(&local).remove(0);
    let mut sql = vec![
        create,
        view,
        "INSERT INTO vpc_flow_logs SELECT * FROM files".to_string(),
        "SELECT column_name, column_type FROM (DESCRIBE vpc_flow_logs)".to_string(),
        "SELECT count(*) FROM files".to_string(),
        "SELECT count(*) FROM vpc_flow_logs".to_string(),
    ];
    if file_format == "parquet" {
        let one = quoted(out.join(&files[0]).to_str().unwrap());
        sql.push(format!(
            "SELECT name, type FROM parquet_schema({one}) WHERE name <> 'schema'"
        ));
    } else {
        sql.push("SELECT 1".into());
    }
    let fixed = sql.len();
    for q in &queries {
        sql.push(q.clone());
        sql.push(q.replace("FROM vpc_flow_logs", "FROM files"));
    }
    let results = run(&sql);
    let described: Vec<&str> = results[3]
        .rows
        .iter()
        .map(|r| r[0].as_str().unwrap())
        .collect();
    assert_eq!(described, names, "{what}");
    assert_eq!(results[4].rows, results[5].rows, "{what}: rows copied");
    assert!(results[4].rows[0][0].as_u64().unwrap() > 0);
    if file_format == "parquet" {
        let schema: Vec<(String, String)> = results[6]
            .rows
            .iter()
            .map(|r| {
                let name = r[0].as_str().unwrap().to_string();
                (name, athena_type(r[1].as_str().unwrap()).to_string())
            })
            .collect();
        assert_eq!(schema, ddl.columns, "{what}: Parquet schema vs DDL");
    } else {
        for (name, ty) in &ddl.columns {
            let field = Field::from_name(&name.replace('_', "-")).unwrap();
            let expected = match (field, field.parquet_type()) {
                (Field::Protocol, _) => "bigint",
                (_, vpcflow_core::fields::ParquetType::Int32) => "int",
                (_, vpcflow_core::fields::ParquetType::Int64) => "bigint",
                _ => "string",
            };
            assert_eq!(ty, expected, "{what}: {name}");
        }
    }
    for (i, q) in queries.iter().enumerate() {
        let (table, view) = (&results[fixed + 2 * i], &results[fixed + 2 * i + 1]);
        assert_eq!(table, view, "{what}: {q}");
    }
}

#[test]
fn ddl_matches_the_files_for_every_layout_and_format() {
    if !duckdb::available() {
        return;
    }
    let all: Vec<String> = Field::ALL.iter().map(|f| format!("${{{f}}}")).collect();
    let all = all.join(" ");
    let default = vpcflow_core::format::LogFormat::default().to_string();
    for layout in ["default", "hourly", "hive", "hive-hourly"] {
        for format in [default.as_str(), V3, V5, all.as_str()] {
            for file_format in ["text", "parquet"] {
                let dir = tempfile::tempdir().unwrap();
                check(&dir.path().join("out"), layout, format, file_format);
            }
        }
    }
}

#[test]
fn bad_athena_options_are_errors_naming_them() {
    for (args, message) in [
        (vec!["--location", "/tmp/x"], "must be an s3:// URL"),
        (vec!["--table", "my-table"], "table name \"my-table\""),
        (vec!["--since", "2020-13-01"], "since \"2020-13-01\""),
        (
            vec!["--file-format", "csv"],
            "'--file-format <FILE_FORMAT>': file format \"csv\" is not one of",
        ),
        (
            vec!["--layout", "weekly"],
            "'--layout <LAYOUT>': layout \"weekly\" is not one of",
        ),
    ] {
        let mut all = vec!["athena"];
        all.extend(&args);
        let out = common::vpcflow(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    // Without --location, the placeholder and the comment asking to replace it.
    let sql = String::from_utf8(vpcflow_ok(&["athena"]).stdout).unwrap();
    assert!(sql.contains("-- REPLACE s3://YOUR-BUCKET"));
    assert!(sql.contains("LOCATION 's3://YOUR-BUCKET/AWSLogs/"));
    let sql = String::from_utf8(vpcflow_ok(&["athena", "--location", "s3://b/f/"]).stdout).unwrap();
    assert!(!sql.contains("YOUR-BUCKET") && sql.contains("LOCATION 's3://b/f/AWSLogs/"));
}
