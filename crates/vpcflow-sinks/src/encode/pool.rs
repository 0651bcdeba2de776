//! Threads that compress deflate blocks for any number of encoders.

use std::io;
use std::num::NonZeroUsize;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

use super::block::{compress_block, Block, Compressed};

/// Work sent to the threads.
enum Message {
    /// Compress a block and send the result back.
    Block(Block, SyncSender<Compressed>),
    /// Make the thread that receives this exit (tests of a dead worker).
    #[cfg(test)]
    Exit,
}

/// A pool of threads compressing the blocks of block-parallel gzip members
/// (see [`TextGzipEncoder::with_pool`](super::TextGzipEncoder::with_pool)).
///
/// One pool serves every encoder that holds it (typically in an [`Arc`]); each
/// encoder keeps its own blocks in order, so what it writes never depends on
/// the number of threads. A pool of 0 or 1 thread starts no thread at all:
/// its encoders compress on the caller's thread.
///
/// Dropping the pool (once no encoder holds it) lets the threads finish what
/// they were given and joins them.
///
/// ```
/// use std::sync::Arc;
/// use vpcflow_core::format::LogFormat;
/// use vpcflow_core::values::RecordValues;
/// use vpcflow_sinks::encode::{DeflatePool, GzipLevel, TextGzipEncoder};
///
/// let pool = Arc::new(DeflatePool::new(2));
/// let mut enc = TextGzipEncoder::with_pool(
///     Vec::new(),
///     &LogFormat::default(),
///     GzipLevel::default(),
///     Arc::clone(&pool),
/// );
/// enc.write_record(&RecordValues::default()).unwrap();
/// let done = enc.finish().unwrap();
/// assert_eq!(done.stats.compressed_bytes, done.inner.len() as u64);
/// ```
pub struct DeflatePool {
    jobs: Option<Sender<Message>>,
    workers: Vec<JoinHandle<()>>,
}

impl DeflatePool {
    /// A pool of `threads` compression threads; 0 or 1 means none (inline
    /// compression). If the system refuses to start some of them, the pool
    /// works with those it got (a warning is logged).
    pub fn new(threads: usize) -> DeflatePool {
        if threads <= 1 {
            return DeflatePool::inline();
        }
        let (tx, rx) = mpsc::channel();
        let rx = Arc::new(Mutex::new(rx));
        let mut workers = Vec::with_capacity(threads);
        for i in 0..threads {
            let rx = Arc::clone(&rx);
            let spawned = thread::Builder::new()
                .name(format!("deflate-{i}"))
                .spawn(move || work(&rx));
            match spawned {
                Ok(handle) => workers.push(handle),
                Err(e) => {
                    tracing::warn!(wanted = threads, started = i, error = %e, "cannot start a compression thread");
                    break;
                }
            }
        }
        if workers.len() <= 1 {
            // One thread gains nothing over the caller's own.
            drop(tx);
            join(workers);
            return DeflatePool::inline();
        }
        DeflatePool {
            jobs: Some(tx),
            workers,
        }
    }

    /// A pool with one thread per available core.
    pub fn with_available_parallelism() -> DeflatePool {
        DeflatePool::new(available_threads())
    }

    /// A pool without threads: its encoders compress inline.
    pub fn inline() -> DeflatePool {
        DeflatePool {
            jobs: None,
            workers: Vec::new(),
        }
    }

    /// Compression threads running; 0 for inline compression.
    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    /// Queues `block`; its result arrives on the returned receiver. Fails when
    /// the pool has no threads left.
    pub(crate) fn submit(&self, block: Block) -> io::Result<Receiver<Compressed>> {
        let jobs = self.jobs.as_ref().ok_or_else(|| gone("has no threads"))?;
        let (tx, rx) = mpsc::sync_channel(1);
        jobs.send(Message::Block(block, tx))
            .map_err(|_| gone("stopped"))?;
        Ok(rx)
    }

    /// Makes `n` threads exit, as if they had died.
    #[cfg(test)]
    pub(crate) fn kill_threads_for_test(&self, n: usize) {
        for _ in 0..n {
            let _ = self.jobs.as_ref().unwrap().send(Message::Exit);
        }
    }
}

impl std::fmt::Debug for DeflatePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeflatePool")
            .field("threads", &self.threads())
            .finish()
    }
}

impl Drop for DeflatePool {
    fn drop(&mut self) {
        // Closing the queue makes each thread exit once it is empty.
        self.jobs = None;
        join(std::mem::take(&mut self.workers));
    }
}

/// The number of cores this process may use (1 if unknown).
pub fn available_threads() -> usize {
    thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

/// The error of an encoder whose pool can no longer compress.
pub(crate) fn gone(what: &str) -> io::Error {
    io::Error::other(format!("the gzip compression pool {what}"))
}

fn join(workers: Vec<JoinHandle<()>>) {
    for w in workers {
        // A thread cannot panic outside the compressor, which catches panics;
        // nothing useful to do if one did anyway.
        let _ = w.join();
    }
}

/// The loop of one thread: compress blocks until the queue is closed.
fn work(jobs: &Mutex<Receiver<Message>>) {
    loop {
        // A poisoned lock only means another thread panicked while waiting;
        // the receiver itself is intact.
        let message = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match message {
            Ok(Message::Block(block, reply)) => {
                // The encoder may have been dropped meanwhile: nobody to tell.
                let _ = reply.send(compress_block(block));
            }
            #[cfg(test)]
            Ok(Message::Exit) => return,
            Err(mpsc::RecvError) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_or_one_thread_is_inline() {
        for n in [0, 1] {
            let pool = DeflatePool::new(n);
            assert_eq!(pool.threads(), 0);
            assert!(pool.submit(test_block()).is_err());
        }
        assert_eq!(DeflatePool::new(3).threads(), 3);
        assert!(available_threads() >= 1);
    }

    fn test_block() -> Block {
        Block {
            level: 6,
            buf: b"hello hello hello".to_vec(),
            dict_len: 0,
            last: true,
            out: Vec::new(),
        }
    }

    #[test]
    fn results_come_back_and_drop_joins() {
        let pool = DeflatePool::new(4);
        let pending: Vec<_> = (0..20)
            .map(|_| pool.submit(test_block()).unwrap())
            .collect();
        // Leave half of them unread: their threads must not block on it.
        for rx in pending.into_iter().step_by(2) {
            let done = rx.recv().unwrap();
            assert_eq!(done.crc.amount(), 17);
            assert!(done.out.is_ok());
        }
        drop(pool);
    }

    #[test]
    fn dead_threads_give_errors_not_hangs() {
        let pool = DeflatePool::new(2);
        pool.kill_threads_for_test(2);
        // Once both threads are gone the queue is closed; until then a block
        // may be accepted, but its result channel then reports the loss.
        for _ in 0..100 {
            match pool.submit(test_block()) {
                Err(_) => return,
                Ok(rx) => {
                    if rx.recv().is_err() {
                        return;
                    }
                }
            }
        }
        panic!("blocks were still compressed by dead threads");
    }
}
