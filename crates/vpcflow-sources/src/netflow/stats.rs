//! What the NetFlow/IPFIX decoder saw.

use std::ops::AddAssign;

/// Counters of a [`Decoder`](super::Decoder).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetflowStats {
    /// Datagrams given to the decoder.
    pub datagrams: u64,
    /// Their bytes.
    pub datagram_bytes: u64,
    /// Datagrams (or their rest) that could not be decoded.
    pub malformed: u64,
    /// NetFlow v5 messages.
    pub v5_messages: u64,
    /// NetFlow v9 messages.
    pub v9_messages: u64,
    /// IPFIX messages.
    pub ipfix_messages: u64,
    /// Flow records decoded.
    pub records: u64,
    /// Options records decoded (exporter clock, sampling).
    pub options_records: u64,
    /// Flow updates handed on (a biflow record gives two).
    pub updates: u64,
    /// Their packets (after sampling scale).
    pub packets: u64,
    /// Their bytes (after sampling scale).
    pub bytes: u64,
    /// Updates scaled by a sampling rate above 1.
    pub sampled_records: u64,
    /// Records without source or destination address, or with addresses of
    /// two families (not counted).
    pub records_without_addresses: u64,
    /// Directions of records with no packets or bytes (not counted).
    pub records_without_counts: u64,
    /// Records without any time (they got the export time).
    pub records_without_time: u64,
    /// Records of interfaces beyond the decoder's limit (not counted).
    pub records_over_interface_limit: u64,
    /// Templates and options templates defined or refreshed.
    pub templates: u64,
    /// New templates refused because the cache was full.
    pub templates_refused: u64,
    /// Template withdrawals.
    pub withdrawals: u64,
    /// Data sets held for a template not known yet.
    pub sets_held: u64,
    /// Held data sets decoded when their template came.
    pub sets_released: u64,
    /// Held data sets lost (their template did not come in time, or the
    /// buffer was full).
    pub sets_lost: u64,
    /// Held data sets that did not fit the template that came (decoded up
    /// to the fault). Their datagram was counted earlier, without error, so
    /// they are not counted in `malformed`.
    pub sets_malformed: u64,
    /// Sequence-number gaps.
    pub sequence_gaps: u64,
    /// Units lost in those gaps (v5: records, v9: messages, IPFIX: records).
    pub sequence_lost_units: u64,
    /// Sequence numbers that went backwards (reorder, restart).
    pub sequence_resets: u64,
    /// Losses of an exporter before any interface of it was known (they
    /// cannot mark a window).
    pub losses_before_interfaces: u64,
}

impl AddAssign for NetflowStats {
    fn add_assign(&mut self, o: NetflowStats) {
        self.datagrams += o.datagrams;
        self.datagram_bytes += o.datagram_bytes;
        self.malformed += o.malformed;
        self.v5_messages += o.v5_messages;
        self.v9_messages += o.v9_messages;
        self.ipfix_messages += o.ipfix_messages;
        self.records += o.records;
        self.options_records += o.options_records;
        self.updates += o.updates;
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.sampled_records += o.sampled_records;
        self.records_without_addresses += o.records_without_addresses;
        self.records_without_counts += o.records_without_counts;
        self.records_without_time += o.records_without_time;
        self.records_over_interface_limit += o.records_over_interface_limit;
        self.templates += o.templates;
        self.templates_refused += o.templates_refused;
        self.withdrawals += o.withdrawals;
        self.sets_held += o.sets_held;
        self.sets_released += o.sets_released;
        self.sets_lost += o.sets_lost;
        self.sets_malformed += o.sets_malformed;
        self.sequence_gaps += o.sequence_gaps;
        self.sequence_lost_units += o.sequence_lost_units;
        self.sequence_resets += o.sequence_resets;
        self.losses_before_interfaces += o.losses_before_interfaces;
    }
}
