//! `[output.cloudwatch]`: the CloudWatch Logs destination's part of the
//! configuration, validated into [`CloudWatchSettings`].

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use serde::Deserialize;
use vpcflow_sinks::aws::ClientSettings;
use vpcflow_sinks::cloudwatch::options::DEFAULT_PERMANENT_ERROR_RETRY;
use vpcflow_sinks::cloudwatch::{CloudWatchOptions, LogGroupDestination};

use vpcflow_sinks::spool::DEFAULT_SPOOL_MAX_BYTES;

use super::s3::DEFAULT_SHUTDOWN_TIMEOUT;
use super::validate::check_delivery_bounds;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudWatchTarget {
    /// The log group.
    pub destination: LogGroupDestination,
    /// Client and log group settings.
    pub options: CloudWatchOptions,
    /// Its spool folder.
    pub spool_dir: PathBuf,
    /// Size limit of the spool (`output.spool_max_bytes`).
    pub spool_max_bytes: u64,
    /// Wait for deliveries when `vpcflow run` stops.
    pub shutdown_timeout: Duration,
}

/// Parses `out` and validates `[output.cloudwatch]`; the spool is
/// `spool_root/cloudwatch-<group>`.
pub fn target(
    out: &str,
    section: &CloudWatchSection,
    spool_max_bytes: Option<u64>,
    spool_root: &std::path::Path,
    flow_log_region: &str,
) -> Result<CloudWatchTarget> {
    let destination = LogGroupDestination::parse(out).map_err(|e| anyhow!("output.out: {e}"))?;
    check_delivery_bounds(
        "output.cloudwatch",
        spool_max_bytes,
        section.shutdown_timeout,
        section.permanent_error_retry,
    )?;
    let options = CloudWatchOptions {
        client: ClientSettings {
            region: section
                .region
                .clone()
                .or_else(|| destination.region.clone()),
            fallback_region: Some(flow_log_region.to_string()),
            endpoint: section.endpoint_url.clone(),
            profile: section.profile.clone(),
        },
        create_log_group: section.create_log_group.unwrap_or(true),
        create_log_stream: section.create_log_stream.unwrap_or(true),
        retention_days: section.retention_days,
        kms_key_id: section.kms_key_id.clone(),
        permanent_error_retry: section
            .permanent_error_retry
            .map_or(DEFAULT_PERMANENT_ERROR_RETRY, Duration::from_secs),
    };
    options
        .validate()
        .map_err(|e| anyhow!("output.cloudwatch.{e}"))?;
    let spool_dir = spool_root.join(format!("cloudwatch-{}", folder_name(&destination.name)));
    Ok(CloudWatchTarget {
        destination,
        options,
        spool_dir,
        spool_max_bytes: match spool_max_bytes {
            Some(0) => bail!("output.spool_max_bytes: must be positive"),
            Some(n) => n,
            None => DEFAULT_SPOOL_MAX_BYTES,
        },
        shutdown_timeout: section
            .shutdown_timeout
            .map_or(DEFAULT_SHUTDOWN_TIMEOUT, Duration::from_secs),
    })
}

/// A name usable as one folder name: characters other than
/// `a-z A-Z 0-9 . _ -` become `_`.
pub fn folder_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_with_their_key() {
        let root = std::path::Path::new("/spool");
        let t = target(
            "arn:aws:logs:eu-west-1:123456789012:log-group:/vpc/flow#1",
            &CloudWatchSection::default(),
            None,
            root,
            "us-east-1",
        )
        .unwrap();
        assert_eq!(t.spool_dir, root.join("cloudwatch-_vpc_flow_1"));
        assert_eq!(t.options.client.region.as_deref(), Some("eu-west-1"));
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
