//! Settings of the Firehose client.

use std::time::Duration;

use crate::aws::ClientSettings;

/// Default pause between attempts of a batch that failed with a permanent
/// error: 5 minutes.
pub const DEFAULT_PERMANENT_ERROR_RETRY: Duration = Duration::from_secs(300);

/// Settings of the Firehose delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirehoseOptions {
    /// Region, endpoint, profile.
    pub client: ClientSettings,
    /// Pause before retrying a batch that failed with a permanent error.
    pub permanent_error_retry: Duration,
}

impl Default for FirehoseOptions {
    fn default() -> Self {
        FirehoseOptions {
            client: ClientSettings::default(),
            permanent_error_retry: DEFAULT_PERMANENT_ERROR_RETRY,
        }
    }
}

impl FirehoseOptions {
    /// Checks the values; errors start with the key's name.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(endpoint) = &self.client.endpoint {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                return Err(format!(
                    "endpoint_url: {endpoint:?} must be a URL starting with http:// or https://"
                ));
            }
        }
        if self.permanent_error_retry.is_zero() {
            return Err("permanent_error_retry: must be at least 1 second".into());
        }
        Ok(())
    }
}
