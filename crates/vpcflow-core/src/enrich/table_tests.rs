//! Tests of [`InterfaceTable`](super::InterfaceTable).

use std::collections::HashMap;
use std::sync::Arc;

use super::*;
use crate::interface::{InterfaceConfig, InterfaceDefaults, InterfaceMeta};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn defaults() -> InterfaceDefaults {
    InterfaceDefaults {
        account_id: "123456789012".into(),
        region: "eu-west-1".into(),
    }
}
#[test]
fn table_registers_once() {
    let mut t = InterfaceTable::new(defaults(), HashMap::new());
    let a = t.register("eth0");
    let b = t.register("eth1");
    assert_eq!(t.register("eth0"), a);
    assert_ne!(a, b);
    assert_eq!(t.len(), 2);
    assert_eq!(t.get(b).name, "eth1");
}

#[test]
fn os_addresses_are_added_to_configured_ones() {
    let mut configured = HashMap::new();
    configured.insert(
        "eth0".to_string(),
        InterfaceConfig {
            addresses: vec![ip("10.0.0.5")],
            ..InterfaceConfig::default()
        },
    );
    let mut t = InterfaceTable::new(defaults(), configured);
    let a = t.register("eth0");
    t.add_addresses(a, &[ip("10.0.0.6"), ip("10.0.0.5"), ip("fd00::6")]);
    assert_eq!(
        t.get(a).addresses,
        vec![ip("10.0.0.5"), ip("10.0.0.6"), ip("fd00::6")]
    );
}

#[test]
fn values_look_up_aws_services_of_the_packet_addresses() {
    use crate::aws_service::AwsServices;
    use crate::flow::{Action, FlowKey};
    use crate::record::{FlowRecord, LogStatus, Traffic};
    use crate::tcp_flags::TcpFlags;

    let mut t = InterfaceTable::new(defaults(), HashMap::new());
    let eth0 = t.register("eth0");
    let record = FlowRecord {
        interface: eth0,
        window_start: 0,
        start: 1,
        end: 2,
        status: LogStatus::Ok,
        traffic: Some(Traffic {
            key: FlowKey {
                src: ip("52.95.128.179"),
                dst: ip("10.0.0.71"),
                src_port: 80,
                dst_port: 34210,
                protocol: 6,
            },
            packet_addrs: None,
            packets: 1,
            bytes: 40,
            tcp_flags: TcpFlags::NONE,
            action: Action::Accept,
            direction: None,
        }),
    };
    let v = t.values(&record, 5);
    assert_eq!((v.pkt_src_aws_service, v.pkt_dst_aws_service), (None, None));
    let mut services = AwsServices::new();
    services
        .insert("52.95.128.0/21".parse().unwrap(), "AMAZON")
        .unwrap();
    services
        .insert("52.95.128.0/21".parse().unwrap(), "S3")
        .unwrap();
    t.set_aws_services(Some(Arc::new(services)));
    let v = t.values(&record, 5);
    assert_eq!(
        (v.pkt_src_aws_service, v.pkt_dst_aws_service),
        (Some("S3"), None)
    );
    let nodata = FlowRecord {
        traffic: None,
        status: LogStatus::NoData,
        ..record
    };
    assert_eq!(t.values(&nodata, 5).pkt_src_aws_service, None);
}

#[test]
fn reconfigure_keeps_indices_and_os_addresses() {
    let configured = |id: &str, addr: &str| {
        let mut c = HashMap::new();
        c.insert(
            "eth0".to_string(),
            InterfaceConfig {
                interface_id: Some(id.into()),
                addresses: vec![ip(addr)],
                ..InterfaceConfig::default()
            },
        );
        c
    };
    let mut t = InterfaceTable::new(defaults(), configured("eni-0000000000000000a", "10.0.0.5"));
    let other = t.register("eth1");
    let a = t.register("eth0");
    t.add_addresses(a, &[ip("10.0.0.6")]);
    let eth1_before = t.get(other).clone();
    t.reconfigure(configured("eni-0000000000000000b", "10.0.0.7"));
    assert_eq!(t.register("eth0"), a);
    assert_eq!(t.get(a).interface_id, "eni-0000000000000000b");
    assert_eq!(t.get(a).addresses, vec![ip("10.0.0.7"), ip("10.0.0.6")]);
    assert_eq!(t.get(other), &eth1_before);
    t.reconfigure(HashMap::new());
    assert_eq!(
        t.get(a).interface_id,
        InterfaceMeta::resolve("eth0", &InterfaceConfig::default(), &defaults()).interface_id
    );
    assert_eq!(t.get(a).addresses, vec![ip("10.0.0.6")]);
}

#[test]
fn insert_takes_resolved_metadata_and_replaces_by_name() {
    let mut resolver = InterfaceTable::new(defaults(), HashMap::new());
    let eth1 = resolver.register("eth1");
    let eth0 = resolver.register("eth0");
    resolver.add_addresses(eth0, &["10.0.0.1".parse().unwrap()]);
    let mut mirror = InterfaceTable::new(defaults(), HashMap::new());
    for (_, meta) in resolver.iter() {
        mirror.insert(meta.clone());
    }
    assert_eq!(mirror.len(), 2);
    assert_eq!(mirror.get(eth1), resolver.get(eth1));
    assert_eq!(mirror.get(eth0), resolver.get(eth0));
    let mut changed = resolver.get(eth0).clone();
    changed.interface_id = "eni-0000000000000000f".into();
    assert_eq!(mirror.insert(changed.clone()), eth0);
    assert_eq!(mirror.len(), 2);
    assert_eq!(mirror.get(eth0), &changed);
}

#[test]
fn enricher_gives_the_values_of_each_record() {
    use crate::aws_service::AwsServices;
    use crate::flow::{Action, FlowDirection, FlowKey, PacketAddrs};
    use crate::record::{FlowRecord, LogStatus, Traffic};
    use crate::tcp_flags::TcpFlags;

    let mut configured = HashMap::new();
    configured.insert(
        "eth1".to_string(),
        InterfaceConfig {
            vpc_id: Some("vpc-0a1b2c3d".into()),
            subnet_id: Some("subnet-0a1b2c3d".into()),
            addresses: vec![ip("10.0.0.71")],
            ..InterfaceConfig::default()
        },
    );
    let mut t = InterfaceTable::new(defaults(), configured);
    let eth0 = t.register("eth0");
    let eth1 = t.register("eth1");
    let mut services = AwsServices::new();
    services
        .insert("52.95.128.0/21".parse().unwrap(), "S3")
        .unwrap();
    t.set_aws_services(Some(Arc::new(services)));
    let ok = |interface, src: &str, dst: &str, inner: Option<PacketAddrs>| FlowRecord {
        interface,
        window_start: 600,
        start: 601,
        end: 650,
        status: LogStatus::Ok,
        traffic: Some(Traffic {
            key: FlowKey {
                src: ip(src),
                dst: ip(dst),
                src_port: 443,
                dst_port: 34210,
                protocol: 6,
            },
            packet_addrs: inner,
            packets: 3,
            bytes: 180,
            tcp_flags: TcpFlags(18),
            action: Action::RejectBpa,
            direction: Some(FlowDirection::Ingress),
        }),
    };
    let status = |interface, status| FlowRecord {
        interface,
        window_start: 600,
        start: 600,
        end: 1199,
        status,
        traffic: None,
    };
    let inner = PacketAddrs {
        src: ip("52.95.128.9"),
        dst: ip("fd00::1"),
    };
    // The same interface twice, a switch, status records between traffic
    // records (whose fields must not carry over), IPv6, tunnelled addresses.
    let records = [
        ok(eth0, "52.95.128.179", "10.0.0.5", None),
        ok(eth0, "10.0.0.5", "52.95.128.179", Some(inner)),
        status(eth0, LogStatus::NoData),
        ok(eth1, "52.95.128.179", "10.0.0.9", None),
        status(eth1, LogStatus::SkipData),
        ok(eth1, "2001:db8::1", "fd00::2", None),
        status(eth0, LogStatus::NoData),
        ok(eth0, "192.0.2.1", "10.0.0.5", None),
    ];
    for version in [2, 5] {
        let mut enricher = t.enricher(version);
        for (i, r) in records.iter().enumerate() {
            assert_eq!(*enricher.values(r), t.values(r, version), "record {i}");
        }
    }
}
