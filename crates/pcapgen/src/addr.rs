//! The address plan: which addresses clients, servers, resolvers and ping
//! targets get, and the port numbers services listen on.
//!
//! Client addresses never appear on the server side of any conversation, and
//! every conversation has its own (client host, ephemeral port) pair, so every
//! unidirectional 5-tuple the generator emits belongs to exactly one
//! conversation. ICMP (no ports) uses the port index to pick its target, which
//! keeps (client, target) pairs unique as well.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// First port of the Linux ephemeral range (`ip_local_port_range`).
pub(crate) const EPHEMERAL_BASE: u16 = 32768;
/// Number of ports in the Linux ephemeral range 32768..=60999.
pub(crate) const EPHEMERAL_COUNT: u64 = 28232;
/// Hosts per /17 when .0 and .255 are skipped in every /24.
const PER_17: u32 = 128 * 254;
/// Most client hosts the plan can address (four /17-sized ranges, .0 and .255 skipped).
pub const MAX_CLIENT_HOSTS: u32 = 4 * PER_17;
/// Most internal servers the plan can address.
pub const MAX_INTERNAL_SERVERS: u32 = 3 * PER_17;
/// Most public servers: the three IPv4 documentation /24s, .1 to .254.
pub const MAX_PUBLIC_SERVERS: u32 = 3 * 254;

/// An IPv4 or IPv6 address as raw bytes (IPv4 in the first four).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Addr {
    pub v6: bool,
    pub b: [u8; 16],
}

impl Addr {
    fn v4(x: u32) -> Addr {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&x.to_be_bytes());
        Addr { v6: false, b }
    }

    fn v6(x: u128) -> Addr {
        Addr {
            v6: true,
            b: x.to_be_bytes(),
        }
    }

    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        if self.v6 {
            &self.b
        } else {
            &self.b[..4]
        }
    }

    /// A locally administered unicast MAC derived from the address.
    #[inline]
    pub(crate) fn mac(&self) -> [u8; 6] {
        if self.v6 {
            [
                0x02, self.b[11], self.b[12], self.b[13], self.b[14], self.b[15],
            ]
        } else {
            [0x02, 0x00, self.b[0], self.b[1], self.b[2], self.b[3]]
        }
    }

    pub(crate) fn to_ip(self) -> IpAddr {
        if self.v6 {
            IpAddr::V6(Ipv6Addr::from(self.b))
        } else {
            IpAddr::V4(Ipv4Addr::new(self.b[0], self.b[1], self.b[2], self.b[3]))
        }
    }
}

/// Offset of the k-th host in a range, skipping .0 and .255 of every /24.
#[inline]
fn spread(k: u32) -> u32 {
    (k / 254) * 256 + k % 254 + 1
}

const fn v4(a: u8, b: u8, c: u8, d: u8) -> u32 {
    u32::from_be_bytes([a, b, c, d])
}

/// Client host `h`: 10.16.0.0/12, 10.32.0.0/12, 172.16.0.0/13, 192.168.0.0/17
/// in turn; IPv6 fd00:0:0:10::/64.
pub(crate) fn client(h: u32, v6: bool) -> Addr {
    if v6 {
        return Addr::v6(0xfd00_0000_0000_0010_0000_0000_0000_0000 | u128::from(h + 1));
    }
    let base = match h % 4 {
        0 => v4(10, 16, 0, 0),
        1 => v4(10, 32, 0, 0),
        2 => v4(172, 16, 0, 0),
        _ => v4(192, 168, 0, 0),
    };
    Addr::v4(base + spread(h / 4))
}

/// Server `s`: below `internal` an internal server (10.128.0.0/12,
/// 172.24.0.0/13, 192.168.128.0/17; fd00:0:0:20::/64), else a public one in the
/// documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24;
/// 2001:db8:100::/64).
pub(crate) fn server(s: u32, internal: u32, v6: bool) -> Addr {
    if s < internal {
        if v6 {
            return Addr::v6(0xfd00_0000_0000_0020_0000_0000_0000_0000 | u128::from(s + 1));
        }
        let base = match s % 3 {
            0 => v4(10, 128, 0, 0),
            1 => v4(172, 24, 0, 0),
            _ => v4(192, 168, 128, 0),
        };
        Addr::v4(base + spread(s / 3))
    } else {
        let k = s - internal;
        if v6 {
            return Addr::v6(0x2001_0db8_0100_0000_0000_0000_0000_0000 | u128::from(k + 1));
        }
        let base = match k % 3 {
            0 => v4(192, 0, 2, 0),
            1 => v4(198, 51, 100, 0),
            _ => v4(203, 0, 113, 0),
        };
        Addr::v4(base + (k / 3) % 254 + 1)
    }
}

/// DNS resolver: the VPC resolver 10.0.0.2 / fd00:ec2::253, or a public one
/// (198.51.100.53 / 2001:db8:53::53).
pub(crate) fn resolver(public: bool, v6: bool) -> Addr {
    match (public, v6) {
        (false, false) => Addr::v4(v4(10, 0, 0, 2)),
        (true, false) => Addr::v4(v4(198, 51, 100, 53)),
        (false, true) => Addr::v6(0xfd00_0ec2_0000_0000_0000_0000_0000_0253),
        (true, true) => Addr::v6(0x2001_0db8_0053_0000_0000_0000_0000_0053),
    }
}

/// Ping target for port index `p`: 10.192.0.0/12 (fd00:0:0:30::/64), one
/// address per port index so (client, target) pairs never repeat.
pub(crate) fn ping_target(p: u32, v6: bool) -> Addr {
    if v6 {
        return Addr::v6(0xfd00_0000_0000_0030_0000_0000_0000_0000 | u128::from(p + 1));
    }
    Addr::v4(v4(10, 192, 0, 0) + spread(p))
}

/// TCP services of internal servers, by weight.
pub(crate) const TCP_INTERNAL: &[(u16, u32)] = &[
    (443, 30),
    (80, 10),
    (8080, 6),
    (22, 5),
    (3306, 8),
    (5432, 8),
    (6379, 8),
    (9092, 5),
    (27017, 4),
    (445, 4),
    (389, 3),
    (9200, 4),
    (8443, 5),
];

/// TCP services of public servers, by weight.
pub(crate) const TCP_PUBLIC: &[(u16, u32)] = &[(443, 75), (80, 15), (22, 5), (25, 3), (993, 2)];

/// Bidirectional bulk UDP services, by weight (no tunnel ports: 4789, 6081
/// or 2152 would be decapsulated by flow exporters).
pub(crate) const UDP_BULK: &[(u16, u32)] = &[
    (443, 45),
    (5004, 15),
    (51820, 15),
    (1194, 10),
    (3478, 10),
    (123, 5),
];

/// One-way UDP services (senders that never get an answer), by weight.
pub(crate) const UDP_ONE_WAY: &[(u16, u32)] = &[(514, 50), (8125, 30), (2055, 20)];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn client_and_server_sides_are_disjoint_and_injective() {
        let mut clients = HashSet::new();
        for h in (0..MAX_CLIENT_HOSTS)
            .step_by(7)
            .chain([MAX_CLIENT_HOSTS - 1])
        {
            for v6 in [false, true] {
                assert!(clients.insert(client(h, v6)), "client {h} repeats");
            }
        }
        let mut others = HashSet::new();
        for s in (0..MAX_INTERNAL_SERVERS + MAX_PUBLIC_SERVERS).step_by(5) {
            for v6 in [false, true] {
                others.insert(server(s, MAX_INTERNAL_SERVERS, v6));
            }
        }
        for p in 0..EPHEMERAL_COUNT as u32 {
            for v6 in [false, true] {
                assert!(others.insert(ping_target(p, v6)), "target {p} repeats");
            }
        }
        for public in [false, true] {
            for v6 in [false, true] {
                others.insert(resolver(public, v6));
            }
        }
        assert!(clients.is_disjoint(&others));
    }

    #[test]
    fn ranges_are_the_documented_ones() {
        let c = |h| client(h, false).to_ip().to_string();
        assert_eq!(c(0), "10.16.0.1");
        assert_eq!(c(1), "10.32.0.1");
        assert_eq!(c(2), "172.16.0.1");
        assert_eq!(c(3), "192.168.0.1");
        assert_eq!(c(MAX_CLIENT_HOSTS - 1), "192.168.127.254");
        assert_eq!(server(0, 10, false).to_ip().to_string(), "10.128.0.1");
        assert_eq!(server(10, 10, false).to_ip().to_string(), "192.0.2.1");
        assert_eq!(server(11, 10, false).to_ip().to_string(), "198.51.100.1");
        assert_eq!(server(12, 10, true).to_ip().to_string(), "2001:db8:100::3");
        assert_eq!(client(0, true).to_ip().to_string(), "fd00:0:0:10::1");
        assert_eq!(resolver(false, true).to_ip().to_string(), "fd00:ec2::253");
    }
}
