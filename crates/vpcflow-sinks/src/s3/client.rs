//! The S3 client, configured from [`S3Options`] and the SDK's default chains.

use aws_config::Region;
use aws_sdk_s3::config::{
    RequestChecksumCalculation, ResponseChecksumValidation, SharedCredentialsProvider,
};

use super::options::S3Options;
use crate::aws::client::{load_config, ClientSettings};

pub use crate::aws::client::https_client;

/// Builds a client: credentials from the SDK's default chain (environment,
/// shared config and credentials files with profiles, SSO,
/// `credential_process`, web identity, ECS/EKS container credentials,
/// IMDSv2); region from `options.region`, else the chain, else
/// `options.fallback_region`; the endpoint from `options.endpoint` or
/// `AWS_ENDPOINT_URL`.
pub async fn build_client(options: &S3Options) -> S3Client {
    let shared = load_config(&ClientSettings {
        region: options.region.clone(),
        fallback_region: options.fallback_region.clone(),
        endpoint: options.endpoint.clone(),
        profile: options.profile.clone(),
    })
    .await;
    let mut config = aws_sdk_s3::config::Builder::from(&shared.config);
    if let Some(region) = shared.fallback_region {
        config = config.region(Region::new(region));
    }
    let has_endpoint = shared.config.endpoint_url().is_some();
    config = config
        .force_path_style(options.force_path_style.unwrap_or(has_endpoint))
        // The SHA-256 of each object (or part) is computed when it is
        // spooled and sent as a header; the SDK adds no checksum trailer of
        // its own, which S3-compatible stores do not all accept.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    S3Client {
        client: aws_sdk_s3::Client::from_conf(config.build()),
        credentials: shared.config.credentials_provider(),
    }
}

/// A client with the credentials provider it signs with.
pub struct S3Client {
    /// The S3 client.
    pub client: aws_sdk_s3::Client,
    /// The SDK's credentials chain (`None`: requests are not signed).
    pub credentials: Option<SharedCredentialsProvider>,
}
