//! `[output.cloudwatch]`: the CloudWatch Logs destination's part of the
//! configuration, validated into a [`CloudWatchTarget`].

use serde::Deserialize;
use vpcflow_sinks::batches::DeliveryOptions;
use vpcflow_sinks::cloudwatch::dest::LogGroup;
use vpcflow_sinks::cloudwatch::CloudWatchOptions;

use super::record_stream::{ClientKeys, RecordSection, RecordTarget};

/// `[output.cloudwatch]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudWatchSection {
    /// Endpoint URL of the CloudWatch Logs API (default: AWS's, or
    /// `AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
    /// Region (default: the ARN's, else the SDK's chain, else the flow log's).
    pub region: Option<String>,
    /// Profile of the shared config and credentials files.
    pub profile: Option<String>,
    /// Create the log group when it is missing (default true).
    pub create_log_group: Option<bool>,
    /// Create log streams when missing (default true).
    pub create_log_stream: Option<bool>,
    /// Retention of the log group, days (one of the values CloudWatch
    /// accepts); unset: left as it is.
    pub retention_days: Option<i32>,
    /// KMS key ARN a log group created by vpcflow is encrypted with.
    pub kms_key_id: Option<String>,
    /// Seconds between attempts of a batch that fails with a permanent error.
    pub permanent_error_retry: Option<u64>,
    /// Seconds `vpcflow run` waits for deliveries at shutdown.
    pub shutdown_timeout: Option<u64>,
}

/// A CloudWatch Logs destination and how to deliver to it.
pub type CloudWatchTarget = RecordTarget<LogGroup, CloudWatchOptions>;

impl RecordSection for CloudWatchSection {
    type Kind = LogGroup;
    type Options = CloudWatchOptions;
    const NAME: &'static str = "output.cloudwatch";

    fn client_keys(&self) -> ClientKeys<'_> {
        ClientKeys {
            endpoint_url: self.endpoint_url.as_deref(),
            region: self.region.as_deref(),
            profile: self.profile.as_deref(),
            permanent_error_retry: self.permanent_error_retry,
            shutdown_timeout: self.shutdown_timeout,
        }
    }

    fn options(&self, delivery: DeliveryOptions) -> Result<CloudWatchOptions, String> {
        let options = CloudWatchOptions {
            delivery,
            create_log_group: self.create_log_group.unwrap_or(true),
            create_log_stream: self.create_log_stream.unwrap_or(true),
            retention_days: self.retention_days,
            kms_key_id: self.kms_key_id.clone(),
        };
        options.validate()?;
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::super::record_stream::target;
    use super::*;
    use std::path::Path;

    #[test]
    fn values_are_checked_with_their_key() {
        let root = Path::new("/spool");
        let t = target(
            "arn:aws:logs:eu-west-1:123456789012:log-group:/vpc/flow#1",
            &CloudWatchSection::default(),
            None,
            root,
            "us-east-1",
        )
        .unwrap();
        assert_eq!(t.spool_dir, root.join("cloudwatch-_vpc_flow_1"));
        assert_eq!(
            t.options.delivery.client.region.as_deref(),
            Some("eu-west-1")
        );
        assert!(t.options.create_log_group);
        let err = |s: CloudWatchSection| {
            target("cloudwatch://g", &s, None, root, "us-east-1")
                .unwrap_err()
                .to_string()
        };
        let e = err(CloudWatchSection {
            retention_days: Some(10),
            ..Default::default()
        });
        assert!(
            e.starts_with("output.cloudwatch.retention_days: 10 "),
            "{e}"
        );
        let e = err(CloudWatchSection {
            endpoint_url: Some("localhost".into()),
            ..Default::default()
        });
        assert!(e.starts_with("output.cloudwatch.endpoint_url: "), "{e}");
        let e = target(
            "cloudwatch://a b",
            &CloudWatchSection::default(),
            None,
            root,
            "x",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("output.out: "), "{e}");
    }
}
