//! The live subscriber: one WebSocket connection per analyzer, all at once.
//!
//! Each configured analyzer gets a thread that connects to
//! `ws[s]://ANALYZER/ws/subscriber/flow`, reads messages and sends them as
//! [`Event`]s into a bounded channel ([`QUEUE_CAPACITY`] events): the read
//! loop never waits on whoever consumes the events, so it always answers the
//! analyzer's pings in time (an analyzer drops a client that has not answered
//! within 5 s). When the queue is full, messages are dropped and counted, and
//! an [`Event::Overflow`] says which span of time lost them as soon as there
//! is room again: memory stays bounded, and the loss becomes SKIPDATA. A connection
//! that fails or drops is retried on its own with exponential backoff and
//! jitter; an HTTP 409 (the analyzer still holds a previous connection of the
//! same host id) is retried the same way. Messages are accepted only under the
//! namespaces subscribed to (`flow` or `flow/CAPTURE_ID`, and `stats`).

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use base64::Engine as _;
use tungstenite::client::IntoClientRequest;
use tungstenite::http::{HeaderValue, Uri};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use super::message::{parse_json, Payload};
use super::protobuf::parse_protobuf;
use super::tls::{tls_config, TlsFiles};

/// The wire protocol asked for with `X-Client-Protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WireProtocol {
    /// JSON text messages.
    #[default]
    Json,
    /// Protobuf envelopes (flows still JSON inside).
    Protobuf,
}

impl WireProtocol {
    fn header(self) -> &'static str {
        match self {
            WireProtocol::Json => "json",
            WireProtocol::Protobuf => "protobuf",
        }
    }
}

/// One analyzer to subscribe to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyzerConfig {
    /// `ws://HOST:PORT`, `wss://HOST:PORT`, or a full URL with a path (default
    /// path `/ws/subscriber/flow`, default port 8082).
    pub url: String,
    /// JSON or protobuf.
    pub protocol: WireProtocol,
    /// Basic authentication.
    pub username: Option<String>,
    /// Basic authentication.
    pub password: Option<String>,
    /// Sent as the cookie `authtoken=TOKEN`.
    pub token: Option<String>,
    /// Extra cookies (for proxies), as (name, value).
    pub cookies: Vec<(String, String)>,
    /// PEM file of the CA certificates that sign the analyzer's certificate
    /// (default: the built-in web roots are not used; a CA file is required for `wss`).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (chain) for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub client_key: Option<PathBuf>,
    /// Subscribe to `flow/CAPTURE_ID` instead of `flow`.
    pub capture_id: Option<String>,
    /// Subscribe to capture statistics (`stats`) too.
    pub stats: bool,
    /// `X-Host-ID` (unique per subscriber).
    pub host_id: String,
    /// `X-Client-Type`.
    pub client_type: String,
    /// First reconnection delay.
    pub reconnect_min: Duration,
    /// Longest reconnection delay.
    pub reconnect_max: Duration,
}

impl AnalyzerConfig {
    /// A configuration for `url` with every other setting at its default.
    pub fn new(url: &str) -> AnalyzerConfig {
        AnalyzerConfig {
            url: url.to_string(),
            protocol: WireProtocol::Json,
            username: None,
            password: None,
            token: None,
            cookies: Vec::new(),
            ca_file: None,
            client_cert: None,
            client_key: None,
            capture_id: None,
            stats: true,
            host_id: default_host_id(),
            client_type: "vpcflow".into(),
            reconnect_min: Duration::from_millis(500),
            reconnect_max: Duration::from_secs(30),
        }
    }

    /// The namespaces subscribed to.
    pub fn namespaces(&self) -> Vec<String> {
        let mut n = vec![match &self.capture_id {
            Some(id) => format!("flow/{id}"),
            None => "flow".to_string(),
        }];
        if self.stats {
            n.push("stats".into());
        }
        n
    }

    /// The WebSocket URL.
    pub fn endpoint(&self) -> Result<Uri, String> {
        let uri: Uri = self
            .url
            .parse()
            .map_err(|e| format!("{:?} is not a URL: {e}", self.url))?;
        let scheme = uri.scheme_str().unwrap_or("");
        if scheme != "ws" && scheme != "wss" {
            return Err(format!("{:?}: the scheme must be ws or wss", self.url));
        }
        let host = uri
            .host()
            .ok_or_else(|| format!("{:?} has no host", self.url))?;
        let port = uri.port_u16().unwrap_or(8082);
        let path = match uri.path() {
            "" | "/" => "/ws/subscriber/flow",
            p => p,
        };
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        format!("{scheme}://{host}:{port}{path}")
            .parse()
            .map_err(|e| format!("{:?}: {e}", self.url))
    }
}

/// `vpcflow-` + the host name: stable per machine.
pub fn default_host_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("vpcflow-{host}")
}

/// What a subscription reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A connection was established.
    Connected {
        /// Index of the analyzer in the configuration.
        analyzer: usize,
    },
    /// A message under a subscribed namespace.
    Message {
        /// Index of the analyzer.
        analyzer: usize,
        /// What it carries.
        payload: Payload<'static>,
    },
    /// A message that could not be decoded (the stream continues).
    Malformed {
        /// Index of the analyzer.
        analyzer: usize,
        /// Why.
        reason: String,
    },
    /// A message under a namespace not subscribed to (ignored).
    Ignored {
        /// Index of the analyzer.
        analyzer: usize,
        /// Its namespace.
        namespace: String,
    },
    /// The queue was full: `messages` messages received from `from_ms` to
    /// `to_ms` (Unix ms, wall clock) were dropped.
    Overflow {
        /// Index of the analyzer.
        analyzer: usize,
        /// When the first was dropped.
        from_ms: i64,
        /// When the last was dropped.
        to_ms: i64,
        /// How many were dropped.
        messages: u64,
    },
    /// A connection attempt failed or a connection ended; messages sent
    /// until the next `Connected` are lost.
    Disconnected {
        /// Index of the analyzer.
        analyzer: usize,
        /// Why.
        reason: String,
    },
}

/// Running connections; dropping it (or [`Subscription::stop`]) ends them.
pub struct Subscription {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Subscription {
    /// Connects to every analyzer at once, each on its own thread, sending
    /// events to `tx`. Fails at once on a configuration error (bad URL,
    /// unreadable TLS files).
    pub fn start(
        analyzers: &[AnalyzerConfig],
        tx: SyncSender<Event>,
    ) -> Result<Subscription, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut prepared = Vec::new();
        for a in analyzers {
            let endpoint = a.endpoint()?;
            let tls = if endpoint.scheme_str() == Some("wss") {
                Some(tls_config(&TlsFiles {
                    url: &a.url,
                    ca_file: a.ca_file.as_ref(),
                    client_cert: a.client_cert.as_ref(),
                    client_key: a.client_key.as_ref(),
                })?)
            } else {
                None
            };
            prepared.push((a.clone(), endpoint, tls));
        }
        let mut threads = Vec::new();
        for (i, (config, endpoint, tls)) in prepared.into_iter().enumerate() {
            let conn = Connection {
                index: i,
                config,
                endpoint,
                tls,
                tx: tx.clone(),
                stop: stop.clone(),
                dropped: Cell::new(None),
            };
            threads.push(
                thread::Builder::new()
                    .name(format!("skydive-{i}"))
                    .spawn(move || conn.run())
                    .map_err(|e| format!("cannot start a subscriber thread: {e}"))?,
            );
        }
        Ok(Subscription { stop, threads })
    }

    /// Closes every connection and waits for the threads.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct Connection {
    index: usize,
    config: AnalyzerConfig,
    endpoint: Uri,
    tls: Option<Arc<rustls::ClientConfig>>,
    tx: SyncSender<Event>,
    stop: Arc<AtomicBool>,
    /// Messages dropped on a full queue and not reported yet: (first drop
    /// ms, last drop ms, count).
    dropped: Cell<Option<(i64, i64, u64)>>,
}

/// How long a blocking read waits before the stop flag is looked at again.
const READ_TICK: Duration = Duration::from_millis(200);

/// Events queued between the analyzer connections and the conversion, at
/// most. A message holds at most
/// [`MAX_FLOWS_PER_MESSAGE`](super::message::MAX_FLOWS_PER_MESSAGE) flows
/// (an analyzer sends a few hundred at a time), so the queue is bounded in
/// memory too.
pub const QUEUE_CAPACITY: usize = 1024;

impl Connection {
    /// Sends a control event (connected, disconnected), waiting for room:
    /// these are never dropped. Messages dropped before are reported first.
    fn send(&self, event: Event) -> bool {
        if let Some((from_ms, to_ms, messages)) = self.dropped.take() {
            let overflow = Event::Overflow {
                analyzer: self.index,
                from_ms,
                to_ms,
                messages,
            };
            if self.tx.send(overflow).is_err() {
                return false;
            }
        }
        self.tx.send(event).is_ok()
    }

    /// Queues a message without waiting; on a full queue it is dropped and
    /// counted. Returns false when the receiver is gone.
    fn offer(&self, event: Event) -> bool {
        if let Some((from_ms, to_ms, messages)) = self.dropped.get() {
            let overflow = Event::Overflow {
                analyzer: self.index,
                from_ms,
                to_ms,
                messages,
            };
            match self.tx.try_send(overflow) {
                Ok(()) => self.dropped.set(None),
                Err(TrySendError::Full(_)) => {
                    self.drop_message();
                    return true;
                }
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
        match self.tx.try_send(event) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.drop_message();
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    fn drop_message(&self) {
        let now = wall_ms();
        let next = match self.dropped.get() {
            None => {
                tracing::warn!(analyzer = %self.config.url, "Skydive messages dropped: the queue of {QUEUE_CAPACITY} events is full (conversion is behind); their windows become SKIPDATA");
                (now, now, 1)
            }
            Some((from, _, n)) => (from, now, n + 1),
        };
        self.dropped.set(Some(next));
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn run(self) {
        let mut delay = self.config.reconnect_min;
        let mut rng = Jitter::new(self.index as u64);
        while !self.stopped() {
            let result = self.connect();
            let reason = match result {
                Ok(socket) => {
                    if !self.send(Event::Connected {
                        analyzer: self.index,
                    }) {
                        return;
                    }
                    let started = Instant::now();
                    let reason = self.read_loop(socket);
                    if started.elapsed() > self.config.reconnect_max {
                        delay = self.config.reconnect_min;
                    }
                    match reason {
                        None => return,
                        Some(r) => r,
                    }
                }
                Err(r) => r,
            };
            tracing::warn!(analyzer = %self.config.url, "Skydive analyzer: {reason}; reconnecting in about {delay:?}");
            if !self.send(Event::Disconnected {
                analyzer: self.index,
                reason,
            }) {
                return;
            }
            let wait = rng.spread(delay);
            let until = Instant::now() + wait;
            while !self.stopped() && Instant::now() < until {
                thread::sleep(READ_TICK.min(until.saturating_duration_since(Instant::now())));
            }
            delay = (delay * 2).min(self.config.reconnect_max);
        }
    }

    fn request(&self) -> Result<tungstenite::handshake::client::Request, String> {
        let mut req = self
            .endpoint
            .clone()
            .into_client_request()
            .map_err(|e| e.to_string())?;
        let c = &self.config;
        let h = req.headers_mut();
        let value =
            |s: &str| HeaderValue::from_str(s).map_err(|e| format!("header value {s:?}: {e}"));
        h.insert("X-Client-Protocol", value(c.protocol.header())?);
        h.insert("X-Client-Type", value(&c.client_type)?);
        h.insert("X-Host-ID", value(&c.host_id)?);
        for ns in c.namespaces() {
            h.append("X-Websocket-Namespace", value(&ns)?);
        }
        if let Some(user) = &c.username {
            let raw = format!("{user}:{}", c.password.as_deref().unwrap_or(""));
            let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
            h.insert("Authorization", value(&format!("Basic {b64}"))?);
        }
        let mut cookies: Vec<String> = Vec::new();
        if let Some(t) = &c.token {
            cookies.push(format!("authtoken={t}"));
        }
        for (k, v) in &c.cookies {
            cookies.push(format!("{k}={v}"));
        }
        if !cookies.is_empty() {
            h.insert("Cookie", value(&cookies.join("; "))?);
        }
        Ok(req)
    }

    fn connect(&self) -> Result<WebSocket<MaybeTlsStream<TcpStream>>, String> {
        let host = self.endpoint.host().unwrap_or("").trim_matches(['[', ']']);
        let port = self.endpoint.port_u16().unwrap_or(8082);
        let addrs: Vec<_> = (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .collect();
        let mut last = format!("no address for {host}");
        let mut stream = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, Duration::from_secs(10)) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = format!("cannot connect to {addr}: {e}"),
            }
        }
        let stream = stream.ok_or(last)?;
        let _ = stream.set_nodelay(true);
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let connector = match &self.tls {
            Some(cfg) => tungstenite::Connector::Rustls(cfg.clone()),
            None => tungstenite::Connector::Plain,
        };
        let (socket, _response) =
            tungstenite::client_tls_with_config(self.request()?, stream, None, Some(connector))
                .map_err(|e| match e {
                    tungstenite::HandshakeError::Failure(tungstenite::Error::Http(r)) => {
                        let status = r.status();
                        if status.as_u16() == 409 {
                            "HTTP 409: the analyzer still holds a connection of this host id"
                                .to_string()
                        } else {
                            format!("HTTP {status} on the WebSocket request")
                        }
                    }
                    other => format!("WebSocket handshake failed: {other}"),
                })?;
        let tcp = match socket.get_ref() {
            MaybeTlsStream::Plain(s) => s,
            MaybeTlsStream::Rustls(s) => s.get_ref(),
            _ => return Err("unsupported stream".into()),
        };
        tcp.set_read_timeout(Some(READ_TICK))
            .map_err(|e| e.to_string())?;
        Ok(socket)
    }

    /// Reads until the connection ends (`Some(reason)`) or the subscription
    /// stops (`None`).
    fn read_loop<S: Read + Write>(&self, mut socket: WebSocket<S>) -> Option<String> {
        let namespaces = self.config.namespaces();
        loop {
            if self.stopped() {
                let _ = socket.close(None);
                let _ = socket.flush();
                return None;
            }
            let message = match socket.read() {
                Ok(m) => m,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    // Idle: send any pending pong.
                    let _ = socket.flush();
                    continue;
                }
                Err(tungstenite::Error::ConnectionClosed) => {
                    return Some("connection closed".into())
                }
                Err(e) => return Some(format!("connection lost: {e}")),
            };
            let decoded = match &message {
                Message::Text(t) => {
                    parse_json(t.as_bytes()).map(|p| (namespace_of(&p), p.into_owned()))
                }
                Message::Binary(b) => match self.config.protocol {
                    WireProtocol::Protobuf => parse_protobuf(b).map(|(ns, p)| (Some(ns), p)),
                    WireProtocol::Json => parse_json(b).map(|p| (namespace_of(&p), p.into_owned())),
                },
                Message::Close(_) => return Some("closed by the analyzer".into()),
                _ => continue,
            };
            let event = match decoded {
                Ok((ns, payload)) => {
                    let ns = ns.unwrap_or_default();
                    if namespaces.contains(&ns) {
                        Event::Message {
                            analyzer: self.index,
                            payload,
                        }
                    } else {
                        Event::Ignored {
                            analyzer: self.index,
                            namespace: ns,
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(analyzer = %self.config.url, "malformed Skydive message: {e}");
                    Event::Malformed {
                        analyzer: self.index,
                        reason: e.to_string(),
                    }
                }
            };
            if !self.offer(event) {
                return None;
            }
        }
    }
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn namespace_of(p: &Payload) -> Option<String> {
    match p {
        Payload::Flows { namespace, .. } => namespace.clone(),
        Payload::Stats(_) => Some("stats".into()),
        Payload::Other(_) => None,
    }
}

/// Spreads reconnection delays so that subscribers do not reconnect in step.
struct Jitter(u64);

impl Jitter {
    fn new(seed: u64) -> Jitter {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Jitter((t ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    /// A duration uniformly between half of `d` and `d`.
    fn spread(&mut self, d: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let frac = (self.0 % 1000) as f64 / 1000.0;
        d.mul_f64(0.5 + 0.5 * frac)
    }
}
