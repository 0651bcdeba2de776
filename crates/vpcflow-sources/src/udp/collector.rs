//! The collectors of `vpcflow run`: UDP sockets receiving export datagrams
//! (NetFlow v5, v9 and IPFIX, or sFlow), each decoded by a
//! [`DatagramDecoder`].
//!
//! One thread per socket receives into batches (gathered for up to
//! 2 ms once a datagram has arrived) and hands them over a bounded
//! channel, so a busy socket never blocks another; decoding runs on
//! the pipeline's thread when the source is pumped. Each socket asks for a
//! large receive buffer (`receive_buffer`, forced past the system limit
//! when running as root) and, on Linux, for the kernel's drop counter
//! (`SO_RXQ_OVFL`): datagrams the kernel dropped because the buffer was
//! full, and batches dropped because the pipeline fell behind, become
//! losses (SKIPDATA) on every interface of every exporter known so far, as
//! the lost datagrams' exporter cannot be known.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use vpcflow_core::FlowConsumer;

use super::DatagramDecoder;
use crate::source::{Source, SourceStats};

/// Batches in flight from the socket threads to the pipeline.
const CHANNEL_DEPTH: usize = 4096;
/// Datagrams per batch at most.
const BATCH_DATAGRAMS: usize = 256;
/// Largest datagram received.
const MAX_DATAGRAM: usize = 65_536;
/// How long a socket's thread goes on gathering datagrams into a batch once
/// the first has arrived and the socket is empty. Without it, an exporter's
/// datagrams arriving one at a time wake the socket's thread and then the
/// pipeline's once each: two thread switches per datagram, which cost more
/// than the decoding. The socket's receive buffer holds what arrives
/// meanwhile (2 ms of 100 000 datagrams/s of 1,500 bytes take about 0.5 MB
/// of the 32 MiB default); idle sockets still cost nothing, as the wait
/// starts only with a datagram.
const GATHER: Duration = Duration::from_millis(2);
/// Malformed datagrams logged; later ones are counted only.
const MAX_LOGGED_ERRORS: u64 = 20;

/// One configured socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenSpec {
    /// Address and port to bind.
    pub address: SocketAddr,
    /// Receive buffer asked for, bytes.
    pub receive_buffer: usize,
}

/// What the sockets saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CollectorStats {
    /// Sockets listening now.
    pub listening: u64,
    /// Datagrams received.
    pub datagrams: u64,
    /// Datagrams the kernel dropped (receive buffer full).
    pub kernel_drops: u64,
    /// Datagrams dropped because the pipeline fell behind.
    pub queue_drops: u64,
    /// Receive errors that ended a socket's thread.
    pub socket_errors: u64,
}

enum Message {
    Batch {
        /// Payloads back to back.
        bytes: Vec<u8>,
        /// Source address, end offset in `bytes`.
        datagrams: Vec<(IpAddr, usize)>,
        /// Kernel drops since the previous message.
        kernel_drops: u64,
        /// Datagrams this thread dropped since the previous message.
        queue_drops: u64,
    },
    Closed {
        /// The [`Listener::id`] of the socket.
        listener: u64,
        error: String,
    },
}

/// One socket and its thread.
struct Listener {
    /// Unique for the collector's life (positions change on reloads).
    id: u64,
    spec: ListenSpec,
    /// The socket the thread reads (another handle on it, to resize its
    /// buffer on a reload); `None` when it could not be opened.
    socket: Option<UdpSocket>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Why it is not receiving (a line naming its configuration key).
    failed: Option<String>,
}

impl Listener {
    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.thread.take() {
            let _ = h.join();
        }
    }
}

/// A collector: a [`Source`] over UDP sockets, decoding with `D`.
pub struct Collector<D: DatagramDecoder> {
    specs: Vec<ListenSpec>,
    decoder: D,
    tx: SyncSender<Message>,
    rx: Receiver<Message>,
    listeners: Vec<Listener>,
    next_id: u64,
    stats: CollectorStats,
}

impl<D: DatagramDecoder> Collector<D> {
    /// A collector on `specs` decoding with `decoder` (nothing is bound
    /// until [`Source::start`]).
    pub fn new(specs: Vec<ListenSpec>, decoder: D) -> Collector<D> {
        let (tx, rx) = sync_channel(CHANNEL_DEPTH);
        Collector {
            specs,
            decoder,
            tx,
            rx,
            listeners: Vec::new(),
            next_id: 0,
            stats: CollectorStats::default(),
        }
    }

    /// The addresses bound now, in configuration order (port 0 becomes the
    /// real port).
    pub fn bound(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.socket.as_ref()?.local_addr().ok())
            .collect()
    }

    /// The decoder.
    pub fn decoder(&self) -> &D {
        &self.decoder
    }

    /// Opens the socket of `spec` (configuration position `i`) and starts
    /// its thread.
    fn listen(&mut self, i: usize, spec: &ListenSpec) -> Result<Listener, String> {
        let key = D::KEY;
        let socket = open(spec)
            .map_err(|e| format!("{key}[{i}].address: cannot listen on {}: {e}", spec.address))?;
        let bound = socket
            .local_addr()
            .map_err(|e| format!("{key}[{i}]: {e}"))?;
        let handle = socket.try_clone().map_err(|e| format!("{key}[{i}]: {e}"))?;
        let id = self.next_id;
        self.next_id += 1;
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, flag) = (self.tx.clone(), stop.clone());
        let thread = thread::Builder::new()
            .name(format!("vpcflow-{}-{id}", D::THREAD))
            .spawn(move || receive(id, socket, tx, flag))
            .map_err(|e| format!("{key}[{i}]: cannot start its thread: {e}"))?;
        tracing::info!(address = %bound, "collecting {}", D::PROTOCOL);
        Ok(Listener {
            id,
            spec: spec.clone(),
            socket: Some(handle),
            stop,
            thread: Some(thread),
            failed: None,
        })
    }

    /// Counts the sockets receiving now.
    fn count_listening(&mut self) {
        self.stats.listening = self.listeners.iter().filter(|l| l.thread.is_some()).count() as u64;
    }

    /// Applies a reload's sockets: the addresses no longer configured are
    /// closed (what their threads received is still decoded), new ones are
    /// opened, kept ones get the new receive buffer size; a socket that
    /// failed is opened again. One line per socket that could not be opened
    /// (it is also reported by [`Source::failing`] until a reload fixes it).
    pub fn relisten(&mut self, specs: &[ListenSpec]) -> Vec<String> {
        // Closed first, so that an address moving to another listener (e.g.
        // 0.0.0.0:2055 to 127.0.0.1:2055) can be bound.
        let (mut kept, gone): (Vec<Listener>, Vec<Listener>) = std::mem::take(&mut self.listeners)
            .into_iter()
            .partition(|l| l.failed.is_none() && specs.iter().any(|s| s.address == l.spec.address));
        for mut l in gone {
            l.halt();
            if l.failed.is_none() {
                tracing::info!(address = %l.spec.address, "{} listener closed by a reload", D::KEY);
            }
        }
        let mut errors = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            let listener = match kept.iter().position(|l| l.spec.address == spec.address) {
                Some(k) => {
                    let mut l = kept.swap_remove(k);
                    if l.spec.receive_buffer != spec.receive_buffer {
                        if let Some(socket) = &l.socket {
                            size_buffer(socket.as_raw_fd(), spec.receive_buffer);
                        }
                        l.spec.receive_buffer = spec.receive_buffer;
                    }
                    l
                }
                None => self.listen(i, spec).unwrap_or_else(|e| {
                    tracing::error!(error = %e, "{} listener not opened", D::KEY);
                    errors.push(e.clone());
                    let id = self.next_id;
                    self.next_id += 1;
                    Listener {
                        id,
                        spec: spec.clone(),
                        socket: None,
                        stop: Arc::new(AtomicBool::new(true)),
                        thread: None,
                        failed: Some(e),
                    }
                }),
            };
            self.listeners.push(listener);
        }
        self.specs = specs.to_vec();
        self.count_listening();
        errors
    }

    fn apply(&mut self, message: Message, now_ns: u64, out: &mut dyn FlowConsumer) {
        match message {
            Message::Batch {
                bytes,
                datagrams,
                kernel_drops,
                queue_drops,
            } => {
                let lost = kernel_drops + queue_drops;
                if lost > 0 {
                    self.stats.kernel_drops = self.stats.kernel_drops.saturating_add(kernel_drops);
                    self.stats.queue_drops = self.stats.queue_drops.saturating_add(queue_drops);
                    tracing::warn!(
                        kernel_drops,
                        queue_drops,
                        "export datagrams dropped before decoding"
                    );
                    self.decoder.lost_datagrams(None, now_ns, lost, out);
                }
                let mut start = 0;
                for (from, end) in datagrams {
                    self.stats.datagrams += 1;
                    if let Err(e) =
                        self.decoder
                            .decode_datagram(from, now_ns, &bytes[start..end], out)
                    {
                        if self.decoder.malformed() <= MAX_LOGGED_ERRORS {
                            tracing::warn!(exporter = %from, error = %e, "malformed export datagram");
                        }
                    }
                    start = end;
                }
            }
            Message::Closed { listener, error } => {
                self.stats.socket_errors += 1;
                // A socket a reload has closed since is gone already.
                if let Some(i) = self.listeners.iter().position(|l| l.id == listener) {
                    let l = &mut self.listeners[i];
                    tracing::error!(listener = %l.spec.address, %error, "{} listener stopped", D::KEY);
                    l.halt();
                    l.socket = None;
                    l.failed = Some(format!("{}[{i}]: the socket failed: {error}", D::KEY));
                }
                self.count_listening();
            }
        }
    }
}

impl<D: DatagramDecoder> Source for Collector<D> {
    fn start(&mut self, _out: &mut dyn FlowConsumer) -> Result<(), String> {
        for (i, spec) in self.specs.clone().iter().enumerate() {
            let listener = self.listen(i, spec)?;
            self.listeners.push(listener);
        }
        self.count_listening();
        Ok(())
    }

    fn pump(&mut self, wait: Duration, now_ms: i64, out: &mut dyn FlowConsumer) {
        let now_ns = (now_ms.max(0) as u64) * 1_000_000;
        let first = match self.rx.recv_timeout(wait) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return,
        };
        self.apply(first, now_ns, out);
        // A bounded amount per pump, so that other sources get their turn.
        for _ in 0..CHANNEL_DEPTH {
            match self.rx.try_recv() {
                Ok(m) => self.apply(m, now_ns, out),
                Err(_) => break,
            }
        }
    }

    fn set_listeners(&mut self, key: &str, specs: &[ListenSpec]) -> Option<Vec<String>> {
        (key == D::KEY).then(|| self.relisten(specs))
    }

    fn stop(&mut self, now_ms: i64, out: &mut dyn FlowConsumer) {
        for l in &mut self.listeners {
            l.stop.store(true, Ordering::SeqCst);
        }
        for l in &mut self.listeners {
            l.halt();
        }
        let now_ns = (now_ms.max(0) as u64) * 1_000_000;
        while let Ok(m) = self.rx.try_recv() {
            self.apply(m, now_ns, out);
        }
        self.decoder.finish(out);
        self.stats.listening = 0;
    }

    fn failing(&mut self) -> Vec<String> {
        self.listeners
            .iter()
            .filter_map(|l| l.failed.clone())
            .collect()
    }

    fn stats(&self) -> SourceStats {
        self.decoder.source_stats(self.stats)
    }
}

/// Binds the socket and sizes its receive buffer.
fn open(spec: &ListenSpec) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind(spec.address)?;
    let fd = socket.as_raw_fd();
    size_buffer(fd, spec.receive_buffer);
    #[cfg(target_os = "linux")]
    setsockopt(fd, libc::SO_RXQ_OVFL, 1)?;
    socket.set_read_timeout(Some(Duration::from_millis(100)))?;
    Ok(socket)
}

/// Asks for a receive buffer of `bytes`: SO_RCVBUFFORCE passes the
/// system's limit (with CAP_NET_ADMIN); else the buffer is what SO_RCVBUF
/// allows.
fn size_buffer(fd: libc::c_int, bytes: usize) {
    let size = bytes.min(i32::MAX as usize) as libc::c_int;
    if setsockopt(fd, libc::SO_RCVBUFFORCE, size).is_err() {
        let _ = setsockopt(fd, libc::SO_RCVBUF, size);
    }
}

fn setsockopt(fd: libc::c_int, option: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: a plain integer option on a socket this process owns.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// One datagram received: its length, source, and the kernel's drop
/// counter when the kernel gave it.
fn recv(
    fd: libc::c_int,
    buf: &mut [u8],
    flags: libc::c_int,
) -> io::Result<(usize, IpAddr, Option<u32>)> {
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = [0u64; 8];
    // SAFETY: msghdr is plain data; every pointer in it refers to a live
    // local buffer of the given length for the duration of the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&mut addr as *mut libc::sockaddr_storage).cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: see above.
    let n = unsafe { libc::recvmsg(fd, &mut msg, flags) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let from = match i32::from(addr.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in for AF_INET.
            let a: &libc::sockaddr_in =
                unsafe { &*(&addr as *const _ as *const libc::sockaddr_in) };
            IpAddr::from(u32::from_be(a.sin_addr.s_addr).to_be_bytes())
        }
        libc::AF_INET6 => {
            // SAFETY: the kernel wrote a sockaddr_in6 for AF_INET6.
            let a: &libc::sockaddr_in6 =
                unsafe { &*(&addr as *const _ as *const libc::sockaddr_in6) };
            let v6 = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
        _ => IpAddr::from([0, 0, 0, 0]),
    };
    let mut drops = None;
    #[cfg(target_os = "linux")]
    {
        // SAFETY: walking the control messages the kernel wrote into
        // `control`, with the libc macros that bound-check against msg.
        let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
        while !cmsg.is_null() {
            let c = unsafe { &*cmsg };
            if c.cmsg_level == libc::SOL_SOCKET && c.cmsg_type == libc::SO_RXQ_OVFL {
                let data = unsafe { libc::CMSG_DATA(cmsg) };
                drops = Some(unsafe { std::ptr::read_unaligned(data.cast::<u32>()) });
            }
            cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
        }
    }
    Ok((n as usize, from, drops))
}

/// The thread of one socket.
fn receive(listener: u64, socket: UdpSocket, tx: SyncSender<Message>, stop: Arc<AtomicBool>) {
    let fd = socket.as_raw_fd();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut last_drops: Option<u32> = None;
    let mut pending_kernel = 0u64;
    let mut pending_queue = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let mut bytes = Vec::new();
        let mut datagrams = Vec::new();
        // When the batch must be handed over, set by its first datagram;
        // until then the thread blocks for one (up to the read timeout).
        let mut hand_over_at: Option<Instant> = None;
        loop {
            let flags = if hand_over_at.is_some() {
                libc::MSG_DONTWAIT
            } else {
                0
            };
            match recv(fd, &mut buf, flags) {
                Ok((n, from, drops)) => {
                    if let Some(d) = drops {
                        if let Some(prev) = last_drops {
                            pending_kernel += u64::from(d.wrapping_sub(prev));
                        }
                        last_drops = Some(d);
                    }
                    bytes.extend_from_slice(&buf[..n]);
                    datagrams.push((from, bytes.len()));
                    if datagrams.len() >= BATCH_DATAGRAMS || bytes.len() >= 4 * MAX_DATAGRAM {
                        break;
                    }
                    hand_over_at.get_or_insert_with(|| Instant::now() + GATHER);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    let wait = hand_over_at.map_or(Duration::ZERO, |at| {
                        at.saturating_duration_since(Instant::now())
                    });
                    if wait.is_zero() || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    thread::sleep(wait);
                }
                Err(e) => {
                    let _ = tx.send(Message::Closed {
                        listener,
                        error: e.to_string(),
                    });
                    return;
                }
            }
        }
        if datagrams.is_empty() && pending_kernel == 0 {
            continue;
        }
        let n = datagrams.len() as u64;
        let message = Message::Batch {
            bytes,
            datagrams,
            kernel_drops: pending_kernel,
            queue_drops: pending_queue,
        };
        match tx.try_send(message) {
            Ok(()) => {
                pending_kernel = 0;
                pending_queue = 0;
            }
            Err(TrySendError::Full(_)) => pending_queue += n,
            Err(TrySendError::Disconnected(_)) => return,
        }
    }
}
