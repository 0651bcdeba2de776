//! A real sFlow agent and an independent decoder for the sFlow tests:
//! pmacct's `pmacctd` with the `sfprobe` plugin samples every packet of a
//! capture (sampling rate 1) and exports sFlow v5 over loopback, tcpdump
//! records the datagrams, and tshark's sFlow dissector decodes the same
//! recording (its sampled headers dissected again by tshark's own IP
//! dissectors).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::exporters::{Tcpdump, Totals, Tuple};

/// The tools the sFlow tests run.
pub const TOOLS: [&str; 3] = ["pmacctd", "tshark", "tcpdump"];

/// Whether the sFlow tests can run here: root (tcpdump on loopback) and
/// [`TOOLS`]; prints why not, and panics under `VPCFLOW_REQUIRE_SFLOW=1`
/// (set by CI, which installs them).
pub fn available(test: &str) -> bool {
    let missing = crate::common::missing_root_and(&TOOLS);
    if missing.is_empty() {
        return true;
    }
    if std::env::var("VPCFLOW_REQUIRE_SFLOW").as_deref() == Ok("1") {
        panic!(
            "{test}: needs {} (VPCFLOW_REQUIRE_SFLOW=1)",
            missing.join(", ")
        );
    }
    println!(
        "SKIPPED: {test}: needs {} (apt-get install pmacct tshark tcpdump; as root)",
        missing.join(", ")
    );
    false
}

/// Runs pmacctd on `capture` with the sfprobe plugin (sampling rate 1)
/// exporting to 127.0.0.1:`port` until it has read the whole file; false
/// when it fails.
pub fn pmacctd(capture: &Path, port: u16, dir: &Path) -> bool {
    let conf = dir.join(format!("pmacctd-{port}.conf"));
    std::fs::write(
        &conf,
        format!(
            "daemonize: false\npcap_savefile: {}\npcap_savefile_wait: false\nplugins: sfprobe\nsfprobe_receiver: 127.0.0.1:{port}\nsampling_rate: 1\n",
            capture.display()
        ),
    )
    .unwrap();
    let out = Command::new("pmacctd")
        .arg("-f")
        .arg(&conf)
        .stdin(Stdio::null())
        .output()
        .expect("run pmacctd");
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // pmacctd ends a savefile with "Shutting down on user request" and a
    // non-zero status; an error before that is a failure.
    log.contains("Exporting flows to") && !log.contains("ERROR")
}

/// Exports `capture` with pmacctd while tcpdump records the datagrams into
/// `pcap`; false when pmacctd failed.
pub fn record(capture: &Path, pcap: &Path, dir: &Path) -> Option<u16> {
    let port = crate::exporters::free_udp_port();
    let tcpdump = Tcpdump::start(port, pcap);
    let ok = pmacctd(capture, port, dir);
    tcpdump.stop();
    ok.then_some(port)
}

/// A sample as tshark reads it: sampling rate, header protocol, wire
/// length, header bytes.
pub type Sample = (u64, u32, u32, Vec<u8>);

/// The 24-byte header of a little-endian microsecond pcap of `linktype`.
pub fn pcap_header(linktype: u32) -> Vec<u8> {
    let mut h = 0xA1B2_C3D4u32.to_le_bytes().to_vec();
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    for v in [0u32, 0, 65_535, linktype] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    h
}

/// What tshark's sFlow dissector says of a recording: per datagram, its
/// sequence number and the sampled headers (sampling rate, header
/// protocol, wire length, header bytes).
pub struct Dissected {
    /// Datagram sequence numbers, in order.
    pub sequences: Vec<u64>,
    /// Every sample.
    pub samples: Vec<Sample>,
    /// The most samples one datagram carried.
    pub max_per_datagram: usize,
}

fn tshark(args: &[&str], file: &Path) -> String {
    String::from_utf8(crate::exporters::tshark(file, args)).unwrap()
}

/// The datagrams of `pcap` (sFlow to `port`) as tshark's sFlow dissector
/// reads them.
pub fn dissect(pcap: &Path, port: u16) -> Dissected {
    let text = tshark(
        &[
            "-d",
            &format!("udp.port=={port},sflow"),
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "sflow_245.sequence_number",
            "-e",
            "sflow.flow_sample.sampling_rate",
            "-e",
            "sflow_245.header_protocol",
            "-e",
            "sflow_245.header.frame_length",
            "-e",
            "sflow_245.header.payload_stripped",
            "-e",
            "sflow_245.header",
        ],
        pcap,
    );
    let mut d = Dissected {
        sequences: Vec::new(),
        samples: Vec::new(),
        max_per_datagram: 0,
    };
    for line in text.lines() {
        let f: Vec<&str> = line.split('|').collect();
        assert_eq!(f.len(), 6, "{line}");
        d.sequences.push(f[0].parse().unwrap());
        let list = |s: &str| -> Vec<String> {
            if s.is_empty() {
                Vec::new()
            } else {
                s.split(',').map(String::from).collect()
            }
        };
        let (rates, protos, lens, stripped, headers) =
            (list(f[1]), list(f[2]), list(f[3]), list(f[4]), list(f[5]));
        // pmacct sends one raw header per flow sample.
        assert_eq!(rates.len(), headers.len(), "{line}");
        d.max_per_datagram = d.max_per_datagram.max(headers.len());
        for i in 0..headers.len() {
            let bytes = (0..headers[i].len() / 2)
                .map(|j| u8::from_str_radix(&headers[i][2 * j..2 * j + 2], 16).unwrap())
                .collect();
            let wire = lens[i].parse::<u32>().unwrap() - stripped[i].parse::<u32>().unwrap();
            d.samples.push((
                rates[i].parse().unwrap(),
                protos[i].parse().unwrap(),
                wire,
                bytes,
            ));
        }
    }
    d
}

/// The classic pcap link type of an sFlow header protocol.
fn linktype(protocol: u32) -> u32 {
    match protocol {
        1 => 1,
        11 => 228,
        12 => 229,
        other => panic!("header protocol {other}"),
    }
}

/// tshark's per-5-tuple packets and bytes of the samples: every sampled
/// header written into a capture of its own link type and dissected by
/// tshark's IP, TCP, UDP and SCTP dissectors (outermost headers, no
/// reassembly), scaled by the sampling rate.
pub fn totals(samples: &[Sample], dir: &Path) -> Totals {
    let mut by_linktype: BTreeMap<u32, Vec<&Sample>> = BTreeMap::new();
    for s in samples {
        by_linktype.entry(linktype(s.1)).or_default().push(s);
    }
    let mut totals = Totals::new();
    for (lt, list) in by_linktype {
        let path = dir.join(format!("headers-{lt}.pcap"));
        let mut pcap = pcap_header(lt);
        for (i, (_, _, wire, header)) in list.iter().enumerate() {
            for v in [i as u32, 0, header.len() as u32, *wire] {
                pcap.extend_from_slice(&v.to_le_bytes());
            }
            pcap.extend_from_slice(header);
        }
        std::fs::write(&path, pcap).unwrap();
        let text = tshark(
            &[
                "-o",
                "ip.defragment:FALSE",
                "-o",
                "ipv6.defragment:FALSE",
                "-T",
                "fields",
                "-E",
                "occurrence=f",
                "-E",
                "separator=|",
                "-e",
                "ip.src",
                "-e",
                "ip.dst",
                "-e",
                "ip.proto",
                "-e",
                "ip.len",
                "-e",
                "ipv6.src",
                "-e",
                "ipv6.dst",
                "-e",
                "ipv6.nxt",
                "-e",
                "ipv6.plen",
                "-e",
                "tcp.srcport",
                "-e",
                "tcp.dstport",
                "-e",
                "udp.srcport",
                "-e",
                "udp.dstport",
                "-e",
                "sctp.srcport",
                "-e",
                "sctp.dstport",
                "-e",
                "frame.protocols",
                "-e",
                "ipv6.hopopts.nxt",
                "-e",
                "ipv6.routing.nxt",
                "-e",
                "ipv6.fraghdr.nxt",
                "-e",
                "ipv6.dstopts.nxt",
            ],
            &path,
        );
        for (line, (rate, ..)) in text.lines().zip(&list) {
            let f: Vec<&str> = line.split('|').collect();
            // Which of IPv4 and IPv6 is outermost: the first in the
            // frame's protocol chain.
            let outer = f[14].split(':').find(|p| *p == "ip" || *p == "ipv6");
            let (src, dst, proto, len) = match outer {
                Some("ip") => (f[0], f[1], f[2], f[3].parse::<u64>().unwrap()),
                Some(_) => (f[4], f[5], f[6], f[7].parse::<u64>().unwrap() + 40),
                None => continue,
            };
            let mut proto: u8 = proto.parse().unwrap();
            // IPv6 extension headers: the protocol is the one after them.
            if outer == Some("ipv6") {
                for _ in 0..4 {
                    let next = match proto {
                        0 => f[15],
                        43 => f[16],
                        44 => f[17],
                        60 => f[18],
                        _ => break,
                    };
                    proto = next.parse().unwrap();
                }
            }
            let port = |s: &str| s.parse::<u16>().unwrap_or(0);
            let (sp, dp) = match proto {
                6 => (port(f[8]), port(f[9])),
                17 => (port(f[10]), port(f[11])),
                132 => (port(f[12]), port(f[13])),
                _ => (0, 0),
            };
            let key: Tuple = (src.to_string(), dst.to_string(), sp, dp, proto);
            let e = totals.entry(key).or_insert((0, 0));
            e.0 += rate;
            e.1 += len * rate;
        }
    }
    totals
}

/// Rewrites the classic pcap `from` into `to`: record `i` is kept unless
/// `drop(i)`, and stamped `start + i * step_s` seconds.
pub fn retime(from: &Path, to: &Path, start: u32, step_s: u32, drop: impl Fn(usize) -> bool) {
    let data = std::fs::read(from).unwrap();
    let mut out = data[..24].to_vec();
    let mut at = 24;
    let mut i = 0;
    while at + 16 <= data.len() {
        let caplen = u32::from_le_bytes(data[at + 8..at + 12].try_into().unwrap()) as usize;
        if !drop(i) {
            out.extend_from_slice(&(start + i as u32 * step_s).to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&data[at + 8..at + 16 + caplen]);
        }
        at += 16 + caplen;
        i += 1;
    }
    std::fs::write(to, out).unwrap();
}
