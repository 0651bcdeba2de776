//! One capture thread: opens an interface, decodes its frames, and hands
//! batches of updates, losses and counters to the ingest side.

use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use vpcflow_core::{FlowUpdate, InterfaceIndex, Timestamp};

use super::spec::{CaptureSpec, STATS_PERIOD};
use crate::decode::Outcome;
use crate::fragments::{FragmentPolicy, PacketDecoder};

/// Updates per batch handed over. Large, because each hand-over can wake
/// the ingest thread (a context switch when both share a core).
pub(crate) const BATCH: usize = 2048;

/// A partial batch is handed over after this long.
const FLUSH_AFTER: Duration = Duration::from_millis(100);

/// How long an idle thread waits for packets before it looks at the stop flag.
const READ_TIMEOUT_MS: i32 = 100;

/// What a capture thread tells the ingest side. `slot` names the capture.
#[derive(Debug)]
pub(crate) enum Event {
    /// The interface is open.
    Opened { slot: usize },
    /// Decoded packets (their `interface` is filled in on the ingest side).
    Updates {
        slot: usize,
        updates: Vec<FlowUpdate>,
        frames: u64,
    },
    /// Input lost at `at`: kernel or ring drops, batches that did not fit,
    /// undecodable frames.
    Loss {
        slot: usize,
        at: Timestamp,
        kernel: u64,
        /// Of `kernel`, the packets the interface (driver) dropped; the rest
        /// found the ring buffer full.
        interface: u64,
        queue: u64,
        undecodable: u64,
    },
    /// The capture ended (the interface went away, or an error).
    Closed { slot: usize, error: Option<String> },
}

pub(crate) fn now_ns() -> Timestamp {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Opens `device` as `spec` says.
pub(crate) fn open(
    device: &str,
    spec: &CaptureSpec,
) -> Result<pcap::Capture<pcap::Active>, pcap::Error> {
    let mut cap = pcap::Capture::from_device(device)?
        .promisc(spec.promisc)
        .snaplen(spec.snaplen.clamp(64, 262_144) as i32)
        .buffer_size(spec.buffer_bytes.min(i32::MAX as u32) as i32)
        .timeout(READ_TIMEOUT_MS)
        .precision(pcap::Precision::Nano)
        .open()?
        // libpcap's blocking read on Linux does not return on its timeout when
        // no packet arrives; reads never block and `wait_readable` waits.
        .setnonblock()?;
    if let Some(filter) = &spec.filter {
        cap.filter(filter, true)?;
    }
    Ok(cap)
}

/// Waits until `fd` is readable or `timeout_ms` have passed.
fn wait_readable(fd: RawFd, timeout_ms: i32) {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, for the duration of the call.
    unsafe {
        libc::poll(&mut p, 1, timeout_ms);
    }
}

/// The state of one capture thread.
struct Worker {
    slot: usize,
    tx: SyncSender<Event>,
    batch: Vec<FlowUpdate>,
    frames: u64,
    /// Packets of batches that did not fit in the channel, not yet reported.
    queue_lost: u64,
    undecodable: u64,
    kernel_seen: u64,
    interface_seen: u64,
}

impl Worker {
    /// Hands the batch over without waiting; a full channel loses it.
    fn flush(&mut self) {
        if self.batch.is_empty() && self.frames == 0 {
            return;
        }
        let updates = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        let packets = updates.len() as u64;
        let event = Event::Updates {
            slot: self.slot,
            updates,
            frames: self.frames,
        };
        match self.tx.try_send(event) {
            Ok(()) => self.frames = 0,
            Err(TrySendError::Full(_)) => {
                self.queue_lost += packets;
                self.frames = 0;
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// Reads the kernel counters and reports any loss since the last report.
    fn report_loss(&mut self, cap: &mut pcap::Capture<pcap::Active>) {
        if let Ok(s) = cap.stats() {
            let total = u64::from(s.dropped) + u64::from(s.if_dropped);
            let kernel = total.saturating_sub(self.kernel_seen);
            self.kernel_seen = total;
            let interface = u64::from(s.if_dropped).saturating_sub(self.interface_seen);
            self.interface_seen = u64::from(s.if_dropped);
            if kernel + self.queue_lost + self.undecodable > 0 {
                let event = Event::Loss {
                    slot: self.slot,
                    at: now_ns(),
                    kernel,
                    interface: interface.min(kernel),
                    queue: self.queue_lost,
                    undecodable: self.undecodable,
                };
                // Losses wait for room: they are rare and must not be lost.
                if self.tx.send(event).is_ok() {
                    self.queue_lost = 0;
                    self.undecodable = 0;
                }
            }
        }
    }
}

/// The body of a capture thread on an opened capture; returns when `stop` is
/// set or the capture fails.
pub(crate) fn run(
    slot: usize,
    mut cap: pcap::Capture<pcap::Active>,
    fragments: FragmentPolicy,
    tx: SyncSender<Event>,
    stop: Arc<AtomicBool>,
) {
    let linktype = cap.get_datalink().0 as u32;
    let mut decoder = PacketDecoder::new(fragments);
    let mut w = Worker {
        slot,
        tx,
        batch: Vec::with_capacity(BATCH),
        frames: 0,
        queue_lost: 0,
        undecodable: 0,
        kernel_seen: 0,
        interface_seen: 0,
    };
    let _ = w.tx.send(Event::Opened { slot });
    let mut last_flush = Instant::now();
    let mut last_stats = Instant::now();
    let mut error = None;
    loop {
        // One call takes what the ring holds (a block of TPACKET_V3), so the
        // clock and the stop flag are read once per block, not per packet.
        let taken = cap.dispatch(None, |packet| {
            let h = packet.header;
            // Nanosecond precision: tv_usec holds nanoseconds.
            let ts = (h.ts.tv_sec as u64) * 1_000_000_000 + h.ts.tv_usec as u64;
            w.frames += 1;
            match decoder.decode(linktype, packet.data, h.len, ts).outcome {
                Outcome::Ip(p) => w.batch.push(p.flow_update(InterfaceIndex(0), ts)),
                Outcome::NonIp => {}
                Outcome::Undecodable(_) => w.undecodable += 1,
            }
            if w.batch.len() >= BATCH {
                w.flush();
            }
        });
        match taken {
            Ok(0) => {
                // The ring is empty: stop now, or wait for packets.
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                wait_readable(cap.as_raw_fd(), READ_TIMEOUT_MS);
            }
            Ok(_) => {}
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        }
        if last_flush.elapsed() >= FLUSH_AFTER {
            w.flush();
            last_flush = Instant::now();
        }
        if last_stats.elapsed() >= STATS_PERIOD {
            w.report_loss(&mut cap);
            last_stats = Instant::now();
        }
    }
    w.flush();
    w.report_loss(&mut cap);
    let _ = w.tx.send(Event::Closed { slot, error });
}
