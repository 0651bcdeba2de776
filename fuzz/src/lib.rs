//! What the fuzz targets share: [`Pipeline`], a [`FlowConsumer`] that runs
//! everything a source hands over through the aggregator and expands every
//! record, so that a decoder's output is checked downstream too.

use vpcflow_core::aggregate::{Aggregator, AggregatorConfig};
use vpcflow_core::window::Interval;
use vpcflow_core::{FlowConsumer, FlowUpdate, InterfaceIndex, LossEvent};

/// The datagrams of a fuzz input: each is preceded by its length as 2
/// big-endian bytes (cut to what is left); a last lone byte is a datagram
/// of its own.
pub fn datagrams(mut rest: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (datagram, next) = match rest {
            [a, b, tail @ ..] => {
                let n = usize::from(u16::from_be_bytes([*a, *b])).min(tail.len());
                tail.split_at(n)
            }
            _ => (rest, &[][..]),
        };
        rest = next;
        Some(datagram)
    })
}

/// Aggregation of what a source under test produces.
pub struct Pipeline {
    aggregator: Aggregator,
    names: Vec<String>,
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline {
            aggregator: Aggregator::new(AggregatorConfig {
                interval: Interval::TenMinutes,
                // Small, so that the overflow flush runs too.
                max_open_flows: 64,
                ..AggregatorConfig::default()
            }),
            names: Vec::new(),
        }
    }
}

impl Pipeline {
    /// Closes every window and makes every record, checking their order.
    pub fn finish(mut self) {
        let drain = |closed: vpcflow_core::aggregate::Closed| {
            let mut last = None;
            for batch in closed.into_released(4096) {
                for r in &batch.records {
                    let key = r.sort_key();
                    assert!(last.is_none_or(|l| l <= key), "records out of order");
                    last = Some(key);
                }
            }
        };
        if let Some(c) = self.aggregator.take_released() {
            drain(c);
        }
        drain(self.aggregator.finish());
    }
}

impl FlowConsumer for Pipeline {
    fn interface(&mut self, name: &str) -> InterfaceIndex {
        let i = match self.names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.names.push(name.to_string());
                self.names.len() - 1
            }
        };
        let index = InterfaceIndex(i as u32);
        self.aggregator.add_interface(index);
        index
    }

    fn update(&mut self, update: &FlowUpdate) {
        self.aggregator.observe(update);
        // Hand-overs are dropped as they come, as the writer takes them.
        let _ = self.aggregator.take_released();
    }

    fn loss(&mut self, loss: &LossEvent) {
        self.aggregator.lose(loss);
        let _ = self.aggregator.take_released();
    }
}
