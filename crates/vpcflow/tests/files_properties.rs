//! Properties from input to files: for any packets, in any order, with either
//! interval and any size cap, the gzip files hold exactly the input's packets and
//! bytes; every file decompresses, starts with the header, has the format's field
//! count on every line, and holds only records of its slot; no record spans two
//! windows.

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use common::{files_below, gunzip};
use proptest::prelude::*;
use vpcflow_core::aggregate::{Aggregator, AggregatorConfig};
use vpcflow_core::enrich::InterfaceTable;
use vpcflow_core::flow::NANOS_PER_SEC;
use vpcflow_core::format::LogFormat;
use vpcflow_core::interface::InterfaceDefaults;
use vpcflow_core::layout::{Layout, Prefix};
use vpcflow_core::name::{slot_of, FileName, FlowLogId};
use vpcflow_core::tcp_flags::TcpFlags;
use vpcflow_core::window::Interval;
use vpcflow_core::{Action, FlowKey, FlowUpdate, LogStatus};
use vpcflow_sinks::{DirSink, FileWriter, WriterOptions};

const FORMAT: &str = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${tcp-flags}";

fn packets() -> impl Strategy<Value = Vec<(u8, u8, u16, u64, u64)>> {
    // (interface, host, port, offset ms over ~25 minutes, bytes)
    prop::collection::vec(
        (0u8..2, 0u8..8, 0u16..4, 0u64..1_500_000, 28u64..1500),
        1..400,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn files_conserve_packets_and_bytes(input in packets(), one_minute in any::<bool>(), small_cap in any::<bool>(), lateness in 0u64..120) {
        let interval = if one_minute { Interval::OneMinute } else { Interval::TenMinutes };
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let format = LogFormat::parse(FORMAT).unwrap();
        let id = FlowLogId::new("123456789012", "eu-west-1", "fl-0630869f236e76872").unwrap();
        let store = DirSink::open(&out, Layout::default(), Prefix::default()).unwrap();
        let options = WriterOptions {
            max_file_bytes: if small_cap { 1024 } else { 75_000_000 },
            ..WriterOptions::default()
        };
        let mut sink = FileWriter::new(store, id, format.clone(), options);
        let mut interfaces = InterfaceTable::new(
            InterfaceDefaults { account_id: "123456789012".into(), region: "eu-west-1".into() },
            HashMap::new(),
        );
        let mut agg = Aggregator::new(AggregatorConfig { interval, allowed_lateness_secs: lateness, ..AggregatorConfig::default() });
        let ifaces = [interfaces.register("eth0"), interfaces.register("eth1")];
        for i in ifaces {
            agg.add_interface(i);
        }
        // 2025-12-31T23:55:00Z: the input crosses midnight.
        let base = 1_767_225_300 * NANOS_PER_SEC;
        let (mut packets, mut bytes) = (0u64, 0u64);
        for &(iface, host, port, ms, len) in &input {
            let t = base + ms * 1_000_000;
            agg.observe(&FlowUpdate {
                interface: ifaces[usize::from(iface)],
                key: FlowKey {
                    src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, host)),
                    dst: IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)),
                    src_port: 1000 + port,
                    dst_port: 443,
                    protocol: 6,
                },
                packet_addrs: None,
                packets: 1,
                bytes: len,
                first: t,
                last: t,
                tcp_flags: TcpFlags::from_tcp_header_byte(port as u8),
                action: Action::Accept,
                direction: None,
            });
            packets += 1;
            bytes += len;
            if let Some(closed) = agg.take_released() {
                for r in closed.into_released(5) {
                    sink.write(&r, &interfaces).unwrap();
                }
            }
        }
        for r in agg.finish().into_released(5) {
            sink.write(&r, &interfaces).unwrap();
        }
        let summary = sink.finish().unwrap();

        let header = format.header_line();
        let (mut got_packets, mut got_bytes, mut records) = (0u64, 0u64, 0u64);
        for rel in files_below(&out) {
            let name: FileName = rel.file_name().unwrap().to_str().unwrap().parse().unwrap();
            let text = gunzip(&out.join(&rel));
            let mut lines = text.lines();
            prop_assert_eq!(lines.next(), Some(header.trim_end()));
            for line in lines {
                prop_assert_eq!(line.split(' ').count(), 15);
                let v = format.parse_line(line).unwrap();
                let (start, end) = (v.start.unwrap(), v.end.unwrap());
                prop_assert_eq!(slot_of(end), name.slot);
                prop_assert_eq!(interval.window_start(start), interval.window_start(end), "spans two windows: {}", line);
                records += 1;
                if v.log_status == Some(LogStatus::Ok) {
                    got_packets += v.packets.unwrap();
                    got_bytes += v.bytes.unwrap();
                }
            }
        }
        prop_assert_eq!((got_packets, got_bytes), (packets, bytes));
        prop_assert_eq!(records, summary.records);
    }
}
