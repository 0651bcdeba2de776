//! A named AWS resource that records are sent to (a log group, a delivery
//! stream), written either as its ARN, the form AWS's own flow logs take,
//! or as the short form `SCHEME://NAME`. Each kind of resource is a
//! [`ResourceKind`]; [`AwsResource`] parses and prints every kind the same
//! way.

use std::fmt;
use std::marker::PhantomData;

/// How one kind of resource is written.
pub trait ResourceKind {
    /// The scheme of the short form (`cloudwatch` for `cloudwatch://NAME`).
    const SCHEME: &'static str;
    /// The service of the ARN (`logs`).
    const SERVICE: &'static str;
    /// What stands before the name in the ARN's resource part
    /// (`log-group:`).
    const RESOURCE_PREFIX: &'static str;
    /// A suffix the ARN may carry after the name and that is not part of
    /// it (`:*` on log group ARNs).
    const IGNORED_SUFFIX: Option<&'static str> = None;
    /// What the resource is called in messages (`log group`).
    const WHAT: &'static str;
    /// The rule names follow, for messages.
    const NAME_RULE: &'static str;
    /// The longest name.
    const MAX_NAME_LEN: usize;
    /// Whether `b` may appear in a name besides ASCII letters and digits.
    fn name_byte_ok(b: u8) -> bool;
}

/// A resource of kind `K`, with the Region and account of its ARN when
/// given as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsResource<K> {
    /// The resource's name.
    pub name: String,
    /// The Region of the ARN.
    pub region: Option<String>,
    /// The account of the ARN.
    pub account: Option<String>,
    kind: PhantomData<K>,
}

impl<K: ResourceKind> AwsResource<K> {
    /// Whether `text` is meant as a resource of this kind (its short form,
    /// or an ARN of its service in any partition); [`AwsResource::parse`]
    /// says what is wrong with it.
    pub fn is_meant(text: &str) -> bool {
        text.strip_prefix(K::SCHEME)
            .is_some_and(|rest| rest.starts_with("://"))
            || (text.starts_with("arn:aws") && text.split(':').nth(2) == Some(K::SERVICE))
    }

    /// Parses `arn:PARTITION:SERVICE:REGION:ACCOUNT:PREFIX NAME` or
    /// `SCHEME://NAME`.
    pub fn parse(text: &str) -> Result<AwsResource<K>, String> {
        if let Some(name) = text
            .strip_prefix(K::SCHEME)
            .and_then(|rest| rest.strip_prefix("://"))
        {
            return Self::named(name, None, None);
        }
        let bad = || {
            format!(
                "{text:?} is not a {} ARN (arn:aws:{}:REGION:ACCOUNT:{}NAME) or {}://NAME",
                K::WHAT,
                K::SERVICE,
                K::RESOURCE_PREFIX,
                K::SCHEME
            )
        };
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        let [arn, partition, service, region, account, resource] = parts[..] else {
            return Err(bad());
        };
        if arn != "arn" || !partition.starts_with("aws") || service != K::SERVICE {
            return Err(bad());
        }
        let Some(name) = resource.strip_prefix(K::RESOURCE_PREFIX) else {
            return Err(bad());
        };
        let name = K::IGNORED_SUFFIX
            .and_then(|suffix| name.strip_suffix(suffix))
            .unwrap_or(name);
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!("{text:?}: {region:?} is not a Region code"));
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{text:?}: {account:?} is not a 12-digit account ID"
            ));
        }
        Self::named(name, Some(region), Some(account))
    }

    fn named(
        name: &str,
        region: Option<&str>,
        account: Option<&str>,
    ) -> Result<AwsResource<K>, String> {
        let ok = !name.is_empty()
            && name.len() <= K::MAX_NAME_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || K::name_byte_ok(b));
        if !ok {
            return Err(format!(
                "{name:?} is not a {} name ({})",
                K::WHAT,
                K::NAME_RULE
            ));
        }
        Ok(AwsResource {
            name: name.to_string(),
            region: region.map(str::to_string),
            account: account.map(str::to_string),
            kind: PhantomData,
        })
    }
}

impl<K: ResourceKind> fmt::Display for AwsResource<K> {
    /// The ARN (in the `aws` partition) when parsed from one, else the
    /// short form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.region, &self.account) {
            (Some(r), Some(a)) => write!(
                f,
                "arn:aws:{}:{r}:{a}:{}{}",
                K::SERVICE,
                K::RESOURCE_PREFIX,
                self.name
            ),
            _ => write!(f, "{}://{}", K::SCHEME, self.name),
        }
    }
}
