//! Unit tests of the sFlow decoder on hand-built datagrams: the edges of
//! the format (the counts against a real agent are checked end to end in
//! `crates/vpcflow/tests/sflow_exporters.rs`).

use std::net::{IpAddr, Ipv6Addr};

use vpcflow_core::Action;
use vpcflow_testkit::RecordingConsumer;

use super::*;
use crate::decode::testutil::{eth, eth_tagged, ipv4, ipv6, tcp, udp, A4, A6, B4, B6};

const AT: Timestamp = 1_700_000_000_000_000_000;

fn be32(v: &mut Vec<u8>, n: u32) {
    v.extend_from_slice(&n.to_be_bytes());
}

/// A format/length block around `body`.
fn block(format: u32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    be32(&mut v, format);
    be32(&mut v, body.len() as u32);
    v.extend_from_slice(body);
    v
}

/// A raw packet header record of `packet` (protocol `proto`), cut to 128
/// bytes as agents do, padded to 4.
fn raw(proto: u32, packet: &[u8], stripped: u32) -> Vec<u8> {
    let header = &packet[..packet.len().min(128)];
    let mut b = Vec::new();
    be32(&mut b, proto);
    be32(&mut b, packet.len() as u32 + stripped);
    be32(&mut b, stripped);
    be32(&mut b, header.len() as u32);
    b.extend_from_slice(header);
    b.resize(b.len().div_ceil(4) * 4, 0);
    block(1, &b)
}

struct Flow {
    seq: u32,
    source: u32,
    rate: u32,
    drops: u32,
    input: u32,
    output: u32,
}

const FLOW: Flow = Flow {
    seq: 1,
    source: 3,
    rate: 1,
    drops: 0,
    input: 3,
    output: 7,
};

/// A compact flow sample of `records`.
fn flow(f: &Flow, records: &[Vec<u8>]) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [
        f.seq,
        f.source,
        f.rate,
        f.seq * f.rate,
        f.drops,
        f.input,
        f.output,
        records.len() as u32,
    ] {
        be32(&mut b, v);
    }
    for r in records {
        b.extend_from_slice(r);
    }
    block(1, &b)
}

/// An expanded flow sample of `records`: (format, value) ports.
fn expanded(f: &Flow, input: (u32, u32), output: (u32, u32), records: &[Vec<u8>]) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [
        f.seq,
        0,
        f.source,
        f.rate,
        f.seq * f.rate,
        f.drops,
        input.0,
        input.1,
        output.0,
        output.1,
        records.len() as u32,
    ] {
        be32(&mut b, v);
    }
    for r in records {
        b.extend_from_slice(r);
    }
    block(3, &b)
}

/// A datagram of agent `agent` with `samples`.
fn datagram(agent: IpAddr, seq: u32, samples: &[Vec<u8>]) -> Vec<u8> {
    let mut d = Vec::new();
    be32(&mut d, 5);
    match agent {
        IpAddr::V4(a) => {
            be32(&mut d, 1);
            d.extend_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            be32(&mut d, 2);
            d.extend_from_slice(&a.octets());
        }
    }
    be32(&mut d, 0); // sub-agent
    be32(&mut d, seq);
    be32(&mut d, 123_456); // uptime
    be32(&mut d, samples.len() as u32);
    for s in samples {
        d.extend_from_slice(s);
    }
    d
}

fn agent() -> IpAddr {
    IpAddr::from([192, 0, 2, 1])
}

fn tcp_frame(len: usize) -> Vec<u8> {
    let payload = vec![0u8; len];
    let mut seg = tcp(40_000, 443, 0x02);
    seg.extend_from_slice(&payload);
    eth(0x0800, &ipv4(6, A4, B4, &seg))
}

fn decode_all(d: &mut Decoder, datagrams: &[Vec<u8>]) -> RecordingConsumer {
    let mut c = RecordingConsumer::default();
    for (i, g) in datagrams.iter().enumerate() {
        let _ = d.datagram(AT + i as u64 * 1_000_000_000, g, &mut c);
    }
    c
}

#[test]
fn raw_headers_become_one_scaled_packet_with_the_original_ip_length() {
    // A 1400-byte TCP payload: the header is cut at 128 bytes, the IP
    // length field still says 1440.
    let big = tcp_frame(1400);
    let small = eth(0x86DD, &ipv6(17, A6, B6, &udp(53, 5353, b"abcd")));
    let sample = Flow { rate: 100, ..FLOW };
    let g = datagram(
        agent(),
        1,
        &[
            flow(&sample, &[raw(1, &big, 4), block(1001, &[0; 16])]),
            flow(&Flow { seq: 2, ..sample }, &[raw(1, &small, 4)]),
        ],
    );
    let mut d = Decoder::new(DecoderOptions::default());
    let c = decode_all(&mut d, std::slice::from_ref(&g));
    assert_eq!(c.updates.len(), 2);
    let u = &c.updates[0];
    assert_eq!((u.packets, u.bytes), (100, 1440 * 100));
    assert_eq!(
        (u.key.src_port, u.key.dst_port, u.key.protocol),
        (40_000, 443, 6)
    );
    assert_eq!((u.first, u.last), (AT, AT));
    assert_eq!(u.action, Action::Accept);
    assert_eq!(c.names, vec!["192.0.2.1/ifindex-3".to_string()]);
    let v = &c.updates[1];
    assert_eq!((v.packets, v.bytes), (100, (40 + 8 + 4) * 100));
    assert_eq!(v.key.src, IpAddr::V6(A6));
    assert_eq!(d.stats().other_records, 1);
    assert_eq!(d.stats().sampled_updates, 2);
    // Raw counts on request.
    let mut raw_counts = Decoder::new(DecoderOptions {
        sampling: Sampling::Raw,
    });
    let c = decode_all(&mut raw_counts, &[g]);
    assert_eq!((c.updates[0].packets, c.updates[0].bytes), (1, 1440));
}

#[test]
fn ip_headers_vlans_and_non_ip() {
    let packet = ipv4(17, A4, B4, &udp(1, 2, &[0; 10]));
    let tagged = eth_tagged(&[(0x8100, 10)], 0x0800, &packet);
    let arp = eth(0x0806, &[0; 28]);
    let g = datagram(
        agent(),
        1,
        &[flow(
            &FLOW,
            &[raw(11, &packet, 0), raw(1, &tagged, 4), raw(1, &arp, 4)],
        )],
    );
    let mut d = Decoder::new(DecoderOptions::default());
    let c = decode_all(&mut d, &[g]);
    assert_eq!(c.updates.len(), 2);
    assert!(c
        .updates
        .iter()
        .all(|u| u.bytes == 38 && u.key.dst_port == 2));
    assert_eq!(d.stats().non_ip, 1);
    assert!(c.losses.is_empty());
}

#[test]
fn expanded_samples_egress_discards_and_unknown_inputs() {
    let frame = tcp_frame(10);
    let mut d = Decoder::new(DecoderOptions::default());
    let c = decode_all(
        &mut d,
        &[datagram(
            agent(),
            1,
            &[
                // Sampled at egress of 7000000 (beyond the compact form's
                // 24 bits of source index are fine in the expanded one).
                expanded(
                    &Flow {
                        source: 7_000_000,
                        ..FLOW
                    },
                    (0, 12),
                    (0, 7_000_000),
                    &[raw(1, &frame, 4)],
                ),
                // Discarded (output format 1): REJECT, on its input.
                expanded(
                    &Flow { seq: 2, ..FLOW },
                    (0, 5),
                    (1, 258),
                    &[raw(1, &frame, 4)],
                ),
                // Input internal: the data source names it.
                flow(
                    &Flow {
                        seq: 3,
                        input: 0x3FFF_FFFF,
                        ..FLOW
                    },
                    &[raw(1, &frame, 4)],
                ),
            ],
        )],
    );
    let names: Vec<&str> = c.updates.iter().map(|u| c.name_of(u)).collect();
    assert_eq!(
        names,
        [
            "192.0.2.1/ifindex-7000000",
            "192.0.2.1/ifindex-5",
            "192.0.2.1/ifindex-3"
        ]
    );
    assert_eq!(c.updates[1].action, Action::Reject);
    assert_eq!(d.stats().expanded_flow_samples, 2);
}

#[test]
fn ipv6_agents_name_their_interfaces() {
    let a: IpAddr = "2001:db8::7".parse::<Ipv6Addr>().unwrap().into();
    let mut d = Decoder::new(DecoderOptions::default());
    let c = decode_all(
        &mut d,
        &[datagram(a, 1, &[flow(&FLOW, &[raw(1, &tcp_frame(0), 4)])])],
    );
    assert_eq!(c.names, vec!["2001:db8::7/ifindex-3".to_string()]);
    assert_eq!(c.updates.len(), 1);
}

#[test]
fn counter_samples_unknown_samples_and_records_are_skipped_by_length() {
    let frame = tcp_frame(0);
    let g = datagram(
        agent(),
        1,
        &[
            block(2, &[0xAB; 60]),
            block(4, &[0xAB; 64]),
            block((9 << 12) | 1, &[0xCD; 12]),
            block(77, &[]),
            flow(
                &FLOW,
                &[
                    block((4300 << 12) | 1, &[1, 2, 3, 4]),
                    raw(1, &frame, 4),
                    block(1002, &[0; 8]),
                ],
            ),
        ],
    );
    let mut d = Decoder::new(DecoderOptions::default());
    let c = decode_all(&mut d, &[g]);
    assert_eq!(c.updates.len(), 1);
    let s = d.stats();
    assert_eq!(
        (s.counter_samples, s.other_samples, s.other_records),
        (2, 2, 2)
    );
    assert_eq!(s.malformed, 0);
}

#[test]
fn truncated_and_huge_lengths_are_errors_never_panics() {
    let frame = tcp_frame(0);
    let good = datagram(agent(), 1, &[flow(&FLOW, &[raw(1, &frame, 4)])]);
    // Every prefix of a good datagram: an error (or, for the whole, none).
    for n in 0..good.len() {
        let mut d = Decoder::new(DecoderOptions::default());
        let mut c = RecordingConsumer::default();
        assert!(d.datagram(AT, &good[..n], &mut c).is_err(), "{n} bytes");
        assert_eq!(d.stats().malformed, 1);
    }
    // Huge sample, record and header lengths; a huge sample count.
    let at_sample = 28;
    let at_records = at_sample + 8 + 32;
    let at_header_len = at_records + 8 + 12;
    for (at, what) in [
        (at_sample + 4, "sFlow sample"),
        (at_records + 4, "sFlow flow record"),
        (at_header_len, "sFlow raw packet header"),
        (24, "sFlow sample"),
    ] {
        let mut g = good.clone();
        g[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        let mut d = Decoder::new(DecoderOptions::default());
        let mut c = RecordingConsumer::default();
        let e = d.datagram(AT, &g, &mut c).unwrap_err();
        assert_eq!(e.what, what, "{e}");
        assert!(e.to_string().contains("beyond the end"), "{e}");
    }
    // Not sFlow 5, unknown agent address type.
    let mut d = Decoder::new(DecoderOptions::default());
    let mut c = RecordingConsumer::default();
    let mut v4 = good.clone();
    v4[3] = 4;
    assert!(d
        .datagram(AT, &v4, &mut c)
        .unwrap_err()
        .reason
        .contains("version"));
    let mut t = good.clone();
    t[7] = 9;
    assert!(d
        .datagram(AT, &t, &mut c)
        .unwrap_err()
        .reason
        .contains("address type"));
    assert!(c.updates.is_empty());
}

#[test]
fn samples_before_an_error_are_kept() {
    let frame = tcp_frame(0);
    let mut g = datagram(
        agent(),
        1,
        &[
            flow(&FLOW, &[raw(1, &frame, 4)]),
            flow(&Flow { seq: 2, ..FLOW }, &[raw(1, &frame, 4)]),
        ],
    );
    g.truncate(g.len() - 10);
    let mut d = Decoder::new(DecoderOptions::default());
    let mut c = RecordingConsumer::default();
    assert!(d.datagram(AT, &g, &mut c).is_err());
    assert_eq!(c.updates.len(), 1);
}

#[test]
fn zero_sampling_rate_skips_the_sample_and_rejects_the_datagram() {
    let frame = tcp_frame(0);
    let mut d = Decoder::new(DecoderOptions::default());
    let first = datagram(agent(), 1, &[flow(&FLOW, &[raw(1, &frame, 4)])]);
    let zero = datagram(
        agent(),
        2,
        &[
            flow(
                &Flow {
                    seq: 2,
                    rate: 0,
                    ..FLOW
                },
                &[raw(1, &frame, 4)],
            ),
            flow(&Flow { seq: 3, ..FLOW }, &[raw(1, &frame, 4)]),
        ],
    );
    let mut c = RecordingConsumer::default();
    d.datagram(AT, &first, &mut c).unwrap();
    let e = d.datagram(AT + 1, &zero, &mut c).unwrap_err();
    assert_eq!(e.reason, "sampling rate 0");
    assert_eq!(c.updates.len(), 2);
    assert_eq!(d.stats().invalid_samples, 1);
    assert_eq!(c.losses.len(), 1);
    assert_eq!(c.losses[0].at, AT + 1);
}

#[test]
fn datagram_gaps_sample_gaps_and_drops_are_losses_counted_once() {
    let frame = tcp_frame(0);
    let g = |seq: u32, sample_seq: u32, drops: u32| {
        datagram(
            agent(),
            seq,
            &[flow(
                &Flow {
                    seq: sample_seq,
                    drops,
                    ..FLOW
                },
                &[raw(1, &frame, 4)],
            )],
        )
    };
    let mut d = Decoder::new(DecoderOptions::default());
    let mut c = decode_all(
        &mut d,
        &[
            g(1, 1, 5), // drops 5: the baseline
            g(2, 2, 5),
            // Datagrams 3 and 4 lost (with samples 3 and 4): one loss of
            // 2 datagrams, not also a sample gap.
            g(5, 5, 5),
            // Sample 6 missing from a datagram that came: a sample gap.
            g(6, 7, 5),
            // The agent dropped 3 packets.
            g(7, 8, 8),
        ],
    );
    assert_eq!(c.updates.len(), 5);
    let s = d.stats();
    assert_eq!((s.sequence_gaps, s.lost_datagrams), (1, 2));
    assert_eq!((s.sample_gaps, s.lost_samples), (1, 1));
    assert_eq!(s.agent_drops, 3);
    let losses: Vec<(u64, u64)> = c
        .losses
        .iter()
        .map(|l| ((l.at - AT) / 1_000_000_000, l.count))
        .collect();
    assert_eq!(losses, [(2, 2), (3, 1), (4, 3)]);
    // A restarted agent (sequence back to 1) is no loss.
    d.datagram(AT, &g(1, 1, 0), &mut c).unwrap();
    assert_eq!(c.losses.len(), 3);
    assert_eq!(d.stats().sequence_resets, 1);
}

#[test]
fn losses_before_decoding_mark_every_known_interface() {
    let frame = tcp_frame(0);
    let mut d = Decoder::new(DecoderOptions::default());
    let mut c = RecordingConsumer::default();
    d.lost_datagrams(None, AT, 4, &mut c);
    assert!(c.losses.is_empty());
    for (i, input) in [3u32, 4].into_iter().enumerate() {
        let g = datagram(
            agent(),
            i as u32 + 1,
            &[flow(
                &Flow {
                    seq: i as u32 + 1,
                    input,
                    ..FLOW
                },
                &[raw(1, &frame, 4)],
            )],
        );
        d.datagram(AT, &g, &mut c).unwrap();
    }
    d.lost_datagrams(None, AT, 4, &mut c);
    assert_eq!(c.losses.len(), 2);
    d.lost_datagrams(Some(IpAddr::from([198, 51, 100, 1])), AT, 1, &mut c);
    assert_eq!(c.losses.len(), 2);
    assert_eq!(d.stats().losses_before_interfaces, 1);
}

#[test]
fn random_bytes_never_panic() {
    let frame = tcp_frame(0);
    let good = datagram(agent(), 1, &[flow(&FLOW, &[raw(1, &frame, 4)])]);
    let mut d = Decoder::new(DecoderOptions::default());
    let mut c = RecordingConsumer::default();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..20_000 {
        let mut g = good.clone();
        for _ in 0..4 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let at = (x as usize) % g.len();
            g[at] = (x >> 32) as u8;
        }
        let _ = d.datagram(AT, &g, &mut c);
    }
}
