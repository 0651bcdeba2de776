//! VPC Block Public Access: traffic between an interface and public
//! addresses is rejected with `reject-reason` `BPA`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The Block Public Access mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BpaMode {
    /// No blocking.
    #[default]
    Off,
    /// Traffic with public addresses is rejected in both directions.
    Bidirectional,
    /// Traffic from public addresses is rejected, except responses of
    /// connections the interface opened itself.
    Ingress,
}

/// Block Public Access settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlockPublicAccess {
    /// The mode.
    pub mode: BpaMode,
    /// Interface names or `*`/`?` patterns exempt from blocking (AWS's
    /// exclusions).
    pub exclusions: Vec<String>,
}

/// Whether `addr` is public: a globally routable unicast address.
///
/// IPv4: everything but 0/8, 10/8, 100.64/10 (shared CGNAT), 127/8,
/// 169.254/16, 172.16/12, 192.0.0/24, 192.168/16, 198.18/15, multicast
/// 224/4, reserved 240/4 and broadcast. IPv6: the global unicast block
/// 2000::/3, with IPv4-mapped addresses judged as IPv4.
///
/// The documentation blocks (192.0.2/24, 198.51.100/24, 203.0.113/24,
/// 2001:db8::/32) count as public: they stand for public addresses in AWS's
/// examples and in tests.
pub fn is_public(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(a: Ipv4Addr) -> bool {
    let [a0, a1, a2, _] = a.octets();
    !(a0 == 0
        || a0 == 10
        || a0 == 127
        || a0 >= 224
        || (a0 == 100 && (64..128).contains(&a1))
        || (a0 == 169 && a1 == 254)
        || (a0 == 172 && (16..32).contains(&a1))
        || (a0 == 192 && a1 == 168)
        || (a0 == 192 && a1 == 0 && a2 == 0)
        || (a0 == 198 && (a1 == 18 || a1 == 19)))
}

fn is_public_v6(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xe000 == 0x2000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_and_not() {
        for public in [
            "8.8.8.8",
            "203.0.113.12",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2600:1f18::1",
            "2001:db8::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        for private in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
            "fd00::1",
            "fe80::1",
            "::1",
            "::",
            "ff02::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
    }
}
