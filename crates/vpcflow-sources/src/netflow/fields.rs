//! The information elements vpcflow reads (IANA IPFIX numbers, which NetFlow
//! v9 shares for the ids below 128), and the fields of one flow record as
//! they are gathered from a data record before it becomes a
//! [`FlowUpdate`](vpcflow_core::FlowUpdate).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `octetDeltaCount` (v9 `IN_BYTES`).
pub const OCTET_DELTA_COUNT: u16 = 1;
/// `packetDeltaCount` (v9 `IN_PKTS`).
pub const PACKET_DELTA_COUNT: u16 = 2;
/// `protocolIdentifier`.
pub const PROTOCOL: u16 = 4;
/// `tcpControlBits`.
pub const TCP_CONTROL_BITS: u16 = 6;
/// `sourceTransportPort`.
pub const SRC_PORT: u16 = 7;
/// `sourceIPv4Address`.
pub const SRC_IPV4: u16 = 8;
/// `ingressInterface`.
pub const INGRESS_INTERFACE: u16 = 10;
/// `destinationTransportPort`.
pub const DST_PORT: u16 = 11;
/// `destinationIPv4Address`.
pub const DST_IPV4: u16 = 12;
/// `egressInterface`.
pub const EGRESS_INTERFACE: u16 = 14;
/// `flowEndSysUpTime` (milliseconds since the exporter's start).
pub const FLOW_END_SYSUPTIME: u16 = 21;
/// `flowStartSysUpTime`.
pub const FLOW_START_SYSUPTIME: u16 = 22;
/// `postOctetDeltaCount` (v9 `OUT_BYTES`).
pub const POST_OCTET_DELTA_COUNT: u16 = 23;
/// `postPacketDeltaCount` (v9 `OUT_PKTS`).
pub const POST_PACKET_DELTA_COUNT: u16 = 24;
/// `sourceIPv6Address`.
pub const SRC_IPV6: u16 = 27;
/// `destinationIPv6Address`.
pub const DST_IPV6: u16 = 28;
/// `samplingInterval` (v9 `SAMPLING_INTERVAL`).
pub const SAMPLING_INTERVAL: u16 = 34;
/// v9 `FLOW_SAMPLER_RANDOM_INTERVAL` (`samplerRandomInterval`).
pub const SAMPLER_RANDOM_INTERVAL: u16 = 50;
/// `flowDirection`: 0 ingress, 1 egress.
pub const FLOW_DIRECTION: u16 = 61;
/// `octetTotalCount`.
pub const OCTET_TOTAL_COUNT: u16 = 85;
/// `packetTotalCount`.
pub const PACKET_TOTAL_COUNT: u16 = 86;
/// `forwardingStatus`: the top two bits of its last byte, 2 = dropped.
pub const FORWARDING_STATUS: u16 = 89;
/// `flowStartSeconds`.
pub const FLOW_START_SECONDS: u16 = 150;
/// `flowEndSeconds`.
pub const FLOW_END_SECONDS: u16 = 151;
/// `flowStartMilliseconds`.
pub const FLOW_START_MILLISECONDS: u16 = 152;
/// `flowEndMilliseconds`.
pub const FLOW_END_MILLISECONDS: u16 = 153;
/// `flowStartMicroseconds` (NTP format).
pub const FLOW_START_MICROSECONDS: u16 = 154;
/// `flowEndMicroseconds` (NTP format).
pub const FLOW_END_MICROSECONDS: u16 = 155;
/// `flowStartNanoseconds` (NTP format).
pub const FLOW_START_NANOSECONDS: u16 = 156;
/// `flowEndNanoseconds` (NTP format).
pub const FLOW_END_NANOSECONDS: u16 = 157;
/// `flowStartDeltaMicroseconds` (before the export time).
pub const FLOW_START_DELTA_MICROSECONDS: u16 = 158;
/// `flowEndDeltaMicroseconds`.
pub const FLOW_END_DELTA_MICROSECONDS: u16 = 159;
/// `systemInitTimeMilliseconds`: the exporter's clock for the sysUpTime fields.
pub const SYSTEM_INIT_TIME_MILLISECONDS: u16 = 160;
/// `samplingPacketInterval`.
pub const SAMPLING_PACKET_INTERVAL: u16 = 305;
/// `samplingPacketSpace`.
pub const SAMPLING_PACKET_SPACE: u16 = 306;

/// The private enterprise number of RFC 5103 reverse information elements.
pub const REVERSE_PEN: u32 = 29305;

/// Seconds between the NTP epoch (1900) and the Unix epoch.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// A time as an exporter gave it, before the header's clock resolves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Time {
    /// Not given.
    #[default]
    None,
    /// Unix nanoseconds.
    Absolute(u64),
    /// Milliseconds of the exporter's uptime (sysUpTime).
    Uptime(u32),
    /// Microseconds before the export time.
    BeforeExport(u32),
}

/// One direction's counters and flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// `octetDeltaCount` (or the post/total variants).
    pub bytes: Option<u64>,
    /// `packetDeltaCount`.
    pub packets: Option<u64>,
    /// Cumulative `octetTotalCount`.
    pub total_bytes: Option<u64>,
    /// Cumulative `packetTotalCount`.
    pub total_packets: Option<u64>,
    /// `tcpControlBits`, low byte.
    pub tcp_flags: u8,
    /// Start time.
    pub start: Time,
    /// End time.
    pub end: Time,
}

impl Counts {
    /// Whether anything was counted in this direction.
    pub fn present(&self) -> bool {
        self.bytes.is_some()
            || self.packets.is_some()
            || self.total_bytes.is_some()
            || self.total_packets.is_some()
    }
}

/// What a template field means to vpcflow: decided once, when the template
/// is defined, so that reading a record does not look at element ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `octetDeltaCount`.
    Bytes,
    /// `packetDeltaCount`.
    Packets,
    /// `postOctetDeltaCount`: bytes when no `octetDeltaCount` came first.
    PostBytes,
    /// `postPacketDeltaCount`.
    PostPackets,
    /// `octetTotalCount`.
    TotalBytes,
    /// `packetTotalCount`.
    TotalPackets,
    /// `tcpControlBits`.
    TcpFlags,
    /// `flowStartSysUpTime`.
    StartUptime,
    /// `flowEndSysUpTime`.
    EndUptime,
    /// `flowStartSeconds`.
    StartSeconds,
    /// `flowEndSeconds`.
    EndSeconds,
    /// `flowStartMilliseconds`.
    StartMillis,
    /// `flowEndMilliseconds`.
    EndMillis,
    /// `flowStartMicroseconds` or `flowStartNanoseconds`.
    StartNtp,
    /// `flowEndMicroseconds` or `flowEndNanoseconds`.
    EndNtp,
    /// `flowStartDeltaMicroseconds`.
    StartBeforeExport,
    /// `flowEndDeltaMicroseconds`.
    EndBeforeExport,
    /// `protocolIdentifier`.
    Protocol,
    /// `sourceTransportPort`.
    SrcPort,
    /// `destinationTransportPort`.
    DstPort,
    /// `sourceIPv4Address` or `sourceIPv6Address`.
    Src,
    /// `destinationIPv4Address` or `destinationIPv6Address`.
    Dst,
    /// `ingressInterface`.
    Ingress,
    /// `egressInterface`.
    Egress,
    /// `flowDirection`.
    Direction,
    /// `forwardingStatus`.
    ForwardingStatus,
    /// `samplingInterval` or `samplerRandomInterval`.
    Sampling,
    /// `samplingPacketInterval`.
    PacketInterval,
    /// `samplingPacketSpace`.
    PacketSpace,
    /// `systemInitTimeMilliseconds`.
    SystemInit,
}

/// A field vpcflow reads, and whether it is the reverse direction's (RFC
/// 5103: the counters and times under [`REVERSE_PEN`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Use {
    /// What it is.
    pub field: Field,
    /// A reverse-direction counter or time of a biflow.
    pub reverse: bool,
}

impl Use {
    /// The meaning of information element `id` of enterprise `pen` (0:
    /// IANA); `None` for the fields vpcflow skips.
    pub fn of(id: u16, pen: u32) -> Option<Use> {
        let reverse = match pen {
            0 => false,
            REVERSE_PEN => true,
            _ => return None,
        };
        let field = match id {
            OCTET_DELTA_COUNT => Field::Bytes,
            PACKET_DELTA_COUNT => Field::Packets,
            POST_OCTET_DELTA_COUNT => Field::PostBytes,
            POST_PACKET_DELTA_COUNT => Field::PostPackets,
            OCTET_TOTAL_COUNT => Field::TotalBytes,
            PACKET_TOTAL_COUNT => Field::TotalPackets,
            TCP_CONTROL_BITS => Field::TcpFlags,
            FLOW_START_SYSUPTIME => Field::StartUptime,
            FLOW_END_SYSUPTIME => Field::EndUptime,
            FLOW_START_SECONDS => Field::StartSeconds,
            FLOW_END_SECONDS => Field::EndSeconds,
            FLOW_START_MILLISECONDS => Field::StartMillis,
            FLOW_END_MILLISECONDS => Field::EndMillis,
            FLOW_START_MICROSECONDS | FLOW_START_NANOSECONDS => Field::StartNtp,
            FLOW_END_MICROSECONDS | FLOW_END_NANOSECONDS => Field::EndNtp,
            FLOW_START_DELTA_MICROSECONDS => Field::StartBeforeExport,
            FLOW_END_DELTA_MICROSECONDS => Field::EndBeforeExport,
            // Only counters and times have a reverse.
            _ if reverse => return None,
            PROTOCOL => Field::Protocol,
            SRC_PORT => Field::SrcPort,
            DST_PORT => Field::DstPort,
            SRC_IPV4 | SRC_IPV6 => Field::Src,
            DST_IPV4 | DST_IPV6 => Field::Dst,
            INGRESS_INTERFACE => Field::Ingress,
            EGRESS_INTERFACE => Field::Egress,
            FLOW_DIRECTION => Field::Direction,
            FORWARDING_STATUS => Field::ForwardingStatus,
            SAMPLING_INTERVAL | SAMPLER_RANDOM_INTERVAL => Field::Sampling,
            SAMPLING_PACKET_INTERVAL => Field::PacketInterval,
            SAMPLING_PACKET_SPACE => Field::PacketSpace,
            SYSTEM_INIT_TIME_MILLISECONDS => Field::SystemInit,
            _ => return None,
        };
        Some(Use { field, reverse })
    }
}

/// The fields of one data record that vpcflow uses; every other field is
/// skipped by its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowFields {
    /// Source address.
    pub src: Option<IpAddr>,
    /// Destination address.
    pub dst: Option<IpAddr>,
    /// Source port (or, for ICMP in v5/v9, whatever the exporter put there).
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// IP protocol.
    pub protocol: u8,
    /// `ingressInterface`.
    pub ingress: Option<u32>,
    /// `egressInterface`.
    pub egress: Option<u32>,
    /// `flowDirection`.
    pub direction: Option<u8>,
    /// `forwardingStatus` said dropped.
    pub dropped: bool,
    /// A sampling interval given in the record itself.
    pub sampling: Option<u64>,
    /// `samplingPacketInterval` given in the record.
    pub packet_interval: Option<u64>,
    /// `samplingPacketSpace` given in the record.
    pub packet_space: Option<u64>,
    /// `systemInitTimeMilliseconds` given in the record.
    pub system_init_ms: Option<u64>,
    /// The forward direction.
    pub forward: Counts,
    /// The reverse direction of an RFC 5103 biflow.
    pub reverse: Counts,
}

impl FlowFields {
    /// No field seen yet.
    pub const EMPTY: FlowFields = FlowFields {
        src: None,
        dst: None,
        src_port: 0,
        dst_port: 0,
        protocol: 0,
        ingress: None,
        egress: None,
        direction: None,
        dropped: false,
        sampling: None,
        packet_interval: None,
        packet_space: None,
        system_init_ms: None,
        forward: Counts {
            bytes: None,
            packets: None,
            total_bytes: None,
            total_packets: None,
            tcp_flags: 0,
            start: Time::None,
            end: Time::None,
        },
        reverse: Counts {
            bytes: None,
            packets: None,
            total_bytes: None,
            total_packets: None,
            tcp_flags: 0,
            start: Time::None,
            end: Time::None,
        },
    };

    /// Empties the fields whose value [`FlowFields::apply`] derives from
    /// the one before (addresses, and delta counters of the `post` kind),
    /// so that a record read over the previous one with the same template
    /// reads as if over [`FlowFields::EMPTY`]: every other field of the
    /// template is written by each record.
    #[inline(always)]
    pub fn clear_carried(&mut self) {
        self.src = None;
        self.dst = None;
        for counts in [&mut self.forward, &mut self.reverse] {
            counts.bytes = None;
            counts.packets = None;
        }
    }

    /// Takes the value `v` of a field whose meaning is `u`.
    #[inline(always)]
    pub fn apply(&mut self, u: Use, v: &[u8]) {
        let counts = if u.reverse {
            &mut self.reverse
        } else {
            &mut self.forward
        };
        match u.field {
            Field::Bytes => counts.bytes = uint(v),
            Field::Packets => counts.packets = uint(v),
            Field::PostBytes => counts.bytes = counts.bytes.or(uint(v)),
            Field::PostPackets => counts.packets = counts.packets.or(uint(v)),
            Field::TotalBytes => counts.total_bytes = uint(v),
            Field::TotalPackets => counts.total_packets = uint(v),
            Field::TcpFlags => counts.tcp_flags = uint(v).unwrap_or(0) as u8,
            Field::StartUptime => counts.start = uptime(v),
            Field::EndUptime => counts.end = uptime(v),
            Field::StartSeconds => counts.start = secs(v),
            Field::EndSeconds => counts.end = secs(v),
            Field::StartMillis => counts.start = millis(v),
            Field::EndMillis => counts.end = millis(v),
            Field::StartNtp => counts.start = ntp(v),
            Field::EndNtp => counts.end = ntp(v),
            Field::StartBeforeExport => counts.start = before_export(v),
            Field::EndBeforeExport => counts.end = before_export(v),
            Field::Protocol => self.protocol = uint(v).unwrap_or(0) as u8,
            Field::SrcPort => self.src_port = uint(v).unwrap_or(0) as u16,
            Field::DstPort => self.dst_port = uint(v).unwrap_or(0) as u16,
            Field::Src => self.src = address(self.src, v),
            Field::Dst => self.dst = address(self.dst, v),
            Field::Ingress => self.ingress = uint(v).map(|n| n as u32),
            Field::Egress => self.egress = uint(v).map(|n| n as u32),
            Field::Direction => self.direction = uint(v).map(|n| n as u8),
            Field::ForwardingStatus => {
                self.dropped = v.last().is_some_and(|b| b >> 6 == 2);
            }
            Field::Sampling => self.sampling = uint(v),
            Field::PacketInterval => self.packet_interval = uint(v),
            Field::PacketSpace => self.packet_space = uint(v),
            Field::SystemInit => self.system_init_ms = uint(v),
        }
    }

    /// The sampling rate the record states (1 in N packets), if any.
    pub fn sampling_rate(&self) -> Option<u64> {
        if let Some(interval) = self.packet_interval.filter(|&i| i > 0) {
            let space = self.packet_space.unwrap_or(0);
            return Some((interval + space) / interval);
        }
        self.sampling.filter(|&s| s > 0)
    }
}

/// An unsigned integer of 1 to 8 bytes (IPFIX reduced-size encoding).
#[inline]
pub fn uint(v: &[u8]) -> Option<u64> {
    // The usual lengths first, each a single load.
    match *v {
        [a] => Some(u64::from(a)),
        [a, b] => Some(u64::from(u16::from_be_bytes([a, b]))),
        [a, b, c, d] => Some(u64::from(u32::from_be_bytes([a, b, c, d]))),
        [a, b, c, d, e, f, g, h] => Some(u64::from_be_bytes([a, b, c, d, e, f, g, h])),
        [] => None,
        _ if v.len() > 8 => None,
        _ => Some(v.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b))),
    }
}

/// An address field's value after `v`: templates that carry both IPv4 and
/// IPv6 fields fill the other family's with zeros, so an unspecified
/// address does not replace one already read.
fn address(before: Option<IpAddr>, v: &[u8]) -> Option<IpAddr> {
    match addr(v) {
        Some(a) if a.is_unspecified() && before.is_some() => before,
        Some(a) => Some(a),
        None => before,
    }
}

fn addr(v: &[u8]) -> Option<IpAddr> {
    match v.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::new(v[0], v[1], v[2], v[3]))),
        16 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(v);
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

fn uptime(v: &[u8]) -> Time {
    uint(v).map_or(Time::None, |t| Time::Uptime(t as u32))
}

fn before_export(v: &[u8]) -> Time {
    uint(v).map_or(Time::None, |t| Time::BeforeExport(t as u32))
}

fn secs(v: &[u8]) -> Time {
    uint(v).map_or(Time::None, |s| {
        Time::Absolute(s.saturating_mul(1_000_000_000))
    })
}

fn millis(v: &[u8]) -> Time {
    uint(v).map_or(Time::None, |ms| {
        Time::Absolute(ms.saturating_mul(1_000_000))
    })
}

/// NTP timestamps (`dateTimeMicroseconds`, `dateTimeNanoseconds`): 32 bits of
/// seconds since 1900, 32 bits of fraction.
fn ntp(v: &[u8]) -> Time {
    if v.len() != 8 {
        return Time::None;
    }
    let secs = u64::from(u32::from_be_bytes([v[0], v[1], v[2], v[3]]));
    let frac = u64::from(u32::from_be_bytes([v[4], v[5], v[6], v[7]]));
    let Some(unix) = secs.checked_sub(NTP_UNIX_OFFSET) else {
        return Time::None;
    };
    Time::Absolute(unix * 1_000_000_000 + ((frac * 1_000_000_000) >> 32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uint_reads_every_length_from_one_to_eight_bytes_big_endian() {
        let bytes = [0x81, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09];
        for len in 1..=8 {
            let expected = bytes[..len]
                .iter()
                .fold(0u64, |n, &b| n * 256 + u64::from(b));
            assert_eq!(uint(&bytes[..len]), Some(expected), "{len} bytes");
        }
        assert_eq!(uint(&[]), None);
        assert_eq!(uint(&bytes), None, "9 bytes");
    }
}
