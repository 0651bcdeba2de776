//! What the durability journal of `vpcflow run` costs the ingest thread
//! (not a test; see `bench/journal.sh`):
//!
//! ```sh
//! journal_cost capture FILE.pcap JOURNAL_DIR SYNC_MS   # 0: no journal
//! journal_cost skydive FILE.jsonl JOURNAL_DIR SYNC_MS
//! ```
//!
//! `REPEAT=N` (capture) feeds the capture N times, each copy moved by the
//! capture's length, so that a run lasts many sync intervals: a run shorter
//! than a few intervals measures the last sync's drain, not the steady
//! state.
//!
//! ```sh
//! ```
//!
//! The input is read into memory first, then fed as fast as it goes through
//! what the ingest thread of `vpcflow run` does with it: (Skydive:
//! conversion,) aggregation, hand-over of closed windows; with SYNC_MS > 0,
//! as in `vpcflow run`, every SYNC_MS of wall-clock time the ingest thread
//! also encodes the aggregation entries changed since the previous sync
//! ((Skydive) and takes the converter's state) and a journal thread
//! encodes the released records, (Skydive) writes and syncs the converter's
//! state, appends the frame to a segment and `fdatasync`s it, starting a new segment with a snapshot when the
//! segment outgrows it. The time is the ingest thread's until the journal
//! thread has written everything. Prints updates/s and
//! the journal figures. Fed at full speed, every sync holds far more changes
//! than at live rates: this is the worst case.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vpcflow_core::aggregate::{Aggregator, AggregatorConfig, Closed};
use vpcflow_core::{FlowConsumer, FlowUpdate, InterfaceIndex, LossEvent};
use vpcflow_sources::pcap::{read_capture, PcapOptions};
use vpcflow_sources::skydive::{parse_json, Converter, ConverterOptions, Payload, StateStore};
use vpcflow_sources::CheckpointWrite;

/// Recorded updates (the capture's, read beforehand).
#[derive(Default)]
struct Record {
    names: Vec<String>,
    updates: Vec<FlowUpdate>,
}

impl FlowConsumer for Record {
    fn interface(&mut self, name: &str) -> InterfaceIndex {
        self.names.push(name.into());
        InterfaceIndex(self.names.len() as u32 - 1)
    }
    fn update(&mut self, u: &FlowUpdate) {
        self.updates.push(*u);
    }
    fn loss(&mut self, _: &LossEvent) {}
}

/// The ingest side: aggregation; with a journal, what it hands the journal
/// thread.
struct Ingest {
    aggregator: Aggregator,
    names: Vec<String>,
    journal: Option<JournalSide>,
    records_released: u64,
}

/// What crosses to the journal thread.
enum ToJournal {
    Released(Closed),
    Sync {
        state: Vec<u8>,
        full: bool,
        before: Option<CheckpointWrite>,
    },
}

struct JournalSide {
    tx: SyncSender<ToJournal>,
    /// CPU time of the ingest thread in syncs (taking the state).
    ingest_cpu: Duration,
    every: Duration,
    last: Instant,
    full_next: Arc<AtomicBool>,
    thread: Option<JoinHandle<JournalTotals>>,
}

#[derive(Default, Debug)]
struct JournalTotals {
    syncs: u64,
    snapshots: u64,
    bytes_written: u64,
    /// Of which: aggregation state (the rest: released records).
    state_bytes: u64,
    sync_time: Duration,
    /// CPU time of the journal thread.
    cpu: Duration,
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// The journal thread, as `vpcflow run`'s: it encodes the released batches,
/// and at each sync writes them with the state, syncs, and starts a new
/// segment with a snapshot when the segment outgrows its snapshot.
fn journal_thread(
    dir: PathBuf,
    rx: Receiver<ToJournal>,
    full_next: Arc<AtomicBool>,
) -> JournalTotals {
    let segment = |generation: u64| {
        OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(dir.join(format!("segment-{generation}.wal")))
            .unwrap()
    };
    let mut t = JournalTotals::default();
    let (mut generation, mut file) = (0u64, segment(0));
    let (mut len, mut snapshot_len) = (0u64, 0u64);
    let mut released = Vec::new();
    for m in rx {
        match m {
            ToJournal::Released(closed) => closed.encode(&mut released),
            ToJournal::Sync {
                state,
                full,
                before,
            } => {
                let started = Instant::now();
                if let Some(write) = before {
                    write();
                }
                let frame = (state.len() + released.len()) as u64;
                if full {
                    generation += 1;
                    file = segment(generation);
                    file.write_all(&state).unwrap();
                    file.write_all(&released).unwrap();
                    file.sync_all().unwrap();
                    File::open(&dir).unwrap().sync_all().unwrap();
                    let _ =
                        std::fs::remove_file(dir.join(format!("segment-{}.wal", generation - 1)));
                    len = frame;
                    snapshot_len = frame;
                    t.snapshots += 1;
                } else {
                    file.write_all(&state).unwrap();
                    file.write_all(&released).unwrap();
                    file.sync_data().unwrap();
                    len += frame;
                }
                if len - snapshot_len > snapshot_len.max(32 << 20) {
                    full_next.store(true, Ordering::Release);
                }
                released.clear();
                t.bytes_written += frame;
                t.state_bytes += state.len() as u64;
                t.syncs += 1;
                t.sync_time += started.elapsed();
            }
        }
    }
    t.cpu = thread_cpu();
    t
}

impl Ingest {
    fn forward(&mut self) {
        if let Some(closed) = self.aggregator.take_released() {
            self.records_released += closed.len() as u64;
            if let Some(j) = &self.journal {
                j.tx.send(ToJournal::Released(closed)).unwrap();
            }
        }
    }

    /// A journal sync when due (`before`: the source's checkpoint, written
    /// by the journal thread).
    fn maybe_sync(&mut self, before: &mut dyn FnMut() -> Option<CheckpointWrite>) {
        let Some(j) = &mut self.journal else {
            return;
        };
        if j.last.elapsed() < j.every {
            return;
        }
        let cpu0 = thread_cpu();
        let before = before();
        j.last = Instant::now();
        let full = j.full_next.swap(false, Ordering::AcqRel);
        let mut state = Vec::new();
        self.aggregator.encode_state(full, &mut state);
        j.tx.send(ToJournal::Sync {
            state,
            full,
            before,
        })
        .unwrap();
        j.ingest_cpu += thread_cpu() - cpu0;
    }

    /// Waits for the journal thread.
    fn finish(&mut self) -> Option<JournalTotals> {
        let j = self.journal.as_mut()?;
        let (tx, _) = sync_channel(1);
        drop(std::mem::replace(&mut j.tx, tx));
        j.thread.take().map(|t| t.join().unwrap())
    }
}

impl FlowConsumer for Ingest {
    fn interface(&mut self, name: &str) -> InterfaceIndex {
        self.names.push(name.into());
        let i = InterfaceIndex(self.names.len() as u32 - 1);
        self.aggregator.add_interface(i);
        i
    }
    fn update(&mut self, u: &FlowUpdate) {
        self.aggregator.observe(u);
        self.forward();
    }
    fn update_batch(&mut self, u: &[FlowUpdate]) {
        self.aggregator.observe_batch(u);
        self.forward();
    }
    fn loss(&mut self, l: &LossEvent) {
        self.aggregator.lose(l);
        self.forward();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, mode, input, dir, sync_ms] = &args[..] else {
        eprintln!("usage: journal_cost capture|skydive FILE JOURNAL_DIR SYNC_MS");
        std::process::exit(2);
    };
    let sync_ms: u64 = sync_ms.parse().expect("SYNC_MS");
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let journal = (sync_ms > 0).then(|| {
        let (tx, rx) = sync_channel(8);
        let full_next = Arc::new(AtomicBool::new(true));
        let flag = full_next.clone();
        let dir = dir.clone();
        JournalSide {
            tx,
            ingest_cpu: Duration::ZERO,
            every: Duration::from_millis(sync_ms),
            last: Instant::now(),
            full_next,
            thread: Some(std::thread::spawn(move || journal_thread(dir, rx, flag))),
        }
    });
    let mut ingest = Ingest {
        aggregator: Aggregator::new(AggregatorConfig::default()),
        names: Vec::new(),
        journal,
        records_released: 0,
    };
    const BATCH: usize = 256;
    let totals;
    let (updates, elapsed, cpu) = match mode.as_str() {
        "capture" => {
            let mut rec = Record::default();
            read_capture(
                Path::new(input),
                &PcapOptions::default(),
                &mut rec,
                &mut |_| {},
            )
            .expect("capture");
            let repeat: u64 = std::env::var("REPEAT")
                .ok()
                .and_then(|r| r.parse().ok())
                .unwrap_or(1);
            let first = rec.updates.iter().map(|u| u.first).min().unwrap_or(0);
            let last = rec.updates.iter().map(|u| u.last).max().unwrap_or(0);
            let span = (last - first) / 1_000_000_000 * 1_000_000_000 + 60_000_000_000;
            let (started, cpu0) = (Instant::now(), thread_cpu());
            for name in &rec.names {
                ingest.interface(name);
            }
            let mut copy = rec.updates.clone();
            for k in 0..repeat {
                for (c, u) in copy.iter_mut().zip(&rec.updates) {
                    c.first = u.first + k * span;
                    c.last = u.last + k * span;
                }
                for chunk in copy.chunks(BATCH) {
                    ingest.update_batch(chunk);
                    ingest.maybe_sync(&mut || None);
                }
            }
            let updates = rec.updates.len() as u64 * repeat;
            let rest = ingest.aggregator.finish();
            ingest.records_released += rest.len() as u64;
            totals = ingest.finish();
            (updates, started.elapsed(), thread_cpu() - cpu0)
        }
        "skydive" => {
            let text = std::fs::read(input).expect("recording");
            // Payloads borrow their strings from `text`.
            let payloads: Vec<Payload> = text
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| parse_json(l).expect("message"))
                .collect();
            let store = Arc::new(
                StateStore::open(&dir.join("state"), "bench", Duration::from_secs(86_400))
                    .expect("state folder"),
            );
            let mut converter = Converter::new(ConverterOptions::default());
            let (started, cpu0) = (Instant::now(), thread_cpu());
            for p in &payloads {
                converter.payload(p, &mut ingest);
                let c = &converter;
                ingest.maybe_sync(&mut || {
                    let (store, mut snapshot) = (store.clone(), c.export_unsorted());
                    Some(Box::new(move || {
                        snapshot.sort_flows();
                        store.save(&snapshot, 0).unwrap()
                    }))
                });
            }
            let rest = ingest.aggregator.finish();
            ingest.records_released += rest.len() as u64;
            totals = ingest.finish();
            (
                converter.stats().updates,
                started.elapsed(),
                thread_cpu() - cpu0,
            )
        }
        _ => panic!("mode: capture or skydive"),
    };
    let secs = elapsed.as_secs_f64();
    let journal_cpu = totals.as_ref().map_or(Duration::ZERO, |j| j.cpu);
    let cpu_total = (cpu + journal_cpu).as_secs_f64();
    println!(
        "{mode} sync {sync_ms} ms: {updates} updates in {secs:.2} s = {:.0} updates/s; {} records; CPU {:.2} s ingest + {:.2} s journal thread = {:.0} updates per CPU s",
        updates as f64 / secs,
        ingest.records_released,
        cpu.as_secs_f64(),
        journal_cpu.as_secs_f64(),
        updates as f64 / cpu_total,
    );
    if let Some(j) = &ingest.journal {
        println!(
            "ingest thread in syncs: {:.3} s CPU",
            j.ingest_cpu.as_secs_f64()
        );
    }
    if let Some(j) = &totals {
        println!(
            "journal: {} syncs ({} snapshots), {:.1} MB written ({:.1} MB of state), {:.2} s in syncs ({:.1} ms each)",
            j.syncs,
            j.snapshots,
            j.bytes_written as f64 / 1e6,
            j.state_bytes as f64 / 1e6,
            j.sync_time.as_secs_f64(),
            j.sync_time.as_secs_f64() * 1000.0 / j.syncs.max(1) as f64
        );
    }
}
