//! The Firehose destination:
//! `arn:aws:firehose:REGION:ACCOUNT:deliverystream/NAME` (AWS's form for
//! flow logs) or `firehose://NAME`.

use crate::aws::resource::{AwsResource, ResourceKind};

/// A delivery stream, with the Region and account of its ARN when given as
/// one.
pub type DeliveryStreamDestination = AwsResource<DeliveryStream>;

/// How delivery streams are written; names are 1 to 64 characters of
/// `a-z A-Z 0-9 _ - .`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryStream;

impl ResourceKind for DeliveryStream {
    const SCHEME: &'static str = "firehose";
    const SERVICE: &'static str = "firehose";
    const RESOURCE_PREFIX: &'static str = "deliverystream/";
    const WHAT: &'static str = "delivery stream";
    const NAME_RULE: &'static str = "1 to 64 characters of a-z, A-Z, 0-9, _ - .";
    const MAX_NAME_LEN: usize = 64;
    fn name_byte_ok(b: u8) -> bool {
        b"_-.".contains(&b)
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
        assert!(DeliveryStreamDestination::is_meant("firehose://a"));
        assert!(!DeliveryStreamDestination::is_meant("cloudwatch://a"));
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
