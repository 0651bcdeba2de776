//! The `CREATE EXTERNAL TABLE` statement (spec §4.1).

use std::fmt::Write as _;

use vpcflow_core::fields::{Field, ParquetType};
use vpcflow_sinks::FileFormat;

use super::{Target, PLACEHOLDER_BUCKET};

/// The Hive partition columns of the Hive-compatible layouts, in folder order
/// (spec §3.6, §4.1); `hour` only for the hourly one.
pub const HIVE_PARTITIONS: [&str; 7] = [
    "aws-account-id",
    "aws-service",
    "aws-region",
    "year",
    "month",
    "day",
    "hour",
];

/// The Athena type of a column: `int`, `bigint` or `string` after the field's
/// Parquet type. `protocol` is `bigint` in text tables, as in AWS's DDL, and
/// `int` in Parquet tables, where the files hold INT32 (Athena reads either,
/// Spark-based readers need the exact type).
pub fn column_type(field: Field, file_format: FileFormat) -> &'static str {
    match field.parquet_type() {
        ParquetType::Int32 if field == Field::Protocol && file_format == FileFormat::Text => {
            "bigint"
        }
        ParquetType::Int32 => "int",
        ParquetType::Int64 => "bigint",
        ParquetType::String => "string",
    }
}

/// The partition columns of the table, all `string`.
fn partitions(target: &Target) -> Vec<&'static str> {
    match (target.layout.hive, target.layout.hourly) {
        (true, true) => HIVE_PARTITIONS.to_vec(),
        (true, false) => HIVE_PARTITIONS[..6].to_vec(),
        (false, true) => vec!["day", "hour"],
        (false, false) => vec!["day"],
    }
}

/// The table's LOCATION: the `AWSLogs/` folder for Hive-compatible layouts
/// (partitions are found below it), the flow log's account and Region folder
/// otherwise (one flow log has one account and Region).
pub fn location(target: &Target) -> String {
    let id = &target.flow_log;
    if target.layout.hive {
        format!("{}AWSLogs/", target.root())
    } else {
        format!(
            "{}AWSLogs/{}/vpcflowlogs/{}/",
            target.root(),
            id.account_id,
            id.region
        )
    }
}

/// Table properties: the header line of text files, `-` as NULL, and the
/// partition projection of the non-Hive layouts.
fn properties(target: &Target) -> Vec<(String, String)> {
    let mut props = Vec::new();
    let mut put = |k: &str, v: &str| props.push((k.to_string(), v.to_string()));
    if target.file_format == FileFormat::Text {
        put("skip.header.line.count", "1");
        put("serialization.null.format", "-");
    }
    if !target.layout.hive {
        put("projection.enabled", "true");
        put("projection.day.type", "date");
        put("projection.day.format", "yyyy/MM/dd");
        put("projection.day.range", &format!("{},NOW", target.since));
        put("projection.day.interval", "1");
        put("projection.day.interval.unit", "DAYS");
        let mut template = format!("{}${{day}}", location(target));
        if target.layout.hourly {
            put("projection.hour.type", "integer");
            put("projection.hour.range", "0,23");
            put("projection.hour.digits", "2");
            template.push_str("/${hour}");
        }
        put("storage.location.template", &template);
    }
    props
}

/// Comment lines explaining the statement.
fn preamble(target: &Target) -> String {
    let id = &target.flow_log;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "-- Athena table over the {} files of flow log {} (account {}, Region {}), {} layout.",
        target.file_format, id.flow_log_id, id.account_id, id.region, target.layout
    );
    if target.location.is_none() {
        let _ = writeln!(
            out,
            "-- REPLACE {PLACEHOLDER_BUCKET} below with the bucket (and folder) the output directory\n\
             -- was uploaded to, e.g. `aws s3 sync flowlogs/ s3://my-bucket/`, or pass --location."
        );
    }
    let _ = writeln!(
        out,
        "-- Columns follow the format, in its order, with - replaced by _."
    );
    match target.file_format {
        FileFormat::Text => {
            let _ = writeln!(
                out,
                "-- Text files: one header line is skipped; - (no value) reads as NULL.\n\
                 -- protocol is bigint as in AWS's documented DDL."
            );
        }
        FileFormat::Parquet => {
            let _ = writeln!(
                out,
                "-- Parquet files: columns are read by name; - is stored as NULL.\n\
                 -- protocol is int: the files hold INT32 as AWS's do (AWS's DDL says bigint,\n\
                 -- which Athena also reads, Spark does not)."
            );
        }
    }
    if target.layout.hive {
        let _ = writeln!(
            out,
            "-- Hive-compatible keys: the partitions are the key=value folders; load them\n\
             -- with MSCK REPAIR TABLE after new folders appear."
        );
    } else {
        let _ = writeln!(
            out,
            "-- Partition projection over the date{} folders: no partitions to load. The\n\
             -- Region is fixed in LOCATION, so no partition column clashes with the region field.",
            if target.layout.hourly {
                " and hour"
            } else {
                ""
            }
        );
    }
    out
}

/// The statement(s) creating the table, with comments: `CREATE EXTERNAL
/// TABLE IF NOT EXISTS`, and `MSCK REPAIR TABLE` for Hive-compatible layouts.
pub fn create_table(target: &Target) -> String {
    let mut out = preamble(target);
    let _ = writeln!(
        out,
        "CREATE EXTERNAL TABLE IF NOT EXISTS `{}` (",
        target.table
    );
    let fields = target.format.fields();
    for (i, field) in fields.iter().enumerate() {
        let comma = if i + 1 < fields.len() { "," } else { "" };
        let _ = writeln!(
            out,
            "  `{}` {}{comma}",
            field.column_name(),
            column_type(*field, target.file_format)
        );
    }
    let columns: Vec<String> = partitions(target)
        .iter()
        .map(|p| format!("`{p}` string"))
        .collect();
    let _ = writeln!(out, ")\nPARTITIONED BY ({})", columns.join(", "));
    match target.file_format {
        FileFormat::Text => {
            let _ = writeln!(out, "ROW FORMAT DELIMITED FIELDS TERMINATED BY ' '");
        }
        FileFormat::Parquet => {
            let _ = writeln!(
                out,
                "ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'\n\
                 STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat'\n\
                 OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat'"
            );
        }
    }
    let _ = write!(out, "LOCATION '{}'", location(target));
    let props = properties(target);
    if !props.is_empty() {
        let lines: Vec<String> = props
            .iter()
            .map(|(k, v)| format!("  '{k}'='{v}'"))
            .collect();
        let _ = write!(out, "\nTBLPROPERTIES (\n{}\n)", lines.join(",\n"));
    }
    out.push_str(";\n");
    if target.layout.hive {
        let _ = writeln!(out, "\nMSCK REPAIR TABLE `{}`;", target.table);
    }
    out
}

#[cfg(test)]
mod tests {
    use vpcflow_core::format::LogFormat;
    use vpcflow_core::layout::{Layout, Prefix};
    use vpcflow_core::name::FlowLogId;

    use super::*;

    fn target(layout: &str, file_format: FileFormat, format: LogFormat) -> Target {
        Target {
            table: "vpc_flow_logs".into(),
            format,
            file_format,
            layout: layout.parse().unwrap(),
            prefix: Prefix::new("my-logs").unwrap(),
            flow_log: FlowLogId::new("123456789012", "eu-west-1", "fl-0630869f236e76872").unwrap(),
            location: None,
            since: "2020/01/01".into(),
        }
    }

    /// The column list between the first `(` and the line `)`.
    fn column_lines(ddl: &str) -> Vec<&str> {
        let start = ddl.find("` (\n").unwrap() + 4;
        let end = ddl.find("\n)\nPARTITIONED BY").unwrap();
        ddl[start..end].lines().map(str::trim).collect()
    }

    #[test]
    fn default_text_table_matches_aws_ddl_types() {
        let ddl = create_table(&target("default", FileFormat::Text, LogFormat::default()));
        assert_eq!(
            column_lines(&ddl),
            [
                "`version` int,",
                "`account_id` string,",
                "`interface_id` string,",
                "`srcaddr` string,",
                "`dstaddr` string,",
                "`srcport` int,",
                "`dstport` int,",
                "`protocol` bigint,",
                "`packets` bigint,",
                "`bytes` bigint,",
                "`start` bigint,",
                "`end` bigint,",
                "`action` string,",
                "`log_status` string",
            ]
        );
        assert!(ddl.contains(
            "PARTITIONED BY (`day` string)\nROW FORMAT DELIMITED FIELDS TERMINATED BY ' '\n"
        ));
        assert!(ddl.contains(
            "LOCATION 's3://YOUR-BUCKET/my-logs/AWSLogs/123456789012/vpcflowlogs/eu-west-1/'"
        ));
        assert!(ddl.contains("'skip.header.line.count'='1'"));
        assert!(ddl.contains("'projection.day.format'='yyyy/MM/dd'"));
        assert!(ddl.contains("'projection.day.range'='2020/01/01,NOW'"));
        assert!(ddl.contains("'storage.location.template'='s3://YOUR-BUCKET/my-logs/AWSLogs/123456789012/vpcflowlogs/eu-west-1/${day}'"));
        assert!(ddl.contains("-- REPLACE s3://YOUR-BUCKET"));
        assert!(!ddl.contains("MSCK"));
        assert!(ddl.trim_end().ends_with(");"));
    }

    #[test]
    fn parquet_tables_use_the_parquet_serde_and_int_protocol() {
        let ddl = create_table(&target("hourly", FileFormat::Parquet, LogFormat::default()));
        assert!(column_lines(&ddl).contains(&"`protocol` int,"));
        assert!(ddl.contains("ParquetHiveSerDe"));
        assert!(ddl.contains("MapredParquetInputFormat"));
        assert!(!ddl.contains("skip.header.line.count"));
        assert!(ddl.contains("PARTITIONED BY (`day` string, `hour` string)"));
        assert!(ddl.contains("'projection.hour.digits'='2'"));
        assert!(ddl.contains("vpcflowlogs/eu-west-1/${day}/${hour}'"));
    }

    #[test]
    fn hive_layouts_are_repaired_not_projected() {
        for (layout, hour) in [("hive", false), ("hive-hourly", true)] {
            let mut t = target(layout, FileFormat::Text, LogFormat::default());
            t.location = Some("s3://bucket/folder".into());
            let ddl = create_table(&t);
            let expected = if hour {
                "PARTITIONED BY (`aws-account-id` string, `aws-service` string, `aws-region` string, `year` string, `month` string, `day` string, `hour` string)"
            } else {
                "PARTITIONED BY (`aws-account-id` string, `aws-service` string, `aws-region` string, `year` string, `month` string, `day` string)"
            };
            assert!(ddl.contains(expected), "{ddl}");
            assert!(ddl.contains("LOCATION 's3://bucket/folder/my-logs/AWSLogs/'"));
            assert!(!ddl.contains("projection"));
            assert!(!ddl.contains("YOUR-BUCKET"));
            assert!(ddl.ends_with("\nMSCK REPAIR TABLE `vpc_flow_logs`;\n"));
        }
    }

    #[test]
    fn every_field_gets_a_column_in_format_order() {
        let all = LogFormat::from_fields(Field::ALL.to_vec()).unwrap();
        for file_format in [FileFormat::Text, FileFormat::Parquet] {
            let ddl = create_table(&target("default", file_format, all.clone()));
            let lines = column_lines(&ddl);
            assert_eq!(lines.len(), 40);
            for (line, field) in lines.iter().zip(Field::ALL) {
                let expected = format!(
                    "`{}` {}",
                    field.column_name(),
                    column_type(*field, file_format)
                );
                assert_eq!(line.trim_end_matches(','), expected);
            }
            // The region field is a column; no partition is called region.
            assert!(lines.contains(&"`region` string,"));
            assert!(!ddl.contains("`region` string)") && !ddl.contains("projection.region"));
        }
    }

    #[test]
    fn column_types() {
        use Field as F;
        assert_eq!(column_type(F::Protocol, FileFormat::Text), "bigint");
        assert_eq!(column_type(F::Protocol, FileFormat::Parquet), "int");
        assert_eq!(column_type(F::TrafficPath, FileFormat::Text), "int");
        assert_eq!(column_type(F::End, FileFormat::Parquet), "bigint");
        assert_eq!(column_type(F::RejectReason, FileFormat::Text), "string");
        let _ = Layout::default();
    }
}
