//! Telling credential failures apart: the error of a credentials provider,
//! found in the causes of any SDK error, and one line saying where the SDK
//! looked.

use std::time::Duration;

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};

/// How long resolving the credentials may take (the chain may ask the
/// instance metadata service, an SSO portal, a `credential_process`).
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Resolves credentials once: `Err` with a message naming where the SDK
/// looked when there are none (or they cannot be loaded).
pub async fn check(provider: Option<&SharedCredentialsProvider>) -> Result<(), String> {
    let Some(provider) = provider else {
        return Err(format!(
            "no AWS credentials provider: {WHERE_THE_SDK_LOOKED}"
        ));
    };
    match tokio::time::timeout(RESOLVE_TIMEOUT, provider.provide_credentials()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(describe(&e)),
        Err(_) => Err(format!(
            "loading AWS credentials took more than {} s; the SDK looked in {WHERE_THE_SDK_LOOKED}",
            RESOLVE_TIMEOUT.as_secs()
        )),
    }
}

/// Where the SDK's default chain looks, for the error message.
pub const WHERE_THE_SDK_LOOKED: &str = "the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE), the shared config and credentials files (~/.aws/config, ~/.aws/credentials, or AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE, with output.s3.profile), SSO and credential_process of that profile, web identity (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN), the ECS/EKS container credentials endpoint and the EC2 instance metadata service (IMDSv2)";

/// The message of a credentials error with its causes.
pub fn describe(e: &CredentialsError) -> String {
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause.push_str(": ");
        // The SDK lists the providers it tried on lines of their own: one
        // line here, for logs.
        let text = s.to_string();
        let parts: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        cause.push_str(&parts.join("; "));
        source = s.source();
    }
    let what = match e {
        CredentialsError::CredentialsNotLoaded(_) => "no AWS credentials found",
        CredentialsError::ProviderTimedOut(_) => "loading AWS credentials timed out",
        CredentialsError::InvalidConfiguration(_) => "the AWS credentials configuration is invalid",
        CredentialsError::ProviderError(_) => "the AWS credentials provider failed",
        _ => "AWS credentials cannot be loaded",
    };
    format!("{what}{cause}; the SDK looked in {WHERE_THE_SDK_LOOKED}")
}

/// Whether an SDK error (of any call) was caused by credentials that could
/// not be loaded.
pub fn credentials_error<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a CredentialsError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(c) = e.downcast_ref::<CredentialsError>() {
            return Some(c);
        }
        source = e.source();
    }
    None
}
