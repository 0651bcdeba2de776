//! The local counterpart of the Athena table: a DuckDB view over an output
//! directory, typed like the table, so the named queries run unchanged.

use std::fmt::Write as _;

use vpcflow_sinks::FileFormat;

use super::ddl::column_type;
use super::Target;

/// The DuckDB type of an Athena column type.
fn duckdb_type(athena: &str) -> &'static str {
    match athena {
        "int" => "INTEGER",
        "bigint" => "BIGINT",
        _ => "VARCHAR",
    }
}

/// `text` as a single-quoted SQL string.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `CREATE VIEW` over the files below `dir`: text files through `read_csv`
/// (space-delimited, one header line, `-` as NULL, gzip, the columns and
/// types of the Athena table), Parquet files through `read_parquet`. Folder
/// names are not read as columns (`hive_partitioning = false`): the view has
/// exactly the format's columns.
pub fn create_view(target: &Target, dir: &str) -> String {
    let dir = dir.trim_end_matches('/');
    let mut out = String::new();
    let _ = writeln!(
        out,
        "-- DuckDB view over the {} files below {dir}, with the columns of the Athena table.",
        target.file_format
    );
    let _ = write!(
        out,
        "CREATE OR REPLACE VIEW {} AS\nSELECT * FROM ",
        target.table
    );
    match target.file_format {
        FileFormat::Text => {
            let columns: Vec<String> = target
                .format
                .fields()
                .iter()
                .map(|f| {
                    format!(
                        "'{}': '{}'",
                        f.column_name(),
                        duckdb_type(column_type(*f, target.file_format))
                    )
                })
                .collect();
            let _ = write!(
                out,
                "read_csv({},\n  delim = ' ', header = true, nullstr = '-', compression = 'gzip',\n  quote = '', escape = '', hive_partitioning = false,\n  columns = {{{}}})",
                quoted(&format!("{dir}/**/*.log.gz")),
                columns.join(", ")
            );
        }
        FileFormat::Parquet => {
            let _ = write!(
                out,
                "read_parquet({}, hive_partitioning = false)",
                quoted(&format!("{dir}/**/*.log.parquet"))
            );
        }
    }
    out.push_str(";\n");
    out
}

#[cfg(test)]
mod tests {
    use vpcflow_core::format::LogFormat;
    use vpcflow_core::layout::Prefix;
    use vpcflow_core::name::FlowLogId;

    use super::*;

    fn target(file_format: FileFormat) -> Target {
        Target {
            table: "vpc_flow_logs".into(),
            format: LogFormat::parse("${version} ${srcaddr} ${protocol} ${bytes}").unwrap(),
            file_format,
            layout: Default::default(),
            prefix: Prefix::default(),
            flow_log: FlowLogId::new("123456789012", "us-east-1", "fl-1234abcd").unwrap(),
            location: None,
            since: "2020/01/01".into(),
        }
    }

    #[test]
    fn text_view_declares_the_table_types() {
        let sql = create_view(&target(FileFormat::Text), "/data/it's/");
        assert!(sql.contains("read_csv('/data/it''s/**/*.log.gz'"));
        assert!(sql.contains(
            "columns = {'version': 'INTEGER', 'srcaddr': 'VARCHAR', 'protocol': 'BIGINT', 'bytes': 'BIGINT'})"
        ));
        assert!(sql.contains("nullstr = '-'"));
    }

    #[test]
    fn parquet_view_reads_the_files_as_they_are() {
        let sql = create_view(&target(FileFormat::Parquet), "flowlogs");
        assert!(sql.ends_with(
            "SELECT * FROM read_parquet('flowlogs/**/*.log.parquet', hive_partitioning = false);\n"
        ));
    }
}
