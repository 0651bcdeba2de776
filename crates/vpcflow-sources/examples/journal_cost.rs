//! What the durability journal of `vpcflow run` costs the ingest thread
//! (not a test; see `bench/journal.sh`):
//!
//! ```sh
//! journal_cost capture FILE.pcap JOURNAL_DIR SYNC_MS   # 0: no journal
//! journal_cost skydive FILE.jsonl JOURNAL_DIR SYNC_MS
//! ```
//!
//! The input is read into memory first, then fed as fast as it goes through
//! what the ingest thread of `vpcflow run` does with it: (Skydive:
//! conversion,) aggregation, hand-over of closed windows; with SYNC_MS > 0,
//! every SYNC_MS of wall-clock time also what a journal sync does there: the
//! aggregation entries changed since the previous sync and the records
//! released since are encoded, appended to a segment and `fdatasync`ed, a
//! snapshot starts a new segment when the segment outgrows it, and (Skydive)
//! the converter's state is written and synced first. Prints updates/s and
//! the journal figures. Fed at full speed, every sync holds far more changes
//! than at live rates: this is the worst case.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vpcflow_core::aggregate::{Aggregator, AggregatorConfig};
use vpcflow_core::{FlowConsumer, FlowUpdate, InterfaceIndex, LossEvent};
use vpcflow_sources::pcap::{read_capture, PcapOptions};
use vpcflow_sources::skydive::{parse_json, Converter, ConverterOptions, Payload, StateStore};

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

/// The ingest side: aggregation and the journal.
struct Ingest {
    aggregator: Aggregator,
    names: Vec<String>,
    journal: Option<Journal>,
    released: Vec<u8>,
    records_released: u64,
}

struct Journal {
    dir: PathBuf,
    file: File,
    len: u64,
    snapshot_len: u64,
    every: Duration,
    last: Instant,
    state: Vec<u8>,
    syncs: u64,
    snapshots: u64,
    bytes_written: u64,
    sync_time: Duration,
    generation: u64,
}

impl Journal {
    fn segment(dir: &Path, generation: u64) -> File {
        OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(dir.join(format!("segment-{generation}.wal")))
            .unwrap()
    }
}

impl Ingest {
    fn forward(&mut self) {
        if let Some(closed) = self.aggregator.take_released() {
            self.records_released += closed.len() as u64;
            if self.journal.is_some() {
                closed.encode(&mut self.released);
            }
        }
    }

    /// A journal sync when due (`force`: now).
    fn maybe_sync(&mut self, force: bool, before: &mut dyn FnMut()) {
        let Some(j) = &mut self.journal else {
            return;
        };
        if !force && j.last.elapsed() < j.every {
            return;
        }
        let started = Instant::now();
        before();
        j.last = started;
        j.state.clear();
        let snapshot = j.len - j.snapshot_len > j.snapshot_len.max(32 << 20);
        self.aggregator.encode_state(snapshot, &mut j.state);
        let frame_len = (j.state.len() + self.released.len()) as u64;
        if snapshot {
            j.generation += 1;
            let old = j.dir.join(format!("segment-{}.wal", j.generation - 1));
            j.file = Journal::segment(&j.dir, j.generation);
            j.file.write_all(&j.state).unwrap();
            j.file.write_all(&self.released).unwrap();
            j.file.sync_all().unwrap();
            File::open(&j.dir).unwrap().sync_all().unwrap();
            let _ = std::fs::remove_file(old);
            j.len = frame_len;
            j.snapshot_len = frame_len;
            j.snapshots += 1;
        } else {
            j.file.write_all(&j.state).unwrap();
            j.file.write_all(&self.released).unwrap();
            j.file.sync_data().unwrap();
            j.len += frame_len;
        }
        j.bytes_written += frame_len;
        j.syncs += 1;
        self.released.clear();
        j.sync_time += started.elapsed();
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
    let journal = (sync_ms > 0).then(|| Journal {
        file: Journal::segment(&dir, 0),
        dir: dir.clone(),
        len: 0,
        snapshot_len: 0,
        every: Duration::from_millis(sync_ms),
        last: Instant::now(),
        state: Vec::new(),
        syncs: 0,
        snapshots: 0,
        bytes_written: 0,
        sync_time: Duration::ZERO,
        generation: 0,
    });
    let mut ingest = Ingest {
        aggregator: Aggregator::new(AggregatorConfig::default()),
        names: Vec::new(),
        journal,
        released: Vec::new(),
        records_released: 0,
    };
    const BATCH: usize = 256;
    let (updates, elapsed) = match mode.as_str() {
        "capture" => {
            let mut rec = Record::default();
            read_capture(Path::new(input), &PcapOptions::default(), &mut rec, &mut |_| {})
                .expect("capture");
            let started = Instant::now();
            for name in &rec.names {
                ingest.interface(name);
            }
            for chunk in rec.updates.chunks(BATCH) {
                ingest.update_batch(chunk);
                ingest.maybe_sync(false, &mut || {});
            }
            let rest = ingest.aggregator.finish();
            ingest.records_released += rest.len() as u64;
            (rec.updates.len() as u64, started.elapsed())
        }
        "skydive" => {
            let text = std::fs::read(input).expect("recording");
            let payloads: Vec<Payload> = text
                .lines()
                .map(|l| parse_json(l.unwrap().as_bytes()).expect("message"))
                .collect();
            let store = StateStore::open(&dir.join("state"), "bench", Duration::from_secs(86_400))
                .expect("state folder");
            let mut converter = Converter::new(ConverterOptions::default());
            let started = Instant::now();
            for p in &payloads {
                converter.payload(p, &mut ingest);
                let c = &converter;
                ingest.maybe_sync(false, &mut || store.save(&c.export(), 0).unwrap());
            }
            let rest = ingest.aggregator.finish();
            ingest.records_released += rest.len() as u64;
            (converter.stats().updates, started.elapsed())
        }
        _ => panic!("mode: capture or skydive"),
    };
    let secs = elapsed.as_secs_f64();
    println!(
        "{mode} sync {sync_ms} ms: {updates} updates in {secs:.2} s = {:.0} updates/s; {} records",
        updates as f64 / secs,
        ingest.records_released
    );
    if let Some(j) = &ingest.journal {
        println!(
            "journal: {} syncs ({} snapshots), {:.1} MB written, {:.2} s in syncs ({:.1} ms each)",
            j.syncs,
            j.snapshots,
            j.bytes_written as f64 / 1e6,
            j.sync_time.as_secs_f64(),
            j.sync_time.as_secs_f64() * 1000.0 / j.syncs.max(1) as f64
        );
    }
}
