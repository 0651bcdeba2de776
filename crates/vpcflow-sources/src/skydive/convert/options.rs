//! The converter's settings and what it counts.

use crate::skydive::reject::TwoPoint;

/// Settings of the [`Converter`](super::Converter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConverterOptions {
    /// A flow UUID not seen for this many seconds of event time is forgotten.
    /// Must exceed Skydive's flow expiry (default 600 s) so that a flow's final
    /// update still finds its state.
    pub state_ttl_secs: u64,
    /// Cap on the number of flow UUIDs tracked; the least recently seen are
    /// forgotten first when it is reached (bounded memory).
    pub max_tracked_flows: usize,
    /// Count only flows of these capture ids (empty: every capture).
    pub capture_ids: Vec<String>,
    /// How long (seconds of event time) a tunnel's inner flow whose parent has
    /// not been seen yet waits for it before being dropped as an orphan.
    pub orphan_wait_secs: u64,
    /// REJECT from two capture points around a firewall (see [`TwoPoint`]).
    pub two_point: Option<TwoPoint>,
}

impl Default for ConverterOptions {
    fn default() -> Self {
        ConverterOptions {
            state_ttl_secs: 1800,
            max_tracked_flows: 4_000_000,
            capture_ids: Vec::new(),
            orphan_wait_secs: 180,
            two_point: None,
        }
    }
}

/// What the converter saw and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConverterStats {
    /// Flow messages (or bare arrays) handled.
    pub flow_messages: u64,
    /// Flows handled.
    pub flows: u64,
    /// Flow updates emitted.
    pub updates: u64,
    /// Packets in the emitted updates.
    pub packets: u64,
    /// IP-layer bytes in the emitted updates.
    pub bytes: u64,
    /// Deltas dropped because the same (UUID, Start, Last) delta was already counted.
    pub duplicate_deltas: u64,
    /// Flows without a Network layer (ARP, …): not flow-log traffic.
    pub non_ip_flows: u64,
    /// Inner flows of tunnels (counted as their outer flow).
    pub tunnel_inner_flows: u64,
    /// Inner flows whose parent never arrived (dropped).
    pub orphan_flows: u64,
    /// Flows of captures not selected by `capture_ids`.
    pub filtered_flows: u64,
    /// Flows whose addresses are not IP addresses.
    pub bad_addresses: u64,
    /// Flows whose IP protocol could not be derived (written as 0).
    pub unknown_protocol: u64,
    /// Cumulative counters that went backwards (taken as restarted).
    pub counter_resets: u64,
    /// Updates whose counters are impossible (negative, or a delta above
    /// [`MAX_DELTA_PACKETS`](super::MAX_DELTA_PACKETS) packets or
    /// [`MAX_DELTA_BYTES`](super::MAX_DELTA_BYTES) bytes): rejected, not counted.
    pub rejected_counters: u64,
    /// Flows whose times lie before 1970 or after 2554: rejected.
    pub bad_times: u64,
    /// Flows beyond the cap of one message, skipped undecoded (their
    /// windows are SKIPDATA).
    pub flows_over_cap: u64,
    /// Statistics messages handled.
    pub stats_messages: u64,
    /// Packets and flows reported dropped by captures.
    pub dropped_units: u64,
    /// Drops that could not be attributed to an interface (capture not seen yet).
    pub unattributed_drops: u64,
    /// Flow states forgotten after `state_ttl_secs` of silence.
    pub expired_states: u64,
    /// Flow states forgotten early because `max_tracked_flows` was reached.
    pub evicted_states: u64,
    /// Messages of other types.
    pub other_messages: u64,
}
