//! Settings of the CloudWatch Logs client and of the log group.

use crate::batches::DeliveryOptions;

/// The retention periods CloudWatch Logs accepts, in days.
pub const RETENTION_DAYS: [i32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Settings of the CloudWatch Logs delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudWatchOptions {
    /// Client and retries.
    pub delivery: DeliveryOptions,
    /// Create the log group when it is missing (needs `logs:CreateLogGroup`).
    pub create_log_group: bool,
    /// Create log streams when missing (needs `logs:CreateLogStream`; AWS's
    /// own flow logs do).
    pub create_log_stream: bool,
    /// Retention set on the log group (`logs:PutRetentionPolicy`), days.
    pub retention_days: Option<i32>,
    /// KMS key ARN a log group created by vpcflow is encrypted with.
    pub kms_key_id: Option<String>,
}

impl Default for CloudWatchOptions {
    fn default() -> Self {
        CloudWatchOptions {
            delivery: DeliveryOptions::default(),
            create_log_group: true,
            create_log_stream: true,
            retention_days: None,
            kms_key_id: None,
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
        self.delivery.validate()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
        assert!(
            with(|o| o.delivery.client.endpoint = Some("localhost:5000".into()))
                .unwrap_err()
                .starts_with("endpoint_url: ")
        );
        assert!(with(|o| o.delivery.permanent_error_retry = Duration::ZERO)
            .unwrap_err()
            .starts_with("permanent_error_retry: "));
    }
}
