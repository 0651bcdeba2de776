//! `[output.firehose]`: the Firehose destination's part of the
//! configuration, validated into [`FirehoseTarget`].

use serde::Deserialize;
use vpcflow_sinks::batches::DeliveryOptions;
use vpcflow_sinks::firehose::dest::DeliveryStream;

use super::record_stream::{ClientKeys, RecordSection, RecordTarget};

/// `[output.firehose]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirehoseSection {
    /// Endpoint URL of the Firehose API (default: AWS's, or
    /// `AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
    /// Region (default: the ARN's, else the SDK's chain, else the flow log's).
    pub region: Option<String>,
    /// Profile of the shared config and credentials files.
    pub profile: Option<String>,
    /// Seconds between attempts of a batch that fails with a permanent error.
    pub permanent_error_retry: Option<u64>,
    /// Seconds `vpcflow run` waits for deliveries at shutdown.
    pub shutdown_timeout: Option<u64>,
}

/// A Firehose destination and how to deliver to it.
pub type FirehoseTarget = RecordTarget<DeliveryStream, DeliveryOptions>;

impl RecordSection for FirehoseSection {
    type Kind = DeliveryStream;
    type Options = DeliveryOptions;
    const NAME: &'static str = "output.firehose";

    fn client_keys(&self) -> ClientKeys<'_> {
        ClientKeys {
            endpoint_url: self.endpoint_url.as_deref(),
            region: self.region.as_deref(),
            profile: self.profile.as_deref(),
            permanent_error_retry: self.permanent_error_retry,
            shutdown_timeout: self.shutdown_timeout,
        }
    }

    fn options(&self, delivery: DeliveryOptions) -> Result<DeliveryOptions, String> {
        delivery.validate()?;
        Ok(delivery)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::record_stream::target;
    use super::*;

    #[test]
    fn values_are_checked_with_their_key() {
        let root = Path::new("/spool");
        let t = target(
            "arn:aws:firehose:us-west-2:123456789012:deliverystream/fl",
            &FirehoseSection::default(),
            None,
            root,
            "us-east-1",
        )
        .unwrap();
        assert_eq!(t.spool_dir, root.join("firehose-fl"));
        assert_eq!(t.options.client.region.as_deref(), Some("us-west-2"));
        let e = target(
            "firehose://fl",
            &FirehoseSection {
                permanent_error_retry: Some(0),
                ..Default::default()
            },
            None,
            root,
            "x",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("output.firehose.permanent_error_retry: "),
            "{e}"
        );
    }
}
