//! The sFlow v5 wire format (XDR: big-endian 32-bit words): a datagram
//! header, samples, and the flow records of flow samples. Every length is
//! checked against the bytes left before anything is read.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::netflow::DecodeError;

/// sFlow sample type: flow sample.
pub const FLOW_SAMPLE: u32 = 1;
/// sFlow sample type: counters sample.
pub const COUNTERS_SAMPLE: u32 = 2;
/// sFlow sample type: expanded flow sample.
pub const EXPANDED_FLOW_SAMPLE: u32 = 3;
/// sFlow sample type: expanded counters sample.
pub const EXPANDED_COUNTERS_SAMPLE: u32 = 4;
/// Flow record type: raw packet header.
pub const RAW_HEADER: u32 = 1;

/// A big-endian reader over a slice that never reads past its end.
#[derive(Debug, Clone, Copy)]
struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
    /// Offset of `data` in the datagram, for messages.
    base: usize,
}

impl<'a> Cursor<'a> {
    fn new(data: &'a [u8], base: usize) -> Cursor<'a> {
        Cursor { data, at: 0, base }
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        match self.data.get(self.at..).and_then(|rest| rest.get(..n)) {
            Some(b) => {
                self.at += n;
                Ok(b)
            }
            None => Err(DecodeError::new(
                what,
                self.base + self.at,
                "beyond the end of the datagram",
            )),
        }
    }

    /// A length-prefixed block (format word, length word, body).
    fn block(&mut self, what: &'static str) -> Result<(u32, Cursor<'a>), DecodeError> {
        let format = self.u32(what)?;
        let len = self.u32(what)? as usize;
        let at = self.base + self.at;
        let body = self.bytes(len, what)?;
        Ok((format, Cursor::new(body, at)))
    }

    fn offset(&self) -> usize {
        self.base + self.at
    }
}

/// The header of an sFlow v5 datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The agent's address (the exporter).
    pub agent: IpAddr,
    /// The sub-agent id.
    pub sub_agent: u32,
    /// Datagram sequence number of this agent and sub-agent.
    pub sequence: u32,
    /// Milliseconds since the agent booted.
    pub uptime_ms: u32,
    /// Samples that follow.
    pub samples: u32,
}

/// Where a sampled packet went in or out: an ifIndex, or (format 1 on
/// output) a discard reason, or (format 2) a number of interfaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port {
    /// 0: ifIndex; 1: discarded (value: reason); 2: several interfaces.
    pub format: u32,
    /// The ifIndex, reason or count.
    pub value: u32,
}

impl Port {
    /// An ifIndex that names a real interface (not 0 "unknown" nor
    /// 0x3FFFFFFF "internal").
    pub fn ifindex(self) -> Option<u32> {
        (self.format == 0 && self.value != 0 && self.value != 0x3FFF_FFFF).then_some(self.value)
    }

    /// The compact form: format in the top 2 bits, value in the rest.
    fn compact(word: u32) -> Port {
        Port {
            format: word >> 30,
            value: word & 0x3FFF_FFFF,
        }
    }
}

/// A flow sample or expanded flow sample.
#[derive(Debug, Clone, Copy)]
pub struct FlowSample<'a> {
    /// The expanded format (sample type 3).
    pub expanded: bool,
    /// Sample sequence number of the data source.
    pub sequence: u32,
    /// Data source type (0: ifIndex, 1: VLAN, 2: physical entity).
    pub source_type: u32,
    /// Data source index.
    pub source_index: u32,
    /// One packet in this many was sampled.
    pub sampling_rate: u32,
    /// Packets that could have been sampled (total).
    pub sample_pool: u32,
    /// Packets dropped for lack of resources (total).
    pub drops: u32,
    /// Input interface.
    pub input: Port,
    /// Output interface.
    pub output: Port,
    records: u32,
    body: Cursor<'a>,
}

/// One sample of a datagram.
#[derive(Debug, Clone, Copy)]
pub enum Sample<'a> {
    /// A (compact or expanded) flow sample.
    Flow(FlowSample<'a>),
    /// A counters sample (compact or expanded): skipped.
    Counters,
    /// Another sample type or enterprise: skipped by its length.
    Other(u32),
}

/// One flow record of a flow sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    /// A raw packet header.
    RawHeader {
        /// Header protocol (1: Ethernet, 11: IPv4, 12: IPv6, ...).
        protocol: u32,
        /// Length of the packet on the wire.
        frame_length: u32,
        /// Bytes removed before the header was taken (e.g. the FCS).
        stripped: u32,
        /// The first bytes of the packet.
        header: &'a [u8],
    },
    /// Another record type or enterprise: skipped by its length.
    Other(u32),
}

/// Reads the header of `data` and returns it with a reader of the samples.
pub fn header(data: &[u8]) -> Result<(Header, Samples<'_>), DecodeError> {
    let mut c = Cursor::new(data, 0);
    let version = c.u32("sFlow header")?;
    if version != 5 {
        return Err(DecodeError::new(
            "sFlow header",
            0,
            "not an sFlow version 5 datagram (version field)",
        ));
    }
    let agent = match c.u32("sFlow agent address")? {
        1 => {
            let b = c.bytes(4, "sFlow agent address")?;
            IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        }
        2 => {
            let b = c.bytes(16, "sFlow agent address")?;
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            IpAddr::V6(Ipv6Addr::from(a))
        }
        _ => {
            return Err(DecodeError::new(
                "sFlow agent address",
                8,
                "unknown address type",
            ))
        }
    };
    let sub_agent = c.u32("sFlow header")?;
    let sequence = c.u32("sFlow header")?;
    let uptime_ms = c.u32("sFlow header")?;
    let samples = c.u32("sFlow header")?;
    Ok((
        Header {
            agent,
            sub_agent,
            sequence,
            uptime_ms,
            samples,
        },
        Samples {
            c,
            left: samples,
            failed: false,
        },
    ))
}

/// The samples of a datagram, in order; an error ends them.
#[derive(Debug, Clone)]
pub struct Samples<'a> {
    c: Cursor<'a>,
    left: u32,
    failed: bool,
}

impl<'a> Iterator for Samples<'a> {
    type Item = Result<Sample<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 || self.failed {
            return None;
        }
        self.left -= 1;
        let r = self.c.block("sFlow sample").and_then(|(t, b)| sample(t, b));
        self.failed = r.is_err();
        Some(r)
    }
}

fn sample(data_format: u32, mut c: Cursor<'_>) -> Result<Sample<'_>, DecodeError> {
    // Enterprise in the top 20 bits, format in the low 12.
    if data_format >> 12 != 0 {
        return Ok(Sample::Other(data_format));
    }
    let what = "sFlow flow sample";
    let expanded = match data_format & 0xFFF {
        FLOW_SAMPLE => false,
        EXPANDED_FLOW_SAMPLE => true,
        COUNTERS_SAMPLE | EXPANDED_COUNTERS_SAMPLE => return Ok(Sample::Counters),
        other => return Ok(Sample::Other(other)),
    };
    let sequence = c.u32(what)?;
    let (source_type, source_index) = if expanded {
        (c.u32(what)?, c.u32(what)?)
    } else {
        let w = c.u32(what)?;
        (w >> 24, w & 0x00FF_FFFF)
    };
    let sampling_rate = c.u32(what)?;
    let sample_pool = c.u32(what)?;
    let drops = c.u32(what)?;
    let (input, output) = if expanded {
        let i = Port {
            format: c.u32(what)?,
            value: c.u32(what)?,
        };
        let o = Port {
            format: c.u32(what)?,
            value: c.u32(what)?,
        };
        (i, o)
    } else {
        (Port::compact(c.u32(what)?), Port::compact(c.u32(what)?))
    };
    let records = c.u32(what)?;
    Ok(Sample::Flow(FlowSample {
        expanded,
        sequence,
        source_type,
        source_index,
        sampling_rate,
        sample_pool,
        drops,
        input,
        output,
        records,
        body: c,
    }))
}

impl<'a> FlowSample<'a> {
    /// Its flow records, in order; an error ends them.
    pub fn records(&self) -> Records<'a> {
        Records {
            c: self.body,
            left: self.records,
            failed: false,
        }
    }

    /// Offset of its records in the datagram.
    pub fn offset(&self) -> usize {
        self.body.offset()
    }
}

/// The flow records of a flow sample.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    c: Cursor<'a>,
    left: u32,
    failed: bool,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 || self.failed {
            return None;
        }
        self.left -= 1;
        let r = self
            .c
            .block("sFlow flow record")
            .and_then(|(t, b)| record(t, b));
        self.failed = r.is_err();
        Some(r)
    }
}

fn record(data_format: u32, mut c: Cursor<'_>) -> Result<Record<'_>, DecodeError> {
    if data_format != RAW_HEADER {
        return Ok(Record::Other(data_format));
    }
    let what = "sFlow raw packet header";
    let protocol = c.u32(what)?;
    let frame_length = c.u32(what)?;
    let stripped = c.u32(what)?;
    let len = c.u32(what)? as usize;
    let header = c.bytes(len, what)?;
    Ok(Record::RawHeader {
        protocol,
        frame_length,
        stripped,
        header,
    })
}
