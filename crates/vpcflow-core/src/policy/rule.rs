//! What one rule matches: protocol, destination port range and the peer's CIDR.

use std::fmt;
use std::net::IpAddr;

use super::cidr::Cidr;
use crate::flow::FlowKey;

/// IANA protocol numbers the rules name.
const TCP: u8 = 6;
const UDP: u8 = 17;
const SCTP: u8 = 132;

/// The protocol a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Every protocol (`all`, AWS's `-1`).
    All,
    /// One IANA protocol number (`tcp` = 6, `udp` = 17, `icmp` = 1,
    /// `icmpv6` = 58).
    Number(u8),
}

impl Protocol {
    /// Parses `tcp`, `udp`, `icmp`, `icmpv6`, `all`, `-1` or a number 0-255.
    pub fn parse(s: &str) -> Option<Protocol> {
        Some(match s {
            "all" | "-1" => Protocol::All,
            "tcp" => Protocol::Number(TCP),
            "udp" => Protocol::Number(UDP),
            "icmp" => Protocol::Number(1),
            "icmpv6" => Protocol::Number(58),
            n if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                Protocol::Number(n.parse().ok()?)
            }
            _ => return None,
        })
    }

    /// Whether packets of this protocol carry ports the rules can match
    /// (TCP, UDP, SCTP: the ports the decoder reads).
    pub fn has_ports(self) -> bool {
        matches!(self, Protocol::Number(TCP | UDP | SCTP))
    }

    #[inline(always)]
    fn matches(self, protocol: u8) -> bool {
        match self {
            Protocol::All => true,
            Protocol::Number(n) => n == protocol,
        }
    }
}

/// An inclusive range of destination ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    /// First port.
    pub from: u16,
    /// Last port (≥ `from`).
    pub to: u16,
}

impl PortRange {
    /// Every port.
    pub const ALL: PortRange = PortRange { from: 0, to: 65535 };

    /// Parses `80` or `1024-65535`.
    pub fn parse(s: &str) -> Option<PortRange> {
        let port = |p: &str| -> Option<u16> {
            let p = p.trim();
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse().ok()
        };
        let (from, to) = match s.split_once('-') {
            Some((a, b)) => (port(a)?, port(b)?),
            None => {
                let p = port(s)?;
                (p, p)
            }
        };
        (from <= to).then_some(PortRange { from, to })
    }

    #[inline(always)]
    fn contains(self, port: u16) -> bool {
        self.from <= port && port <= self.to
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}-{}", self.from, self.to)
        }
    }
}

/// The traffic one rule matches.
///
/// `cidr` is matched against the peer: the source of inbound packets, the
/// destination of outbound packets. `ports` is the destination port range,
/// in both directions, as in AWS rules; it only applies to protocols with
/// ports ([`Protocol::has_ports`]) — for the others, and for `all`, every
/// packet of the protocol matches whatever its ports.
///
/// ICMP type and code are not matched: packets reach the policy as VPC flow
/// 5-tuples, where ICMP has ports 0 and no type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Match {
    /// Protocol.
    pub protocol: Protocol,
    /// Destination ports.
    pub ports: PortRange,
    /// The peer's block.
    pub cidr: Cidr,
}

impl Match {
    /// Whether a packet with `key`, exchanged with `peer`, matches.
    #[inline(always)]
    pub fn matches(&self, key: &FlowKey, peer: IpAddr) -> bool {
        self.protocol.matches(key.protocol)
            && (!self.protocol.has_ports() || self.ports.contains(key.dst_port))
            && self.cidr.contains(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols() {
        assert_eq!(Protocol::parse("all"), Some(Protocol::All));
        assert_eq!(Protocol::parse("-1"), Some(Protocol::All));
        assert_eq!(Protocol::parse("tcp"), Some(Protocol::Number(6)));
        assert_eq!(Protocol::parse("icmpv6"), Some(Protocol::Number(58)));
        assert_eq!(Protocol::parse("47"), Some(Protocol::Number(47)));
        assert_eq!(Protocol::parse("256"), None);
        assert_eq!(Protocol::parse("TCP"), None);
        assert_eq!(Protocol::parse(""), None);
        assert!(Protocol::Number(132).has_ports());
        assert!(!Protocol::Number(1).has_ports());
        assert!(!Protocol::All.has_ports());
    }

    #[test]
    fn port_ranges() {
        assert_eq!(PortRange::parse("80"), Some(PortRange { from: 80, to: 80 }));
        assert_eq!(
            PortRange::parse("1024-65535"),
            Some(PortRange {
                from: 1024,
                to: 65535
            })
        );
        for bad in ["", "65536", "90-80", "a", "-5", "1-", "+1"] {
            assert_eq!(PortRange::parse(bad), None, "{bad}");
        }
        assert_eq!(PortRange::parse("22-23").unwrap().to_string(), "22-23");
    }

    #[test]
    fn matching() {
        let m = Match {
            protocol: Protocol::Number(6),
            ports: PortRange::parse("80-81").unwrap(),
            cidr: "10.0.0.0/8".parse().unwrap(),
        };
        let key = |proto, dst_port| FlowKey {
            src: "10.1.1.1".parse().unwrap(),
            dst: "10.2.2.2".parse().unwrap(),
            src_port: 40000,
            dst_port,
            protocol: proto,
        };
        let peer = "10.1.1.1".parse().unwrap();
        assert!(m.matches(&key(6, 80), peer));
        assert!(m.matches(&key(6, 81), peer));
        assert!(!m.matches(&key(6, 82), peer));
        assert!(!m.matches(&key(6, 79), peer));
        assert!(!m.matches(&key(17, 80), peer));
        assert!(!m.matches(&key(6, 80), "11.0.0.1".parse().unwrap()));
        let all = Match {
            protocol: Protocol::All,
            ports: PortRange { from: 1, to: 1 },
            cidr: "0.0.0.0/0".parse().unwrap(),
        };
        assert!(
            all.matches(&key(6, 443), peer),
            "ports do not restrict `all`"
        );
        assert!(!all.matches(&key(6, 443), "::1".parse().unwrap()));
    }
}
