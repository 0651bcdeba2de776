//! The journal stage, on its own thread between the ingest and writer
//! threads: it numbers and encodes the released batches, writes and syncs
//! a frame at each sync request of the ingest thread, and only then hands
//! the writer what the frame holds. The ingest thread only encodes the
//! aggregation entries changed since the previous sync.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;

use vpcflow_sources::CheckpointWrite;

use super::{Ack, Batch, Journal};
use crate::pipeline::Message;

/// What the ingest thread asks at each sync.
pub struct SyncRequest {
    /// The aggregation state: whole (`full`) or changed since the previous.
    pub state: Vec<u8>,
    /// Whether `state` is whole: the frame is then a snapshot.
    pub full: bool,
    /// Interfaces: all of them when `full`, else those registered since.
    pub interfaces: Vec<String>,
    /// The sources' state taken at the same moment, written before the
    /// frame ([`vpcflow_sources::Source::checkpoint`]).
    pub before: Vec<CheckpointWrite>,
}

/// The journal thread's loop: until `rx` closes, then it returns the
/// journal (for [`Journal::clear`] once the writer has finished).
/// `replayed` are the batches of the previous run, handed to the writer
/// again after the interfaces registered before the first sync.
pub fn journal_loop(
    mut journal: Journal,
    rx: Receiver<Message>,
    writer: SyncSender<Message>,
    acked: Ack,
    snapshot_due: Arc<AtomicBool>,
    mut replayed: Vec<Batch>,
    mut last_seq: u64,
) -> Journal {
    let mut held: Vec<Message> = Vec::new();
    let mut batches: Vec<Batch> = Vec::new();
    let mut failing = false;
    for message in rx {
        let mut request = match message {
            Message::Sync(request) => request,
            Message::Records(closed) => {
                last_seq += 1;
                let mut bytes = Vec::new();
                closed.encode(&mut bytes);
                batches.push(Batch {
                    seq: last_seq,
                    complete_before: closed.complete_before,
                    bytes,
                });
                held.push(Message::Records(closed));
                continue;
            }
            other => {
                held.push(other);
                continue;
            }
        };
        // The sources' state first: a crash between it and the frame loses
        // the input since the previous frame (at most an interval), never
        // counts any twice.
        for write in request.before.drain(..) {
            write();
        }
        // The previous run's batches follow the interfaces registered
        // before the first sync.
        for b in replayed.drain(..) {
            match vpcflow_core::aggregate::Closed::decode(&b.bytes) {
                Ok(closed) => {
                    held.push(Message::Records(closed));
                    batches.push(b);
                }
                Err(e) => tracing::warn!("a journalled batch cannot be read ({e}); skipped"),
            }
        }
        let result = if request.full {
            let acked = acked.load(Ordering::Acquire);
            journal.snapshot(
                last_seq,
                acked,
                &request.interfaces,
                &request.state,
                &batches,
            )
        } else if journal.snapshot_due() {
            // Changes cannot start a segment (the request crossed the news
            // that a snapshot is due): hold everything until the next sync,
            // which sends the whole state.
            snapshot_due.store(true, Ordering::Release);
            continue;
        } else {
            journal.append(last_seq, &request.interfaces, &request.state, &batches)
        };
        match result {
            Ok(()) => {
                if failing {
                    tracing::info!(journal = %journal.dir().display(), "the journal is written again");
                }
                failing = false;
                batches.clear();
            }
            Err(e) => {
                if !failing {
                    tracing::error!(
                        journal = %journal.dir().display(),
                        "cannot write the journal: {e}; a crash now loses what was not synced (retried at every sync)"
                    );
                }
                failing = true;
                // The next snapshot holds them; bounded. Output goes on: a
                // broken disk does not hold the flow logs back.
                let held_bytes: usize = batches.iter().map(|b| b.bytes.len()).sum();
                if held_bytes > MAX_UNSYNCED_BYTES {
                    batches.clear();
                }
            }
        }
        snapshot_due.store(journal.snapshot_due(), Ordering::Release);
        for m in held.drain(..).chain([Message::Ack(last_seq)]) {
            if writer.send(m).is_err() {
                // The writer stopped on an error (reported when it is
                // joined): stopping here tells the ingest thread.
                return journal;
            }
        }
    }
    // The end of the input: what is left goes to the writer.
    for m in held {
        if writer.send(m).is_err() {
            break;
        }
    }
    journal
}

/// Batches kept for the next snapshot while the journal cannot be written,
/// at most this many bytes (beyond, they are dropped from the journal).
const MAX_UNSYNCED_BYTES: usize = 256 << 20;
