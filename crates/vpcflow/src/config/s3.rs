//! `[output.s3]`, the spool folder and its size limit: the S3 destination's
//! part of the configuration, validated into [`S3Settings`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use serde::Deserialize;
use vpcflow_core::layout::Prefix;
use vpcflow_sinks::s3::{Acl, S3Destination, S3Options, Sse};
use vpcflow_sinks::spool::DEFAULT_SPOOL_MAX_BYTES;

use super::flags::DestinationFlags;
use super::state_home::default_dir;
use super::typed;
use super::validate::{check_max, max};

/// `[output.s3]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Section {
    /// Endpoint URL of an S3-compatible store.
    pub endpoint: Option<String>,
    /// Region of the bucket.
    pub region: Option<String>,
    /// Profile of the shared config and credentials files.
    pub profile: Option<String>,
    /// Path-style addressing (default: true when an endpoint is set).
    pub force_path_style: Option<bool>,
    /// "bucket-owner-full-control" (default) or "none".
    #[serde(default, deserialize_with = "typed::optional")]
    pub acl: Option<Acl>,
    /// "AES256" or "aws:kms".
    pub sse: Option<SseAlgorithm>,
    /// KMS key ARN, with `sse = "aws:kms"`.
    pub sse_kms_key_id: Option<String>,
    /// Storage class (STANDARD, STANDARD_IA, …).
    pub storage_class: Option<StorageClass>,
    /// Bytes above which an object is sent in parts.
    pub multipart_threshold: Option<u64>,
    /// Part size of multipart uploads.
    pub multipart_part_size: Option<u64>,
    /// Objects uploaded at once.
    pub max_concurrent_uploads: Option<usize>,
    /// Seconds `vpcflow run` waits for deliveries at shutdown.
    pub shutdown_timeout: Option<u64>,
    /// Seconds between attempts of an object that fails with a permanent error.
    pub permanent_error_retry: Option<u64>,
}

/// The server-side encryption algorithm of `output.s3.sse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum SseAlgorithm {
    /// SSE-S3.
    #[serde(rename = "AES256")]
    Aes256,
    /// SSE-KMS (with `sse_kms_key_id`).
    #[serde(rename = "aws:kms")]
    AwsKms,
}

impl SseAlgorithm {
    /// The name S3 uses.
    pub fn as_str(self) -> &'static str {
        match self {
            SseAlgorithm::Aes256 => "AES256",
            SseAlgorithm::AwsKms => "aws:kms",
        }
    }
}

/// The S3 storage classes an object can be written in (`output.s3.storage_class`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)] // S3's own names
pub enum StorageClass {
    Standard,
    ReducedRedundancy,
    StandardIa,
    OnezoneIa,
    IntelligentTiering,
    Glacier,
    GlacierIr,
    DeepArchive,
    Outposts,
    Snow,
    ExpressOnezone,
}

impl StorageClass {
    /// The name S3 uses.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageClass::Standard => "STANDARD",
            StorageClass::ReducedRedundancy => "REDUCED_REDUNDANCY",
            StorageClass::StandardIa => "STANDARD_IA",
            StorageClass::OnezoneIa => "ONEZONE_IA",
            StorageClass::IntelligentTiering => "INTELLIGENT_TIERING",
            StorageClass::Glacier => "GLACIER",
            StorageClass::GlacierIr => "GLACIER_IR",
            StorageClass::DeepArchive => "DEEP_ARCHIVE",
            StorageClass::Outposts => "OUTPOSTS",
            StorageClass::Snow => "SNOW",
            StorageClass::ExpressOnezone => "EXPRESS_ONEZONE",
        }
    }
}

/// Default wait for deliveries when `vpcflow run` stops.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Validated S3 delivery settings.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// Client and upload settings.
    pub options: S3Options,
    /// The spool folder.
    pub spool_dir: PathBuf,
    /// Size limit of the spool.
    pub spool_max_bytes: u64,
    /// Wait for deliveries when `vpcflow run` stops.
    pub shutdown_timeout: Duration,
}

/// Parses the destination `out` (an `s3://` URL or bucket ARN) and checks its
/// folder against the configured `prefix`: the URL's folder is the key
/// prefix, and a different `output.prefix` is an error.
pub fn destination(out: &str, prefix: &Prefix, prefix_given: bool) -> Result<S3Destination> {
    let dest = S3Destination::parse(out).map_err(|e| anyhow!("output.out: {e}"))?;
    if dest.prefix.as_str().is_empty() {
        return Ok(S3Destination {
            prefix: prefix.clone(),
            ..dest
        });
    }
    if prefix_given && prefix != &dest.prefix {
        bail!(
            "output.prefix: {:?} differs from the folder {:?} of output.out {out:?}; give the prefix in one place",
            prefix.as_str(),
            dest.prefix.as_str()
        );
    }
    Ok(dest)
}

/// Validates `[output.s3]`, the spool settings and the flags.
pub fn s3_settings(
    section: &S3Section,
    spool_dir: Option<&Path>,
    spool_max_bytes: Option<u64>,
    flags: &DestinationFlags,
    flow_log_region: &str,
) -> Result<S3Settings> {
    let key = |k: &str| format!("output.s3.{k}");
    let sse = Sse::from_options(
        section.sse.map(SseAlgorithm::as_str),
        section.sse_kms_key_id.as_deref(),
    )
    .map_err(|e| anyhow!("output.s3.{e}"))?;
    let defaults = S3Options::default();
    let options = S3Options {
        region: flags.s3_region.clone().or_else(|| section.region.clone()),
        fallback_region: Some(flow_log_region.to_string()),
        endpoint: flags
            .s3_endpoint
            .clone()
            .or_else(|| section.endpoint.clone()),
        profile: section.profile.clone(),
        force_path_style: section.force_path_style,
        acl: section.acl.unwrap_or_default(),
        sse,
        storage_class: section.storage_class.map(|c| c.as_str().to_string()),
        multipart_threshold: section
            .multipart_threshold
            .unwrap_or(defaults.multipart_threshold),
        multipart_part_size: section
            .multipart_part_size
            .unwrap_or(defaults.multipart_part_size),
        max_concurrent_uploads: section
            .max_concurrent_uploads
            .unwrap_or(defaults.max_concurrent_uploads),
        permanent_error_retry: section
            .permanent_error_retry
            .map_or(defaults.permanent_error_retry, Duration::from_secs),
    };
    options.validate().map_err(|e| anyhow!("output.s3.{e}"))?;
    if options.permanent_error_retry.is_zero() {
        bail!(
            "{}: must be at least 1 second",
            key("permanent_error_retry")
        );
    }
    check_max(
        &key("multipart_threshold"),
        options.multipart_threshold,
        max::OBJECT_BYTES,
        "bytes",
    )?;
    check_max(
        &key("multipart_part_size"),
        options.multipart_part_size,
        max::PART_BYTES,
        "bytes",
    )?;
    check_max(
        &key("max_concurrent_uploads"),
        options.max_concurrent_uploads as u64,
        max::CONCURRENT_UPLOADS,
        "",
    )?;
    check_max(
        &key("permanent_error_retry"),
        options.permanent_error_retry.as_secs(),
        max::DAY_SECS,
        "s",
    )?;
    if let Some(secs) = section.shutdown_timeout {
        check_max(&key("shutdown_timeout"), secs, max::DAY_SECS, "s")?;
    }
    if let Some(region) = &options.region {
        if region.is_empty() {
            bail!("{}: must not be empty", key("region"));
        }
    }
    let spool_max_bytes = spool_max_bytes.unwrap_or(DEFAULT_SPOOL_MAX_BYTES);
    // Any positive limit works: an object bigger than it is still admitted
    // into an empty spool.
    if spool_max_bytes == 0 {
        bail!("output.spool_max_bytes: must be positive");
    }
    check_max(
        "output.spool_max_bytes",
        spool_max_bytes,
        max::SPOOL_BYTES,
        "bytes",
    )?;
    let spool_dir = spool_root(flags, spool_dir)?;
    Ok(S3Settings {
        options,
        spool_dir,
        spool_max_bytes,
        shutdown_timeout: section
            .shutdown_timeout
            .map_or(DEFAULT_SHUTDOWN_TIMEOUT, Duration::from_secs),
    })
}

/// The spool folder: `--spool`, else `output.spool_dir`, else the default.
/// The first S3 destination spools there; every other destination in a
/// folder of its own below it.
pub fn spool_root(flags: &DestinationFlags, spool_dir: Option<&Path>) -> Result<PathBuf> {
    match flags.spool.as_deref().or(spool_dir) {
        Some(dir) if dir.as_os_str().is_empty() => bail!("output.spool_dir: must not be empty"),
        Some(dir) => Ok(dir.to_path_buf()),
        None => default_spool_dir(),
    }
}

/// `$STATE_DIRECTORY/spool` under systemd (`StateDirectory=`), else
/// `/var/spool/vpcflow` for root, else `$XDG_STATE_HOME/vpcflow/spool`
/// (`~/.local/state/vpcflow/spool`).
pub fn default_spool_dir() -> Result<PathBuf> {
    default_dir(
        "spool",
        "/var/spool/vpcflow",
        "output.spool_dir",
        "give --spool DIR",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(p: &str) -> Prefix {
        Prefix::new(p).unwrap()
    }

    #[test]
    fn url_folder_is_the_prefix_and_a_different_one_is_refused() {
        let d = destination("s3://bkt/logs/", &Prefix::default(), false).unwrap();
        assert_eq!((d.bucket.as_str(), d.prefix.as_str()), ("bkt", "logs"));
        let d = destination("s3://bkt", &prefix("mine"), true).unwrap();
        assert_eq!(d.prefix.as_str(), "mine");
        let d = destination("arn:aws:s3:::bkt/logs", &prefix("logs/"), true).unwrap();
        assert_eq!(d.prefix.as_str(), "logs");
        let e = destination("s3://bkt/logs/", &prefix("other"), true).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("output.prefix: \"other\" differs"),
            "{e}"
        );
        let e = destination("s3://BKT/", &Prefix::default(), false).unwrap_err();
        assert!(e.to_string().starts_with("output.out: "), "{e}");
        let e = destination("s3://bkt/AWSLogs/", &Prefix::default(), false).unwrap_err();
        assert!(e.to_string().contains("AWSLogs is reserved"), "{e}");
    }

    #[test]
    fn section_values_are_checked_with_their_key() {
        let flags = DestinationFlags {
            spool: Some("/tmp/s".into()),
            ..DestinationFlags::default()
        };
        let ok = s3_settings(&S3Section::default(), None, None, &flags, "eu-west-1").unwrap();
        assert_eq!(ok.spool_dir, PathBuf::from("/tmp/s"));
        assert_eq!(ok.spool_max_bytes, DEFAULT_SPOOL_MAX_BYTES);
        assert_eq!(ok.options.fallback_region.as_deref(), Some("eu-west-1"));
        assert_eq!(ok.shutdown_timeout, DEFAULT_SHUTDOWN_TIMEOUT);
        let err = |s: S3Section| {
            s3_settings(&s, None, None, &flags, "eu-west-1")
                .unwrap_err()
                .to_string()
        };
        let e = err(S3Section {
            sse: Some(SseAlgorithm::AwsKms),
            sse_kms_key_id: Some("alias".into()),
            ..S3Section::default()
        });
        assert!(e.starts_with("output.s3.sse_kms_key_id: "), "{e}");
        let e = err(S3Section {
            multipart_part_size: Some(1000),
            ..S3Section::default()
        });
        assert!(e.starts_with("output.s3.multipart_part_size: "), "{e}");
        let e = err(S3Section {
            endpoint: Some("127.0.0.1:3900".into()),
            ..S3Section::default()
        });
        assert!(e.starts_with("output.s3.endpoint: "), "{e}");
        let e = s3_settings(&S3Section::default(), None, Some(0), &flags, "x")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("output.spool_max_bytes: "), "{e}");
    }
}
