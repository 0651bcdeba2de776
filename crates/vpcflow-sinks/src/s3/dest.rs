//! The destination of an S3 delivery, given as AWS gives it for flow logs:
//! `s3://bucket/prefix/` or `arn:aws:s3:::bucket/prefix/`.

use std::fmt;

use vpcflow_core::layout::Prefix;

/// A bucket and the key prefix (folder) inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Destination {
    /// The bucket name.
    pub bucket: String,
    /// The key prefix (empty when the objects go to the bucket's root).
    pub prefix: Prefix,
}

impl S3Destination {
    /// Whether `text` looks like an S3 destination (and so must parse as one).
    pub fn is_s3(text: &str) -> bool {
        text.starts_with("s3://") || text.starts_with("arn:")
    }

    /// Parses `s3://bucket[/prefix/]` or `arn:<partition>:s3:::bucket[/prefix/]`.
    pub fn parse(text: &str) -> Result<S3Destination, String> {
        let rest = if let Some(rest) = text.strip_prefix("s3://") {
            rest
        } else if let Some(arn) = text.strip_prefix("arn:") {
            let mut parts = arn.splitn(5, ':');
            let partition = parts.next().unwrap_or("");
            let service = parts.next().unwrap_or("");
            let region = parts.next();
            let account = parts.next();
            let resource = parts.next();
            if !partition.starts_with("aws") || service != "s3" {
                return Err(format!(
                    "{text:?} is not an S3 bucket ARN (arn:aws:s3:::bucket/prefix/)"
                ));
            }
            match (region, account, resource) {
                (Some(""), Some(""), Some(resource)) => resource,
                _ => {
                    return Err(format!(
                        "{text:?}: a bucket ARN has empty region and account fields (arn:aws:s3:::bucket/prefix/)"
                    ))
                }
            }
        } else {
            return Err(format!(
                "{text:?} is not an S3 destination (s3://bucket/prefix/ or arn:aws:s3:::bucket/prefix/)"
            ));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        check_bucket(bucket)
            .map_err(|reason| format!("{text:?}: bucket name {bucket:?} {reason}"))?;
        let prefix = Prefix::new(prefix).map_err(|e| format!("{text:?}: {e}"))?;
        Ok(S3Destination {
            bucket: bucket.to_string(),
            prefix,
        })
    }
}

impl fmt::Display for S3Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/", self.bucket)?;
        if !self.prefix.as_str().is_empty() {
            write!(f, "{}/", self.prefix.as_str())?;
        }
        Ok(())
    }
}

/// The S3 rules for general purpose bucket names; the reason when broken.
fn check_bucket(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("is missing");
    }
    if !(3..=63).contains(&name.len()) {
        return Err("must be 3 to 63 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err("may only contain lower-case letters, digits, dots and hyphens");
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(name.as_bytes()[0]) || !alnum(name.as_bytes()[name.len() - 1]) {
        return Err("must begin and end with a letter or digit");
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return Err("must not contain two adjacent dots or a dot next to a hyphen");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err("must not be formatted as an IP address");
    }
    if name.starts_with("xn--") || name.starts_with("sthree-") {
        return Err("must not begin with xn-- or sthree-");
    }
    if name.ends_with("-s3alias") || name.ends_with("--ol-s3") {
        return Err("must not end with -s3alias or --ol-s3");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> (String, String) {
        let d = S3Destination::parse(text).unwrap();
        (d.bucket, d.prefix.as_str().to_string())
    }

    #[test]
    fn parses_both_forms() {
        assert_eq!(ok("s3://my-bucket"), ("my-bucket".into(), "".into()));
        assert_eq!(ok("s3://my-bucket/"), ("my-bucket".into(), "".into()));
        assert_eq!(
            ok("s3://my-bucket/a/b/"),
            ("my-bucket".into(), "a/b".into())
        );
        assert_eq!(
            ok("arn:aws:s3:::my.bucket/logs/"),
            ("my.bucket".into(), "logs".into())
        );
        assert_eq!(ok("arn:aws-us-gov:s3:::b12"), ("b12".into(), "".into()));
        assert_eq!(
            S3Destination::parse("arn:aws:s3:::bkt/x")
                .unwrap()
                .to_string(),
            "s3://bkt/x/"
        );
    }

    #[test]
    fn refuses_bad_destinations_with_a_reason() {
        for (text, reason) in [
            ("s3://", "is missing"),
            ("s3://ab", "3 to 63"),
            ("s3://My-Bucket/", "lower-case"),
            ("s3://-bucket", "begin and end"),
            ("s3://a..b", "adjacent dots"),
            ("s3://192.168.1.1", "IP address"),
            ("s3://xn--abc", "xn--"),
            ("s3://bucket/AWSLogs/", "AWSLogs is reserved"),
            ("s3://bucket/a//b", "empty folder"),
            ("arn:aws:s3:us-east-1::bucket", "empty region and account"),
            ("arn:aws:ec2:::bucket", "not an S3 bucket ARN"),
            ("https://bucket", "not an S3 destination"),
        ] {
            let e = S3Destination::parse(text).unwrap_err();
            assert!(e.contains(reason), "{text}: {e}");
        }
        assert!(S3Destination::is_s3("s3://x"));
        assert!(S3Destination::is_s3("arn:aws:s3:::x"));
        assert!(!S3Destination::is_s3("./flowlogs"));
    }
}
