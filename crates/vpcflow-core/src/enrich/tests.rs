use std::net::Ipv4Addr;

use super::*;
use crate::fields::Field;
use crate::flow::{Action, FlowKey, InterfaceIndex, PacketAddrs};
use crate::format::LogFormat;
use crate::interface::{InterfaceConfig, InterfaceDefaults};
use crate::record::{LogStatus, Traffic};
use crate::tcp_flags::TcpFlags;

fn meta() -> InterfaceMeta {
    let o = InterfaceConfig {
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
            direction: None,
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
    let f =
        LogFormat::parse("${flow-direction} ${pkt-srcaddr} ${pkt-dstaddr} ${type} ${tcp-flags}")
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

fn resolve(o: InterfaceConfig) -> InterfaceMeta {
    InterfaceMeta::resolve(
        "eth0",
        &o,
        &InterfaceDefaults {
            account_id: "123456789010".into(),
            region: "us-east-1".into(),
        },
    )
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn udp(src: &str, dst: &str, packet_addrs: Option<(&str, &str)>) -> FlowRecord {
    let mut r = icmp_record([0; 4], [0; 4]);
    let t = r.traffic.as_mut().unwrap();
    t.key.src = ip(src);
    t.key.dst = ip(dst);
    t.key.protocol = 17;
    t.packet_addrs = packet_addrs.map(|(s, d)| PacketAddrs {
        src: ip(s),
        dst: ip(d),
    });
    r
}

const ADDRS: &str = "${srcaddr} ${dstaddr} ${pkt-srcaddr} ${pkt-dstaddr} ${flow-direction}";

#[test]
fn secondary_addresses_are_reported_as_the_primary() {
    let m = resolve(InterfaceConfig {
        addresses: vec![
            ip("fe80::1"),
            ip("10.0.0.5"),
            ip("10.0.0.6"),
            ip("2001:db8::5"),
            ip("2001:db8::6"),
        ],
        ..Default::default()
    });
    assert_eq!(m.primary(ip("0.0.0.0")), Some(ip("10.0.0.5")));
    assert_eq!(
        m.primary(ip("::")),
        Some(ip("2001:db8::5")),
        "link-local only when nothing else"
    );
    let f = LogFormat::parse(ADDRS).unwrap();
    let cases = [
        // Ingress to the secondary address: dstaddr is the primary.
        (
            ("198.51.100.7", "10.0.0.6"),
            "198.51.100.7 10.0.0.5 198.51.100.7 10.0.0.6 ingress\n",
        ),
        // Egress from the secondary address: srcaddr is the primary.
        (
            ("10.0.0.6", "198.51.100.7"),
            "10.0.0.5 198.51.100.7 10.0.0.6 198.51.100.7 egress\n",
        ),
        // The primary itself: unchanged.
        (
            ("198.51.100.7", "10.0.0.5"),
            "198.51.100.7 10.0.0.5 198.51.100.7 10.0.0.5 ingress\n",
        ),
        // IPv6, from the link-local address: the primary IPv6 address.
        (
            ("fe80::1", "2001:db8::99"),
            "2001:db8::5 2001:db8::99 fe80::1 2001:db8::99 egress\n",
        ),
        (
            ("2001:db8::99", "2001:db8::6"),
            "2001:db8::99 2001:db8::5 2001:db8::99 2001:db8::6 ingress\n",
        ),
        // Unknown direction: as carried.
        (
            ("198.51.100.7", "198.51.100.8"),
            "198.51.100.7 198.51.100.8 198.51.100.7 198.51.100.8 -\n",
        ),
    ];
    for ((src, dst), want) in cases {
        assert_eq!(line(&f, &udp(src, dst, None), &m), want, "{src} > {dst}");
    }
}

#[test]
fn configured_primary_wins_and_is_an_own_address() {
    let m = resolve(InterfaceConfig {
        addresses: vec![ip("10.0.0.5")],
        primary_ipv4: Some("10.0.0.9".parse().unwrap()),
        ..Default::default()
    });
    assert_eq!(m.addresses, vec![ip("10.0.0.9"), ip("10.0.0.5")]);
    let f = LogFormat::parse(ADDRS).unwrap();
    assert_eq!(
        line(&f, &udp("10.0.0.5", "192.0.2.1", None), &m),
        "10.0.0.9 192.0.2.1 10.0.0.5 192.0.2.1 egress\n"
    );
    // No IPv6 address at all: IPv6 traffic keeps its addresses.
    assert_eq!(
        line(&f, &udp("2001:db8::1", "2001:db8::2", None), &m),
        "2001:db8::1 2001:db8::2 2001:db8::1 2001:db8::2 -\n"
    );
}

/// AWS's NAT gateway example (spec §2.3, `nat-gateway-eni`): the NAT
/// interface 10.0.0.220 in a VPC 10.0.0.0/16 forwards an instance's
/// (10.0.1.5) traffic to 203.0.113.5 and the replies back.
#[test]
fn nat_gateway_example() {
    let m = resolve(InterfaceConfig {
        interface_id: Some("eni-1235b8ca123456789".into()),
        instance_id: Some("-".into()),
        addresses: vec![ip("10.0.0.220")],
        networks: vec!["10.0.0.0/16".parse().unwrap()],
        ..Default::default()
    });
    let f = LogFormat::parse(
        "${instance-id} ${interface-id} ${srcaddr} ${dstaddr} ${pkt-srcaddr} ${pkt-dstaddr}",
    )
    .unwrap();
    let packets = [
        ("10.0.1.5", "203.0.113.5"),
        ("10.0.0.220", "203.0.113.5"),
        ("203.0.113.5", "10.0.0.220"),
        ("203.0.113.5", "10.0.1.5"),
    ];
    let lines: String = packets
        .iter()
        .map(|(s, d)| line(&f, &udp(s, d, None), &m))
        .collect();
    assert_eq!(
        lines,
        "- eni-1235b8ca123456789 10.0.1.5 10.0.0.220 10.0.1.5 203.0.113.5\n\
         - eni-1235b8ca123456789 10.0.0.220 203.0.113.5 10.0.0.220 203.0.113.5\n\
         - eni-1235b8ca123456789 203.0.113.5 10.0.0.220 203.0.113.5 10.0.0.220\n\
         - eni-1235b8ca123456789 10.0.0.220 10.0.1.5 203.0.113.5 10.0.1.5\n"
    );
    // The instance's own interface: pkt-* equal srcaddr/dstaddr.
    let instance = resolve(InterfaceConfig {
        addresses: vec![ip("10.0.1.5")],
        ..Default::default()
    });
    assert_eq!(
        line(&f, &udp("10.0.1.5", "203.0.113.5", None), &instance)
            .split_once(' ')
            .unwrap()
            .1
            .split_once(' ')
            .unwrap()
            .1,
        "10.0.1.5 203.0.113.5 10.0.1.5 203.0.113.5\n"
    );
    // Inside to inside, outside to outside: unknown, unchanged.
    assert_eq!(m.direction(ip("10.0.1.5"), ip("10.0.2.5")), None);
    assert_eq!(m.direction(ip("192.0.2.1"), ip("203.0.113.5")), None);
}

#[test]
fn tunnels_keep_the_inner_addresses_as_pkt_addresses() {
    let m = resolve(InterfaceConfig {
        addresses: vec![ip("10.0.0.5"), ip("10.0.0.6")],
        ..Default::default()
    });
    let f = LogFormat::parse(ADDRS).unwrap();
    assert_eq!(
        line(
            &f,
            &udp("10.0.0.6", "192.0.2.1", Some(("172.16.0.1", "172.16.0.2"))),
            &m
        ),
        "10.0.0.5 192.0.2.1 172.16.0.1 172.16.0.2 egress\n"
    );
}
