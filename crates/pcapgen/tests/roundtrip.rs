//! Parses generated captures back with an independent, minimal pcap decoder
//! and checks headers, timestamps, flow counts and the generator's own truth.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pcapgen::{Config, FlowKey, Generator, Mix, Summary, TsResolution};

const NS: u64 = 1_000_000_000;

fn run(cfg: &Config) -> (Vec<u8>, Summary) {
    let mut out = Vec::new();
    let s = Generator::new(cfg.clone())
        .unwrap()
        .write_pcap(&mut out)
        .unwrap();
    (out, s)
}

fn be16(b: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([b[o], b[o + 1]])
}

fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

/// Ones'-complement sum over all of `parts`, as one byte stream.
fn csum(parts: &[&[u8]]) -> u16 {
    let bytes: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
    let mut acc: u32 = 0;
    for c in bytes.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from(c[0]) << 8
        };
        acc += u32::from(w);
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Tot {
    packets: u64,
    bytes: u64,
    frame_bytes: u64,
    first: u64,
    last: u64,
    flags: u8,
    aws: u8,
}

impl Tot {
    fn add(&mut self, ip_len: u64, frame: u64, ts: u64, flags: u8) {
        if self.packets == 0 {
            self.first = ts;
        }
        self.packets += 1;
        self.bytes += ip_len;
        self.frame_bytes += frame;
        self.last = ts;
        self.flags |= flags;
        let mut a = flags & 7;
        if flags & 0x12 == 0x12 {
            a |= 16;
        }
        self.aws |= a;
    }
}

#[derive(Debug, Default)]
struct Parsed {
    packets: u64,
    timestamps: Vec<u64>,
    flows: HashMap<FlowKey, Tot>,
    windows: BTreeMap<u64, HashMap<(FlowKey, u64), Tot>>,
    vlan: u64,
    v6: u64,
    padded: u64,
    max_frame: usize,
    full_untagged: u64,
    tcp_flag_bytes: HashSet<u8>,
}

/// Decodes the whole capture, asserting header validity for every packet.
fn parse(file: &[u8], windows: &[u64]) -> Parsed {
    assert!(file.len() >= 24);
    let magic = le32(file, 0);
    let nanos = match magic {
        0xa1b2_c3d4 => false,
        0xa1b2_3c4d => true,
        m => panic!("bad magic {m:#x}"),
    };
    assert_eq!(le32(file, 20), 1, "linktype Ethernet");
    let mut p = Parsed::default();
    let mut o = 24;
    while o < file.len() {
        let secs = u64::from(le32(file, o));
        let frac = u64::from(le32(file, o + 4));
        let caplen = le32(file, o + 8) as usize;
        let len = le32(file, o + 12) as usize;
        assert_eq!(caplen, len, "full frames");
        let ts = secs * NS + if nanos { frac } else { frac * 1000 };
        let f = &file[o + 16..o + 16 + caplen];
        o += 16 + caplen;
        p.packets += 1;
        p.timestamps.push(ts);
        p.max_frame = p.max_frame.max(f.len());
        p.full_untagged += u64::from(f.len() == 1514);
        assert!(f.len() >= 60, "minimum Ethernet frame");

        let mut l3 = 14;
        let mut ethertype = be16(f, 12);
        if ethertype == 0x8100 {
            p.vlan += 1;
            ethertype = be16(f, 16);
            l3 = 18;
        }
        let (src, dst, proto, ip_len, l4, pseudo): (IpAddr, IpAddr, u8, usize, usize, Vec<u8>) =
            match ethertype {
                0x0800 => {
                    let ip = &f[l3..l3 + 20];
                    assert_eq!(ip[0], 0x45);
                    assert_eq!(csum(&[ip]), 0xffff, "IPv4 header checksum");
                    let total = be16(ip, 2) as usize;
                    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
                    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
                    assert_eq!(src.octets()[..2], f[8..10], "source MAC from address");
                    let mut ph = Vec::new();
                    ph.extend_from_slice(&ip[12..20]);
                    ph.extend_from_slice(&[0, ip[9]]);
                    ph.extend_from_slice(&((total - 20) as u16).to_be_bytes());
                    (src.into(), dst.into(), ip[9], total, l3 + 20, ph)
                }
                0x86dd => {
                    p.v6 += 1;
                    let ip = &f[l3..l3 + 40];
                    assert_eq!(ip[0] >> 4, 6);
                    let plen = be16(ip, 4) as usize;
                    let s: [u8; 16] = ip[8..24].try_into().unwrap();
                    let d: [u8; 16] = ip[24..40].try_into().unwrap();
                    let mut ph = Vec::new();
                    ph.extend_from_slice(&ip[8..40]);
                    ph.extend_from_slice(&(plen as u32).to_be_bytes());
                    ph.extend_from_slice(&[0, 0, 0, ip[6]]);
                    (
                        Ipv6Addr::from(s).into(),
                        Ipv6Addr::from(d).into(),
                        ip[6],
                        plen + 40,
                        l3 + 40,
                        ph,
                    )
                }
                e => panic!("unexpected ethertype {e:#x}"),
            };
        assert!(l3 + ip_len <= f.len(), "IP length within the frame");
        if l3 + ip_len < f.len() {
            p.padded += 1;
            assert_eq!(f.len(), 60, "only short frames are padded");
            assert!(f[l3 + ip_len..].iter().all(|&b| b == 0));
        }
        let seg = &f[l4..l3 + ip_len];
        let (sport, dport, flags) = match proto {
            6 => {
                let hl = usize::from(seg[12] >> 4) * 4;
                assert!((20..=40).contains(&hl) && hl <= seg.len());
                assert_eq!(csum(&[&pseudo, seg]), 0xffff, "TCP checksum");
                p.tcp_flag_bytes.insert(seg[13]);
                (be16(seg, 0), be16(seg, 2), seg[13])
            }
            17 => {
                assert_eq!(be16(seg, 4) as usize, seg.len(), "UDP length");
                assert_eq!(csum(&[&pseudo, seg]), 0xffff, "UDP checksum");
                (be16(seg, 0), be16(seg, 2), 0)
            }
            1 => {
                assert!(seg[0] == 8 || seg[0] == 0);
                assert_eq!(csum(&[seg]), 0xffff, "ICMP checksum");
                (0, 0, 0)
            }
            58 => {
                assert!(seg[0] == 128 || seg[0] == 129);
                assert_eq!(csum(&[&pseudo, seg]), 0xffff, "ICMPv6 checksum");
                (0, 0, 0)
            }
            x => panic!("unexpected protocol {x}"),
        };
        let key = FlowKey {
            src,
            dst,
            sport,
            dport,
            proto,
        };
        p.flows
            .entry(key)
            .or_default()
            .add(ip_len as u64, f.len() as u64, ts, flags);
        for &w in windows {
            let ws = ts / NS / w * w;
            p.windows
                .entry(w)
                .or_default()
                .entry((key, ws))
                .or_default()
                .add(ip_len as u64, f.len() as u64, ts, flags);
        }
    }
    assert_eq!(o, file.len(), "no trailing bytes");
    p
}

fn small(seed: u64) -> Config {
    Config {
        flows: 2_000,
        packets: Some(30_000),
        seed,
        truth: true,
        ipv6_percent: 20.0,
        vlan_percent: 5.0,
        ..Config::default()
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, sa) = run(&small(7));
    let (b, sb) = run(&small(7));
    assert_eq!(a, b);
    assert_eq!(sa, sb);
    let (c, _) = run(&small(8));
    assert_ne!(a, c);
}

#[test]
fn headers_are_valid_and_truth_matches_a_recount() {
    let cfg = small(3);
    let (file, s) = run(&cfg);
    let p = parse(&file, &cfg.truth_windows);
    assert_eq!(p.packets, s.packets);
    assert_eq!(s.file_bytes, file.len() as u64);
    assert_eq!(p.v6, s.ipv6_packets);
    assert_eq!(p.vlan, s.vlan_packets);
    assert!(p.v6 > 0 && p.vlan > 0 && p.padded > 0);
    assert_eq!(p.max_frame, 1518, "full-MTU frames with a VLAN tag");
    assert!(p.full_untagged > 0, "full-MTU frames without a tag");

    let truth = s.truth.as_ref().unwrap();
    assert_eq!(truth.totals.len(), p.flows.len());
    for t in &truth.totals {
        let r = &p.flows[&t.key];
        let got = Tot {
            packets: t.packets,
            bytes: t.bytes,
            frame_bytes: t.frame_bytes,
            first: t.first_ns,
            last: t.last_ns,
            flags: t.tcp_flags,
            aws: t.tcp_flags_aws,
        };
        assert_eq!(&got, r, "{:?}", t.key);
    }
    for (w, recount) in &p.windows {
        let tw = &truth.windows[w];
        assert_eq!(tw.len(), recount.len(), "window {w}");
        for t in tw {
            let r = &recount[&(t.flow.key, t.window_start)];
            assert_eq!((t.flow.packets, t.flow.bytes), (r.packets, r.bytes));
            assert_eq!((t.flow.first_ns, t.flow.last_ns), (r.first, r.last));
            assert_eq!(t.flow.tcp_flags_aws, r.aws);
        }
    }
    assert_eq!(s.ip_bytes, p.flows.values().map(|t| t.bytes).sum::<u64>());
}

#[test]
fn flow_count_is_exact() {
    for flows in [0u64, 1, 2, 3, 17, 1_001] {
        let cfg = Config {
            flows,
            truth: true,
            seed: flows,
            ..Config::default()
        };
        let (file, s) = run(&cfg);
        let p = parse(&file, &[]);
        assert_eq!(s.flows, flows);
        assert_eq!(p.flows.len() as u64, flows, "flows={flows}");
        assert_eq!(s.truth.unwrap().totals.len() as u64, flows);
    }
    // Only ICMP: an odd count needs one unanswered echo.
    let cfg = Config {
        flows: 5,
        mix: Mix {
            tcp: 0.0,
            udp: 0.0,
            icmp: 1.0,
        },
        ..Config::default()
    };
    let (file, _) = run(&cfg);
    let p = parse(&file, &[]);
    assert_eq!(p.flows.len(), 5);
    assert!(p.flows.keys().all(|k| k.proto == 1 || k.proto == 58));
}

#[test]
fn timestamps_are_ordered_and_inside_the_duration() {
    for (open, res) in [(false, TsResolution::Micro), (true, TsResolution::Nano)] {
        let cfg = Config {
            flows: 3_000,
            packets: Some(40_000),
            start_ns: 1_700_000_000 * NS + 123_456_789,
            duration_ns: 90 * NS,
            open_at_once: open,
            resolution: res,
            ..Config::default()
        };
        let (file, s) = run(&cfg);
        let p = parse(&file, &[]);
        assert!(
            p.timestamps.windows(2).all(|w| w[0] <= w[1]),
            "non-decreasing"
        );
        let lo = cfg.start_ns - cfg.start_ns % 1000;
        let hi = cfg.start_ns + cfg.duration_ns;
        assert!(p.timestamps.iter().all(|&t| (lo..hi).contains(&t)));
        assert_eq!(s.first_ns, p.timestamps[0]);
        assert_eq!(s.last_ns, *p.timestamps.last().unwrap());
        if res == TsResolution::Nano {
            assert!(p.timestamps.iter().any(|t| t % 1000 != 0));
        }
        if open {
            // Every flow starts in the first 5% (the replies a moment later),
            // and at half time all but the shortest flows are still open.
            let early = cfg.start_ns + cfg.duration_ns / 20 + 5 * NS;
            assert!(p.flows.values().all(|t| t.first < early));
            let mid = cfg.start_ns + cfg.duration_ns / 2;
            let open = p
                .flows
                .values()
                .filter(|t| t.first < mid && mid < t.last)
                .count();
            assert!(open * 10 > p.flows.len() * 8, "{open} of {}", p.flows.len());
        } else {
            // Spread: every tenth of the duration has packets.
            let mut tenths = [0u64; 10];
            for t in &p.timestamps {
                tenths[((t - cfg.start_ns) * 10 / cfg.duration_ns) as usize] += 1;
            }
            assert!(tenths.iter().all(|&n| n > 0), "{tenths:?}");
        }
    }
}

#[test]
fn targets_are_met_and_the_mix_is_realistic() {
    let cfg = Config {
        flows: 10_000,
        packets: Some(100_000),
        bytes: Some(40_000_000),
        truth: true,
        ..Config::default()
    };
    let (file, s) = run(&cfg);
    let within = |got: u64, want: u64| (got as f64 / want as f64 - 1.0).abs() < 0.05;
    assert!(within(s.packets, 100_000), "packets {}", s.packets);
    assert!(
        within(file.len() as u64, 40_000_000),
        "bytes {}",
        file.len()
    );

    let p = parse(&file, &[]);
    let by = |proto: u8| p.flows.keys().filter(|k| k.proto == proto).count();
    let (tcp, udp) = (by(6), by(17));
    let icmp = by(1) + by(58);
    assert!(
        tcp > 7_000 && udp > 1_000 && icmp > 150,
        "{tcp} {udp} {icmp}"
    );
    // Handshakes, FIN and RST closes, small ACKs.
    for f in [0x02, 0x12, 0x10, 0x18, 0x11, 0x14] {
        assert!(p.tcp_flag_bytes.contains(&f), "flags {f:#x} never seen");
    }
    let truth = s.truth.unwrap();
    let aws: HashSet<u8> = truth
        .totals
        .iter()
        .filter(|t| t.key.proto == 6)
        .map(|t| t.tcp_flags_aws)
        .collect();
    for v in [2, 3, 6, 19, 22] {
        assert!(aws.contains(&v), "no TCP flow with aws flags {v}: {aws:?}");
    }
    // Private and documentation ranges only.
    let ok = |a: &IpAddr| match a {
        IpAddr::V4(v) => {
            let o = v.octets();
            v.is_private()
                || matches!(
                    (o[0], o[1], o[2]),
                    (192, 0, 2) | (198, 51, 100) | (203, 0, 113)
                )
        }
        IpAddr::V6(v) => {
            let s = v.segments();
            s[0] == 0xfd00 || (s[0], s[1]) == (0x2001, 0x0db8)
        }
    };
    assert!(truth
        .totals
        .iter()
        .all(|t| ok(&t.key.src) && ok(&t.key.dst)));
    assert!(truth
        .totals
        .iter()
        .any(|t| matches!(t.key.dst, IpAddr::V4(v) if v.octets()[0] == 203)));
}

#[test]
fn truth_json_is_valid_and_complete() {
    let cfg = small(11);
    let (_, s) = run(&cfg);
    let mut json = Vec::new();
    s.write_truth_json("x \"y\".pcap", &cfg, &mut json).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["file"], "x \"y\".pcap");
    assert_eq!(v["stats"]["frames"], s.packets);
    assert_eq!(v["stats"]["flows"], 2_000);
    let totals = v["totals"].as_array().unwrap();
    assert_eq!(totals.len(), 2_000);
    let sum: u64 = totals.iter().map(|t| t["packets"].as_u64().unwrap()).sum();
    assert_eq!(sum, s.packets);
    let t = &s.truth.as_ref().unwrap().totals[0];
    assert_eq!(totals[0]["src"], t.key.src.to_string());
    assert_eq!(totals[0]["tcp_flags_aws"], t.tcp_flags_aws);
    let w60 = v["windows"]["60"].as_array().unwrap();
    assert!(w60.len() >= totals.len());
    assert!(w60[0]["window_start"].as_u64().unwrap() % 60 == 0);

    // Without truth: statistics only, still valid JSON.
    let (_, s) = run(&Config {
        truth: false,
        ..cfg.clone()
    });
    let mut json = Vec::new();
    s.write_truth_json("a.pcap", &cfg, &mut json).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert!(v.get("totals").is_none());
}

#[test]
fn next_frame_streams_the_same_packets() {
    let cfg = small(5);
    let (file, _) = run(&cfg);
    let mut g = Generator::new(cfg).unwrap();
    let mut buf = Vec::new();
    let mut o = 24;
    while let Some(info) = g.next_frame(&mut buf) {
        let caplen = le32(&file, o + 8) as usize;
        assert_eq!(&file[o + 16..o + 16 + caplen], &buf[..]);
        assert_eq!(u64::from(le32(&file, o)), info.ts_ns / NS);
        o += 16 + caplen;
    }
    assert_eq!(o, file.len());
}

#[test]
fn invalid_configurations_are_rejected() {
    let bad = [
        Config {
            duration_ns: 0,
            ..Config::default()
        },
        Config {
            ipv6_percent: 101.0,
            ..Config::default()
        },
        Config {
            mix: Mix {
                tcp: 0.0,
                udp: 0.0,
                icmp: 0.0,
            },
            ..Config::default()
        },
        Config {
            truth_windows: vec![0],
            ..Config::default()
        },
        Config {
            start_ns: u64::MAX - 5,
            ..Config::default()
        },
    ];
    for cfg in bad {
        assert!(Generator::new(cfg.clone()).is_err(), "{cfg:?}");
    }
}
