//! Before the first upload: are there credentials at all, and does the
//! bucket exist? Missing credentials are a permanent error that names where
//! the SDK looked, not a failure to retry for ever.

use aws_sdk_s3::error::SdkError;

use super::classify::{classify, Class};
use super::client::S3Client;

pub use crate::aws::credentials::RESOLVE_TIMEOUT;

/// Resolves the client's credentials once: `Err` with a message naming where
/// the SDK looked when there are none (or they cannot be loaded).
pub async fn check_credentials(client: &S3Client) -> Result<(), String> {
    crate::aws::credentials::check(client.credentials.as_ref()).await
}

/// What `HeadBucket` says of `bucket`: `Err` when it does not exist (a
/// permanent error); anything else (found, access denied to HeadBucket,
/// unreachable for now) lets the delivery go on and find out per object.
pub async fn check_bucket(client: &S3Client, bucket: &str) -> Result<(), String> {
    match client.client.head_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(SdkError::ServiceError(service)) if service.raw().status().as_u16() == 404 => Err(
            format!("the bucket {bucket} does not exist (HeadBucket: 404)"),
        ),
        Err(e) => {
            let failure = classify(&e);
            if failure.class == Class::Permanent {
                tracing::debug!(bucket, error = %failure, "HeadBucket refused; the delivery finds out per object");
            }
            Ok(())
        }
    }
}
