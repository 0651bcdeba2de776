//! Enrichment: an aggregated [`FlowRecord`] plus its interface's metadata gives
//! the values of every field ([`record_values`]); [`InterfaceTable`] holds the
//! metadata of every interface of a run and the AWS service ranges.

mod table;
#[cfg(test)]
mod table_tests;
#[cfg(test)]
mod tests;

use std::net::IpAddr;

pub use table::{Enricher, InterfaceTable};

use crate::interface::InterfaceMeta;
use crate::record::FlowRecord;
use crate::values::{FlowDirection, RecordValues, TrafficType};

/// The values of `record` on interface `meta`, for a format of `version`
/// (`pkt-*-aws-service` are left `-`: [`InterfaceTable::values`] fills them).
///
/// `pkt-srcaddr` / `pkt-dstaddr` are the addresses as carried (the innermost
/// header of a tunnel). `srcaddr` / `dstaddr` are the flow as the interface
/// sees it (spec §2.3): the outermost header's addresses, except that the
/// interface's side is its primary address of the packet's family
/// ([`InterfaceMeta::primary`]): `dstaddr` of ingress, `srcaddr` of egress
/// traffic (the direction its source reported, else
/// [`InterfaceMeta::direction`]). Traffic of unknown direction, and
/// interfaces without an address of the family, keep the header's addresses.
///
/// NODATA and SKIPDATA records keep the interface metadata, `start`, `end` and
/// `log-status`; every traffic field is `-` (spec §2.6).
///
/// [`InterfaceTable::values`]: crate::enrich::InterfaceTable::values
pub fn record_values<'a>(
    record: &FlowRecord,
    meta: &'a InterfaceMeta,
    version: u8,
) -> RecordValues<'a> {
    let mut v = interface_values(meta, version);
    set_record_fields(&mut v, record, meta);
    v
}

/// The fields of a record that depend on its interface only (and on the
/// format's `version`); every other field is `None`.
fn interface_values(meta: &InterfaceMeta, version: u8) -> RecordValues<'_> {
    let ecs = meta.ecs.as_ref();
    RecordValues {
        version: Some(version),
        account_id: Some(&meta.account_id),
        interface_id: Some(&meta.interface_id),
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
    }
}

/// Sets every field of `v` that is not its interface's: times, status and
/// the traffic fields (`None` for NODATA and SKIPDATA), except the AWS
/// services, which only [`InterfaceTable`] knows.
fn set_record_fields(v: &mut RecordValues<'_>, record: &FlowRecord, meta: &InterfaceMeta) {
    v.start = Some(record.start);
    v.end = Some(record.end);
    v.log_status = Some(record.status);
    let Some(t) = &record.traffic else {
        v.srcaddr = None;
        v.dstaddr = None;
        v.srcport = None;
        v.dstport = None;
        v.protocol = None;
        v.packets = None;
        v.bytes = None;
        v.action = None;
        v.reject_reason = None;
        v.tcp_flags = None;
        v.traffic_type = None;
        v.pkt_srcaddr = None;
        v.pkt_dstaddr = None;
        v.flow_direction = None;
        return;
    };
    let k = &t.key;
    let (pkt_src, pkt_dst) = match t.packet_addrs {
        Some(p) => (p.src, p.dst),
        None => (k.src, k.dst),
    };
    let direction = t.direction.or_else(|| meta.direction(k.src, k.dst));
    let (src, dst) = match direction.and_then(|d| Some((d, meta.primary(k.src)?))) {
        Some((FlowDirection::Ingress, primary)) => (k.src, primary),
        Some((FlowDirection::Egress, primary)) => (primary, k.dst),
        None => (k.src, k.dst),
    };
    v.srcaddr = Some(src);
    v.dstaddr = Some(dst);
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
    v.flow_direction = direction;
}
