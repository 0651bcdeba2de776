//! The CloudWatch Logs destination: `arn:aws:logs:REGION:ACCOUNT:log-group:NAME`
//! (AWS's own form for flow logs) or `cloudwatch://NAME`.

use std::fmt;

/// A log group, with the Region and account of its ARN when given as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGroupDestination {
    /// The log group's name.
    pub name: String,
    /// The Region of the ARN.
    pub region: Option<String>,
    /// The account of the ARN.
    pub account: Option<String>,
}

impl LogGroupDestination {
    /// Whether `text` is meant as a CloudWatch Logs destination.
    pub fn is_cloudwatch(text: &str) -> bool {
        text.starts_with("cloudwatch://")
            || text.starts_with("arn:aws:logs:")
            || (text.starts_with("arn:aws-") && text.contains(":logs:"))
    }

    /// Parses `arn:PARTITION:logs:REGION:ACCOUNT:log-group:NAME[:*]` or
    /// `cloudwatch://NAME`.
    pub fn parse(text: &str) -> Result<LogGroupDestination, String> {
        if let Some(name) = text.strip_prefix("cloudwatch://") {
            check_name(name)?;
            return Ok(LogGroupDestination {
                name: name.to_string(),
                region: None,
                account: None,
            });
        }
        let bad = || {
            format!("{text:?} is not a log group ARN (arn:aws:logs:REGION:ACCOUNT:log-group:NAME) or cloudwatch://NAME")
        };
        let parts: Vec<&str> = text.splitn(7, ':').collect();
        let [arn, partition, service, region, account, kind, rest] = parts[..] else {
            return Err(bad());
        };
        if arn != "arn" || !partition.starts_with("aws") || service != "logs" || kind != "log-group"
        {
            return Err(bad());
        }
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!("{text:?}: {region:?} is not a Region code"));
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{text:?}: {account:?} is not a 12-digit account ID"
            ));
        }
        let name = rest.strip_suffix(":*").unwrap_or(rest);
        check_name(name)?;
        Ok(LogGroupDestination {
            name: name.to_string(),
            region: Some(region.to_string()),
            account: Some(account.to_string()),
        })
    }
}

impl fmt::Display for LogGroupDestination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.region, &self.account) {
            (Some(r), Some(a)) => write!(f, "arn:aws:logs:{r}:{a}:log-group:{}", self.name),
            _ => write!(f, "cloudwatch://{}", self.name),
        }
    }
}

/// Log group names: 1 to 512 characters of `a-z A-Z 0-9 _ - / . #`.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 512
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-/.#".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a log group name (1 to 512 characters of a-z, A-Z, 0-9, _ - / . #)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms() {
        let d = LogGroupDestination::parse(
            "arn:aws:logs:eu-west-1:123456789012:log-group:vpc/flow-logs:*",
        )
        .unwrap();
        assert_eq!(d.name, "vpc/flow-logs");
        assert_eq!(d.region.as_deref(), Some("eu-west-1"));
        assert_eq!(d.account.as_deref(), Some("123456789012"));
        assert_eq!(
            d.to_string(),
            "arn:aws:logs:eu-west-1:123456789012:log-group:vpc/flow-logs"
        );
        let d = LogGroupDestination::parse("cloudwatch://flow-logs").unwrap();
        assert_eq!((d.name.as_str(), d.region), ("flow-logs", None));
        assert!(LogGroupDestination::is_cloudwatch("cloudwatch://x"));
        assert!(LogGroupDestination::is_cloudwatch("arn:aws:logs:a:b:c"));
        assert!(!LogGroupDestination::is_cloudwatch("s3://x"));
        for bad in [
            "cloudwatch://",
            "cloudwatch://a b",
            "arn:aws:logs:eu-west-1:123:log-group:x",
            "arn:aws:logs:eu-west-1:123456789012:destination:x",
            "arn:aws:logs::123456789012:log-group:x",
            "arn:aws:logs:eu-west-1:123456789012",
        ] {
            assert!(LogGroupDestination::parse(bad).is_err(), "{bad}");
        }
        let long = format!("cloudwatch://{}", "a".repeat(513));
        assert!(LogGroupDestination::parse(&long).is_err());
        let max = format!("cloudwatch://{}", "a".repeat(512));
        assert!(LogGroupDestination::parse(&max).is_ok());
    }
}
