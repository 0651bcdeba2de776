//! Telling credential failures apart: the error of a credentials provider,
//! found in the causes of any SDK error, and one line saying where the SDK
//! looked.

use aws_credential_types::provider::error::CredentialsError;

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
