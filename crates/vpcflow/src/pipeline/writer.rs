//! The writer stage, on its own thread: the records of closed windows are
//! filtered by traffic type, enriched with the interfaces' metadata (resolved
//! by the ingest stage and received over the channel), batched, encoded and
//! published by the sink.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Result;
use vpcflow_core::aggregate::Released;
use vpcflow_core::enrich::InterfaceTable;
use vpcflow_core::{Action, InterfaceIndex, LogStatus};
use vpcflow_sinks::s3::DeliveryReport;
use vpcflow_sinks::{RecordSink, RunSummary};

use super::Message;
use crate::config::{Settings, TrafficType};
use crate::metrics::{RecordCounts, Telemetry};

/// Records per batch given to the sink: closed windows are expanded from their
/// compact form this many at a time.
const BATCH_RECORDS: usize = 16_384;

/// What the writer thread returns: the sink's totals and what the delivery
/// of each spooled destination did.
pub type WriterResult = Result<(RunSummary, Vec<DeliveryReport>)>;

/// The writer thread: enrich, batch, encode and publish until the channel
/// closes, then finish the sink.
pub fn write_loop(
    settings: Settings,
    mut sink: Box<dyn RecordSink + Send>,
    rx: std::sync::mpsc::Receiver<Message>,
    telemetry: Option<&Telemetry>,
    acked: &AtomicU64,
) -> WriterResult {
    let mut interfaces = InterfaceTable::new(settings.interface_defaults.clone(), HashMap::new());
    interfaces.set_aws_services(settings.aws_services());
    let mut records = Vec::new();
    for message in rx {
        match message {
            Message::Interface(meta) => {
                interfaces.insert(*meta);
            }
            Message::Reload(reload) => {
                for meta in reload.interfaces {
                    interfaces.insert(meta);
                }
                interfaces.set_aws_services(reload.aws_services);
            }
            Message::Ack(seq) => acked.store(seq, Ordering::Release),
            Message::Sync(_) => {}
            Message::Records(closed) => {
                for mut released in closed.into_released(BATCH_RECORDS) {
                    keep(settings.traffic_type, &mut released);
                    sink.write(&released, &interfaces)?;
                    if let Some(t) = telemetry {
                        count_records(&mut records, &released);
                        t.publish_writer(|w| {
                            w.records = records
                                .iter()
                                .enumerate()
                                .map(|(i, c)| {
                                    let name = &interfaces.get(InterfaceIndex(i as u32)).name;
                                    (name.clone(), *c)
                                })
                                .collect();
                            w.output = sink.totals();
                            w.open_files = sink.open_files() as u64;
                        });
                    }
                }
            }
        }
    }
    let summary = sink.finish()?;
    if let Some(t) = telemetry {
        t.publish_writer(|w| {
            w.output = summary;
            w.open_files = 0;
        });
    }
    Ok((summary, sink.delivery_reports()))
}

/// Drops the records `traffic_type` does not want (NODATA and SKIPDATA are
/// always kept).
fn keep(traffic_type: TrafficType, released: &mut Released) {
    let want_reject = match traffic_type {
        TrafficType::All => return,
        TrafficType::Accept => false,
        TrafficType::Reject => true,
    };
    released.records.retain(|r| {
        r.traffic
            .is_none_or(|t| t.action.is_reject() == want_reject)
    });
}

/// Adds the records of `released` to the counts of their interfaces.
fn count_records(counts: &mut Vec<RecordCounts>, released: &Released) {
    for r in &released.records {
        let i = r.interface.0 as usize;
        if i >= counts.len() {
            counts.resize(i + 1, RecordCounts::default());
        }
        let c = &mut counts[i];
        match (r.status, r.traffic.map(|t| t.action)) {
            (LogStatus::Ok, Some(Action::Reject)) => c.ok_reject += 1,
            (LogStatus::Ok, _) => c.ok_accept += 1,
            (LogStatus::NoData, _) => c.nodata += 1,
            (LogStatus::SkipData, _) => c.skipdata += 1,
        }
    }
}

/// Tells the telemetry that the writer thread ended, however it ends (a
/// panic included).
pub struct WriterExit<'a> {
    /// Where to tell it.
    pub telemetry: Option<&'a Telemetry>,
    /// Why it ended.
    pub reason: String,
}

impl Drop for WriterExit<'_> {
    fn drop(&mut self) {
        if let Some(t) = self.telemetry {
            t.writer_stopped(std::mem::take(&mut self.reason));
        }
    }
}

#[cfg(test)]
mod tests {
    use vpcflow_core::record::Traffic;
    use vpcflow_core::tcp_flags::TcpFlags;
    use vpcflow_core::{FlowKey, FlowRecord};

    use super::*;

    fn record(action: Option<Action>) -> FlowRecord {
        FlowRecord {
            interface: InterfaceIndex(0),
            window_start: 60,
            start: 61,
            end: 62,
            status: if action.is_some() {
                LogStatus::Ok
            } else {
                LogStatus::NoData
            },
            traffic: action.map(|action| Traffic {
                key: FlowKey {
                    src: "10.0.0.1".parse().unwrap(),
                    dst: "10.0.0.2".parse().unwrap(),
                    src_port: 1,
                    dst_port: 2,
                    protocol: 6,
                },
                packet_addrs: None,
                packets: 1,
                bytes: 40,
                tcp_flags: TcpFlags::NONE,
                action,
            }),
        }
    }

    #[test]
    fn traffic_type_filter_counts_bpa_as_reject() {
        let all = [
            None,
            Some(Action::Accept),
            Some(Action::Reject),
            Some(Action::RejectBpa),
        ];
        for (traffic_type, want) in [
            (TrafficType::All, vec![0, 1, 2, 3]),
            (TrafficType::Accept, vec![0, 1]),
            (TrafficType::Reject, vec![0, 2, 3]),
        ] {
            let mut released = Released {
                records: all.iter().map(|a| record(*a)).collect(),
                complete_before: 0,
            };
            keep(traffic_type, &mut released);
            let expected: Vec<FlowRecord> = want.iter().map(|&i| record(all[i])).collect();
            assert_eq!(released.records, expected, "{traffic_type:?}");
        }
    }
}
