//! Properties of aggregation: packets and bytes are conserved for any window
//! size, lateness, table cap and packet order, and no record spans two windows.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;
use vpcflow_core::aggregate::{Aggregator, AggregatorConfig, OverflowPolicy};
use vpcflow_core::flow::NANOS_PER_SEC;
use vpcflow_core::tcp_flags::TcpFlags;
use vpcflow_core::window::Interval;
use vpcflow_core::{Action, FlowKey, FlowRecord, FlowUpdate, InterfaceIndex, LogStatus};

#[derive(Debug, Clone)]
struct Packet {
    iface: u32,
    port: u16,
    t_ms: u64,
    bytes: u64,
    flags: u8,
}

fn packets() -> impl Strategy<Value = Vec<Packet>> {
    prop::collection::vec(
        (0u32..3, 0u16..6, 0u64..4_000_000, 20u64..1500, any::<u8>()).prop_map(
            |(iface, port, t_ms, bytes, flags)| Packet {
                iface,
                port,
                t_ms,
                bytes,
                flags,
            },
        ),
        0..300,
    )
}

fn update(p: &Packet) -> FlowUpdate {
    let t = 1_700_000_000 * NANOS_PER_SEC + p.t_ms * 1_000_000;
    FlowUpdate {
        interface: InterfaceIndex(p.iface),
        key: FlowKey {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            src_port: p.port,
            dst_port: 443,
            protocol: 6,
        },
        packet_addrs: None,
        packets: 1,
        bytes: p.bytes,
        first: t,
        last: t,
        tcp_flags: TcpFlags::from_tcp_header_byte(p.flags),
        action: Action::Accept,
        direction: None,
    }
}

fn run(config: AggregatorConfig, input: &[Packet], interfaces: u32) -> Vec<FlowRecord> {
    let mut a = Aggregator::new(config);
    for i in 0..interfaces {
        a.add_interface(InterfaceIndex(i));
    }
    let mut out = Vec::new();
    let mut last_complete = 0;
    for p in input {
        a.observe(&update(p));
        if let Some(closed) = a.take_released() {
            for r in closed.into_released(7) {
                assert!(
                    r.complete_before >= last_complete,
                    "complete_before never goes back"
                );
                last_complete = r.complete_before;
                assert!(r
                    .records
                    .windows(2)
                    .all(|w| w[0].sort_key() <= w[1].sort_key()));
                out.extend(r.records);
            }
        }
    }
    out.extend(a.finish().into_sorted_records());
    out
}

proptest! {
    #[test]
    fn conserves_packets_bytes_and_flags(
        input in packets(),
        ten_minutes in any::<bool>(),
        lateness in 0u64..700,
        cap in 1usize..40,
    ) {
        let interval = if ten_minutes { Interval::TenMinutes } else { Interval::OneMinute };
        let config = AggregatorConfig {
            interval,
            allowed_lateness_secs: lateness,
            max_open_flows: cap,
            overflow: OverflowPolicy::Flush,
            ..AggregatorConfig::default()
        };
        let records = run(config, &input, 3);

        let mut expected: HashMap<(u32, u16, u64), (u64, u64, u8)> = HashMap::new();
        for p in &input {
            let u = update(p);
            let w = interval.window_start(u.last / NANOS_PER_SEC);
            let e = expected.entry((p.iface, p.port, w)).or_default();
            e.0 += 1;
            e.1 += p.bytes;
            e.2 |= u.tcp_flags.value();
        }
        let mut got: HashMap<(u32, u16, u64), (u64, u64, u8)> = HashMap::new();
        for r in &records {
            // No record spans two windows; start and end lie in the window.
            prop_assert_eq!(r.window_start % interval.secs(), 0);
            prop_assert!(r.window_start <= r.start && r.start <= r.end);
            prop_assert!(r.end <= interval.window_last_second(r.window_start));
            if let Some(t) = r.traffic {
                prop_assert_eq!(r.status, LogStatus::Ok);
                let g = got.entry((r.interface.0, t.key.src_port, r.window_start)).or_default();
                g.0 += t.packets;
                g.1 += t.bytes;
                g.2 |= t.tcp_flags.value();
            } else {
                prop_assert_ne!(r.status, LogStatus::Ok);
            }
        }
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn order_does_not_change_totals_per_window(mut input in packets(), seed in any::<u64>()) {
        let config = AggregatorConfig {
            interval: Interval::OneMinute,
            allowed_lateness_secs: 0,
            ..AggregatorConfig::default()
        };
        let total = |records: &[FlowRecord]| {
            let mut m: HashMap<(u32, u16, u64), (u64, u64)> = HashMap::new();
            for r in records {
                if let Some(t) = r.traffic {
                    let e = m.entry((r.interface.0, t.key.src_port, r.window_start)).or_default();
                    e.0 += t.packets;
                    e.1 += t.bytes;
                }
            }
            m
        };
        input.sort_by_key(|p| p.t_ms);
        let sorted = total(&run(config, &input, 0));
        // A deterministic shuffle.
        let mut state = seed | 1;
        for i in (1..input.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            input.swap(i, (state % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(total(&run(config, &input, 0)), sorted);
    }

    #[test]
    fn batches_give_the_same_records_as_single_updates(input in packets(), batch in 1usize..200, cap in 1usize..40) {
        let config = AggregatorConfig {
            interval: Interval::OneMinute,
            allowed_lateness_secs: 30,
            max_open_flows: cap,
            ..AggregatorConfig::default()
        };
        let updates: Vec<FlowUpdate> = input.iter().map(update).collect();
        let mut one = Aggregator::new(config);
        let mut many = Aggregator::new(config);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for u in &updates {
            one.observe(u);
            if let Some(c) = one.take_released() {
                a.extend(c.into_sorted_records());
            }
        }
        for chunk in updates.chunks(batch) {
            many.observe_batch(chunk);
            if let Some(c) = many.take_released() {
                b.extend(c.into_sorted_records());
            }
        }
        a.extend(one.finish().into_sorted_records());
        b.extend(many.finish().into_sorted_records());
        // The same records; a late one may be handed over at another time.
        a.sort_by_key(FlowRecord::sort_key);
        b.sort_by_key(FlowRecord::sort_key);
        prop_assert_eq!(a, b);
    }

    #[test]
    fn every_known_interface_has_one_status_per_window(input in packets()) {
        let config = AggregatorConfig {
            interval: Interval::OneMinute,
            allowed_lateness_secs: 0,
            ..AggregatorConfig::default()
        };
        let mut sorted = input.clone();
        sorted.sort_by_key(|p| p.t_ms);
        let records = run(config, &sorted, 4);
        if sorted.is_empty() {
            prop_assert!(records.is_empty());
            return Ok(());
        }
        let first = update(&sorted[0]).last / NANOS_PER_SEC;
        let last = update(sorted.last().unwrap()).last / NANOS_PER_SEC;
        let mut w = Interval::OneMinute.window_start(first);
        while w <= last {
            for iface in 0..4 {
                let ok = records.iter().any(|r| r.window_start == w && r.interface.0 == iface && r.status == LogStatus::Ok);
                let nodata = records.iter().filter(|r| r.window_start == w && r.interface.0 == iface && r.status == LogStatus::NoData).count();
                prop_assert_eq!(nodata, usize::from(!ok), "window {} interface {}", w, iface);
            }
            w += 60;
        }
    }
}
