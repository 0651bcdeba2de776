//! CIDR blocks (IPv4 and IPv6) and whether an address falls inside one.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An IPv4 or IPv6 CIDR block such as `10.0.0.0/8` or `2001:db8::/32`.
///
/// An IPv4 block never contains an IPv6 address and the other way round
/// (IPv4-mapped IPv6 addresses included), as in AWS rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The network bits, IPv4 in the low 32 bits.
    network: u128,
    /// The prefix mask over the same bits.
    mask: u128,
    v6: bool,
    prefix: u8,
}

/// Why a CIDR block could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// No `/` prefix length.
    #[error("{0:?} is not a CIDR block (ADDRESS/PREFIX)")]
    NoPrefix(String),
    /// The address part is not an IP address.
    #[error("{0:?} is not an IP address")]
    BadAddress(String),
    /// The prefix length is not a number or too long for the family.
    #[error("prefix length {0:?} must be 0-32 for IPv4, 0-128 for IPv6")]
    BadPrefix(String),
    /// Bits are set after the prefix (`10.0.0.1/8`).
    #[error("{0:?} has host bits set after the prefix (the network is {1})")]
    HostBits(String, String),
}

#[inline(always)]
fn bits(a: IpAddr) -> (u128, bool) {
    match a {
        IpAddr::V4(v4) => (u128::from(v4.to_bits()), false),
        IpAddr::V6(v6) => (v6.to_bits(), true),
    }
}

impl Cidr {
    /// The block of `addr` with `prefix` leading bits (host bits are cleared).
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Cidr> {
        let (b, v6) = bits(addr);
        let width: u8 = if v6 { 128 } else { 32 };
        if prefix > width {
            return None;
        }
        let mask = if prefix == 0 {
            0
        } else {
            let ones = u128::MAX << (128 - u32::from(prefix));
            if v6 {
                ones
            } else {
                ones >> 96
            }
        };
        Some(Cidr {
            network: b & mask,
            mask,
            v6,
            prefix,
        })
    }

    /// Whether `addr` is inside the block.
    #[inline(always)]
    pub fn contains(&self, addr: IpAddr) -> bool {
        let (b, v6) = bits(addr);
        v6 == self.v6 && b & self.mask == self.network
    }

    /// Whether this is an IPv6 block.
    pub fn is_ipv6(&self) -> bool {
        self.v6
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let addr: IpAddr = if self.v6 {
            std::net::Ipv6Addr::from(self.network).into()
        } else {
            std::net::Ipv4Addr::from(self.network as u32).into()
        };
        write!(f, "{addr}/{}", self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| CidrError::NoPrefix(s.to_string()))?;
        let addr: IpAddr = a
            .parse()
            .map_err(|_| CidrError::BadAddress(a.to_string()))?;
        let prefix: u8 = Some(p)
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| CidrError::BadPrefix(p.to_string()))?;
        let cidr = Cidr::new(addr, prefix).ok_or_else(|| CidrError::BadPrefix(p.to_string()))?;
        if bits(addr).0 != cidr.network {
            return Err(CidrError::HostBits(s.to_string(), cidr.to_string()));
        }
        Ok(cidr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn v4_blocks() {
        assert!(c("10.0.0.0/8").contains(ip("10.255.1.2")));
        assert!(!c("10.0.0.0/8").contains(ip("11.0.0.0")));
        assert!(c("0.0.0.0/0").contains(ip("203.0.113.5")));
        assert!(c("192.168.1.7/32").contains(ip("192.168.1.7")));
        assert!(!c("192.168.1.7/32").contains(ip("192.168.1.6")));
        assert!(c("172.16.0.0/12").contains(ip("172.31.255.255")));
        assert!(!c("172.16.0.0/12").contains(ip("172.32.0.0")));
    }

    #[test]
    fn v6_blocks_and_families_apart() {
        assert!(c("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
        assert!(!c("2001:db8::/32").contains(ip("2001:db9::1")));
        assert!(c("::/0").contains(ip("fe80::1")));
        assert!(!c("::/0").contains(ip("10.0.0.1")));
        assert!(!c("0.0.0.0/0").contains(ip("::ffff:10.0.0.1")));
        assert!(c("fd00::1/128").contains(ip("fd00::1")));
    }

    #[test]
    fn parse_errors() {
        assert!(matches!(
            "10.0.0.0".parse::<Cidr>(),
            Err(CidrError::NoPrefix(_))
        ));
        assert!(matches!(
            "10.0.0/8".parse::<Cidr>(),
            Err(CidrError::BadAddress(_))
        ));
        assert!(matches!(
            "10.0.0.0/33".parse::<Cidr>(),
            Err(CidrError::BadPrefix(_))
        ));
        assert!(matches!(
            "::/129".parse::<Cidr>(),
            Err(CidrError::BadPrefix(_))
        ));
        assert!(matches!(
            "10.0.0.0/+8".parse::<Cidr>(),
            Err(CidrError::BadPrefix(_))
        ));
        assert!(matches!(
            "10.0.0.1/8".parse::<Cidr>(),
            Err(CidrError::HostBits(..))
        ));
        assert_eq!(c("2001:db8::/32").to_string(), "2001:db8::/32");
        assert_eq!(c("10.1.0.0/16").to_string(), "10.1.0.0/16");
    }
}
