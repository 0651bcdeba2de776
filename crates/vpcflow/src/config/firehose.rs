//! `[output.firehose]`: the Firehose destination's part of the
//! configuration, validated into [`FirehoseTarget`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use serde::Deserialize;
use vpcflow_sinks::aws::ClientSettings;
use vpcflow_sinks::firehose::options::DEFAULT_PERMANENT_ERROR_RETRY;
use vpcflow_sinks::firehose::{DeliveryStreamDestination, FirehoseOptions};

use super::cloudwatch::folder_name;
use vpcflow_sinks::spool::DEFAULT_SPOOL_MAX_BYTES;

use super::s3::DEFAULT_SHUTDOWN_TIMEOUT;
use super::validate::check_delivery_bounds;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirehoseTarget {
    /// The delivery stream.
    pub destination: DeliveryStreamDestination,
    /// Client settings.
    pub options: FirehoseOptions,
    /// Its spool folder.
    pub spool_dir: PathBuf,
    /// Size limit of the spool (`output.spool_max_bytes`).
    pub spool_max_bytes: u64,
    /// Wait for deliveries when `vpcflow run` stops.
    pub shutdown_timeout: Duration,
}

/// Parses `out` and validates `[output.firehose]`; the spool is
/// `spool_root/firehose-<stream>`.
pub fn target(
    out: &str,
    section: &FirehoseSection,
    spool_max_bytes: Option<u64>,
    spool_root: &Path,
    flow_log_region: &str,
) -> Result<FirehoseTarget> {
    let destination =
        DeliveryStreamDestination::parse(out).map_err(|e| anyhow!("output.out: {e}"))?;
    check_delivery_bounds(
        "output.firehose",
        spool_max_bytes,
        section.shutdown_timeout,
        section.permanent_error_retry,
    )?;
    let options = FirehoseOptions {
        client: ClientSettings {
            region: section
                .region
                .clone()
                .or_else(|| destination.region.clone()),
            fallback_region: Some(flow_log_region.to_string()),
            endpoint: section.endpoint_url.clone(),
            profile: section.profile.clone(),
        },
        permanent_error_retry: section
            .permanent_error_retry
            .map_or(DEFAULT_PERMANENT_ERROR_RETRY, Duration::from_secs),
    };
    options
        .validate()
        .map_err(|e| anyhow!("output.firehose.{e}"))?;
    let spool_dir = spool_root.join(format!("firehose-{}", folder_name(&destination.name)));
    Ok(FirehoseTarget {
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

#[cfg(test)]
mod tests {
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
