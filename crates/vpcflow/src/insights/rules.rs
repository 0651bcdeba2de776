//! Contributor Insights rules for flow logs in CloudWatch Logs: the
//! space-delimited (`CLF`) rule form, with the positions of the format's
//! fields.

use serde_json::{json, Value};
use vpcflow_core::fields::Field;
use vpcflow_core::format::LogFormat;

/// `(name, description, rule JSON)` for each rule the format has the fields
/// for.
pub fn contributor_rules(
    format: &LogFormat,
    log_group: &str,
) -> Vec<(&'static str, &'static str, String)> {
    let position = |f: Field| format.fields().iter().position(|x| *x == f).map(|i| i + 1);
    let rule = |fields: &[Field],
                keys: &[Field],
                value: Option<Field>,
                filter: Option<(Field, &str)>|
     -> Option<String> {
        let mut map = serde_json::Map::new();
        for f in fields {
            map.insert(
                position(*f)?.to_string(),
                Value::String(f.column_name().to_string()),
            );
        }
        let mut contribution = json!({
            "Keys": keys.iter().map(|k| k.column_name()).collect::<Vec<_>>(),
            "Filters": filter.map(|(f, v)| vec![json!({"Match": f.column_name(), "In": [v]})]).unwrap_or_default(),
        });
        if let Some(v) = value {
            contribution["ValueOf"] = Value::String(v.column_name().to_string());
        }
        let rule = json!({
            "Schema": {"Name": "CloudWatchLogRule", "Version": 1},
            "LogGroupNames": [log_group],
            "LogFormat": "CLF",
            "Fields": Value::Object(map),
            "Contribution": contribution,
            "AggregateOn": if value.is_some() { "Sum" } else { "Count" },
        });
        serde_json::to_string_pretty(&rule).ok()
    };
    use Field as F;
    let mut rules = Vec::new();
    if let Some(r) = rule(
        &[F::SrcAddr, F::DstAddr, F::Bytes],
        &[F::SrcAddr, F::DstAddr],
        Some(F::Bytes),
        None,
    ) {
        rules.push((
            "TopTalkersByBytes",
            "Source and destination address pairs by bytes sent.",
            r,
        ));
    }
    if let Some(r) = rule(
        &[F::SrcAddr, F::Action],
        &[F::SrcAddr],
        None,
        Some((F::Action, "REJECT")),
    ) {
        rules.push((
            "RejectedBySource",
            "Source addresses by number of REJECT records.",
            r,
        ));
    }
    if let Some(r) = rule(
        &[F::InterfaceId, F::Bytes],
        &[F::InterfaceId],
        Some(F::Bytes),
        None,
    ) {
        rules.push(("TopInterfacesByBytes", "Interfaces by bytes carried.", r));
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_follow_the_format() {
        let rules = contributor_rules(&LogFormat::default(), "g");
        let (_, _, json) = &rules[0];
        let v: Value = serde_json::from_str(json).unwrap();
        assert_eq!(v["Fields"]["4"], "srcaddr");
        assert_eq!(v["Fields"]["5"], "dstaddr");
        assert_eq!(v["Fields"]["10"], "bytes");
        assert_eq!(v["Contribution"]["ValueOf"], "bytes");
        assert_eq!(v["AggregateOn"], "Sum");
        let (_, _, json) = &rules[1];
        let v: Value = serde_json::from_str(json).unwrap();
        assert_eq!(v["Fields"]["13"], "action");
        assert_eq!(v["Contribution"]["Filters"][0]["In"][0], "REJECT");
        assert_eq!(v["AggregateOn"], "Count");
        let custom = LogFormat::parse("${bytes} ${srcaddr} ${dstaddr}").unwrap();
        let rules = contributor_rules(&custom, "g");
        assert_eq!(rules.len(), 1);
        let v: Value = serde_json::from_str(&rules[0].2).unwrap();
        assert_eq!(v["Fields"]["1"], "bytes");
        assert_eq!(v["Fields"]["2"], "srcaddr");
    }
}
