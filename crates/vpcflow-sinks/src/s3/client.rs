//! The S3 client, configured from [`S3Options`] and the SDK's default chains.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};

use super::options::S3Options;

/// Region used when neither the settings, the SDK chain nor the flow log
/// give one.
const LAST_RESORT_REGION: &str = "us-east-1";

/// Builds a client: credentials from the SDK's default chain (environment,
/// shared config and credentials files with profiles, SSO,
/// `credential_process`, web identity, ECS/EKS container credentials,
/// IMDSv2); region from `options.region`, else the chain, else
/// `options.fallback_region`; the endpoint from `options.endpoint` or
/// `AWS_ENDPOINT_URL`.
pub async fn build_client(options: &S3Options) -> aws_sdk_s3::Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(60))
            .build(),
    );
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = &options.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    let shared = loader.load().await;
    let mut config = aws_sdk_s3::config::Builder::from(&shared);
    if shared.region().is_none() {
        let region = options
            .fallback_region
            .clone()
            .unwrap_or_else(|| LAST_RESORT_REGION.to_string());
        config = config.region(Region::new(region));
    }
    let has_endpoint = shared.endpoint_url().is_some();
    config = config
        .force_path_style(options.force_path_style.unwrap_or(has_endpoint))
        // The SHA-256 of each object (or part) is computed when it is
        // spooled and sent as a header; the SDK adds no checksum trailer of
        // its own, which S3-compatible stores do not all accept.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    aws_sdk_s3::Client::from_conf(config.build())
}
