//! Settings of the S3 client and of each upload.

use std::time::Duration;

use crate::batches::{check_endpoint, DEFAULT_PERMANENT_ERROR_RETRY};

/// The canned ACL sent with each object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Acl {
    /// `x-amz-acl: bucket-owner-full-control`, as AWS sends for flow logs
    /// delivered to another account's bucket.
    #[default]
    BucketOwnerFullControl,
    /// No ACL header (buckets with ACLs disabled accept either).
    None,
}

impl std::str::FromStr for Acl {
    type Err = String;
    fn from_str(s: &str) -> Result<Acl, String> {
        match s {
            "bucket-owner-full-control" => Ok(Acl::BucketOwnerFullControl),
            "none" => Ok(Acl::None),
            _ => Err(format!(
                "{s:?} is not an ACL: use \"bucket-owner-full-control\" or \"none\""
            )),
        }
    }
}

/// Server-side encryption requested for each object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sse {
    /// SSE-S3 (`AES256`).
    S3,
    /// SSE-KMS with this key ARN.
    Kms(String),
}

impl Sse {
    /// Builds the setting from the `sse` and `sse_kms_key_id` options.
    pub fn from_options(sse: Option<&str>, kms_key: Option<&str>) -> Result<Option<Sse>, String> {
        match (sse, kms_key) {
            (None, None) => Ok(None),
            (Some("AES256"), None) => Ok(Some(Sse::S3)),
            (Some("AES256"), Some(_)) => {
                Err("sse_kms_key_id: only allowed with sse = \"aws:kms\"".into())
            }
            (Some("aws:kms"), Some(key)) => {
                check_kms_key_arn(key)?;
                Ok(Some(Sse::Kms(key.to_string())))
            }
            (Some("aws:kms"), None) => {
                Err("sse_kms_key_id: required with sse = \"aws:kms\" (the key's ARN)".into())
            }
            (None, Some(_)) => Err("sse_kms_key_id: needs sse = \"aws:kms\"".into()),
            (Some(other), _) => Err(format!(
                "sse: {other:?} is not supported: use \"AES256\" or \"aws:kms\""
            )),
        }
    }
}

/// Checks that `key` is a KMS key ARN:
/// `arn:<partition>:kms:<region>:<account>:key/<id>` (or `alias/<name>`).
fn check_kms_key_arn(key: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "sse_kms_key_id: {key:?} is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID)"
        )
    };
    let parts: Vec<&str> = key.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return Err(bad());
    };
    let resource_ok = resource
        .strip_prefix("key/")
        .or_else(|| resource.strip_prefix("alias/"))
        .is_some_and(|id| !id.is_empty());
    if arn != "arn"
        || !partition.starts_with("aws")
        || service != "kms"
        || region.is_empty()
        || account.len() != 12
        || !account.bytes().all(|b| b.is_ascii_digit())
        || !resource_ok
    {
        return Err(bad());
    }
    Ok(())
}

/// Default size above which objects are sent in parts: 16 MiB.
pub const DEFAULT_MULTIPART_THRESHOLD: u64 = 16 << 20;
/// Default part size: 8 MiB.
pub const DEFAULT_MULTIPART_PART_SIZE: u64 = 8 << 20;
/// The smallest part size S3 accepts (except for the last part).
pub const MIN_PART_SIZE: u64 = 5 << 20;
/// Default objects uploaded at once.
pub const DEFAULT_MAX_CONCURRENT_UPLOADS: usize = 4;

/// Settings of the S3 client and uploads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Options {
    /// Region; else the SDK's chain (`AWS_REGION`, profile); else
    /// `fallback_region`.
    pub region: Option<String>,
    /// Region used when neither `region` nor the SDK chain gives one (the
    /// flow log's region).
    pub fallback_region: Option<String>,
    /// Endpoint URL of an S3-compatible store (`AWS_ENDPOINT_URL` is also
    /// honoured through the SDK).
    pub endpoint: Option<String>,
    /// Shared config/credentials profile.
    pub profile: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`); defaults to true when
    /// an endpoint is set.
    pub force_path_style: Option<bool>,
    /// Canned ACL.
    pub acl: Acl,
    /// Server-side encryption.
    pub sse: Option<Sse>,
    /// Storage class (`STANDARD`, `STANDARD_IA`, …).
    pub storage_class: Option<String>,
    /// Objects larger than this are sent with a multipart upload.
    pub multipart_threshold: u64,
    /// Part size of multipart uploads.
    pub multipart_part_size: u64,
    /// Objects uploaded at once.
    pub max_concurrent_uploads: usize,
    /// Pause before retrying an object that failed with a permanent error.
    pub permanent_error_retry: Duration,
}

impl Default for S3Options {
    fn default() -> Self {
        S3Options {
            region: None,
            fallback_region: None,
            endpoint: None,
            profile: None,
            force_path_style: None,
            acl: Acl::default(),
            sse: None,
            storage_class: None,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            multipart_part_size: DEFAULT_MULTIPART_PART_SIZE,
            max_concurrent_uploads: DEFAULT_MAX_CONCURRENT_UPLOADS,
            permanent_error_retry: DEFAULT_PERMANENT_ERROR_RETRY,
        }
    }
}

impl S3Options {
    /// Checks the values that the SDK would only refuse at upload time.
    pub fn validate(&self) -> Result<(), String> {
        if self.multipart_part_size < MIN_PART_SIZE {
            return Err(format!(
                "multipart_part_size: {} is below the 5 MiB ({MIN_PART_SIZE}) minimum of S3",
                self.multipart_part_size
            ));
        }
        if self.multipart_threshold < self.multipart_part_size {
            return Err(format!(
                "multipart_threshold: {} is below multipart_part_size ({})",
                self.multipart_threshold, self.multipart_part_size
            ));
        }
        if self.max_concurrent_uploads == 0 {
            return Err("max_concurrent_uploads: must be at least 1".into());
        }
        if let Some(class) = &self.storage_class {
            if class.is_empty() || !class.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
                return Err(format!(
                    "storage_class: {class:?} is not a storage class (STANDARD, STANDARD_IA, INTELLIGENT_TIERING, …)"
                ));
            }
        }
        if let Some(endpoint) = &self.endpoint {
            check_endpoint("endpoint", endpoint)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_settings() {
        assert_eq!(Sse::from_options(None, None), Ok(None));
        assert_eq!(Sse::from_options(Some("AES256"), None), Ok(Some(Sse::S3)));
        let arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(
            Sse::from_options(Some("aws:kms"), Some(arn)),
            Ok(Some(Sse::Kms(arn.into())))
        );
        for (sse, key, reason) in [
            (Some("aws:kms"), None, "required"),
            (Some("aws:kms"), Some("1234abcd"), "not a KMS key ARN"),
            (
                Some("aws:kms"),
                Some("arn:aws:kms:us-east-1:12:key/x"),
                "not a KMS key ARN",
            ),
            (
                Some("aws:kms"),
                Some("arn:aws:s3:us-east-1:123456789012:key/x"),
                "not a KMS",
            ),
            (Some("AES256"), Some(arn), "only allowed"),
            (None, Some(arn), "needs sse"),
            (Some("aes256"), None, "not supported"),
        ] {
            let e = Sse::from_options(sse, key).unwrap_err();
            assert!(e.contains(reason), "{sse:?} {key:?}: {e}");
        }
    }

    #[test]
    fn validation() {
        assert_eq!(S3Options::default().validate(), Ok(()));
        let o = |f: fn(&mut S3Options)| {
            let mut o = S3Options::default();
            f(&mut o);
            o.validate().unwrap_err()
        };
        assert!(o(|o| o.multipart_part_size = 1 << 20).contains("5 MiB"));
        assert!(o(|o| o.multipart_threshold = 6 << 20).contains("below multipart_part_size"));
        assert!(o(|o| o.max_concurrent_uploads = 0).contains("at least 1"));
        assert!(o(|o| o.storage_class = Some("cold".into())).contains("storage_class"));
        assert!(o(|o| o.endpoint = Some("localhost:3900".into())).contains("http://"));
        assert_eq!("none".parse::<Acl>(), Ok(Acl::None));
        assert!("private".parse::<Acl>().is_err());
    }
}
