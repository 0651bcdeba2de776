//! [`FanOut`]: several destinations fed from one run, as several AWS flow
//! logs on the same interfaces would be (S3 files and CloudWatch Logs, …).

use vpcflow_core::aggregate::Released;
use vpcflow_core::enrich::InterfaceTable;

use crate::error::SinkError;
use crate::sink::{RecordSink, RunSummary};
use crate::spool::DeliveryReport;

/// Writes every batch to each of its sinks, in order. Each sink keeps its
/// own spool, delivery and counters; an error of one stops the run (records
/// already sealed stay in the spools).
pub struct FanOut {
    sinks: Vec<Box<dyn RecordSink + Send>>,
}

impl FanOut {
    /// A sink writing to every one of `sinks`.
    pub fn new(sinks: Vec<Box<dyn RecordSink + Send>>) -> FanOut {
        FanOut { sinks }
    }
}

/// Records, and their uncompressed text, are counted once, as the first
/// sink wrote them (every sink gets the same records); files and their
/// compressed bytes are added up over the sinks.
fn add(total: &mut RunSummary, one: RunSummary, first: bool) {
    if first {
        total.records = one.records;
        total.uncompressed_bytes = one.uncompressed_bytes;
    }
    total.files += one.files;
    total.files_already_present += one.files_already_present;
    total.compressed_bytes += one.compressed_bytes;
}

impl RecordSink for FanOut {
    fn write(&mut self, released: &Released, interfaces: &InterfaceTable) -> Result<(), SinkError> {
        for sink in &mut self.sinks {
            sink.write(released, interfaces)?;
        }
        Ok(())
    }

    /// Finishes every sink (each drains its own spool), then returns the
    /// first error, if any.
    fn finish(&mut self) -> Result<RunSummary, SinkError> {
        let mut total = RunSummary::default();
        let mut error = None;
        for (i, sink) in self.sinks.iter_mut().enumerate() {
            match sink.finish() {
                Ok(summary) => add(&mut total, summary, i == 0),
                Err(e) => {
                    error.get_or_insert(e);
                }
            }
        }
        match error {
            Some(e) => Err(e),
            None => Ok(total),
        }
    }

    fn totals(&self) -> RunSummary {
        let mut total = RunSummary::default();
        for (i, sink) in self.sinks.iter().enumerate() {
            add(&mut total, sink.totals(), i == 0);
        }
        total
    }

    fn open_files(&self) -> usize {
        self.sinks.iter().map(|s| s.open_files()).sum()
    }

    /// The report of the first sink that delivers from a spool; every one
    /// is in [`RecordSink::delivery_reports`].
    fn delivery_report(&self) -> Option<DeliveryReport> {
        self.sinks.iter().find_map(|s| s.delivery_report())
    }

    fn delivery_reports(&self) -> Vec<DeliveryReport> {
        self.sinks
            .iter()
            .flat_map(|s| s.delivery_reports())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StdoutSink;
    use vpcflow_core::format::LogFormat;
    use vpcflow_core::interface::InterfaceDefaults;

    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    struct Lines(StdoutSink<Shared>);
    impl RecordSink for Lines {
        fn write(&mut self, r: &Released, i: &InterfaceTable) -> Result<(), SinkError> {
            self.0.write(r, i)
        }
        fn finish(&mut self) -> Result<RunSummary, SinkError> {
            self.0.finish()
        }
        fn totals(&self) -> RunSummary {
            RunSummary::default()
        }
        fn open_files(&self) -> usize {
            1
        }
    }

    #[test]
    fn every_sink_gets_every_batch() {
        let outs: Vec<_> = (0..2)
            .map(|_| std::sync::Arc::new(std::sync::Mutex::new(Vec::new())))
            .collect();
        let sinks: Vec<Box<dyn RecordSink + Send>> = outs
            .iter()
            .map(|o| {
                Box::new(Lines(StdoutSink::new(
                    Shared(o.clone()),
                    LogFormat::default(),
                ))) as _
            })
            .collect();
        let mut fan = FanOut::new(sinks);
        let interfaces = InterfaceTable::new(
            InterfaceDefaults {
                account_id: "123456789012".into(),
                region: "us-east-1".into(),
            },
            Default::default(),
        );
        fan.write(&Released::default(), &interfaces).unwrap();
        let total = fan.finish().unwrap();
        assert_eq!(fan.open_files(), 2);
        // Each got the header line; the text is counted once.
        for o in &outs {
            assert!(o.lock().unwrap().starts_with(b"version account-id"));
        }
        assert_eq!(
            total.uncompressed_bytes,
            outs[0].lock().unwrap().len() as u64
        );
    }
}
