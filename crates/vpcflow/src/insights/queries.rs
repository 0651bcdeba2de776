//! The Logs Insights queries, after those AWS documents for flow logs; each
//! is kept only when the format has the fields it reads.

use vpcflow_core::fields::Field;
use vpcflow_core::format::LogFormat;

/// One query: the `parse` command is put before `body`.
#[derive(Debug, Clone, Copy)]
pub struct InsightsQuery {
    /// A name for it.
    pub name: &'static str,
    /// What it shows.
    pub description: &'static str,
    /// Fields the format must have.
    pub requires: &'static [Field],
    /// The commands after `parse`, one per line.
    pub body: &'static str,
}

impl InsightsQuery {
    /// The whole query with `parse` first.
    pub fn text(&self, parse: &str) -> String {
        format!("{parse}\n{}", self.body)
    }
}

use Field as F;

const QUERIES: &[InsightsQuery] = &[
    InsightsQuery {
        name: "TopTalkers",
        description: "The 10 source and destination address pairs that sent the most bytes.",
        requires: &[F::SrcAddr, F::DstAddr, F::Bytes],
        body: "| filter srcaddr != \"-\"\n| stats sum(bytes) as bytesTransferred by srcaddr, dstaddr\n| sort bytesTransferred desc\n| limit 10",
    },
    InsightsQuery {
        name: "TopTalkersPacketLevel",
        description: "The 10 packet-level (original) address pairs that sent the most bytes.",
        requires: &[F::PktSrcAddr, F::PktDstAddr, F::Bytes],
        body: "| filter pkt_srcaddr != \"-\"\n| stats sum(bytes) as bytesTransferred by pkt_srcaddr, pkt_dstaddr\n| sort bytesTransferred desc\n| limit 10",
    },
    InsightsQuery {
        name: "RejectedBySource",
        description: "The 20 source addresses with the most REJECT records.",
        requires: &[F::SrcAddr, F::Action],
        body: "| filter action = \"REJECT\"\n| stats count(*) as rejectedRecords by srcaddr\n| sort rejectedRecords desc\n| limit 20",
    },
    InsightsQuery {
        name: "RejectedTcpByInterface",
        description: "REJECT records of TCP traffic per interface.",
        requires: &[F::InterfaceId, F::Action, F::Protocol],
        body: "| filter action = \"REJECT\" and protocol = 6\n| stats count(*) as rejectedRecords by interface_id\n| sort rejectedRecords desc",
    },
    InsightsQuery {
        name: "TrafficByDestinationPort",
        description: "Bytes and packets per destination port, the 20 busiest ports.",
        requires: &[F::DstPort, F::Bytes, F::Packets],
        body: "| filter dstport != \"-\"\n| stats sum(bytes) as bytesTransferred, sum(packets) as packetsTransferred by dstport\n| sort bytesTransferred desc\n| limit 20",
    },
    InsightsQuery {
        name: "TrafficByProtocol",
        description: "Bytes per IP protocol number.",
        requires: &[F::Protocol, F::Bytes],
        body: "| filter protocol != \"-\"\n| stats sum(bytes) as bytesTransferred by protocol\n| sort bytesTransferred desc",
    },
    InsightsQuery {
        name: "SshRdpTraffic",
        description: "SSH (22) and RDP (3389) records by source, destination, port and action.",
        requires: &[F::SrcAddr, F::DstAddr, F::DstPort, F::Action],
        body: "| filter dstport in [22, 3389]\n| stats count(*) as records by srcaddr, dstaddr, dstport, action\n| sort records desc",
    },
    InsightsQuery {
        name: "NoDataSkipDataOverTime",
        description: "NODATA (no traffic) and SKIPDATA (records lost) records per 5 minutes.",
        requires: &[F::LogStatus],
        body: "| filter log_status in [\"NODATA\", \"SKIPDATA\"]\n| stats count(*) as records by log_status, bin(5m)",
    },
    InsightsQuery {
        name: "BytesOverTime",
        description: "Bytes per 5 minutes, by action.",
        requires: &[F::Bytes, F::Action],
        body: "| filter action != \"-\"\n| stats sum(bytes) as bytesTransferred by action, bin(5m)",
    },
    InsightsQuery {
        name: "TopTalkingInstances",
        description: "The 10 instances whose interfaces carried the most bytes.",
        requires: &[F::InstanceId, F::Bytes],
        body: "| filter instance_id != \"-\"\n| stats sum(bytes) as bytesTransferred by instance_id\n| sort bytesTransferred desc\n| limit 10",
    },
    InsightsQuery {
        name: "TopTalkingSubnets",
        description: "The 10 subnets whose interfaces carried the most bytes.",
        requires: &[F::SubnetId, F::Bytes],
        body: "| filter subnet_id != \"-\"\n| stats sum(bytes) as bytesTransferred by subnet_id\n| sort bytesTransferred desc\n| limit 10",
    },
    InsightsQuery {
        name: "TrafficByDirection",
        description: "Bytes by flow direction (ingress, egress) and action.",
        requires: &[F::FlowDirection, F::Action, F::Bytes],
        body: "| filter flow_direction != \"-\"\n| stats sum(bytes) as bytesTransferred by flow_direction, action",
    },
];

/// The queries `format` has the fields for, in the order printed.
pub fn queries(format: &LogFormat) -> Vec<InsightsQuery> {
    QUERIES
        .iter()
        .filter(|q| q.requires.iter().all(|f| format.contains(*f)))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(format: &str) -> Vec<&'static str> {
        queries(&LogFormat::parse(format).unwrap())
            .iter()
            .map(|q| q.name)
            .collect()
    }

    #[test]
    fn queries_need_their_fields() {
        let all = names(
            &LogFormat::default()
                .fields()
                .iter()
                .map(|f| format!("${{{}}}", f.name()))
                .collect::<Vec<_>>()
                .join(" "),
        );
        assert!(all.contains(&"TopTalkers"));
        assert!(all.contains(&"NoDataSkipDataOverTime"));
        assert!(!all.contains(&"TopTalkingInstances"));
        assert_eq!(names("${log-status}"), ["NoDataSkipDataOverTime"]);
        assert!(names("${version}").is_empty());
        assert!(names("${instance-id} ${bytes}").contains(&"TopTalkingInstances"));
    }

    #[test]
    fn every_field_a_query_reads_is_in_its_requirements() {
        // Field names a body reads must be parsed, so must be required.
        for q in QUERIES {
            for f in Field::ALL {
                let name = f.column_name();
                let used = q
                    .body
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .any(|w| w == name);
                if used {
                    assert!(q.requires.contains(f), "{} reads {name}", q.name);
                }
            }
        }
    }
}
