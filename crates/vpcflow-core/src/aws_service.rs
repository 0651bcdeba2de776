//! `pkt-src-aws-service` / `pkt-dst-aws-service`: the AWS service whose
//! published address range contains an address (spec §1.7).
//!
//! The ranges come from AWS's `ip-ranges.json` (read by the binary); this
//! module only holds them and answers lookups, one longest-prefix match per
//! address in a binary trie per address family.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;

/// The generic service name AWS lists for every Amazon-owned range, besides
/// the specific service (`S3`, `EC2`, …) of many of them.
pub const AMAZON: &str = "AMAZON";

/// AWS service address ranges, for longest-prefix lookups.
///
/// An address gets the service of the most specific range containing it.
/// Several services listing the same range (AWS lists most ranges once as
/// `AMAZON` and once as the specific service) resolve to a specific service
/// rather than `AMAZON` (an S3 address shows `S3`, as in AWS's own example),
/// and among several specific services to the first one inserted.
#[derive(Debug, Clone, Default)]
pub struct AwsServices {
    names: Vec<Box<str>>,
    v4: PrefixMap<Ipv4Net, u16>,
    v6: PrefixMap<Ipv6Net, u16>,
    ranges: usize,
}

/// More distinct service names than a lookup table holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("more than {max} distinct service names", max = u16::MAX)]
pub struct TooManyServices;

impl AwsServices {
    /// An empty table: every lookup finds nothing.
    pub fn new() -> AwsServices {
        AwsServices::default()
    }

    /// Adds the range `net` (host bits are ignored) of `service`.
    pub fn insert(&mut self, net: IpNet, service: &str) -> Result<(), TooManyServices> {
        let id = self.service_id(service)?;
        self.ranges += 1;
        match net.trunc() {
            IpNet::V4(n) => Self::insert_in(&mut self.v4, &self.names, n, id),
            IpNet::V6(n) => Self::insert_in(&mut self.v6, &self.names, n, id),
        }
        Ok(())
    }

    fn insert_in<P: prefix_trie::Prefix>(
        map: &mut PrefixMap<P, u16>,
        names: &[Box<str>],
        net: P,
        id: u16,
    ) {
        match map.get_mut(&net) {
            None => {
                map.insert(net, id);
            }
            // The same range listed again: a specific service replaces AMAZON.
            Some(existing) if &*names[usize::from(*existing)] == AMAZON => *existing = id,
            Some(_) => {}
        }
    }

    fn service_id(&mut self, service: &str) -> Result<u16, TooManyServices> {
        if let Some(i) = self.names.iter().position(|n| &**n == service) {
            return Ok(i as u16);
        }
        let id = u16::try_from(self.names.len()).map_err(|_| TooManyServices)?;
        self.names.push(service.into());
        Ok(id)
    }

    /// The service of the most specific range containing `addr`, `None` when
    /// no range does.
    #[inline]
    pub fn lookup(&self, addr: IpAddr) -> Option<&str> {
        let id = match addr {
            IpAddr::V4(a) => {
                if self.v4.is_empty() {
                    return None;
                }
                *self.v4.get_lpm(&Ipv4Net::from(a)).map(|(_, id)| id)?
            }
            IpAddr::V6(a) => {
                if self.v6.is_empty() {
                    return None;
                }
                *self.v6.get_lpm(&Ipv6Net::from(a)).map(|(_, id)| id)?
            }
        };
        Some(&self.names[usize::from(id)])
    }

    /// Ranges inserted (every entry counts, also one repeating a range).
    pub fn ranges(&self) -> usize {
        self.ranges
    }

    /// Distinct service names.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|n| &**n)
    }

    /// Whether no range was inserted.
    pub fn is_empty(&self) -> bool {
        self.ranges == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(entries: &[(&str, &str)]) -> AwsServices {
        let mut t = AwsServices::new();
        for (net, service) in entries {
            t.insert(net.parse().unwrap(), service).unwrap();
        }
        t
    }

    fn find<'a>(t: &'a AwsServices, addr: &str) -> Option<&'a str> {
        t.lookup(addr.parse().unwrap())
    }

    #[test]
    fn longest_prefix_wins() {
        let t = table(&[
            ("52.94.0.0/16", "AMAZON"),
            ("52.94.5.0/24", "DYNAMODB"),
            ("52.94.0.0/22", "EC2"),
        ]);
        assert_eq!(find(&t, "52.94.5.9"), Some("DYNAMODB"));
        assert_eq!(find(&t, "52.94.1.1"), Some("EC2"));
        assert_eq!(find(&t, "52.94.200.1"), Some("AMAZON"));
        assert_eq!(find(&t, "52.95.0.1"), None);
        assert_eq!(find(&t, "10.0.0.1"), None);
        assert_eq!(t.ranges(), 3);
    }

    #[test]
    fn a_specific_service_beats_amazon_on_the_same_range_in_any_order() {
        let amazon_first = table(&[("52.95.128.0/21", "AMAZON"), ("52.95.128.0/21", "S3")]);
        let s3_first = table(&[("52.95.128.0/21", "S3"), ("52.95.128.0/21", "AMAZON")]);
        for t in [&amazon_first, &s3_first] {
            assert_eq!(find(t, "52.95.128.179"), Some("S3"));
        }
        // Two specific services on one range: the first listed.
        let t = table(&[
            ("15.177.0.0/18", "ROUTE53_HEALTHCHECKS"),
            ("15.177.0.0/18", "EC2"),
            ("15.177.0.0/18", "AMAZON"),
        ]);
        assert_eq!(find(&t, "15.177.1.1"), Some("ROUTE53_HEALTHCHECKS"));
    }

    #[test]
    fn ipv6_and_families_kept_apart() {
        let t = table(&[
            ("2600:1f00::/24", "AMAZON"),
            ("2600:1f18::/33", "EC2"),
            ("0.0.0.0/0", "AMAZON"),
        ]);
        assert_eq!(find(&t, "2600:1f18:1::1"), Some("EC2"));
        assert_eq!(find(&t, "2600:1f00::1"), Some("AMAZON"));
        assert_eq!(
            find(&t, "2001:db8::1"),
            None,
            "an IPv4 range never matches IPv6"
        );
        assert_eq!(find(&t, "198.51.100.1"), Some("AMAZON"));
        assert_eq!(find(&AwsServices::new(), "198.51.100.1"), None);
    }

    #[test]
    fn host_bits_are_ignored_and_hosts_match() {
        let t = table(&[("3.5.140.7/22", "S3"), ("3.5.200.1/32", "EC2")]);
        assert_eq!(find(&t, "3.5.143.255"), Some("S3"));
        assert_eq!(find(&t, "3.5.200.1"), Some("EC2"));
        assert_eq!(find(&t, "3.5.200.2"), None);
        assert_eq!(t.services().collect::<Vec<_>>(), ["S3", "EC2"]);
    }
}
