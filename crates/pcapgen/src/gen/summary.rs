//! What a run produced: its counts, its ground truth and their JSON form.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::config::{Config, TsResolution};
use crate::truth::{self, Truth};

/// What was generated: counts always, per-flow truth when asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Frames written.
    pub packets: u64,
    pub ipv4_packets: u64,
    pub ipv6_packets: u64,
    /// Frames carrying an 802.1Q tag.
    pub vlan_packets: u64,
    /// IP-layer bytes (IPv4 total length, IPv6 payload length + 40).
    pub ip_bytes: u64,
    /// Captured frame bytes (Ethernet headers and padding included).
    pub frame_bytes: u64,
    /// Size of the capture file: 24-byte file header, 16 bytes and the frame per packet.
    pub file_bytes: u64,
    /// First and last packet timestamps, Unix nanoseconds as written (0 if no packet).
    pub first_ns: u64,
    pub last_ns: u64,
    /// Conversations (connections, exchanges) generated.
    pub conversations: u64,
    /// Distinct unidirectional flows (5-tuples) generated.
    pub flows: u64,
    /// Packets per IP protocol number.
    pub ip_protocols: BTreeMap<u8, u64>,
    /// Per-flow totals, when [`Config::truth`] is set.
    pub truth: Option<Truth>,
}

impl Summary {
    /// Writes the ground truth in the format of the reference `*.truth.json`
    /// files (`file`, `generator`, `policy`, `stats`, `totals`, `windows`).
    /// Without [`Config::truth`] only the statistics are written.
    pub fn write_truth_json<W: Write>(
        &self,
        file: &str,
        config: &Config,
        mut w: W,
    ) -> io::Result<()> {
        writeln!(w, "{{")?;
        writeln!(w, " \"file\": {},", truth::json_str(file))?;
        writeln!(
            w,
            " \"generator\": \"pcapgen {}\",",
            env!("CARGO_PKG_VERSION")
        )?;
        writeln!(w, " \"seed\": {},", config.seed)?;
        writeln!(w, " \"policy\": {{")?;
        for (i, (k, v)) in truth::POLICY.iter().enumerate() {
            let comma = if i + 1 < truth::POLICY.len() { "," } else { "" };
            writeln!(w, "  \"{k}\": {}{comma}", truth::json_str(v))?;
        }
        writeln!(w, " }},")?;
        let format = match config.resolution {
            TsResolution::Micro => "pcap-le-us",
            TsResolution::Nano => "pcap-le-ns",
        };
        writeln!(w, " \"stats\": {{")?;
        writeln!(w, "  \"format\": \"{format}\",")?;
        writeln!(w, "  \"frames\": {},", self.packets)?;
        writeln!(w, "  \"ipv4_packets\": {},", self.ipv4_packets)?;
        writeln!(w, "  \"ipv6_packets\": {},", self.ipv6_packets)?;
        writeln!(
            w,
            "  \"ip_packets\": {},",
            self.ipv4_packets + self.ipv6_packets
        )?;
        writeln!(w, "  \"vlan_packets\": {},", self.vlan_packets)?;
        writeln!(w, "  \"ip_bytes\": {},", self.ip_bytes)?;
        writeln!(w, "  \"frame_bytes\": {},", self.frame_bytes)?;
        writeln!(w, "  \"file_bytes\": {},", self.file_bytes)?;
        writeln!(w, "  \"first_ns\": {},", self.first_ns)?;
        writeln!(w, "  \"last_ns\": {},", self.last_ns)?;
        writeln!(w, "  \"linktypes\": {{\"1\": {}}},", self.packets)?;
        write!(w, "  \"ip_protocols\": {{")?;
        for (i, (p, n)) in self.ip_protocols.iter().enumerate() {
            let comma = if i > 0 { ", " } else { "" };
            write!(w, "{comma}\"{p}\": {n}")?;
        }
        writeln!(w, "}},")?;
        writeln!(w, "  \"conversations\": {},", self.conversations)?;
        writeln!(w, "  \"flows\": {}", self.flows)?;
        match &self.truth {
            None => writeln!(w, " }}")?,
            Some(t) => {
                writeln!(w, " }},")?;
                writeln!(w, " \"totals\": [")?;
                for (i, f) in t.totals.iter().enumerate() {
                    write!(w, "  ")?;
                    truth::write_flow(&mut w, f, None)?;
                    writeln!(w, "{}", if i + 1 < t.totals.len() { "," } else { "" })?;
                }
                writeln!(w, " ],")?;
                writeln!(w, " \"windows\": {{")?;
                for (j, (width, v)) in t.windows.iter().enumerate() {
                    writeln!(w, "  \"{width}\": [")?;
                    for (i, f) in v.iter().enumerate() {
                        write!(w, "   ")?;
                        truth::write_flow(&mut w, &f.flow, Some(f.window_start))?;
                        writeln!(w, "{}", if i + 1 < v.len() { "," } else { "" })?;
                    }
                    let comma = if j + 1 < t.windows.len() { "," } else { "" };
                    writeln!(w, "  ]{comma}")?;
                }
                writeln!(w, " }}")?;
            }
        }
        writeln!(w, "}}")?;
        w.flush()
    }
}
