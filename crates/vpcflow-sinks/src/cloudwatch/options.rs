//! Settings of the CloudWatch Logs client and of the log group.

use std::time::Duration;

use crate::aws::ClientSettings;

/// The retention periods CloudWatch Logs accepts, in days.
pub const RETENTION_DAYS: [i32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Default pause between attempts of a batch that failed with a permanent
/// error: 5 minutes.
pub const DEFAULT_PERMANENT_ERROR_RETRY: Duration = Duration::from_secs(300);

/// Settings of the CloudWatch Logs delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudWatchOptions {
    /// Region, endpoint, profile.
    pub client: ClientSettings,
    /// Create the log group when it is missing (needs `logs:CreateLogGroup`).
    pub create_log_group: bool,
    /// Create log streams when missing (needs `logs:CreateLogStream`; AWS's
    /// own flow logs do).
    pub create_log_stream: bool,
    /// Retention set on the log group (`logs:PutRetentionPolicy`), days.
    pub retention_days: Option<i32>,
    /// KMS key ARN a log group created by vpcflow is encrypted with.
    pub kms_key_id: Option<String>,
    /// Pause before retrying a batch that failed with a permanent error.
    pub permanent_error_retry: Duration,
}

impl Default for CloudWatchOptions {
    fn default() -> Self {
        CloudWatchOptions {
            client: ClientSettings::default(),
            create_log_group: true,
            create_log_stream: true,
            retention_days: None,
            kms_key_id: None,
            permanent_error_retry: DEFAULT_PERMANENT_ERROR_RETRY,
        }
    }
}

impl CloudWatchOptions {
    /// Checks the values the service would refuse; errors start with the
    /// key's name.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(days) = self.retention_days {
            if !RETENTION_DAYS.contains(&days) {
                return Err(format!(
                    "retention_days: {days} is not a retention CloudWatch Logs accepts ({})",
                    RETENTION_DAYS.map(|d| d.to_string()).join(", ")
                ));
            }
        }
        if let Some(key) = &self.kms_key_id {
            let ok = key.starts_with("arn:aws") && key.contains(":kms:") && key.contains(":key/");
            if !ok {
                return Err(format!(
                    "kms_key_id: {key:?} is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID)"
                ));
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_key() {
        assert_eq!(CloudWatchOptions::default().validate(), Ok(()));
        let with = |f: fn(&mut CloudWatchOptions)| {
            let mut o = CloudWatchOptions::default();
            f(&mut o);
            o.validate()
        };
        assert_eq!(with(|o| o.retention_days = Some(3653)), Ok(()));
        assert!(with(|o| o.retention_days = Some(2))
            .unwrap_err()
            .starts_with("retention_days: 2 "));
        assert!(with(|o| o.kms_key_id = Some("alias/x".into()))
            .unwrap_err()
            .starts_with("kms_key_id: "));
        assert_eq!(
            with(|o| o.kms_key_id = Some("arn:aws:kms:us-east-1:123456789012:key/1234abcd".into())),
            Ok(())
        );
        assert!(with(|o| o.client.endpoint = Some("localhost:5000".into()))
            .unwrap_err()
            .starts_with("endpoint_url: "));
        assert!(with(|o| o.permanent_error_retry = Duration::ZERO)
            .unwrap_err()
            .starts_with("permanent_error_retry: "));
    }
}
