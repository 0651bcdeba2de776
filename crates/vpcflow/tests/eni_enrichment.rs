//! End to end: an interface's own addresses (primary and secondary), its
//! inside networks and an AWS ip-ranges file shape srcaddr/dstaddr and
//! pkt-*-aws-service as AWS writes them (spec §2.3, §1.7).

mod common;

use common::vpcflow_ok;
use pcapgen::pcap::{write_file_header, write_record};
use pcapgen::TsResolution;
use vpcflow_testkit::ConfigToml;

/// An Ethernet frame carrying an IPv4 UDP packet from `src` to `dst`.
fn udp_frame(src: &str, dst: &str) -> Vec<u8> {
    let src: std::net::Ipv4Addr = src.parse().unwrap();
    let dst: std::net::Ipv4Addr = dst.parse().unwrap();
    let mut f = vec![0u8; 14];
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let mut ip = vec![0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(20u16 + 8 + 4).to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&40000u16.to_be_bytes());
    f.extend_from_slice(&443u16.to_be_bytes());
    f.extend_from_slice(&12u16.to_be_bytes());
    f.extend_from_slice(&[0, 0, 1, 2, 3, 4]);
    f
}

/// AWS's format of ip-ranges.json, with a range listed as AMAZON and as S3
/// (as AWS does) and a wider AMAZON-only range.
const IP_RANGES: &str = r#"{
  "syncToken": "1",
  "createDate": "2026-01-01-00-00-00",
  "prefixes": [
    {"ip_prefix": "52.95.0.0/16", "region": "ap-southeast-2", "service": "AMAZON", "network_border_group": "ap-southeast-2"},
    {"ip_prefix": "52.95.128.0/21", "region": "ap-southeast-2", "service": "AMAZON", "network_border_group": "ap-southeast-2"},
    {"ip_prefix": "52.95.128.0/21", "region": "ap-southeast-2", "service": "S3", "network_border_group": "ap-southeast-2"}
  ],
  "ipv6_prefixes": []
}"#;

#[test]
fn nat_interface_secondary_addresses_and_aws_services() {
    let tmp = tempfile::tempdir().unwrap();
    let pcap = tmp.path().join("nat.pcap");
    let mut out = Vec::new();
    write_file_header(&mut out, TsResolution::Micro).unwrap();
    let packets = [
        // AWS's NAT gateway example: instance 10.0.1.5 to 203.0.113.5
        // through the NAT interface 10.0.0.220, and the reply.
        ("10.0.1.5", "203.0.113.5"),
        ("10.0.0.220", "203.0.113.5"),
        ("203.0.113.5", "10.0.0.220"),
        ("203.0.113.5", "10.0.1.5"),
        // To and from the secondary address.
        ("198.51.100.9", "10.0.0.221"),
        ("10.0.0.221", "198.51.100.9"),
        // S3 (listed as AMAZON too) and an AMAZON-only address.
        ("10.0.0.221", "52.95.128.179"),
        ("52.95.128.179", "10.0.0.221"),
        ("52.95.7.7", "10.0.0.220"),
    ];
    let t0 = 1_767_225_000u64 * 1_000_000_000;
    for (i, (src, dst)) in packets.iter().enumerate() {
        let t = t0 + (i as u64 + 1) * 1_000_000_000;
        write_record(&mut out, TsResolution::Micro, t, &udp_frame(src, dst)).unwrap();
    }
    std::fs::write(&pcap, out).unwrap();
    let ranges = tmp.path().join("ip-ranges.json");
    std::fs::write(&ranges, IP_RANGES).unwrap();
    let cfg = ConfigToml::new()
        .table("flow_log")
        .set("account_id", "123456789012")
        .set("region", "ap-southeast-2")
        .set(
            "format",
            "${instance-id} ${srcaddr} ${dstaddr} ${pkt-srcaddr} ${pkt-dstaddr} ${pkt-src-aws-service} ${pkt-dst-aws-service} ${flow-direction}",
        )
        .set("aws_ip_ranges", &ranges)
        .without_nodata()
        .array_entry("interface")
        .set("name", "capture0")
        .set("instance_id", "-")
        .set("addresses", ["10.0.0.220", "10.0.0.221"])
        .set("networks", ["10.0.0.0/16"])
        .write(tmp.path());
    let out = vpcflow_ok(&[
        "convert",
        pcap.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        "-",
        "--quiet",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines: Vec<&str> = text.lines().skip(1).collect();
    lines.sort();
    let mut want = vec![
        // The four records of AWS's NAT gateway example (spec §5, nat-gateway-eni).
        "- 10.0.1.5 10.0.0.220 10.0.1.5 203.0.113.5 - - ingress",
        "- 10.0.0.220 203.0.113.5 10.0.0.220 203.0.113.5 - - egress",
        "- 203.0.113.5 10.0.0.220 203.0.113.5 10.0.0.220 - - ingress",
        "- 10.0.0.220 10.0.1.5 203.0.113.5 10.0.1.5 - - egress",
        // The secondary address: the primary in srcaddr/dstaddr.
        "- 198.51.100.9 10.0.0.220 198.51.100.9 10.0.0.221 - - ingress",
        "- 10.0.0.220 198.51.100.9 10.0.0.221 198.51.100.9 - - egress",
        // S3 beats AMAZON on the same range; AMAZON alone stays AMAZON.
        "- 10.0.0.220 52.95.128.179 10.0.0.221 52.95.128.179 - S3 egress",
        "- 52.95.128.179 10.0.0.220 52.95.128.179 10.0.0.221 S3 - ingress",
        "- 52.95.7.7 10.0.0.220 52.95.7.7 10.0.0.220 AMAZON - ingress",
    ];
    want.sort();
    assert_eq!(lines, want, "{text}");
}

#[test]
fn a_bad_ip_ranges_file_is_a_configuration_error_naming_file_and_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let ranges = tmp.path().join("ip-ranges.json");
    std::fs::write(
        &ranges,
        r#"{"prefixes": [{"ip_prefix": "52.95.0.0/16", "service": "AMAZON"}, {"ip_prefix": "52.95.0.0/33", "service": "S3"}]}"#,
    )
    .unwrap();
    let cfg = ConfigToml::new()
        .table("flow_log")
        .set("aws_ip_ranges", &ranges)
        .write(tmp.path());
    let pcap = tmp.path().join("empty.pcap");
    let mut out = Vec::new();
    write_file_header(&mut out, TsResolution::Micro).unwrap();
    std::fs::write(&pcap, out).unwrap();
    let out = common::vpcflow(&[
        "convert",
        pcap.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        "-",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("flow_log.aws_ip_ranges")
            && err.contains(&ranges.display().to_string())
            && err.contains("prefixes[1].ip_prefix: \"52.95.0.0/33\" is not an IP prefix"),
        "{err}"
    );
}
