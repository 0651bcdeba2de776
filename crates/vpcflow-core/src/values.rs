//! The values of one record, field by field, and their text form (spec §1.1).

use std::io::Write as _;
use std::net::IpAddr;

use crate::fields::Field;
use crate::flow::Action;
use crate::record::LogStatus;

/// The `type` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrafficType {
    /// IPv4 traffic.
    IPv4,
    /// IPv6 traffic.
    IPv6,
    /// Elastic Fabric Adapter traffic.
    Efa,
}

impl TrafficType {
    /// The text written in a record.
    pub fn as_str(self) -> &'static str {
        match self {
            TrafficType::IPv4 => "IPv4",
            TrafficType::IPv6 => "IPv6",
            TrafficType::Efa => "EFA",
        }
    }
}

pub use crate::flow::FlowDirection;

/// Every field value of one record; `None` is written as `-`.
///
/// Strings borrow from the interface metadata (or from the parsed line), so
/// building one per record allocates nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(missing_docs)] // one member per field of the same name, see [`Field`]
pub struct RecordValues<'a> {
    pub version: Option<u8>,
    pub account_id: Option<&'a str>,
    pub interface_id: Option<&'a str>,
    pub srcaddr: Option<IpAddr>,
    pub dstaddr: Option<IpAddr>,
    pub srcport: Option<u16>,
    pub dstport: Option<u16>,
    pub protocol: Option<u8>,
    pub packets: Option<u64>,
    pub bytes: Option<u64>,
    pub start: Option<u64>,
    pub end: Option<u64>,
    pub action: Option<Action>,
    pub log_status: Option<LogStatus>,
    pub vpc_id: Option<&'a str>,
    pub subnet_id: Option<&'a str>,
    pub instance_id: Option<&'a str>,
    pub tcp_flags: Option<u8>,
    pub traffic_type: Option<TrafficType>,
    pub pkt_srcaddr: Option<IpAddr>,
    pub pkt_dstaddr: Option<IpAddr>,
    pub region: Option<&'a str>,
    pub az_id: Option<&'a str>,
    pub sublocation_type: Option<&'a str>,
    pub sublocation_id: Option<&'a str>,
    pub pkt_src_aws_service: Option<&'a str>,
    pub pkt_dst_aws_service: Option<&'a str>,
    pub flow_direction: Option<FlowDirection>,
    pub traffic_path: Option<u8>,
    pub ecs_cluster_arn: Option<&'a str>,
    pub ecs_cluster_name: Option<&'a str>,
    pub ecs_container_instance_arn: Option<&'a str>,
    pub ecs_container_instance_id: Option<&'a str>,
    pub ecs_container_id: Option<&'a str>,
    pub ecs_second_container_id: Option<&'a str>,
    pub ecs_service_name: Option<&'a str>,
    pub ecs_task_definition_arn: Option<&'a str>,
    pub ecs_task_arn: Option<&'a str>,
    pub ecs_task_id: Option<&'a str>,
    pub reject_reason: Option<&'a str>,
}

/// A value that cannot be read from a record's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field {field}: {reason}: {value:?}")]
pub struct ValueError {
    /// The field.
    pub field: Field,
    /// The text found.
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Writes `value` or `-`.
#[inline]
fn put_str(out: &mut Vec<u8>, value: Option<&str>) {
    out.extend_from_slice(value.unwrap_or("-").as_bytes());
}

#[inline]
fn put_int<I: itoa::Integer>(out: &mut Vec<u8>, value: Option<I>) {
    match value {
        Some(v) => out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
        None => out.push(b'-'),
    }
}

/// Writes an address in canonical text form (dotted quad; RFC 5952 for IPv6).
#[inline]
fn put_addr(out: &mut Vec<u8>, value: Option<IpAddr>) {
    match value {
        Some(IpAddr::V4(v4)) => {
            let mut buf = itoa::Buffer::new();
            for (i, octet) in v4.octets().iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                out.extend_from_slice(buf.format(*octet).as_bytes());
            }
        }
        // std's Display of Ipv6Addr follows RFC 5952 (lower case, longest run of
        // zero groups compressed, no leading zeros).
        Some(IpAddr::V6(v6)) => write!(out, "{v6}").expect("writing to a Vec cannot fail"),
        None => out.push(b'-'),
    }
}

impl<'a> RecordValues<'a> {
    /// Appends the text of `field` to `out`.
    pub fn write_field(&self, field: Field, out: &mut Vec<u8>) {
        use Field as F;
        match field {
            F::Version => put_int(out, self.version),
            F::AccountId => put_str(out, self.account_id),
            F::InterfaceId => put_str(out, self.interface_id),
            F::SrcAddr => put_addr(out, self.srcaddr),
            F::DstAddr => put_addr(out, self.dstaddr),
            F::SrcPort => put_int(out, self.srcport),
            F::DstPort => put_int(out, self.dstport),
            F::Protocol => put_int(out, self.protocol),
            F::Packets => put_int(out, self.packets),
            F::Bytes => put_int(out, self.bytes),
            F::Start => put_int(out, self.start),
            F::End => put_int(out, self.end),
            F::Action => put_str(out, self.action.map(Action::as_str)),
            F::LogStatus => put_str(out, self.log_status.map(LogStatus::as_str)),
            F::VpcId => put_str(out, self.vpc_id),
            F::SubnetId => put_str(out, self.subnet_id),
            F::InstanceId => put_str(out, self.instance_id),
            F::TcpFlags => put_int(out, self.tcp_flags),
            F::Type => put_str(out, self.traffic_type.map(TrafficType::as_str)),
            F::PktSrcAddr => put_addr(out, self.pkt_srcaddr),
            F::PktDstAddr => put_addr(out, self.pkt_dstaddr),
            F::Region => put_str(out, self.region),
            F::AzId => put_str(out, self.az_id),
            F::SublocationType => put_str(out, self.sublocation_type),
            F::SublocationId => put_str(out, self.sublocation_id),
            F::PktSrcAwsService => put_str(out, self.pkt_src_aws_service),
            F::PktDstAwsService => put_str(out, self.pkt_dst_aws_service),
            F::FlowDirection => put_str(out, self.flow_direction.map(FlowDirection::as_str)),
            F::TrafficPath => put_int(out, self.traffic_path),
            F::EcsClusterArn => put_str(out, self.ecs_cluster_arn),
            F::EcsClusterName => put_str(out, self.ecs_cluster_name),
            F::EcsContainerInstanceArn => put_str(out, self.ecs_container_instance_arn),
            F::EcsContainerInstanceId => put_str(out, self.ecs_container_instance_id),
            F::EcsContainerId => put_str(out, self.ecs_container_id),
            F::EcsSecondContainerId => put_str(out, self.ecs_second_container_id),
            F::EcsServiceName => put_str(out, self.ecs_service_name),
            F::EcsTaskDefinitionArn => put_str(out, self.ecs_task_definition_arn),
            F::EcsTaskArn => put_str(out, self.ecs_task_arn),
            F::EcsTaskId => put_str(out, self.ecs_task_id),
            F::RejectReason => put_str(out, self.reject_reason),
        }
    }

    /// Sets `field` from its text (`-` leaves it `None`). Numbers must be plain
    /// decimal without leading zeros, addresses canonical, enumerations one of
    /// their documented values.
    pub fn read_field(&mut self, field: Field, text: &'a str) -> Result<(), ValueError> {
        use Field as F;
        if text == "-" {
            return Ok(());
        }
        let err = |reason| ValueError {
            field,
            value: text.to_string(),
            reason,
        };
        if text.is_empty()
            || text
                .bytes()
                .any(|b| b.is_ascii_whitespace() || !b.is_ascii())
        {
            return Err(err("not a single ASCII token"));
        }
        match field {
            F::Version => {
                self.version = Some(parse_int(text).ok_or_else(|| err("not a version number"))?)
            }
            F::AccountId => self.account_id = Some(text),
            F::InterfaceId => self.interface_id = Some(text),
            F::SrcAddr => {
                self.srcaddr =
                    Some(parse_addr(text).ok_or_else(|| err("not a canonical IP address"))?)
            }
            F::DstAddr => {
                self.dstaddr =
                    Some(parse_addr(text).ok_or_else(|| err("not a canonical IP address"))?)
            }
            F::SrcPort => self.srcport = Some(parse_int(text).ok_or_else(|| err("not a port"))?),
            F::DstPort => self.dstport = Some(parse_int(text).ok_or_else(|| err("not a port"))?),
            F::Protocol => {
                self.protocol = Some(parse_int(text).ok_or_else(|| err("not a protocol number"))?)
            }
            F::Packets => self.packets = Some(parse_int(text).ok_or_else(|| err("not a count"))?),
            F::Bytes => self.bytes = Some(parse_int(text).ok_or_else(|| err("not a count"))?),
            F::Start => self.start = Some(parse_int(text).ok_or_else(|| err("not Unix seconds"))?),
            F::End => self.end = Some(parse_int(text).ok_or_else(|| err("not Unix seconds"))?),
            F::Action => {
                self.action = Some(match text {
                    "ACCEPT" => Action::Accept,
                    "REJECT" => Action::Reject,
                    _ => return Err(err("not ACCEPT or REJECT")),
                })
            }
            F::LogStatus => {
                self.log_status = Some(match text {
                    "OK" => LogStatus::Ok,
                    "NODATA" => LogStatus::NoData,
                    "SKIPDATA" => LogStatus::SkipData,
                    _ => return Err(err("not OK, NODATA or SKIPDATA")),
                })
            }
            F::VpcId => self.vpc_id = Some(text),
            F::SubnetId => self.subnet_id = Some(text),
            F::InstanceId => self.instance_id = Some(text),
            F::TcpFlags => {
                self.tcp_flags = Some(parse_int(text).ok_or_else(|| err("not a flags value"))?)
            }
            F::Type => {
                self.traffic_type = Some(match text {
                    "IPv4" => TrafficType::IPv4,
                    "IPv6" => TrafficType::IPv6,
                    "EFA" => TrafficType::Efa,
                    _ => return Err(err("not IPv4, IPv6 or EFA")),
                })
            }
            F::PktSrcAddr => {
                self.pkt_srcaddr =
                    Some(parse_addr(text).ok_or_else(|| err("not a canonical IP address"))?)
            }
            F::PktDstAddr => {
                self.pkt_dstaddr =
                    Some(parse_addr(text).ok_or_else(|| err("not a canonical IP address"))?)
            }
            F::Region => self.region = Some(text),
            F::AzId => self.az_id = Some(text),
            F::SublocationType => self.sublocation_type = Some(text),
            F::SublocationId => self.sublocation_id = Some(text),
            F::PktSrcAwsService => self.pkt_src_aws_service = Some(text),
            F::PktDstAwsService => self.pkt_dst_aws_service = Some(text),
            F::FlowDirection => {
                self.flow_direction = Some(match text {
                    "ingress" => FlowDirection::Ingress,
                    "egress" => FlowDirection::Egress,
                    _ => return Err(err("not ingress or egress")),
                })
            }
            F::TrafficPath => {
                self.traffic_path = Some(parse_int(text).ok_or_else(|| err("not a traffic path"))?)
            }
            F::EcsClusterArn => self.ecs_cluster_arn = Some(text),
            F::EcsClusterName => self.ecs_cluster_name = Some(text),
            F::EcsContainerInstanceArn => self.ecs_container_instance_arn = Some(text),
            F::EcsContainerInstanceId => self.ecs_container_instance_id = Some(text),
            F::EcsContainerId => self.ecs_container_id = Some(text),
            F::EcsSecondContainerId => self.ecs_second_container_id = Some(text),
            F::EcsServiceName => self.ecs_service_name = Some(text),
            F::EcsTaskDefinitionArn => self.ecs_task_definition_arn = Some(text),
            F::EcsTaskArn => self.ecs_task_arn = Some(text),
            F::EcsTaskId => self.ecs_task_id = Some(text),
            F::RejectReason => self.reject_reason = Some(text),
        }
        Ok(())
    }
}

/// Decimal without sign, separators or leading zeros.
fn parse_int<I: std::str::FromStr>(text: &str) -> Option<I> {
    let digits_only = text.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = text.len() > 1 && text.starts_with('0');
    if !digits_only || leading_zero {
        return None;
    }
    text.parse().ok()
}

/// An address whose canonical form is exactly `text`.
fn parse_addr(text: &str) -> Option<IpAddr> {
    let addr: IpAddr = text.parse().ok()?;
    let mut canonical = Vec::with_capacity(text.len());
    put_addr(&mut canonical, Some(addr));
    (canonical == text.as_bytes()).then_some(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: &RecordValues, f: Field) -> String {
        let mut out = Vec::new();
        v.write_field(f, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn missing_values_are_dashes() {
        let v = RecordValues::default();
        for f in Field::ALL {
            assert_eq!(text(&v, *f), "-", "{f}");
        }
    }

    #[test]
    fn every_field_round_trips_through_text() {
        let samples: &[(Field, &str)] = &[
            (Field::Version, "5"),
            (Field::AccountId, "123456789012"),
            (Field::AccountId, "unknown"),
            (Field::SrcAddr, "10.0.0.1"),
            (Field::DstAddr, "2001:db8::1"),
            (Field::SrcPort, "0"),
            (Field::DstPort, "65535"),
            (Field::Protocol, "255"),
            (Field::Packets, "18446744073709551615"),
            (Field::Bytes, "336"),
            (Field::Start, "1418530010"),
            (Field::End, "1418530070"),
            (Field::Action, "REJECT"),
            (Field::LogStatus, "SKIPDATA"),
            (Field::TcpFlags, "19"),
            (Field::Type, "IPv6"),
            (Field::Type, "EFA"),
            (Field::PktSrcAddr, "::ffff:1.2.3.4"),
            (Field::PktDstAddr, "fe80::1:2"),
            (Field::FlowDirection, "egress"),
            (Field::TrafficPath, "8"),
            (Field::RejectReason, "BPA"),
            (Field::EcsTaskId, "abc"),
        ];
        for (f, s) in samples {
            let mut v = RecordValues::default();
            v.read_field(*f, s).unwrap();
            assert_eq!(text(&v, *f), *s, "{f}");
        }
    }

    #[test]
    fn rejects_non_canonical_text() {
        let bad: &[(Field, &str)] = &[
            (Field::Packets, "08"),
            (Field::Packets, "+1"),
            (Field::Packets, "1,000"),
            (Field::SrcPort, "65536"),
            (Field::SrcAddr, "2001:DB8::1"),
            (Field::SrcAddr, "2001:db8:0:0:0:0:0:1"),
            (Field::SrcAddr, "010.0.0.1"),
            (Field::Action, "accept"),
            (Field::LogStatus, "ok"),
            (Field::FlowDirection, "in"),
            (Field::AccountId, ""),
        ];
        for (f, s) in bad {
            let mut v = RecordValues::default();
            assert!(v.read_field(*f, s).is_err(), "{f} {s:?}");
        }
    }

    #[test]
    fn error_names_the_field() {
        let mut v = RecordValues::default();
        let e = v.read_field(Field::Bytes, "12x").unwrap_err();
        assert_eq!(e.to_string(), "field bytes: not a count: \"12x\"");
    }
}
