//! Counters of the aggregation stage.

/// What the [`Aggregator`](super::Aggregator) did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AggregatorStats {
    /// OK records released.
    pub ok_records: u64,
    /// NODATA records released.
    pub nodata_records: u64,
    /// SKIPDATA records released.
    pub skipdata_records: u64,
    /// Updates that arrived for a window already closed (they get records of
    /// their own in that window).
    pub late_updates: u64,
    /// Times the full table was flushed early.
    pub overflow_flushes: u64,
    /// Updates dropped because the table was full (policy `Skip`).
    pub overflow_dropped_updates: u64,
    /// Idle runs longer than the NODATA gap limit, skipped without NODATA.
    pub nodata_gaps_skipped: u64,
    /// Units of input reported lost by sources.
    pub lost_units: u64,
}
