//! The CloudWatch Logs destination: `arn:aws:logs:REGION:ACCOUNT:log-group:NAME`
//! (AWS's own form for flow logs) or `cloudwatch://NAME`.

use crate::aws::resource::{AwsResource, ResourceKind};

/// A log group, with the Region and account of its ARN when given as one.
pub type LogGroupDestination = AwsResource<LogGroup>;

/// How log groups are written; names are 1 to 512 characters of
/// `a-z A-Z 0-9 _ - / . #`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGroup;

impl ResourceKind for LogGroup {
    const SCHEME: &'static str = "cloudwatch";
    const SERVICE: &'static str = "logs";
    const RESOURCE_PREFIX: &'static str = "log-group:";
    const IGNORED_SUFFIX: Option<&'static str> = Some(":*");
    const WHAT: &'static str = "log group";
    const NAME_RULE: &'static str = "1 to 512 characters of a-z, A-Z, 0-9, _ - / . #";
    const MAX_NAME_LEN: usize = 512;
    fn name_byte_ok(b: u8) -> bool {
        b"_-/.#".contains(&b)
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
        assert!(LogGroupDestination::is_meant("cloudwatch://x"));
        assert!(LogGroupDestination::is_meant("arn:aws:logs:a:b:c"));
        assert!(!LogGroupDestination::is_meant("s3://x"));
        assert!(LogGroupDestination::is_meant(
            "arn:aws-cn:logs:cn-north-1:123456789012:log-group:g"
        ));
        assert!(!LogGroupDestination::is_meant("cloudwatchx://g"));
        assert!(!LogGroupDestination::is_meant(
            "arn:aws:firehose:us-west-2:123456789012:deliverystream/logs"
        ));
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
