//! The Firehose destination:
//! `arn:aws:firehose:REGION:ACCOUNT:deliverystream/NAME` (AWS's form for
//! flow logs) or `firehose://NAME`.

use std::fmt;

/// A delivery stream, with the Region and account of its ARN when given as
/// one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryStreamDestination {
    /// The delivery stream's name.
    pub name: String,
    /// The Region of the ARN.
    pub region: Option<String>,
    /// The account of the ARN.
    pub account: Option<String>,
}

impl DeliveryStreamDestination {
    /// Whether `text` is meant as a Firehose destination.
    pub fn is_firehose(text: &str) -> bool {
        text.starts_with("firehose://")
            || (text.starts_with("arn:aws") && text.contains(":firehose:"))
    }

    /// Parses `arn:PARTITION:firehose:REGION:ACCOUNT:deliverystream/NAME` or
    /// `firehose://NAME`.
    pub fn parse(text: &str) -> Result<DeliveryStreamDestination, String> {
        if let Some(name) = text.strip_prefix("firehose://") {
            check_name(name)?;
            return Ok(DeliveryStreamDestination {
                name: name.to_string(),
                region: None,
                account: None,
            });
        }
        let bad = || {
            format!("{text:?} is not a delivery stream ARN (arn:aws:firehose:REGION:ACCOUNT:deliverystream/NAME) or firehose://NAME")
        };
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        let [arn, partition, service, region, account, resource] = parts[..] else {
            return Err(bad());
        };
        if arn != "arn" || !partition.starts_with("aws") || service != "firehose" {
            return Err(bad());
        }
        let Some(name) = resource.strip_prefix("deliverystream/") else {
            return Err(bad());
        };
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
        check_name(name)?;
        Ok(DeliveryStreamDestination {
            name: name.to_string(),
            region: Some(region.to_string()),
            account: Some(account.to_string()),
        })
    }
}

impl fmt::Display for DeliveryStreamDestination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.region, &self.account) {
            (Some(r), Some(a)) => {
                write!(f, "arn:aws:firehose:{r}:{a}:deliverystream/{}", self.name)
            }
            _ => write!(f, "firehose://{}", self.name),
        }
    }
}

/// Delivery stream names: 1 to 64 characters of `a-z A-Z 0-9 _ - .`.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a delivery stream name (1 to 64 characters of a-z, A-Z, 0-9, _ - .)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms() {
        let d = DeliveryStreamDestination::parse(
            "arn:aws:firehose:us-west-2:123456789012:deliverystream/flow-logs",
        )
        .unwrap();
        assert_eq!(d.name, "flow-logs");
        assert_eq!(d.region.as_deref(), Some("us-west-2"));
        assert_eq!(
            d.to_string(),
            "arn:aws:firehose:us-west-2:123456789012:deliverystream/flow-logs"
        );
        let d = DeliveryStreamDestination::parse("firehose://x.y_z").unwrap();
        assert_eq!(d.name, "x.y_z");
        assert!(DeliveryStreamDestination::is_firehose("firehose://a"));
        assert!(!DeliveryStreamDestination::is_firehose("cloudwatch://a"));
        for bad in [
            "firehose://",
            "firehose://a/b",
            "arn:aws:firehose:us-west-2:123456789012:stream/x",
            "arn:aws:firehose:us-west-2:12345:deliverystream/x",
            "arn:aws:kinesis:us-west-2:123456789012:deliverystream/x",
        ] {
            assert!(DeliveryStreamDestination::parse(bad).is_err(), "{bad}");
        }
        let max = format!("firehose://{}", "a".repeat(64));
        assert!(DeliveryStreamDestination::parse(&max).is_ok());
        let over = format!("firehose://{}", "a".repeat(65));
        assert!(DeliveryStreamDestination::parse(&over).is_err());
    }
}
