//! AWS's `ip-ranges.json` (the published address ranges of AWS services),
//! read into the lookup table of `pkt-src-aws-service` / `pkt-dst-aws-service`.
//!
//! Only `prefixes[].ip_prefix`, `ipv6_prefixes[].ipv6_prefix` and their
//! `service` are used; every other key (`region`, `network_border_group`,
//! `syncToken`, …) is ignored.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use ipnet::IpNet;
use serde::Deserialize;
use vpcflow_core::aws_service::AwsServices;

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    prefixes: Vec<Entry>,
    #[serde(default)]
    ipv6_prefixes: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    ip_prefix: Option<String>,
    ipv6_prefix: Option<String>,
    service: Option<String>,
}

/// Reads the `ip-ranges.json` file at `path`. Errors name the file and, for
/// a bad entry, its position and key (`prefixes[3].ip_prefix`).
pub fn load(path: &Path) -> Result<AwsServices> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read AWS ip-ranges file {}", path.display()))?;
    parse(&text).map_err(|e| anyhow!("AWS ip-ranges file {}: {e}", path.display()))
}

/// Parses the text of an `ip-ranges.json` file.
pub fn parse(text: &str) -> Result<AwsServices> {
    let file: File =
        serde_json::from_str(text).map_err(|e| anyhow!("not an ip-ranges JSON document: {e}"))?;
    if file.prefixes.is_empty() && file.ipv6_prefixes.is_empty() {
        bail!("no prefixes and no ipv6_prefixes");
    }
    let mut table = AwsServices::new();
    let lists = [
        ("prefixes", "ip_prefix", &file.prefixes, false),
        ("ipv6_prefixes", "ipv6_prefix", &file.ipv6_prefixes, true),
    ];
    for (list, key, entries, v6) in lists {
        for (i, entry) in entries.iter().enumerate() {
            let at = |k: &str| format!("{list}[{i}].{k}");
            let prefix = if v6 {
                &entry.ipv6_prefix
            } else {
                &entry.ip_prefix
            };
            let prefix = prefix
                .as_deref()
                .ok_or_else(|| anyhow!("{}: missing", at(key)))?;
            let net: IpNet = prefix
                .parse()
                .map_err(|_| anyhow!("{}: {prefix:?} is not an IP prefix", at(key)))?;
            if matches!(net, IpNet::V6(_)) != v6 {
                let family = if v6 { "IPv6" } else { "IPv4" };
                bail!("{}: {prefix:?} is not an {family} prefix", at(key));
            }
            let service = entry
                .service
                .as_deref()
                .ok_or_else(|| anyhow!("{}: missing", at("service")))?;
            if service.is_empty() || !service.bytes().all(|b| b.is_ascii_graphic()) {
                bail!(
                    "{}: {service:?} must be a service name without spaces",
                    at("service")
                );
            }
            table
                .insert(net, service)
                .map_err(|e| anyhow!("{}: {e}", at("service")))?;
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_aws_format_and_ignores_other_keys() {
        let t = parse(
            r#"{
              "syncToken": "1700000000",
              "createDate": "2024-01-01-00-00-00",
              "prefixes": [
                {"ip_prefix": "52.95.128.0/21", "region": "ap-southeast-2",
                 "service": "AMAZON", "network_border_group": "ap-southeast-2"},
                {"ip_prefix": "52.95.128.0/21", "region": "ap-southeast-2",
                 "service": "S3", "network_border_group": "ap-southeast-2"}
              ],
              "ipv6_prefixes": [
                {"ipv6_prefix": "2600:1f14::/35", "region": "us-west-2",
                 "service": "EC2", "network_border_group": "us-west-2"}
              ]
            }"#,
        )
        .unwrap();
        assert_eq!(t.ranges(), 3);
        assert_eq!(t.lookup("52.95.128.179".parse().unwrap()), Some("S3"));
        assert_eq!(t.lookup("2600:1f14::9".parse().unwrap()), Some("EC2"));
        assert_eq!(t.lookup("10.0.0.71".parse().unwrap()), None);
    }

    #[test]
    fn errors_name_the_entry() {
        let cases = [
            ("{", "not an ip-ranges JSON document"),
            ("\"text\"", "not an ip-ranges JSON document"),
            ("[]", "no prefixes and no ipv6_prefixes"),
            ("{}", "no prefixes and no ipv6_prefixes"),
            (
                r#"{"prefixes": [{"ip_prefix": "1.2.3.0/24", "service": "S3"}, {"ip_prefix": "1.2.3/99", "service": "S3"}]}"#,
                "prefixes[1].ip_prefix: \"1.2.3/99\" is not an IP prefix",
            ),
            (
                r#"{"prefixes": [{"service": "S3"}]}"#,
                "prefixes[0].ip_prefix: missing",
            ),
            (
                r#"{"prefixes": [{"ip_prefix": "1.2.3.0/24"}]}"#,
                "prefixes[0].service: missing",
            ),
            (
                r#"{"prefixes": [{"ip_prefix": "2001:db8::/32", "service": "S3"}]}"#,
                "prefixes[0].ip_prefix: \"2001:db8::/32\" is not an IPv4 prefix",
            ),
            (
                r#"{"ipv6_prefixes": [{"ipv6_prefix": "1.2.3.0/24", "service": "S3"}]}"#,
                "ipv6_prefixes[0].ipv6_prefix: \"1.2.3.0/24\" is not an IPv6 prefix",
            ),
            (
                r#"{"ipv6_prefixes": [{"ipv6_prefix": "2001:db8::/32", "service": "A B"}]}"#,
                "ipv6_prefixes[0].service",
            ),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json");
        let e = format!("{:#}", load(&missing).unwrap_err());
        assert!(e.contains("missing.json"), "{e}");
        let bad = dir.path().join("bad.json");
        std::fs::write(
            &bad,
            r#"{"prefixes": [{"ip_prefix": "x", "service": "S3"}]}"#,
        )
        .unwrap();
        let e = format!("{:#}", load(&bad).unwrap_err());
        assert!(
            e.contains("bad.json") && e.contains("prefixes[0].ip_prefix"),
            "{e}"
        );
    }
}
