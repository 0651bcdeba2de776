//! Named queries over the table, after AWS's "Athena integration" set (spec
//! §4.2), each kept only when the format has the fields it reads.

use std::fmt::Write as _;

use vpcflow_core::fields::Field;
use vpcflow_core::format::LogFormat;
use vpcflow_core::layout::Layout;

/// One query: `{table}` in `sql` stands for the table name.
#[derive(Debug, Clone, Copy)]
pub struct NamedQuery {
    /// AWS's name for it (or one in the same style).
    pub name: &'static str,
    /// What it shows.
    pub description: &'static str,
    /// Fields the format must have.
    pub requires: &'static [Field],
    /// A field whose presence makes another query the better one.
    pub unless: Option<Field>,
    /// The statement, without the final `;`.
    pub sql: &'static str,
}

impl NamedQuery {
    /// The statement for table `table`.
    pub fn sql_for(&self, table: &str) -> String {
        self.sql.replace("{table}", table)
    }

    fn applies_to(&self, format: &LogFormat) -> bool {
        self.requires.iter().all(|f| format.contains(*f))
            && self.unless.is_none_or(|f| !format.contains(f))
    }
}

use Field as F;

/// Every query, in the order printed. Ties are ordered by the grouping
/// columns so that results are the same on every engine.
const QUERIES: &[NamedQuery] = &[
    NamedQuery {
        name: "VpcFlowLogsTotalBytesTransferred",
        description: "Total packets and bytes of all records.",
        requires: &[F::Packets, F::Bytes],
        unless: None,
        sql: "SELECT SUM(packets) AS total_packets, SUM(bytes) AS total_bytes\nFROM {table}",
    },
    NamedQuery {
        name: "VpcFlowLogsTopTalkers",
        description: "The 10 source and destination address pairs that sent the most bytes.",
        requires: &[F::SrcAddr, F::DstAddr, F::Bytes],
        unless: None,
        sql: "SELECT srcaddr, dstaddr, SUM(bytes) AS total_bytes\nFROM {table}\nWHERE srcaddr IS NOT NULL\nGROUP BY srcaddr, dstaddr\nORDER BY total_bytes DESC, srcaddr, dstaddr\nLIMIT 10",
    },
    NamedQuery {
        name: "VpcFlowLogsTopTalkersPacketLevel",
        description: "The 10 packet-level (original) address pairs that sent the most bytes.",
        requires: &[F::PktSrcAddr, F::PktDstAddr, F::Bytes],
        unless: None,
        sql: "SELECT pkt_srcaddr, pkt_dstaddr, SUM(bytes) AS total_bytes\nFROM {table}\nWHERE pkt_srcaddr IS NOT NULL\nGROUP BY pkt_srcaddr, pkt_dstaddr\nORDER BY total_bytes DESC, pkt_srcaddr, pkt_dstaddr\nLIMIT 10",
    },
    NamedQuery {
        name: "VpcFlowLogsTopTalkingInstances",
        description: "The 10 instances whose interfaces carried the most bytes.",
        requires: &[F::InstanceId, F::Bytes],
        unless: None,
        sql: "SELECT instance_id, SUM(bytes) AS total_bytes\nFROM {table}\nWHERE instance_id IS NOT NULL\nGROUP BY instance_id\nORDER BY total_bytes DESC, instance_id\nLIMIT 10",
    },
    NamedQuery {
        name: "VpcFlowLogsTopTalkingSubnets",
        description: "The 10 subnets whose interfaces carried the most bytes.",
        requires: &[F::SubnetId, F::Bytes],
        unless: None,
        sql: "SELECT subnet_id, SUM(bytes) AS total_bytes\nFROM {table}\nWHERE subnet_id IS NOT NULL\nGROUP BY subnet_id\nORDER BY total_bytes DESC, subnet_id\nLIMIT 10",
    },
    NamedQuery {
        name: "VpcFlowLogsTopTCPTraffic",
        description: "The 10 address pairs with the most TCP bytes.",
        requires: &[F::SrcAddr, F::DstAddr, F::Protocol, F::Bytes],
        unless: None,
        sql: "SELECT srcaddr, dstaddr, SUM(bytes) AS total_bytes\nFROM {table}\nWHERE protocol = 6\nGROUP BY srcaddr, dstaddr\nORDER BY total_bytes DESC, srcaddr, dstaddr\nLIMIT 10",
    },
    NamedQuery {
        name: "VpcFlowLogsAcceptedTraffic",
        description: "Records, packets and bytes of accepted traffic.",
        requires: &[F::Action, F::Packets, F::Bytes],
        unless: None,
        sql: "SELECT COUNT(*) AS records, SUM(packets) AS packets, SUM(bytes) AS bytes\nFROM {table}\nWHERE action = 'ACCEPT'",
    },
    NamedQuery {
        name: "VpcFlowLogsAcceptedTCPTraffic",
        description: "Records, packets and bytes of accepted TCP traffic.",
        requires: &[F::Action, F::Protocol, F::Packets, F::Bytes],
        unless: None,
        sql: "SELECT COUNT(*) AS records, SUM(packets) AS packets, SUM(bytes) AS bytes\nFROM {table}\nWHERE action = 'ACCEPT' AND protocol = 6",
    },
    NamedQuery {
        name: "VpcFlowLogsRejectedTraffic",
        description: "The 20 address pairs with the most rejected records.",
        requires: &[F::SrcAddr, F::DstAddr, F::Action],
        unless: None,
        sql: "SELECT srcaddr, dstaddr, COUNT(*) AS records\nFROM {table}\nWHERE action = 'REJECT'\nGROUP BY srcaddr, dstaddr\nORDER BY records DESC, srcaddr, dstaddr\nLIMIT 20",
    },
    NamedQuery {
        name: "VpcFlowLogsRejectedTCPTraffic",
        description: "The 20 TCP destinations (address and port) with the most rejected records.",
        requires: &[F::DstAddr, F::DstPort, F::Protocol, F::Action],
        unless: None,
        sql: "SELECT dstaddr, dstport, COUNT(*) AS records\nFROM {table}\nWHERE action = 'REJECT' AND protocol = 6\nGROUP BY dstaddr, dstport\nORDER BY records DESC, dstaddr, dstport\nLIMIT 20",
    },
    NamedQuery {
        name: "VpcFlowLogsSshRdpTraffic",
        description: "SSH (22) and RDP (3389) traffic by source, destination, port and action.",
        requires: &[F::SrcAddr, F::DstAddr, F::DstPort, F::Action],
        unless: None,
        sql: "SELECT srcaddr, dstaddr, dstport, action, COUNT(*) AS records\nFROM {table}\nWHERE dstport IN (22, 3389)\nGROUP BY srcaddr, dstaddr, dstport, action\nORDER BY records DESC, srcaddr, dstaddr, dstport, action\nLIMIT 50",
    },
    NamedQuery {
        name: "VpcFlowLogsAdminPortTraffic",
        description: "Traffic to administrative ports (FTP 21, SSH 22, Telnet 23, RPC 135, NetBIOS 139, SMB 445, RDP 3389, VNC 5900, WinRM 5985/5986) by port and action.",
        requires: &[F::DstPort, F::Action, F::Bytes],
        unless: None,
        sql: "SELECT dstport, action, COUNT(*) AS records, SUM(bytes) AS total_bytes\nFROM {table}\nWHERE dstport IN (21, 22, 23, 135, 139, 445, 3389, 5900, 5985, 5986)\nGROUP BY dstport, action\nORDER BY total_bytes DESC, dstport, action",
    },
    NamedQuery {
        name: "VpcFlowLogsIPv4VsIPv6Bytes",
        description: "Bytes of IPv4 and of IPv6 traffic (the type field).",
        requires: &[F::Type, F::Bytes],
        unless: None,
        sql: "SELECT type, SUM(bytes) AS total_bytes\nFROM {table}\nWHERE type IS NOT NULL\nGROUP BY type\nORDER BY type",
    },
    NamedQuery {
        name: "VpcFlowLogsIPv4VsIPv6Bytes",
        description: "Bytes of IPv4 and of IPv6 traffic (told apart by the source address: the format has no type field).",
        requires: &[F::SrcAddr, F::Bytes],
        unless: Some(F::Type),
        sql: "SELECT CASE WHEN strpos(srcaddr, ':') > 0 THEN 'IPv6' ELSE 'IPv4' END AS ip_version,\n       SUM(bytes) AS total_bytes\nFROM {table}\nWHERE srcaddr IS NOT NULL\nGROUP BY 1\nORDER BY 1",
    },
    NamedQuery {
        name: "VpcFlowLogsLogStatus",
        description: "Records by log status: OK, NODATA (no traffic in the interval), SKIPDATA (records skipped).",
        requires: &[F::LogStatus],
        unless: None,
        sql: "SELECT log_status, COUNT(*) AS records\nFROM {table}\nGROUP BY log_status\nORDER BY log_status",
    },
];

/// The queries `format` has the fields for, in print order.
pub fn named_queries(format: &LogFormat) -> Vec<NamedQuery> {
    QUERIES
        .iter()
        .filter(|q| q.applies_to(format))
        .copied()
        .collect()
}

/// The named queries section: a comment per query, then its statement.
pub fn render(table: &str, format: &LogFormat, layout: Layout) -> String {
    let mut out = String::new();
    let filter = if layout.hive {
        "year = '2026' AND month = '01'"
    } else {
        "day >= '2026/01/01'"
    };
    let _ = writeln!(
        out,
        "-- Named queries over `{table}`, those the format has the fields for.\n\
         -- Each reads every partition: add a condition on the partition columns\n\
         -- (e.g. WHERE {filter}) to read less."
    );
    let queries = named_queries(format);
    if queries.is_empty() {
        let _ = writeln!(out, "-- (none: the format lacks the fields they read)");
    }
    for q in queries {
        let _ = writeln!(
            out,
            "\n-- {}: {}\n{};",
            q.name,
            q.description,
            q.sql_for(table)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(format: &str) -> Vec<&'static str> {
        named_queries(&LogFormat::parse(format).unwrap())
            .iter()
            .map(|q| q.name)
            .collect()
    }

    #[test]
    fn queries_need_their_fields() {
        let default = names(&LogFormat::default().to_string());
        assert!(default.contains(&"VpcFlowLogsTopTalkers"));
        assert!(default.contains(&"VpcFlowLogsSshRdpTraffic"));
        assert!(!default.contains(&"VpcFlowLogsTopTalkersPacketLevel"));
        assert!(!default.contains(&"VpcFlowLogsTopTalkingInstances"));
        assert_eq!(names("${version} ${start} ${end}"), Vec::<&str>::new());
        assert_eq!(
            names("${bytes} ${packets} ${log-status}"),
            ["VpcFlowLogsTotalBytesTransferred", "VpcFlowLogsLogStatus"]
        );
    }

    #[test]
    fn ip_versions_come_from_type_when_there_is_one() {
        let with_type = named_queries(&LogFormat::parse("${srcaddr} ${type} ${bytes}").unwrap());
        let without = named_queries(&LogFormat::parse("${srcaddr} ${bytes}").unwrap());
        let pick = |qs: &[NamedQuery]| {
            qs.iter()
                .filter(|q| q.name == "VpcFlowLogsIPv4VsIPv6Bytes")
                .map(|q| q.sql_for("t"))
                .collect::<Vec<_>>()
        };
        assert_eq!(pick(&with_type).len(), 1);
        assert!(pick(&with_type)[0].contains("GROUP BY type"));
        assert!(pick(&without)[0].contains("strpos(srcaddr, ':')"));
    }

    #[test]
    fn every_column_a_query_reads_is_required() {
        for q in QUERIES {
            let sql = q.sql_for("t");
            for f in Field::ALL {
                let used = sql
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .any(|word| word == f.column_name());
                // "type" and "bytes" are also words of the SQL itself only
                // where they name the column.
                if used {
                    assert!(q.requires.contains(f), "{} reads {f}", q.name);
                }
            }
        }
    }

    #[test]
    fn rendered_statements_end_with_semicolons() {
        let text = render("vpc_flow_logs", &LogFormat::default(), Layout::default());
        assert!(text.contains("FROM vpc_flow_logs\n"));
        assert!(text.contains("day >= '2026/01/01'"));
        assert_eq!(
            text.matches(";\n").count(),
            named_queries(&LogFormat::default()).len()
        );
    }
}
