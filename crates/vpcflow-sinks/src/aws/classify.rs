//! Sorting the failures of AWS calls (S3, CloudWatch Logs, Firehose) into
//! those worth retrying soon and those that need an operator.

use aws_sdk_s3::config::http::HttpResponse as Response;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
// The response type is the smithy runtime's, shared by every SDK crate.

/// How a failed call should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Retry soon with backoff: timeouts, connection errors, 5xx,
    /// throttling.
    Transient,
    /// Needs an operator (credentials, permissions, missing bucket, bad
    /// request); retried at a slow pace.
    Permanent,
    /// HTTP 412: a conditional request found the key taken.
    PreconditionFailed,
    /// HTTP 404 of an object (not of the bucket).
    NotFound,
}

/// A failed S3 call, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// How to handle it.
    pub class: Class,
    /// The S3 error code (`AccessDenied`, `NoSuchBucket`, …) or, without a
    /// response, the kind of failure (`timeout`, `connection`, …).
    pub code: String,
    /// Human-readable detail.
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.message.is_empty() {
            f.write_str(&self.code)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

impl Failure {
    /// A failure that is not an S3 response (local file, all keys taken).
    pub fn new(class: Class, code: &str, message: impl Into<String>) -> Failure {
        Failure {
            class,
            code: code.to_string(),
            message: message.into(),
        }
    }

    /// Whether to retry soon.
    pub fn is_transient(&self) -> bool {
        self.class == Class::Transient
    }
}

/// Error codes that mean "try again later" whatever their status.
const TRANSIENT_CODES: &[&str] = &[
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    // CloudWatch Logs and Firehose: throttled or briefly unavailable.
    "ServiceUnavailableException",
    "InternalFailure",
    "RequestLimitExceeded",
    "TooManyRequests",
    "OperationAborted",
    "ConditionalRequestConflict",
    "XAmzContentSHA256Mismatch",
    "IncompleteBody",
    // The SDK corrects its clock from the response, and refreshes expired
    // credentials, before the next attempt.
    "RequestTimeTooSkewed",
    "ExpiredToken",
];

/// Classifies a response by status and error code.
pub fn classify_response(status: u16, code: Option<&str>) -> Class {
    if code.is_some_and(|c| TRANSIENT_CODES.contains(&c)) {
        return Class::Transient;
    }
    match status {
        412 => Class::PreconditionFailed,
        404 if code.is_none_or(|c| c == "NotFound" || c == "NoSuchKey") => Class::NotFound,
        408 | 429 | 500..=599 => Class::Transient,
        _ => Class::Permanent,
    }
}

/// Classifies an SDK error.
pub fn classify<E>(err: &SdkError<E, Response>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    // Credentials that cannot be loaded arrive as a dispatch or construction
    // failure; retrying soon does not bring them.
    if let Some(c) = super::credentials::credentials_error(err) {
        return Failure::new(
            Class::Permanent,
            "NoCredentials",
            super::credentials::describe(c),
        );
    }
    match err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let meta = service.err();
            let code = meta.code().map(str::to_string);
            Failure {
                class: classify_response(status, code.as_deref()),
                code: code.unwrap_or_else(|| format!("HTTP {status}")),
                message: meta.message().unwrap_or("").to_string(),
            }
        }
        SdkError::TimeoutError(_) => Failure::new(Class::Transient, "timeout", chain(err)),
        SdkError::DispatchFailure(_) => Failure::new(Class::Transient, "connection", chain(err)),
        SdkError::ResponseError(r) => {
            let status = r.raw().status().as_u16();
            let class = match classify_response(status, None) {
                Class::Permanent if status < 300 => Class::Transient,
                other => other,
            };
            Failure::new(class, &format!("HTTP {status}"), chain(err))
        }
        // A request the SDK could not build (credentials missing, bad
        // settings): retrying soon does not help.
        SdkError::ConstructionFailure(_) => {
            Failure::new(Class::Permanent, "request not built", chain(err))
        }
        _ => Failure::new(Class::Transient, "unknown", chain(err)),
    }
}

/// The error and its causes on one line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_responses() {
        use Class::*;
        for (status, code, class) in [
            (403, Some("AccessDenied"), Permanent),
            (403, Some("InvalidAccessKeyId"), Permanent),
            (403, Some("SignatureDoesNotMatch"), Permanent),
            (404, Some("NoSuchBucket"), Permanent),
            (400, Some("InvalidRequest"), Permanent),
            (301, None, Permanent),
            (404, None, NotFound),
            (404, Some("NoSuchKey"), NotFound),
            (412, Some("PreconditionFailed"), PreconditionFailed),
            (500, Some("InternalError"), Transient),
            (503, Some("SlowDown"), Transient),
            (502, None, Transient),
            (429, None, Transient),
            (408, None, Transient),
            (400, Some("RequestTimeout"), Transient),
            // The checksum sent does not match the body: the spooled file
            // changed, which needs an operator.
            (400, Some("BadDigest"), Permanent),
            (400, Some("InvalidDigest"), Permanent),
            (409, Some("ConditionalRequestConflict"), Transient),
            (403, Some("RequestTimeTooSkewed"), Transient),
            (400, Some("ExpiredToken"), Transient),
        ] {
            assert_eq!(classify_response(status, code), class, "{status} {code:?}");
        }
    }
}
