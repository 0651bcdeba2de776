//! What the sFlow decoder saw.

/// Counters of a [`Decoder`](super::Decoder).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SflowStats {
    /// Datagrams given to the decoder.
    pub datagrams: u64,
    /// Their bytes.
    pub datagram_bytes: u64,
    /// Datagrams (or their rest) that could not be decoded.
    pub malformed: u64,
    /// Flow samples (compact and expanded).
    pub flow_samples: u64,
    /// Of them, expanded flow samples.
    pub expanded_flow_samples: u64,
    /// Counters samples (skipped).
    pub counter_samples: u64,
    /// Samples of other types or enterprises (skipped).
    pub other_samples: u64,
    /// Raw packet header records.
    pub raw_headers: u64,
    /// Flow records of other types (skipped).
    pub other_records: u64,
    /// Flow updates handed on (one per sampled IP packet).
    pub updates: u64,
    /// Their packets (after sampling scale).
    pub packets: u64,
    /// Their IP-layer bytes (after sampling scale).
    pub bytes: u64,
    /// Updates scaled by a sampling rate above 1.
    pub sampled_updates: u64,
    /// Sampled packets that are not IP (ARP, LLDP, ...): not counted.
    pub non_ip: u64,
    /// Sampled headers that claim IP but cannot be decoded: lost.
    pub undecodable: u64,
    /// Raw headers of a protocol the decoder does not read: lost.
    pub unsupported_headers: u64,
    /// Flow samples with a sampling rate of 0: lost.
    pub invalid_samples: u64,
    /// Datagram sequence-number gaps.
    pub sequence_gaps: u64,
    /// Datagrams lost in those gaps.
    pub lost_datagrams: u64,
    /// Datagram sequence numbers that went backwards (reorder, restart).
    pub sequence_resets: u64,
    /// Sample sequence-number gaps of a data source not explained by lost
    /// datagrams.
    pub sample_gaps: u64,
    /// Samples lost in those gaps.
    pub lost_samples: u64,
    /// Packets the agents reported dropped for lack of resources (the
    /// increase of the samples' `drops` field).
    pub agent_drops: u64,
    /// Samples of interfaces beyond the decoder's limit (not counted).
    pub samples_over_interface_limit: u64,
    /// Losses of an agent before any interface of it was known (they
    /// cannot mark a window).
    pub losses_before_interfaces: u64,
}
