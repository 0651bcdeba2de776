//! `[policy]`: security groups, network ACLs and Block Public Access, parsed
//! into a [`Policy`]. Every error names the key, e.g.
//! `policy.security_group[1].inbound[0].cidr: …`.

use std::collections::HashSet;

use anyhow::{anyhow, bail, Result};
use serde::Deserialize;
use vpcflow_core::policy::{
    AclAction, AclRule, BlockPublicAccess, BpaMode, Cidr, Match, NetworkAcl, Policy, PortRange,
    Protocol, SecurityGroup, DEFAULT_MAX_CONNECTIONS,
};
use vpcflow_core::values::FlowDirection;

/// `[policy]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySection {
    /// `[[policy.security_group]]`.
    #[serde(default)]
    pub security_group: Vec<SecurityGroupSection>,
    /// `[[policy.network_acl]]`.
    #[serde(default)]
    pub network_acl: Vec<NetworkAclSection>,
    /// `off` (default), `bidirectional` or `ingress`.
    pub block_public_access: Option<String>,
    /// Interface names or patterns Block Public Access does not apply to.
    #[serde(default)]
    pub block_public_access_exclusions: Vec<String>,
    /// Bound on tracked connections.
    pub max_tracked_connections: Option<usize>,
}

/// One `[[policy.security_group]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroupSection {
    /// The group's name.
    pub name: String,
    /// Interface names or `*`/`?` patterns.
    #[serde(default)]
    pub interfaces: Vec<String>,
    /// Inbound rules.
    #[serde(default)]
    pub inbound: Vec<GroupRuleSection>,
    /// Outbound rules.
    #[serde(default)]
    pub outbound: Vec<GroupRuleSection>,
}

/// One security group rule.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRuleSection {
    /// `tcp`, `udp`, `icmp`, `icmpv6`, `all`, `-1` or a protocol number.
    pub protocol: Option<TextOrNumber>,
    /// `80`, `"80"` or `"1024-65535"` (TCP, UDP, SCTP only; default all).
    pub ports: Option<TextOrNumber>,
    /// The peer's CIDR block.
    pub cidr: Option<String>,
    /// Free text for the reader of the file.
    #[allow(dead_code)] // accepted so that rules can be documented, never used
    pub description: Option<String>,
}

/// One `[[policy.network_acl]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkAclSection {
    /// The ACL's name.
    pub name: String,
    /// Interface names or `*`/`?` patterns.
    #[serde(default)]
    pub interfaces: Vec<String>,
    /// Inbound rules.
    #[serde(default)]
    pub inbound: Vec<AclRuleSection>,
    /// Outbound rules.
    #[serde(default)]
    pub outbound: Vec<AclRuleSection>,
}

/// One network ACL rule.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclRuleSection {
    /// Rule number, 1-32766: lower numbers are evaluated first.
    pub rule: Option<i64>,
    /// `allow` or `deny`.
    pub action: Option<String>,
    /// As in security group rules.
    pub protocol: Option<TextOrNumber>,
    /// As in security group rules.
    pub ports: Option<TextOrNumber>,
    /// As in security group rules.
    pub cidr: Option<String>,
    /// Free text for the reader of the file.
    #[allow(dead_code)] // accepted so that rules can be documented, never used
    pub description: Option<String>,
}

/// A value written as a string or an integer (`protocol = 6`, `ports = 80`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, expecting = "a string or an integer")]
pub enum TextOrNumber {
    /// `"tcp"`, `"1024-65535"`.
    Text(String),
    /// `6`, `80`.
    Number(i64),
}

impl TextOrNumber {
    fn text(&self) -> String {
        match self {
            TextOrNumber::Text(s) => s.clone(),
            TextOrNumber::Number(n) => n.to_string(),
        }
    }
}

/// Parses what a rule matches; `key` is the rule's key.
fn traffic(
    key: &str,
    protocol: &Option<TextOrNumber>,
    ports: &Option<TextOrNumber>,
    cidr: &Option<String>,
) -> Result<Match> {
    let protocol_text = protocol
        .as_ref()
        .ok_or_else(|| {
            anyhow!("{key}.protocol: missing (tcp, udp, icmp, icmpv6, all or a number)")
        })?
        .text();
    let protocol = Protocol::parse(&protocol_text).ok_or_else(|| {
        anyhow!("{key}.protocol: {protocol_text:?} must be tcp, udp, icmp, icmpv6, all, -1 or a number 0-255")
    })?;
    let ports = match ports {
        None => PortRange::ALL,
        Some(p) if protocol.has_ports() => {
            let text = p.text();
            PortRange::parse(&text).ok_or_else(|| {
                anyhow!("{key}.ports: {text:?} must be a port or a range FROM-TO of ports 0-65535")
            })?
        }
        Some(_) => bail!(
            "{key}.ports: only tcp, udp and sctp (132) have ports; rules of {protocol_text} match every packet of the protocol (ICMP type and code cannot be matched)"
        ),
    };
    let cidr_text = cidr
        .as_ref()
        .ok_or_else(|| anyhow!("{key}.cidr: missing (e.g. \"0.0.0.0/0\" or \"::/0\")"))?;
    let cidr: Cidr = cidr_text.parse().map_err(|e| anyhow!("{key}.cidr: {e}"))?;
    match protocol {
        Protocol::Number(1) if cidr.is_ipv6() => {
            bail!("{key}.cidr: icmp is IPv4's; use icmpv6 (58) with an IPv6 block")
        }
        Protocol::Number(58) if !cidr.is_ipv6() => {
            bail!("{key}.cidr: icmpv6 is IPv6's; use icmp (1) with an IPv4 block")
        }
        _ => {}
    }
    Ok(Match {
        protocol,
        ports,
        cidr,
    })
}

fn interfaces(key: &str, names: &[String]) -> Result<Vec<String>> {
    if names.is_empty() {
        bail!("{key}.interfaces: name at least one interface (a name or a pattern with * and ?)");
    }
    if let Some(i) = names.iter().position(|n| n.trim().is_empty()) {
        bail!("{key}.interfaces[{i}]: empty interface name");
    }
    Ok(names.to_vec())
}

fn unique_name(key: &str, names: &mut HashSet<String>, name: &str) -> Result<()> {
    if name.trim().is_empty() {
        bail!("{key}.name: missing");
    }
    if !names.insert(name.to_string()) {
        bail!("{key}.name: {name:?} is used twice");
    }
    Ok(())
}

impl SecurityGroupSection {
    fn group(&self, key: &str) -> Result<SecurityGroup> {
        let rules = |dir: &str, rules: &[GroupRuleSection]| -> Result<Vec<Match>> {
            rules
                .iter()
                .enumerate()
                .map(|(i, r)| traffic(&format!("{key}.{dir}[{i}]"), &r.protocol, &r.ports, &r.cidr))
                .collect()
        };
        Ok(SecurityGroup {
            name: self.name.clone(),
            interfaces: interfaces(key, &self.interfaces)?,
            inbound: rules("inbound", &self.inbound)?,
            outbound: rules("outbound", &self.outbound)?,
        })
    }
}

impl NetworkAclSection {
    fn acl(&self, key: &str) -> Result<NetworkAcl> {
        let rules = |dir: &str, rules: &[AclRuleSection]| -> Result<Vec<AclRule>> {
            rules
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let key = format!("{key}.{dir}[{i}]");
                    let number = match r.rule {
                        Some(n @ 1..=32766) => n as u16,
                        Some(n) => bail!("{key}.rule: {n} must be 1-32766"),
                        None => bail!("{key}.rule: missing (the rule number, 1-32766)"),
                    };
                    let action = match r.action.as_deref() {
                        Some("allow") => AclAction::Allow,
                        Some("deny") => AclAction::Deny,
                        Some(other) => bail!("{key}.action: {other:?} must be allow or deny"),
                        None => bail!("{key}.action: missing (allow or deny)"),
                    };
                    Ok(AclRule {
                        number,
                        action,
                        traffic: traffic(&key, &r.protocol, &r.ports, &r.cidr)?,
                    })
                })
                .collect()
        };
        NetworkAcl::new(
            self.name.clone(),
            interfaces(key, &self.interfaces)?,
            rules("inbound", &self.inbound)?,
            rules("outbound", &self.outbound)?,
        )
        .map_err(|(direction, number)| {
            let dir = match direction {
                FlowDirection::Ingress => "inbound",
                FlowDirection::Egress => "outbound",
            };
            anyhow!("{key}.{dir}: rule number {number} is used twice")
        })
    }
}

impl PolicySection {
    /// The policy, or `None` when nothing in it can reject (no group, no ACL,
    /// Block Public Access off): then every flow is ACCEPT at no cost.
    pub fn policy(&self) -> Result<Option<Policy>> {
        let mut names = HashSet::new();
        let mut security_groups = Vec::new();
        for (i, g) in self.security_group.iter().enumerate() {
            let key = format!("policy.security_group[{i}]");
            unique_name(&key, &mut names, &g.name)?;
            security_groups.push(g.group(&key)?);
        }
        let mut names = HashSet::new();
        let mut network_acls = Vec::new();
        for (i, a) in self.network_acl.iter().enumerate() {
            let key = format!("policy.network_acl[{i}]");
            unique_name(&key, &mut names, &a.name)?;
            network_acls.push(a.acl(&key)?);
        }
        let mode = match self.block_public_access.as_deref() {
            None | Some("off") => BpaMode::Off,
            Some("bidirectional") => BpaMode::Bidirectional,
            Some("ingress") => BpaMode::Ingress,
            Some(other) => {
                bail!("policy.block_public_access: {other:?} must be off, bidirectional or ingress")
            }
        };
        if let Some(i) = self
            .block_public_access_exclusions
            .iter()
            .position(|n| n.trim().is_empty())
        {
            bail!("policy.block_public_access_exclusions[{i}]: empty interface name");
        }
        let max_connections = match self.max_tracked_connections {
            None => DEFAULT_MAX_CONNECTIONS,
            Some(n) if n >= 8 => n,
            Some(n) => bail!("policy.max_tracked_connections: {n} is below the minimum of 8"),
        };
        if security_groups.is_empty() && network_acls.is_empty() && mode == BpaMode::Off {
            return Ok(None);
        }
        Ok(Some(Policy {
            security_groups,
            network_acls,
            block_public_access: BlockPublicAccess {
                mode,
                exclusions: self.block_public_access_exclusions.clone(),
            },
            max_connections,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<Policy>> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            #[serde(default)]
            policy: PolicySection,
        }
        let f: File = toml::from_str(text).map_err(|e| anyhow!("{e}"))?;
        f.policy.policy()
    }

    #[test]
    fn the_documented_example() {
        let p = parse(
            r#"
[[policy.security_group]]
name = "web"
interfaces = ["eth0", "veth*"]
inbound  = [ { protocol = "tcp", ports = "80", cidr = "0.0.0.0/0" },
             { protocol = "icmp", cidr = "10.0.0.0/8" },
             { protocol = 6, ports = 8000, cidr = "::/0", description = "alt" } ]
outbound = [ { protocol = "all", cidr = "0.0.0.0/0" }, { protocol = "-1", cidr = "::/0" } ]

[[policy.network_acl]]
name = "subnet-a"
interfaces = ["eth0"]
inbound  = [ { rule = 200, action = "deny", protocol = "udp", ports = "1-1023", cidr = "0.0.0.0/0" },
             { rule = 100, action = "allow", protocol = "all", cidr = "0.0.0.0/0" } ]
outbound = [ { rule = 100, action = "allow", protocol = "all", cidr = "0.0.0.0/0" } ]

[policy]
block_public_access = "ingress"
block_public_access_exclusions = ["eth1"]
max_tracked_connections = 1000
"#,
        )
        .unwrap()
        .unwrap();
        let g = &p.security_groups[0];
        assert_eq!(g.name, "web");
        assert_eq!(g.interfaces, ["eth0", "veth*"]);
        assert_eq!(g.inbound.len(), 3);
        assert_eq!(g.inbound[0].ports, PortRange { from: 80, to: 80 });
        assert_eq!(g.inbound[1].protocol, Protocol::Number(1));
        assert_eq!(g.inbound[1].ports, PortRange::ALL);
        assert_eq!(
            g.inbound[2].ports,
            PortRange {
                from: 8000,
                to: 8000
            }
        );
        assert_eq!(g.outbound[1].protocol, Protocol::All);
        let a = &p.network_acls[0];
        assert_eq!(a.name(), "subnet-a");
        let numbers: Vec<u16> = a
            .rules(FlowDirection::Ingress)
            .iter()
            .map(|r| r.number)
            .collect();
        assert_eq!(numbers, [100, 200]);
        assert_eq!(p.block_public_access.mode, BpaMode::Ingress);
        assert_eq!(p.block_public_access.exclusions, ["eth1"]);
        assert_eq!(p.max_connections, 1000);
    }

    /// The README's example stays a valid configuration.
    #[test]
    fn readme_example_parses() {
        let readme = include_str!("../../../../README.md");
        let section = &readme[readme.find("### REJECT policy").unwrap()..];
        let start = section.find("```toml\n").unwrap() + "```toml\n".len();
        let end = start + section[start..].find("```").unwrap();
        let p = parse(&section[start..end]).unwrap().unwrap();
        assert_eq!(p.security_groups[0].inbound.len(), 3);
        assert_eq!(p.network_acls[0].rules(FlowDirection::Egress)[0].number, 90);
        assert_eq!(p.max_connections, DEFAULT_MAX_CONNECTIONS);
    }

    #[test]
    fn nothing_that_rejects_is_no_policy() {
        assert!(parse("").unwrap().is_none());
        assert!(parse("[policy]\nblock_public_access = \"off\"")
            .unwrap()
            .is_none());
        assert!(parse("[policy]\nblock_public_access = \"bidirectional\"")
            .unwrap()
            .is_some());
    }

    #[test]
    fn errors_name_the_key() {
        let g = "[[policy.security_group]]\nname = \"g\"\ninterfaces = [\"eth0\"]\n";
        let a = "[[policy.network_acl]]\nname = \"a\"\ninterfaces = [\"eth0\"]\n";
        let cases = [
            (
                format!("{g}[[policy.security_group]]\nname = \"h\"\ninterfaces = [\"e\"]\ninbound = [{{ protocol = \"tcp\", cidr = \"10.0.0.1/8\" }}]"),
                "policy.security_group[1].inbound[0].cidr: \"10.0.0.1/8\" has host bits set",
            ),
            (
                format!("{g}outbound = [{{ protocol = \"tcp\", cidr = \"10.0.0.0\" }}]"),
                "policy.security_group[0].outbound[0].cidr: \"10.0.0.0\" is not a CIDR block",
            ),
            (
                format!("{g}inbound = [{{ protocol = \"tpc\", cidr = \"0.0.0.0/0\" }}]"),
                "policy.security_group[0].inbound[0].protocol: \"tpc\"",
            ),
            (
                format!("{g}inbound = [{{ protocol = 300, cidr = \"0.0.0.0/0\" }}]"),
                "policy.security_group[0].inbound[0].protocol: \"300\"",
            ),
            (
                format!("{g}inbound = [{{ cidr = \"0.0.0.0/0\" }}]"),
                "policy.security_group[0].inbound[0].protocol: missing",
            ),
            (
                format!("{g}inbound = [{{ protocol = \"tcp\" }}]"),
                "policy.security_group[0].inbound[0].cidr: missing",
            ),
            (
                format!("{g}inbound = [{{ protocol = \"tcp\", ports = \"90-80\", cidr = \"0.0.0.0/0\" }}]"),
                "policy.security_group[0].inbound[0].ports: \"90-80\"",
            ),
            (
                format!("{g}inbound = [{{ protocol = \"icmp\", ports = \"8\", cidr = \"0.0.0.0/0\" }}]"),
                "policy.security_group[0].inbound[0].ports: only tcp, udp and sctp",
            ),
            (
                format!("{g}inbound = [{{ protocol = \"icmp\", cidr = \"::/0\" }}]"),
                "policy.security_group[0].inbound[0].cidr: icmp is IPv4's",
            ),
            (
                format!("{g}inbound = [{{ protocol = \"icmpv6\", cidr = \"0.0.0.0/0\" }}]"),
                "policy.security_group[0].inbound[0].cidr: icmpv6 is IPv6's",
            ),
            (
                "[[policy.security_group]]\nname = \"g\"".to_string(),
                "policy.security_group[0].interfaces: name at least one",
            ),
            (
                "[[policy.security_group]]\nname = \"g\"\ninterfaces = [\"\"]".to_string(),
                "policy.security_group[0].interfaces[0]: empty",
            ),
            (
                format!("{g}{g}"),
                "policy.security_group[1].name: \"g\" is used twice",
            ),
            (
                format!("{a}inbound = [{{ rule = 0, action = \"allow\", protocol = \"all\", cidr = \"0.0.0.0/0\" }}]"),
                "policy.network_acl[0].inbound[0].rule: 0 must be 1-32766",
            ),
            (
                format!("{a}inbound = [{{ action = \"allow\", protocol = \"all\", cidr = \"0.0.0.0/0\" }}]"),
                "policy.network_acl[0].inbound[0].rule: missing",
            ),
            (
                format!("{a}outbound = [{{ rule = 1, action = \"accept\", protocol = \"all\", cidr = \"0.0.0.0/0\" }}]"),
                "policy.network_acl[0].outbound[0].action: \"accept\" must be allow or deny",
            ),
            (
                format!("{a}outbound = [{{ rule = 1, action = \"allow\", protocol = \"all\", cidr = \"0.0.0.0/0\" }}, {{ rule = 1, action = \"deny\", protocol = \"all\", cidr = \"::/0\" }}]"),
                "policy.network_acl[0].outbound: rule number 1 is used twice",
            ),
            (
                "[policy]\nblock_public_access = \"on\"".to_string(),
                "policy.block_public_access: \"on\" must be off, bidirectional or ingress",
            ),
            (
                "[policy]\nblock_public_access_exclusions = [\" \"]".to_string(),
                "policy.block_public_access_exclusions[0]: empty",
            ),
            (
                "[policy]\nmax_tracked_connections = 2".to_string(),
                "policy.max_tracked_connections: 2",
            ),
        ];
        for (text, expected) in cases {
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains(expected), "{text}\n→ {e}");
        }
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_rejected() {
        for (text, word) in [
            (
                "[[policy.security_group]]\nname = \"g\"\ninterfaces = [\"e\"]\ninbound = [{ protocol = \"tcp\", ports = true, cidr = \"0.0.0.0/0\" }]",
                "a string or an integer",
            ),
            ("[policy]\nblock_public = \"off\"", "block_public"),
            (
                "[[policy.security_group]]\nname = \"g\"\ninterfaces = [\"e\"]\ninbound = [{ protocol = \"tcp\", cidr = \"0.0.0.0/0\", port = \"80\" }]",
                "port",
            ),
            (
                "[[policy.network_acl]]\nname = \"a\"\ninterfaces = [\"e\"]\negress = []",
                "egress",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(word), "{text}: {e}");
        }
    }
}
