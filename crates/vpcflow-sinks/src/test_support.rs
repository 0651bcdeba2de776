//! Records and interfaces shared by the unit tests.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vpcflow_core::enrich::InterfaceTable;
use vpcflow_core::flow::{Action, FlowKey, InterfaceIndex};
use vpcflow_core::interface::InterfaceDefaults;
use vpcflow_core::record::{FlowRecord, LogStatus, Traffic};
use vpcflow_core::tcp_flags::TcpFlags;

/// Three interfaces of account 123456789012 in us-east-1.
pub struct Fixture {
    pub table: InterfaceTable,
    pub indices: Vec<InterfaceIndex>,
}

impl Fixture {
    pub fn new() -> Fixture {
        let mut table = InterfaceTable::new(
            InterfaceDefaults {
                account_id: "123456789012".into(),
                region: "us-east-1".into(),
            },
            HashMap::new(),
        );
        let indices = ["eth0", "eth1", "eth2"]
            .iter()
            .map(|n| table.register(n))
            .collect();
        Fixture { table, indices }
    }
}

/// A small deterministic generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// An OK record with varied addresses, protocol, ports and counters.
pub fn ok_record(rng: &mut Rng, interface: InterfaceIndex, start: u64, end: u64) -> FlowRecord {
    let v6 = rng.below(4) == 0;
    let (src, dst): (IpAddr, IpAddr) = if v6 {
        (
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, rng.below(0xffff) as u16).into(),
            Ipv6Addr::new(0x2600, 0x1f18, rng.below(0xffff) as u16, 0, 0, 0, 0, 1).into(),
        )
    } else {
        (
            Ipv4Addr::from(0x0a00_0000 | rng.below(1 << 16) as u32).into(),
            Ipv4Addr::from(rng.next() as u32).into(),
        )
    };
    let protocol = [6u8, 6, 6, 17, 17, 1][rng.below(6) as usize];
    let (src_port, dst_port) = if protocol == 1 {
        (0, 0)
    } else {
        (
            rng.below(65536) as u16,
            [443u16, 80, 53, 22, 8080][rng.below(5) as usize],
        )
    };
    let packets = 1 + rng.below(5000);
    FlowRecord {
        interface,
        window_start: start - start % 60,
        start,
        end,
        traffic: Some(Traffic {
            key: FlowKey {
                src,
                dst,
                src_port,
                dst_port,
                protocol,
            },
            packet_addrs: None,
            packets,
            bytes: packets * (40 + rng.below(1460)),
            tcp_flags: TcpFlags(if protocol == 6 {
                [2u8, 18, 3, 19, 1, 0][rng.below(6) as usize]
            } else {
                0
            }),
            action: if rng.below(8) == 0 {
                Action::Reject
            } else {
                Action::Accept
            },
            direction: None,
        }),
        status: LogStatus::Ok,
    }
}

/// `n` OK records over `interfaces`, all ending in `[first_end, first_end + 60)`.
pub fn mixed_records(interfaces: &[InterfaceIndex], first_end: u64, n: usize) -> Vec<FlowRecord> {
    let mut rng = Rng::new(0x5eed);
    (0..n)
        .map(|i| {
            let end = first_end + rng.below(60);
            let start = end - rng.below(60);
            ok_record(&mut rng, interfaces[i % interfaces.len()], start, end)
        })
        .collect()
}

/// A NODATA or SKIPDATA record of one window.
pub fn nodata(
    interface: InterfaceIndex,
    window_start: u64,
    interval: u64,
    status: LogStatus,
) -> FlowRecord {
    FlowRecord {
        interface,
        window_start,
        start: window_start,
        end: window_start + interval - 1,
        traffic: None,
        status,
    }
}

/// Text shaped like flow log lines, exactly `len` bytes (the last line cut).
pub fn flow_text(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(len + 200);
    while out.len() < len {
        let line = format!(
            "2 123456789012 eni-0a1b2c3d4e5f{:05x} 10.0.{}.{} 172.31.{}.{} {} {} 6 {} {} 1616729{:03} 1616729{:03} ACCEPT OK\n",
            rng.below(8),
            rng.below(4),
            rng.below(256),
            rng.below(16),
            rng.below(256),
            32768 + rng.below(28000),
            [443, 80, 53, 22][rng.below(4) as usize],
            rng.below(1000),
            rng.below(1_000_000),
            rng.below(300),
            300 + rng.below(300),
        );
        out.extend_from_slice(line.as_bytes());
    }
    out.truncate(len);
    out
}
