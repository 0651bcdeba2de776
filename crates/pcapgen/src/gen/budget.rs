//! How the packet and byte targets are spread over conversations as they
//! start.

use crate::conv::{Cost, Kind};
use crate::rng::Rng;

/// Spreads the packet and byte targets over conversations as they start.
#[derive(Debug, Clone)]
pub(super) struct Budget {
    pub(super) rem_packets: f64,
    pub(super) rem_bytes: f64,
    pub(super) rem_elastic: u64,
    pub(super) rem_fixed: u64,
    pub(super) fixed_packets: f64,
    pub(super) fixed_bytes: f64,
    pub(super) fixed_seen: f64,
}

impl Budget {
    fn fixed_avg(&self) -> (f64, f64) {
        (
            self.fixed_packets / self.fixed_seen,
            self.fixed_bytes / self.fixed_seen,
        )
    }

    /// (packets, file bytes per packet) for the next elastic conversation.
    pub(super) fn next(&mut self, rng: &mut Rng) -> (f64, f64) {
        let (fp, fb) = self.fixed_avg();
        let n = self.rem_elastic.max(1) as f64;
        let avail_p = (self.rem_packets - self.rem_fixed as f64 * fp).max(2.0 * n);
        let avail_b = (self.rem_bytes - self.rem_fixed as f64 * fb).max(avail_p * 80.0);
        // Heavy-tailed sizes, but no conversation takes more than 2% of what
        // is left, so the end of the run can still correct the totals.
        let w = if self.rem_elastic <= 1 {
            1.0
        } else {
            rng.pareto_mean1(1.4, (n / 50.0).clamp(1.0, 5000.0))
        };
        let packets = w * avail_p / n;
        // Bigger conversations carry bigger packets.
        let ratio = avail_b / avail_p * (w.powf(0.2) / 0.93) * (0.8 + 0.4 * rng.f64());
        let ratio = ratio.min(0.02 * avail_b.max(0.0) / packets).max(80.0);
        (packets, ratio)
    }

    pub(super) fn spend(&mut self, kind: Kind, cost: Cost) {
        self.rem_packets -= cost.packets as f64;
        self.rem_bytes -= cost.file_bytes as f64;
        if kind.elastic() {
            self.rem_elastic = self.rem_elastic.saturating_sub(1);
        } else {
            self.rem_fixed = self.rem_fixed.saturating_sub(1);
            self.fixed_packets += cost.packets as f64;
            self.fixed_bytes += cost.file_bytes as f64;
            self.fixed_seen += 1.0;
        }
    }
}
