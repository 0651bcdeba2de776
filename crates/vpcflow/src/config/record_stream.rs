//! What the configuration of the destinations that take records rather
//! than files (`[output.cloudwatch]`, `[output.firehose]`) shares: the
//! client keys every such section has, and the validated
//! [`RecordTarget`] each becomes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use vpcflow_sinks::aws::resource::{AwsResource, ResourceKind};
use vpcflow_sinks::aws::ClientSettings;
use vpcflow_sinks::batches::{DeliveryOptions, DEFAULT_PERMANENT_ERROR_RETRY};
use vpcflow_sinks::spool::DEFAULT_SPOOL_MAX_BYTES;

use super::s3::DEFAULT_SHUTDOWN_TIMEOUT;
use super::validate::check_delivery_bounds;

/// A record destination and how to deliver to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordTarget<K, O> {
    /// The log group or delivery stream.
    pub destination: AwsResource<K>,
    /// Client, retries and the service's own settings.
    pub options: O,
    /// Its spool folder.
    pub spool_dir: PathBuf,
    /// Size limit of the spool (`output.spool_max_bytes`).
    pub spool_max_bytes: u64,
    /// Wait for deliveries when `vpcflow run` stops.
    pub shutdown_timeout: Duration,
}

/// The keys every record destination's section has.
#[derive(Debug, Clone, Copy)]
pub struct ClientKeys<'a> {
    /// `endpoint_url`.
    pub endpoint_url: Option<&'a str>,
    /// `region`.
    pub region: Option<&'a str>,
    /// `profile`.
    pub profile: Option<&'a str>,
    /// `permanent_error_retry`, seconds.
    pub permanent_error_retry: Option<u64>,
    /// `shutdown_timeout`, seconds.
    pub shutdown_timeout: Option<u64>,
}

/// The section of a record destination (`[output.cloudwatch]`).
pub trait RecordSection {
    /// The kind of resource it delivers to.
    type Kind: ResourceKind;
    /// The destination's options.
    type Options;
    /// The section's name in messages (`output.cloudwatch`).
    const NAME: &'static str;
    /// The client keys of the section.
    fn client_keys(&self) -> ClientKeys<'_>;
    /// The destination's options, made of the shared ones and the
    /// section's own keys; errors start with the key's name.
    fn options(&self, delivery: DeliveryOptions) -> Result<Self::Options, String>;
}

/// Where `out` delivers: parses it and validates `section`. The region is
/// the section's, else the ARN's (the SDK's chain and `flow_log_region`
/// come after); the spool is `spool_root/SCHEME-NAME`.
pub fn target<S: RecordSection>(
    out: &str,
    section: &S,
    spool_max_bytes: Option<u64>,
    spool_root: &Path,
    flow_log_region: &str,
) -> Result<RecordTarget<S::Kind, S::Options>> {
    let destination = AwsResource::<S::Kind>::parse(out).map_err(|e| anyhow!("output.out: {e}"))?;
    let keys = section.client_keys();
    check_delivery_bounds(
        S::NAME,
        spool_max_bytes,
        keys.shutdown_timeout,
        keys.permanent_error_retry,
    )?;
    let delivery = DeliveryOptions {
        client: ClientSettings {
            region: keys
                .region
                .map(str::to_string)
                .or_else(|| destination.region.clone()),
            fallback_region: Some(flow_log_region.to_string()),
            endpoint: keys.endpoint_url.map(str::to_string),
            profile: keys.profile.map(str::to_string),
        },
        permanent_error_retry: keys
            .permanent_error_retry
            .map_or(DEFAULT_PERMANENT_ERROR_RETRY, Duration::from_secs),
    };
    let options = section
        .options(delivery)
        .map_err(|e| anyhow!("{}.{e}", S::NAME))?;
    let spool_dir = spool_root.join(format!(
        "{}-{}",
        <S::Kind as ResourceKind>::SCHEME,
        folder_name(&destination.name)
    ));
    Ok(RecordTarget {
        destination,
        options,
        spool_dir,
        spool_max_bytes: match spool_max_bytes {
            Some(0) => bail!("output.spool_max_bytes: must be positive"),
            Some(n) => n,
            None => DEFAULT_SPOOL_MAX_BYTES,
        },
        shutdown_timeout: keys
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
