//! The durability journal of `vpcflow run` (`STATE/journal/`): what a crash
//! must not lose, synced every `durability.sync_interval`.
//!
//! It journals state, not input: at every sync one frame holds the sums of
//! the aggregation entries changed since the previous sync, the windows
//! drained since, the clocks, the interfaces registered since, and the
//! batches of records released since. Released batches reach the writer
//! thread only after the frame holding them is synced, so no file is ever
//! published with content the journal does not hold; a writer that
//! published them tells which batches it has done ([`Ack`]). When a segment
//! has grown past the size of the state it holds, a new one starts with a
//! snapshot: the whole aggregation state and, of the batches, only the
//! records of slots whose files are not sealed yet. Replay at start-up
//! restores the aggregation state and sends the journalled batches to the
//! writer again, which rebuilds its open files and re-publishes the sealed
//! ones with the same bytes and names (a no-op where they are present).
//!
//! See docs/reliability.md for what each source can and cannot recover.

mod segment;
mod stage;

#[cfg(test)]
mod tests;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use vpcflow_core::aggregate::Closed;
use vpcflow_core::name::{slot_of, SLOT_SECS};

pub use segment::Batch;
pub use stage::{journal_loop, SyncRequest};

pub use crate::metrics::JournalStats;
use segment::{header, put_frame, read, CHANGES, SNAPSHOT};

/// The folder of the journal in the state folder.
pub use crate::config::JOURNAL_FOLDER as FOLDER;

/// A segment is replaced by a snapshot once it holds this much more than
/// its snapshot (or than this floor)...
const COMPACT_FLOOR_BYTES: u64 = 32 << 20;

/// ... or once its snapshot is this old, so that a replay re-sends at most
/// this much of batches already published (besides the open slots).
const SNAPSHOT_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

/// The last batch the writer thread has published, shared with it.
pub type Ack = Arc<AtomicU64>;

/// A batch in the current segment, for the next snapshot.
#[derive(Debug, Clone, Copy)]
struct Pending {
    seq: u64,
    complete_before: u64,
    /// Where its records are in the segment file.
    offset: u64,
    len: u32,
}

/// What a previous run left: apply the states in order, register the
/// interfaces in order, then send the batches to the writer in order.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Interface names, in index order.
    pub interfaces: Vec<String>,
    /// Aggregation states (a full one, then changes).
    pub states: Vec<Vec<u8>>,
    /// Released batches not known to be in sealed files.
    pub batches: Vec<Batch>,
    /// The last batch number given.
    pub last_seq: u64,
    /// Bytes of a torn or damaged end that were not read.
    pub ignored_bytes: usize,
}

/// The journal: one segment file open for appending.
pub struct Journal {
    dir: PathBuf,
    identity: String,
    _lock: File,
    file: Option<File>,
    generation: u64,
    /// Bytes of the current segment.
    len: u64,
    /// Bytes of its snapshot frame.
    snapshot_len: u64,
    /// When its snapshot was written.
    snapshot_at: std::time::Instant,
    pending: Vec<Pending>,
    /// `complete_before` of the last batch the writer has done, as far as
    /// snapshots have used it.
    acked_complete_before: u64,
    /// The last write failed: the next sync starts a new segment.
    broken: bool,
    stats: Arc<JournalStats>,
    /// Frame being built (reused).
    buf: Vec<u8>,
}

fn segment_name(generation: u64) -> String {
    format!("segment-{generation:020}.wal")
}

fn generation_of(name: &str) -> Option<u64> {
    name.strip_prefix("segment-")?
        .strip_suffix(".wal")?
        .parse()
        .ok()
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn lock(dir: &Path) -> Result<File, String> {
    let path = dir.join("lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    // SAFETY: the descriptor is open for the duration of the call.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(file);
    }
    let e = io::Error::last_os_error();
    if e.kind() == io::ErrorKind::WouldBlock {
        Err(format!(
            "the journal folder {} is in use by another vpcflow run (give each configuration its own state.dir)",
            dir.display()
        ))
    } else {
        Err(format!("cannot lock {}: {e}", path.display()))
    }
}

impl Journal {
    /// Opens (creating and locking) the journal in `state_dir`, for the
    /// configuration described by `identity`, and reads what a previous run
    /// left. A segment that cannot be used (another configuration, damaged
    /// header) is set aside as `NAME.rejected` with a warning, and the run
    /// starts clean.
    pub fn open(
        state_dir: &Path,
        identity: &str,
        stats: Arc<JournalStats>,
    ) -> Result<(Journal, Option<Recovered>), String> {
        let dir = state_dir.join(FOLDER);
        fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create the journal folder {}: {e}", dir.display()))?;
        let lock = lock(&dir)?;
        let mut generations: Vec<u64> = fs::read_dir(&dir)
            .map_err(|e| format!("cannot read the journal folder {}: {e}", dir.display()))?
            .filter_map(|e| e.ok())
            .filter_map(|e| generation_of(e.file_name().to_str()?))
            .collect();
        generations.sort_unstable();
        let journal = Journal {
            dir,
            identity: identity.to_string(),
            _lock: lock,
            file: None,
            generation: generations.last().copied().unwrap_or(0),
            len: 0,
            snapshot_len: 0,
            snapshot_at: std::time::Instant::now(),
            pending: Vec::new(),
            acked_complete_before: 0,
            broken: false,
            stats,
            buf: Vec::new(),
        };
        // Temporary files of a snapshot cut by a crash.
        if let Ok(entries) = fs::read_dir(&journal.dir) {
            for e in entries.filter_map(|e| e.ok()) {
                if e.file_name().to_string_lossy().ends_with(".tmp") {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        // The newest segment is the one in use; older ones are left by a
        // crash between a snapshot's rename and their removal.
        let mut recovered = None;
        for &generation in generations.iter().rev() {
            let path = journal.dir.join(segment_name(generation));
            let bytes = fs::read(&path)
                .map_err(|e| format!("cannot read the journal {}: {e}", path.display()))?;
            match read(&bytes, identity) {
                Ok(segment) => {
                    let mut r = Recovered {
                        ignored_bytes: segment.ignored_bytes,
                        ..Recovered::default()
                    };
                    for frame in segment.frames {
                        r.last_seq = frame.last_seq;
                        r.interfaces.extend(frame.interfaces);
                        r.states.push(frame.state);
                        r.batches.extend(frame.batches);
                    }
                    if r.ignored_bytes > 0 {
                        tracing::warn!(
                            journal = %path.display(),
                            bytes = r.ignored_bytes,
                            "the end of the journal is torn or damaged (a write cut by the crash); it is ignored: what it held was not synced"
                        );
                    }
                    recovered = Some(r);
                    break;
                }
                Err(e) => {
                    let aside = path.with_extension("wal.rejected");
                    let moved = fs::rename(&path, &aside).is_ok();
                    tracing::warn!(
                        journal = %path.display(),
                        set_aside = moved.then(|| aside.display().to_string()),
                        "the journal cannot be used: {e}; starting without it"
                    );
                }
            }
        }
        Ok((journal, recovered))
    }

    /// Whether the next sync should write a snapshot (a new segment).
    pub fn snapshot_due(&self) -> bool {
        self.file.is_none()
            || self.broken
            || self.snapshot_at.elapsed() >= SNAPSHOT_EVERY
            || self.len.saturating_sub(self.snapshot_len)
                > self.snapshot_len.max(COMPACT_FLOOR_BYTES)
    }

    /// Appends a frame of changes and syncs it: `interfaces` registered
    /// since the previous sync, the aggregation `state` changes, and the
    /// batches released since.
    pub fn append(
        &mut self,
        last_seq: u64,
        interfaces: &[String],
        state: &[u8],
        batches: &[Batch],
    ) -> io::Result<()> {
        let result = self.try_append(last_seq, interfaces, state, batches);
        self.note(&result);
        result
    }

    fn try_append(
        &mut self,
        last_seq: u64,
        interfaces: &[String],
        state: &[u8],
        batches: &[Batch],
    ) -> io::Result<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("no segment open"))?;
        self.buf.clear();
        put_frame(
            &mut self.buf,
            CHANGES,
            last_seq,
            interfaces,
            state,
            batches
                .iter()
                .map(|b| (b.seq, b.complete_before, b.bytes.as_slice())),
        )?;
        let positions = batch_positions(&self.buf, interfaces, state, batches);
        if let Err(e) = file.write_all(&self.buf).and_then(|()| file.sync_data()) {
            self.broken = true;
            return Err(e);
        }
        for (b, (at, len)) in batches.iter().zip(positions) {
            self.pending.push(Pending {
                seq: b.seq,
                complete_before: b.complete_before,
                offset: self.len + at as u64,
                len,
            });
        }
        self.len += self.buf.len() as u64;
        Ok(())
    }

    /// Starts a new segment with a snapshot: every interface, the whole
    /// aggregation `state`, the batches of the current segment (those the
    /// writer has done, `acked`, cut to the records of slots not sealed
    /// yet) and the batches released since the previous sync. The old
    /// segments are removed once the new one is in place.
    pub fn snapshot(
        &mut self,
        last_seq: u64,
        acked: u64,
        interfaces: &[String],
        state: &[u8],
        batches: &[Batch],
    ) -> io::Result<()> {
        let result = self.try_snapshot(last_seq, acked, interfaces, state, batches);
        self.note(&result);
        result
    }

    fn try_snapshot(
        &mut self,
        last_seq: u64,
        acked: u64,
        interfaces: &[String],
        state: &[u8],
        batches: &[Batch],
    ) -> io::Result<()> {
        let mut kept = self.kept_batches(acked)?;
        kept.extend(batches.iter().cloned());
        let mut out = header(&self.identity);
        let frame_start = out.len();
        put_frame(
            &mut out,
            SNAPSHOT,
            last_seq,
            interfaces,
            state,
            kept.iter()
                .map(|b| (b.seq, b.complete_before, b.bytes.as_slice())),
        )?;
        let positions = batch_positions(&out[frame_start..], interfaces, state, &kept);
        let generation = self.generation + 1;
        let path = self.dir.join(segment_name(generation));
        let tmp = path.with_extension("wal.tmp");
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .read(true)
            .open(&tmp)?;
        file.write_all(&out)?;
        file.sync_all()?;
        fs::rename(&tmp, &path)?;
        sync_dir(&self.dir)?;
        // The new segment is in place: the older ones go.
        for entry in fs::read_dir(&self.dir)?.filter_map(|e| e.ok()) {
            let name = entry.file_name();
            if generation_of(&name.to_string_lossy()).is_some_and(|g| g < generation) {
                let _ = fs::remove_file(entry.path());
            }
        }
        self.generation = generation;
        self.file = Some(file);
        self.len = out.len() as u64;
        self.snapshot_len = self.len;
        self.snapshot_at = std::time::Instant::now();
        self.broken = false;
        self.pending = kept
            .iter()
            .zip(positions)
            .map(|(b, (at, len))| Pending {
                seq: b.seq,
                complete_before: b.complete_before,
                offset: (frame_start + at) as u64,
                len,
            })
            .collect();
        self.stats.snapshots.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// The batches of the current segment worth keeping: those the writer
    /// has not done in full, and of those it has done, the records of slots
    /// whose files it has not sealed (a slot is sealed once a batch it has
    /// done completes the slot's end).
    fn kept_batches(&mut self, acked: u64) -> io::Result<Vec<Batch>> {
        if let Some(p) = self.pending.iter().rev().find(|p| p.seq <= acked) {
            self.acked_complete_before = self.acked_complete_before.max(p.complete_before);
        }
        let sealed_before = self.acked_complete_before;
        let unsealed = |end: u64| slot_of(end).saturating_add(SLOT_SECS) > sealed_before;
        let Some(file) = &self.file else {
            return Ok(Vec::new());
        };
        let mut kept = Vec::new();
        for p in &self.pending {
            let mut bytes = vec![0; p.len as usize];
            std::os::unix::fs::FileExt::read_exact_at(file, &mut bytes, p.offset)?;
            if p.seq > acked {
                kept.push(Batch {
                    seq: p.seq,
                    complete_before: p.complete_before,
                    bytes,
                });
                continue;
            }
            let mut closed = Closed::decode(&bytes).map_err(io::Error::other)?;
            closed.retain_ends(unsealed);
            if closed.is_empty() {
                continue;
            }
            bytes.clear();
            closed.encode(&mut bytes);
            kept.push(Batch {
                seq: p.seq,
                complete_before: p.complete_before,
                bytes,
            });
        }
        Ok(kept)
    }

    /// Removes every segment: everything was published (a clean stop).
    pub fn clear(&mut self) -> io::Result<()> {
        self.file = None;
        self.pending.clear();
        for entry in fs::read_dir(&self.dir)?.filter_map(|e| e.ok()) {
            if generation_of(&entry.file_name().to_string_lossy()).is_some() {
                fs::remove_file(entry.path())?;
            }
        }
        self.len = 0;
        self.stats.bytes.store(0, Ordering::Relaxed);
        sync_dir(&self.dir)
    }

    fn note(&mut self, result: &io::Result<()>) {
        match result {
            Ok(()) => {
                self.stats.syncs.fetch_add(1, Ordering::Relaxed);
                self.stats.bytes.store(self.len, Ordering::Relaxed);
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                self.stats.last_sync_ms.store(now, Ordering::Relaxed);
            }
            Err(_) => {
                self.broken = true;
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The folder of the journal.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Where the records of each batch are in a frame (offset from the frame's
/// start, length), following the layout of `put_frame`.
fn batch_positions(
    frame: &[u8],
    interfaces: &[String],
    state: &[u8],
    batches: &[Batch],
) -> Vec<(usize, u32)> {
    let mut at = 8 + 1 + 8 + 4;
    at += interfaces.iter().map(|n| 4 + n.len()).sum::<usize>();
    at += 4 + state.len() + 4;
    let mut out = Vec::with_capacity(batches.len());
    for b in batches {
        at += 8 + 8 + 4;
        out.push((at, b.bytes.len() as u32));
        at += b.bytes.len();
    }
    debug_assert!(at <= frame.len());
    out
}

/// The identity of a journal: what changes the meaning of the journalled
/// state or the bytes of the files it leads to. A journal written under
/// another identity is set aside: the flow log, the format, the
/// aggregation settings, the traffic type, the destination and how files
/// are made, and the sources.
pub fn identity(settings: &crate::config::Settings) -> String {
    use crate::config::Destination;
    let destination: Vec<String> = settings
        .destinations
        .iter()
        .map(|d| match d {
            Destination::Directory(path) => format!("dir {}", path.display()),
            Destination::S3(target) => format!("s3 {:?}", target.destination),
            other => other.describe(),
        })
        .collect();
    let destination = destination.join(", ");
    let mut captures: Vec<&str> = settings.captures.iter().map(|c| c.name.as_str()).collect();
    captures.sort_unstable();
    let mut analyzers: Vec<&str> = settings.analyzers.iter().map(|a| a.url.as_str()).collect();
    analyzers.sort_unstable();
    format!(
        "flow_log={}/{}/{}; format={}; aggregation={:?}; traffic_type={:?}; destination={destination}; files={:?}/{:?}/{:?}/{}/{}; captures={}; analyzers={}",
        settings.flow_log.account_id,
        settings.flow_log.region,
        settings.flow_log.flow_log_id,
        settings.format,
        settings.aggregation,
        settings.traffic_type,
        settings.file_format,
        settings.layout,
        settings.prefix,
        settings.max_file_bytes,
        settings.gzip_level,
        captures.join(","),
        analyzers.join(","),
    )
}
