//! Enrichment: an aggregated [`FlowRecord`] plus its interface's metadata gives
//! the values of every field.

use std::net::IpAddr;

use crate::interface::InterfaceMeta;
use crate::record::FlowRecord;
use crate::values::{FlowDirection, RecordValues, TrafficType};

/// `flow-direction` of a packet relative to an interface with `own` addresses:
/// ingress when addressed to one of them, egress when sent from one, unknown
/// otherwise (and when the interface has no known address).
pub fn flow_direction(own: &[IpAddr], src: IpAddr, dst: IpAddr) -> Option<FlowDirection> {
    if own.contains(&dst) {
        Some(FlowDirection::Ingress)
    } else if own.contains(&src) {
        Some(FlowDirection::Egress)
    } else {
        None
    }
}

/// The values of `record` on interface `meta`, for a format of `version`.
///
/// NODATA and SKIPDATA records keep the interface metadata, `start`, `end` and
/// `log-status`; every traffic field is `-` (spec §2.6).
pub fn record_values<'a>(
    record: &FlowRecord,
    meta: &'a InterfaceMeta,
    version: u8,
) -> RecordValues<'a> {
    let ecs = meta.ecs.as_ref();
    let mut v = RecordValues {
        version: Some(version),
        account_id: Some(&meta.account_id),
        interface_id: Some(&meta.interface_id),
        start: Some(record.start),
        end: Some(record.end),
        log_status: Some(record.status),
        vpc_id: meta.vpc_id.as_deref(),
        subnet_id: meta.subnet_id.as_deref(),
        instance_id: meta.instance_id.as_deref(),
        region: Some(&meta.region),
        az_id: meta.az_id.as_deref(),
        sublocation_type: meta.sublocation_type.as_deref(),
        sublocation_id: meta.sublocation_id.as_deref(),
        ecs_cluster_arn: ecs.and_then(|e| e.cluster_arn.as_deref()),
        ecs_cluster_name: ecs.and_then(|e| e.cluster_name.as_deref()),
        ecs_container_instance_arn: ecs.and_then(|e| e.container_instance_arn.as_deref()),
        ecs_container_instance_id: ecs.and_then(|e| e.container_instance_id.as_deref()),
        ecs_container_id: ecs.and_then(|e| e.container_id.as_deref()),
        ecs_second_container_id: ecs.and_then(|e| e.second_container_id.as_deref()),
        ecs_service_name: ecs.and_then(|e| e.service_name.as_deref()),
        ecs_task_definition_arn: ecs.and_then(|e| e.task_definition_arn.as_deref()),
        ecs_task_arn: ecs.and_then(|e| e.task_arn.as_deref()),
        ecs_task_id: ecs.and_then(|e| e.task_id.as_deref()),
        ..RecordValues::default()
    };
    if let Some(t) = &record.traffic {
        let k = &t.key;
        let (pkt_src, pkt_dst) = match t.packet_addrs {
            Some(p) => (p.src, p.dst),
            None => (k.src, k.dst),
        };
        v.srcaddr = Some(k.src);
        v.dstaddr = Some(k.dst);
        v.srcport = Some(k.src_port);
        v.dstport = Some(k.dst_port);
        v.protocol = Some(k.protocol);
        v.packets = Some(t.packets);
        v.bytes = Some(t.bytes);
        v.action = Some(t.action);
        v.reject_reason = t.action.reject_reason();
        v.tcp_flags = Some(t.tcp_flags.value());
        v.traffic_type = Some(match k.src {
            IpAddr::V4(_) => TrafficType::IPv4,
            IpAddr::V6(_) => TrafficType::IPv6,
        });
        v.pkt_srcaddr = Some(pkt_src);
        v.pkt_dstaddr = Some(pkt_dst);
        v.flow_direction = flow_direction(&meta.addresses, k.src, k.dst);
    }
    v
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::fields::Field;
    use crate::flow::{Action, FlowKey, InterfaceIndex, PacketAddrs};
    use crate::format::LogFormat;
    use crate::interface::{InterfaceDefaults, InterfaceOverrides};
    use crate::record::{LogStatus, Traffic};
    use crate::tcp_flags::TcpFlags;

    fn meta() -> InterfaceMeta {
        let o = InterfaceOverrides {
            interface_id: Some("eni-1235b8ca123456789".into()),
            addresses: vec!["172.31.16.139".parse().unwrap()],
            ..Default::default()
        };
        InterfaceMeta::resolve(
            "eth0",
            &o,
            &InterfaceDefaults {
                account_id: "123456789010".into(),
                region: "us-east-1".into(),
            },
        )
    }

    fn line(format: &LogFormat, r: &FlowRecord, m: &InterfaceMeta) -> String {
        let mut out = Vec::new();
        format.write_line(&record_values(r, m, format.version()), &mut out);
        String::from_utf8(out).unwrap()
    }

    fn icmp_record(src: [u8; 4], dst: [u8; 4]) -> FlowRecord {
        FlowRecord {
            interface: InterfaceIndex(0),
            window_start: 1432917000,
            start: 1432917027,
            end: 1432917142,
            status: LogStatus::Ok,
            traffic: Some(Traffic {
                key: FlowKey {
                    src: Ipv4Addr::from(src).into(),
                    dst: Ipv4Addr::from(dst).into(),
                    src_port: 0,
                    dst_port: 0,
                    protocol: 1,
                },
                packet_addrs: None,
                packets: 4,
                bytes: 336,
                tcp_flags: TcpFlags::NONE,
                action: Action::Accept,
            }),
        }
    }

    #[test]
    fn writes_the_documented_icmp_record() {
        let r = icmp_record([203, 0, 113, 12], [172, 31, 16, 139]);
        assert_eq!(
            line(&LogFormat::default(), &r, &meta()),
            "2 123456789010 eni-1235b8ca123456789 203.0.113.12 172.31.16.139 0 0 1 4 336 1432917027 1432917142 ACCEPT OK\n"
        );
    }

    #[test]
    fn nodata_keeps_metadata_and_dashes_traffic() {
        let r = FlowRecord {
            interface: InterfaceIndex(0),
            window_start: 1431280800,
            start: 1431280800,
            end: 1431281399,
            status: LogStatus::NoData,
            traffic: None,
        };
        assert_eq!(
            line(&LogFormat::default(), &r, &meta()),
            "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280800 1431281399 - NODATA\n"
        );
        let all = LogFormat::from_fields(Field::ALL.to_vec()).unwrap();
        let m = meta();
        let values = record_values(&r, &m, 8);
        for f in all.fields() {
            let mut out = Vec::new();
            values.write_field(*f, &mut out);
            let dash = out == b"-";
            let expected_dash = !f.kept_without_traffic()
                || matches!(f, Field::SublocationType | Field::SublocationId)
                || f.version() == 7;
            assert_eq!(dash, expected_dash, "{f}");
        }
    }

    #[test]
    fn reject_reason_follows_the_action() {
        let m = meta();
        let f = LogFormat::parse("${action} ${reject-reason}").unwrap();
        let mut r = icmp_record([203, 0, 113, 12], [172, 31, 16, 139]);
        for (action, text) in [
            (Action::Accept, "ACCEPT -\n"),
            (Action::Reject, "REJECT -\n"),
            (Action::RejectBpa, "REJECT BPA\n"),
        ] {
            r.traffic.as_mut().unwrap().action = action;
            assert_eq!(line(&f, &r, &m), text);
        }
    }

    #[test]
    fn direction_and_packet_addresses() {
        let m = meta();
        let mut r = icmp_record([172, 31, 16, 139], [203, 0, 113, 12]);
        let f = LogFormat::parse(
            "${flow-direction} ${pkt-srcaddr} ${pkt-dstaddr} ${type} ${tcp-flags}",
        )
        .unwrap();
        assert_eq!(
            line(&f, &r, &m),
            "egress 172.31.16.139 203.0.113.12 IPv4 0\n"
        );
        r.traffic.as_mut().unwrap().packet_addrs = Some(PacketAddrs {
            src: "10.1.1.1".parse().unwrap(),
            dst: "10.2.2.2".parse().unwrap(),
        });
        assert_eq!(line(&f, &r, &m), "egress 10.1.1.1 10.2.2.2 IPv4 0\n");
        let unrelated = icmp_record([1, 1, 1, 1], [2, 2, 2, 2]);
        assert_eq!(line(&f, &unrelated, &m), "- 1.1.1.1 2.2.2.2 IPv4 0\n");
    }
}
