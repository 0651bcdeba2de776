//! `vpcflow insights`: CloudWatch Logs Insights queries over the log group
//! vpcflow writes (after the queries AWS documents for flow logs), each
//! starting with a `parse @message` pattern derived from the record format,
//! and Contributor Insights rules for that format.
//!
//! Event messages are record lines without a header (spec §3.9): the
//! fields in format order, separated by one space. The pattern has one `*`
//! per field and names each by its Athena column name (`srcaddr`,
//! `log_status`, `pkt_src_aws_service`, …), so custom formats work, and the
//! names never clash with the camel-case fields Logs Insights discovers by
//! itself in default-format flow logs.

mod queries;
mod rules;

use std::fmt::Write as _;

use vpcflow_core::format::LogFormat;

pub use queries::queries;
pub use rules::contributor_rules;

/// The log group the rules name when none is configured: the user must
/// replace it.
pub const PLACEHOLDER_LOG_GROUP: &str = "YOUR-LOG-GROUP";

/// The `parse` command reading every field of `format` out of `@message`.
pub fn parse_command(format: &LogFormat) -> String {
    let globs = vec!["*"; format.fields().len()].join(" ");
    let names: Vec<String> = format.fields().iter().map(|f| f.column_name()).collect();
    format!("parse @message \"{globs}\" as {}", names.join(", "))
}

/// Everything `vpcflow insights` prints for `format` and `log_group`.
pub fn render(format: &LogFormat, log_group: &str) -> String {
    let mut out = String::new();
    let parse = parse_command(format);
    let _ = writeln!(
        out,
        "# CloudWatch Logs Insights queries over the log group {log_group}, those the\n\
         # format has the fields for. Each starts by parsing the record line into\n\
         # fields named like the Athena columns. Paste one into the Logs Insights\n\
         # console, or run it with\n\
         #   aws logs start-query --log-group-name {log_group} --start-time S --end-time E --query-string '...'"
    );
    let columns: Vec<String> = format.fields().iter().map(|f| f.column_name()).collect();
    let _ = writeln!(
        out,
        "\n# Records: the 20 newest records, every field parsed.\n{parse}\n| fields {}\n| sort @timestamp desc\n| limit 20",
        columns.join(", ")
    );
    let list = queries(format);
    if list.is_empty() {
        let _ = writeln!(
            out,
            "# (no other query: the format lacks the fields they read)"
        );
    }
    for q in list {
        let _ = writeln!(out, "\n# {}: {}\n{}", q.name, q.description, q.text(&parse));
    }
    let rules = contributor_rules(format, log_group);
    let _ = writeln!(
        out,
        "\n# Contributor Insights rules for the same log group (put one in a file and\n\
         # run: aws cloudwatch put-insight-rule --rule-name NAME --rule-definition file://FILE)."
    );
    if rules.is_empty() {
        let _ = writeln!(out, "# (none: the format lacks the fields they read)");
    }
    for (name, description, json) in rules {
        let _ = writeln!(out, "\n# {name}: {description}\n{json}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parse_command_follows_the_format() {
        let f =
            LogFormat::parse("${version} ${srcaddr} ${log-status} ${pkt-src-aws-service}").unwrap();
        assert_eq!(
            parse_command(&f),
            "parse @message \"* * * *\" as version, srcaddr, log_status, pkt_src_aws_service"
        );
        let text = render(&LogFormat::default(), "flow-logs");
        assert!(text.contains("log group flow-logs"), "{text}");
        assert!(
            text.contains("\"LogGroupNames\": [\n    \"flow-logs\"\n  ]"),
            "{text}"
        );
    }
}
