//! The live subscriber against a Skydive-protocol test server: a real
//! WebSocket server on loopback (tungstenite) that checks the subscriber's
//! request and replays recorded message sequences.

// tungstenite's handshake callback returns its (large) error response by value.
#![allow(clippy::result_large_err)]

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::http::StatusCode;
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::Frame;
use tungstenite::Message;
use vpcflow_core::InterfaceIndex;
use vpcflow_sources::skydive::live::Live;
use vpcflow_sources::skydive::protobuf::{encode, encode_stats, FORMAT_JSON, FORMAT_PROTOBUF};
use vpcflow_sources::skydive::subscriber::{
    AnalyzerConfig, Event, Subscription, WireProtocol, QUEUE_CAPACITY,
};
use vpcflow_sources::skydive::{Converter, ConverterOptions, Stats};
use vpcflow_testkit::RecordingConsumer;

/// One step of a connection's script.
#[derive(Clone)]
enum Step {
    Text(String),
    Binary(Vec<u8>),
    /// Sends a ping and waits for the pong.
    Ping,
    /// Drops the TCP connection without a close frame.
    Drop,
    /// A text message split into continuation frames of 1 KiB, as the
    /// analyzer sends them.
    Fragmented(String),
}

#[derive(Clone, Default)]
enum Auth {
    #[default]
    None,
    Basic(&'static str),
    Cookie(&'static str),
}

#[derive(Default)]
struct Seen {
    requests: Vec<Vec<(String, String)>>,
    pongs: usize,
    rejected: Vec<u16>,
}

struct Server {
    port: u16,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A server on `listener` playing `scripts[i]` on the i-th accepted
/// connection; `reject_409` rejects that many handshakes first with 409.
fn serve(listener: TcpListener, auth: Auth, reject_409: usize, scripts: Vec<Vec<Step>>) -> Server {
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let (seen2, stop2) = (seen.clone(), stop.clone());
    let thread = thread::spawn(move || {
        let mut rejected_409 = 0;
        let mut n = 0;
        let mut open = Vec::new();
        for stream in listener.incoming() {
            if stop2.load(Ordering::SeqCst) {
                break;
            }
            let Ok(stream) = stream else { continue };
            let auth = auth.clone();
            let seen3 = seen2.clone();
            let reject = rejected_409 < reject_409;
            let callback = move |req: &Request,
                                 resp: Response|
                  -> Result<Response, ErrorResponse> {
                let headers: Vec<(String, String)> = req
                    .headers()
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_ascii_lowercase(),
                            v.to_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect();
                let get = |k: &str| headers.iter().find(|h| h.0 == k).map(|h| h.1.clone());
                let mut s = seen3.lock().unwrap();
                s.requests.push(headers.clone());
                let fail = |s: &mut Seen, code: StatusCode| {
                    s.rejected.push(code.as_u16());
                    let mut r = ErrorResponse::new(Some(code.to_string()));
                    *r.status_mut() = code;
                    Err(r)
                };
                if req.uri().path() != "/ws/subscriber/flow" || get("x-client-type").is_none() {
                    return fail(&mut s, StatusCode::BAD_REQUEST);
                }
                let ok = match &auth {
                    Auth::None => true,
                    Auth::Basic(b64) => get("authorization") == Some(format!("Basic {b64}")),
                    Auth::Cookie(tok) => get("cookie")
                        .is_some_and(|c| c.split("; ").any(|kv| kv == format!("authtoken={tok}"))),
                };
                if !ok {
                    return fail(&mut s, StatusCode::UNAUTHORIZED);
                }
                if reject {
                    return fail(&mut s, StatusCode::CONFLICT);
                }
                let mut resp = resp;
                resp.headers_mut()
                    .insert("X-Host-ID", "analyzer".parse().unwrap());
                resp.headers_mut()
                    .insert("X-Service-Type", "analyzer".parse().unwrap());
                Ok(resp)
            };
            let mut ws = match tungstenite::accept_hdr(stream, callback) {
                Ok(ws) => ws,
                Err(_) => {
                    if reject {
                        rejected_409 += 1;
                    }
                    continue;
                }
            };
            let script = scripts.get(n).cloned().unwrap_or_default();
            n += 1;
            let mut dropped = false;
            for step in script {
                match step {
                    Step::Text(t) => ws.send(Message::text(t)).unwrap(),
                    Step::Binary(b) => ws.send(Message::binary(b)).unwrap(),
                    Step::Ping => {
                        ws.send(Message::Ping(b"hb".to_vec().into())).unwrap();
                        loop {
                            match ws.read() {
                                Ok(Message::Pong(_)) => {
                                    seen2.lock().unwrap().pongs += 1;
                                    break;
                                }
                                Ok(_) => {}
                                Err(e) => panic!("no pong: {e}"),
                            }
                        }
                    }
                    Step::Fragmented(t) => {
                        let chunks: Vec<&[u8]> = t.as_bytes().chunks(1024).collect();
                        for (i, c) in chunks.iter().enumerate() {
                            let opcode = if i == 0 {
                                OpCode::Data(Data::Text)
                            } else {
                                OpCode::Data(Data::Continue)
                            };
                            let frame = Frame::message(c.to_vec(), opcode, i + 1 == chunks.len());
                            ws.write(Message::Frame(frame)).unwrap();
                        }
                        ws.flush().unwrap();
                    }
                    Step::Drop => {
                        dropped = true;
                        break;
                    }
                }
            }
            if !dropped {
                open.push(ws);
            }
        }
        drop(open);
    });
    Server {
        port,
        seen,
        stop,
        thread: Some(thread),
    }
}

fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

/// A flow message: `n` packets each way since the previous update.
fn flow_json(uuid: &str, node: &str, delta: (i64, i64), span: (i64, i64)) -> String {
    format!(
        r#"{{"UUID":"{uuid}","LayersPath":"Ethernet/IPv4/UDP","NodeTID":"{node}","CaptureID":"cap","Network":{{"Protocol":"IPV4","A":"10.0.0.1","B":"10.0.0.2"}},"Transport":{{"Protocol":"UDP","A":"1000","B":53}},"LastUpdateMetric":{{"ABPackets":{},"ABBytes":{},"BAPackets":{},"BABytes":{},"Start":{},"Last":{}}},"Start":{},"Last":{}}}"#,
        delta.0,
        delta.0 * 114,
        delta.1,
        delta.1 * 114,
        span.0,
        span.1,
        span.0,
        span.1 - 1
    )
}

fn store(namespace: &str, flows: &[String]) -> String {
    format!(
        r#"{{"Namespace":"{namespace}","Type":"store","UUID":"x","Status":200,"Obj":[{}]}}"#,
        flows.join(",")
    )
}

const T0: i64 = 1_800_000_000_000;

fn config(port: u16) -> AnalyzerConfig {
    AnalyzerConfig {
        reconnect_min: Duration::from_millis(50),
        reconnect_max: Duration::from_millis(400),
        host_id: "test-subscriber".into(),
        ..AnalyzerConfig::new(&format!("ws://127.0.0.1:{port}"))
    }
}

/// Runs events into a Live source until `done` holds (or 10 s pass).
fn drive(
    rx: &Receiver<Event>,
    live: &mut Live,
    sink: &mut RecordingConsumer,
    done: impl Fn(&Live, &RecordingConsumer) -> bool,
) -> Vec<Event> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut events = Vec::new();
    let mut now = T0 + 1_000_000;
    while !done(live, sink) {
        assert!(
            Instant::now() < deadline,
            "timed out; events so far: {events:#?}"
        );
        if let Ok(e) = rx.recv_timeout(Duration::from_millis(50)) {
            events.push(e.clone());
            now += 1000;
            live.handle(e, now, sink);
        }
    }
    events
}

fn packets(sink: &RecordingConsumer) -> u64 {
    sink.updates.iter().map(|u| u.packets).sum()
}

#[test]
fn json_with_basic_auth_pings_stats_and_bad_messages() {
    let l = listener();
    let script = vec![
        Step::Ping,
        Step::Text(store(
            "flow",
            &[flow_json("f1", "n1", (2, 1), (T0, T0 + 60_000))],
        )),
        Step::Text("{\"Namespace\":\"flow\",\"Type\":\"store\",\"Obj\":[{\"UUID\":".into()),
        Step::Text(store(
            "flow/other-capture",
            &[flow_json("f9", "n1", (5, 5), (T0, T0 + 60_000))],
        )),
        Step::Text(
            r#"{"Namespace":"stats","Type":"stats","Obj":{"CaptureID":"cap","PacketsDropped":1}}"#
                .into(),
        ),
        Step::Text(
            r#"{"Namespace":"stats","Type":"stats","Obj":{"CaptureID":"cap","PacketsDropped":4}}"#
                .into(),
        ),
        Step::Ping,
        Step::Fragmented(store(
            "flow",
            &[
                flow_json("f1", "n1", (1, 0), (T0 + 60_000, T0 + 120_000)),
                flow_json("f2", "n1", (0, 0), (T0 + 60_000, T0 + 120_000)),
                flow_json("f3", "n1", (0, 0), (T0 + 60_000, T0 + 120_000)),
                flow_json("f4", "n1", (0, 0), (T0 + 60_000, T0 + 120_000)),
            ],
        )),
    ];
    // "user:secret"
    let server = serve(l, Auth::Basic("dXNlcjpzZWNyZXQ="), 0, vec![script]);
    let (tx, rx) = sync_channel(QUEUE_CAPACITY);
    let mut cfg = config(server.port);
    cfg.username = Some("user".into());
    cfg.password = Some("secret".into());
    let sub = Subscription::start(&[cfg], tx).unwrap();
    let mut live = Live::new(Converter::new(ConverterOptions::default()), 1, 600);
    let mut sink = RecordingConsumer::default();
    drive(&rx, &mut live, &mut sink, |_, s| packets(s) == 4);
    sub.stop();
    assert_eq!(live.stats().malformed, 1);
    assert_eq!(live.stats().ignored, 1);
    // Statistics are per period: 1, then 4 more.
    let drops: Vec<u64> = sink.losses.iter().map(|l| l.count).collect();
    assert_eq!(drops, vec![1, 4]);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.pongs, 2);
    let h = &seen.requests[0];
    let get = |k: &str| {
        h.iter()
            .filter(|x| x.0 == k)
            .map(|x| x.1.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(get("x-client-protocol"), ["json"]);
    assert_eq!(get("x-client-type"), ["vpcflow"]);
    assert_eq!(get("x-host-id"), ["test-subscriber"]);
    assert_eq!(get("x-websocket-namespace"), ["flow", "stats"]);
}

#[test]
fn protobuf_with_token_cookie_and_capture_filter() {
    let l = listener();
    let flows = format!("[{}]", flow_json("p1", "n1", (3, 3), (T0, T0 + 60_000)));
    let stats = |d: i64| Stats {
        capture_id: "cap".into(),
        packets_dropped: d,
        ..Stats::default()
    };
    let script = vec![
        Step::Binary(encode(
            "flow/cap",
            "store",
            FORMAT_JSON,
            flows.clone().into_bytes(),
        )),
        // Under the full namespace: not subscribed, ignored.
        Step::Binary(encode("flow", "store", FORMAT_JSON, flows.into_bytes())),
        Step::Binary(encode(
            "stats",
            "stats",
            FORMAT_PROTOBUF,
            encode_stats(&stats(0)),
        )),
        Step::Binary(encode(
            "stats",
            "stats",
            FORMAT_JSON,
            br#"{"CaptureID":"cap","PacketsDropped":2}"#.to_vec(),
        )),
        Step::Binary(b"\x0a\xff garbage".to_vec()),
        Step::Binary(encode(
            "stats",
            "stats",
            FORMAT_PROTOBUF,
            encode_stats(&stats(7)),
        )),
    ];
    let server = serve(l, Auth::Cookie("s3cr3t"), 0, vec![script]);
    let (tx, rx) = sync_channel(QUEUE_CAPACITY);
    let mut cfg = config(server.port);
    cfg.protocol = WireProtocol::Protobuf;
    cfg.token = Some("s3cr3t".into());
    cfg.cookies = vec![("proxy".into(), "yes".into())];
    cfg.capture_id = Some("cap".into());
    let sub = Subscription::start(&[cfg], tx).unwrap();
    let mut live = Live::new(Converter::new(ConverterOptions::default()), 1, 600);
    let mut sink = RecordingConsumer::default();
    drive(&rx, &mut live, &mut sink, |l, _| {
        l.stats().messages + l.stats().ignored + l.stats().malformed == 6
    });
    sub.stop();
    assert_eq!(packets(&sink), 6);
    assert_eq!(live.stats().ignored, 1);
    assert_eq!(live.stats().malformed, 1);
    // Per-period statistics: every message's drops count.
    let drops: Vec<u64> = sink.losses.iter().map(|l| l.count).collect();
    assert_eq!(drops, vec![2, 7]);
    let seen = server.seen.lock().unwrap();
    let h = &seen.requests[0];
    assert!(h.contains(&("x-client-protocol".into(), "protobuf".into())));
    assert!(h.contains(&("cookie".into(), "authtoken=s3cr3t; proxy=yes".into())));
    assert!(h.contains(&("x-websocket-namespace".into(), "flow/cap".into())));
}

#[test]
fn wrong_credentials_are_retried_with_backoff() {
    let server = serve(listener(), Auth::Basic("dXNlcjpzZWNyZXQ="), 0, vec![]);
    let (tx, rx) = sync_channel(QUEUE_CAPACITY);
    let mut cfg = config(server.port);
    cfg.username = Some("user".into());
    cfg.password = Some("wrong".into());
    let sub = Subscription::start(&[cfg], tx).unwrap();
    let mut live = Live::new(Converter::new(ConverterOptions::default()), 1, 600);
    let mut sink = RecordingConsumer::default();
    let events = drive(&rx, &mut live, &mut sink, |l, _| {
        l.stats().failed_attempts >= 3
    });
    sub.stop();
    assert!(events
        .iter()
        .all(|e| matches!(e, Event::Disconnected { reason, .. } if reason.contains("401"))));
    assert_eq!(live.stats().connects, 0);
}

#[test]
fn dropped_connection_and_resent_deltas_across_reconnects() {
    let l = listener();
    let first = flow_json("d1", "n1", (2, 2), (T0, T0 + 60_000));
    let second = flow_json("d1", "n1", (1, 1), (T0 + 60_000, T0 + 120_000));
    let scripts = vec![
        vec![
            Step::Text(store("flow", std::slice::from_ref(&first))),
            Step::Drop,
        ],
        // After reconnecting, the analyzer resends the last delta (as after an
        // agent restart), then the next one.
        vec![Step::Text(store("flow", &[first, second]))],
    ];
    let server = serve(l, Auth::None, 0, scripts);
    let (tx, rx) = sync_channel(QUEUE_CAPACITY);
    let sub = Subscription::start(&[config(server.port)], tx).unwrap();
    let mut live = Live::new(Converter::new(ConverterOptions::default()), 1, 600);
    let mut sink = RecordingConsumer::default();
    drive(&rx, &mut live, &mut sink, |_, s| packets(s) == 6);
    sub.stop();
    assert_eq!(live.converter().stats().duplicate_deltas, 1);
    assert_eq!(live.stats().connects, 2);
    assert_eq!(live.stats().disconnects, 1);
    assert!(!sink.losses.is_empty(), "the gap is SKIPDATA for n1");
    assert!(sink.losses.iter().all(|l| l.interface == InterfaceIndex(0)));
}

#[test]
fn conflict_on_reconnect_is_retried() {
    let scripts = vec![vec![Step::Text(store(
        "flow",
        &[flow_json("c1", "n1", (1, 0), (T0, T0 + 1_000))],
    ))]];
    let server = serve(listener(), Auth::None, 2, scripts);
    let (tx, rx) = sync_channel(QUEUE_CAPACITY);
    let sub = Subscription::start(&[config(server.port)], tx).unwrap();
    let mut live = Live::new(Converter::new(ConverterOptions::default()), 1, 600);
    let mut sink = RecordingConsumer::default();
    let events = drive(&rx, &mut live, &mut sink, |_, s| packets(s) == 1);
    sub.stop();
    let conflicts = events
        .iter()
        .filter(|e| matches!(e, Event::Disconnected { reason, .. } if reason.contains("409")))
        .count();
    assert_eq!(conflicts, 2);
    assert_eq!(server.seen.lock().unwrap().rejected, vec![409, 409]);
}

#[test]
fn one_of_two_analyzers_down_then_back() {
    let up = serve(
        listener(),
        Auth::None,
        0,
        vec![vec![Step::Text(store(
            "flow",
            &[flow_json("a1", "n1", (1, 1), (T0, T0 + 60_000))],
        ))]],
    );
    // The second analyzer's port: nothing listens there yet.
    let reserved = listener();
    let down_port = reserved.local_addr().unwrap().port();
    drop(reserved);
    let (tx, rx) = sync_channel(QUEUE_CAPACITY);
    let sub = Subscription::start(&[config(up.port), config(down_port)], tx).unwrap();
    let mut live = Live::new(Converter::new(ConverterOptions::default()), 2, 600);
    let mut sink = RecordingConsumer::default();
    // The first analyzer's flows arrive while the second is down.
    drive(&rx, &mut live, &mut sink, |l, s| {
        packets(s) == 2 && l.stats().failed_attempts >= 2
    });
    // The second comes up: its flows arrive too.
    let back = serve(
        TcpListener::bind(("127.0.0.1", down_port)).unwrap(),
        Auth::None,
        0,
        vec![vec![Step::Text(store(
            "flow",
            &[flow_json("b1", "n2", (3, 0), (T0, T0 + 60_000))],
        ))]],
    );
    drive(&rx, &mut live, &mut sink, |_, s| packets(s) == 5);
    sub.stop();
    assert_eq!(sink.names, vec!["n1", "n2"]);
    assert_eq!(live.stats().connects, 2);
    drop(back);
}

#[test]
fn configuration_errors_are_immediate() {
    let (tx, _rx) = sync_channel(QUEUE_CAPACITY);
    let e = Subscription::start(&[AnalyzerConfig::new("http://x:1")], tx.clone())
        .err()
        .unwrap();
    assert!(e.contains("ws or wss"), "{e}");
    assert_eq!(
        AnalyzerConfig::new("ws://analyzer")
            .endpoint()
            .unwrap()
            .to_string(),
        "ws://analyzer:8082/ws/subscriber/flow"
    );
}

#[test]
fn tls_with_ca_file_and_client_certificate() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let server_cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let client_cert = rcgen::generate_simple_self_signed(vec!["vpcflow".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let ca = write("ca.pem", server_cert.cert.pem());
    let cert = write("client.pem", client_cert.cert.pem());
    let key = write("client.key", client_cert.signing_key.serialize_pem());

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut client_roots = rustls::RootCertStore::empty();
    client_roots
        .add(CertificateDer::from_pem_slice(client_cert.cert.pem().as_bytes()).unwrap())
        .unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        client_roots.into(),
        provider.clone(),
    )
    .build()
    .unwrap();
    let server_config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(certified_chain(&server_cert), certified_key(&server_cert))
            .unwrap(),
    );
    let message = store("flow", &[flow_json("t1", "n1", (2, 0), (T0, T0 + 1_000))]);
    let (port, server) = serve_tls_once(server_config, message);
    let (tx, rx) = sync_channel(QUEUE_CAPACITY);
    let mut cfg = config(port);
    cfg.url = format!("wss://localhost:{port}");
    cfg.ca_file = Some(ca);
    cfg.client_cert = Some(cert);
    cfg.client_key = Some(key);
    let sub = Subscription::start(&[cfg], tx).unwrap();
    let mut live = Live::new(Converter::new(ConverterOptions::default()), 1, 600);
    let mut sink = RecordingConsumer::default();
    drive(&rx, &mut live, &mut sink, |_, s| packets(s) == 2);
    sub.stop();
    server.join().unwrap();
}

/// Without a CA file, wss trusts the system's roots: here a root given the
/// way the system's are overridden (SSL_CERT_FILE).
#[test]
fn tls_without_ca_file_uses_the_system_trust_roots() {
    let server_cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Only this test reads the system's roots (the others give a CA file).
    // None at all: an error at once.
    let no_roots = dir.path().join("none.pem");
    std::fs::write(&no_roots, "").unwrap();
    std::env::set_var("SSL_CERT_FILE", &no_roots);
    std::env::set_var("SSL_CERT_DIR", dir.path().join("no-such-dir"));
    let (tx, _rx) = sync_channel(QUEUE_CAPACITY);
    let e = Subscription::start(&[AnalyzerConfig::new("wss://x:1")], tx)
        .err()
        .unwrap();
    assert!(
        e.contains("no CA file (ca_file) and no trust root of the system"),
        "{e}"
    );
    let roots = dir.path().join("system-roots.pem");
    std::fs::write(&roots, server_cert.cert.pem()).unwrap();
    std::env::set_var("SSL_CERT_FILE", &roots);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certified_chain(&server_cert), certified_key(&server_cert))
            .unwrap(),
    );
    let message = store("flow", &[flow_json("s1", "n1", (3, 0), (T0, T0 + 1_000))]);
    let (port, server) = serve_tls_once(server_config, message);
    let (tx, rx) = sync_channel(QUEUE_CAPACITY);
    let mut cfg = config(port);
    cfg.url = format!("wss://localhost:{port}");
    cfg.ca_file = None;
    let sub = Subscription::start(&[cfg], tx).unwrap();
    let mut live = Live::new(Converter::new(ConverterOptions::default()), 1, 600);
    let mut sink = RecordingConsumer::default();
    drive(&rx, &mut live, &mut sink, |_, s| packets(s) == 3);
    sub.stop();
    server.join().unwrap();
}

/// The certificate of `c` as a one-element chain.
fn certified_chain(
    c: &rcgen::CertifiedKey<rcgen::KeyPair>,
) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    vec![rustls::pki_types::CertificateDer::from_pem_slice(c.cert.pem().as_bytes()).unwrap()]
}

/// The private key of `c`.
fn certified_key(
    c: &rcgen::CertifiedKey<rcgen::KeyPair>,
) -> rustls::pki_types::PrivateKeyDer<'static> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::PrivateKeyDer::from_pem_slice(c.signing_key.serialize_pem().as_bytes())
        .unwrap()
}

/// A WebSocket server over TLS (`config`) on a loopback port that accepts one
/// connection, sends `message` and keeps the connection until the client
/// goes away: its port and thread.
fn serve_tls_once(
    config: Arc<rustls::ServerConfig>,
    message: String,
) -> (u16, thread::JoinHandle<()>) {
    let l = listener();
    let port = l.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (tcp, _) = l.accept().unwrap();
        let conn = rustls::ServerConnection::new(config).unwrap();
        let tls = rustls::StreamOwned::new(conn, tcp);
        let mut ws = tungstenite::accept(tls).unwrap();
        ws.send(Message::text(message)).unwrap();
        while ws.read().is_ok() {}
    });
    (port, server)
}

#[test]
fn a_full_queue_drops_messages_counts_them_and_marks_their_time_lost() {
    // The queue between the connection and the conversion is bounded: with
    // nobody reading, messages beyond it are dropped, counted, and reported
    // as one Overflow once there is room (here: at the disconnection).
    let l = listener();
    let sent = 60;
    let mut script: Vec<Step> = (0..sent)
        .map(|i| {
            Step::Text(store(
                "flow",
                &[flow_json(&format!("q{i}"), "n1", (1, 0), (T0, T0 + 60_000))],
            ))
        })
        .collect();
    script.push(Step::Drop);
    let server = serve(l, Auth::None, 0, vec![script]);
    let capacity = 4;
    let (tx, rx) = sync_channel(capacity);
    let sub = Subscription::start(&[config(server.port)], tx).unwrap();
    // Let the connection fill the queue and drop the rest while nobody reads.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.seen.lock().unwrap().requests.is_empty() {
        assert!(Instant::now() < deadline, "no connection");
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_secs(1));
    let mut live = Live::new(Converter::new(ConverterOptions::default()), 1, 600);
    let mut sink = RecordingConsumer::default();
    let events = drive(&rx, &mut live, &mut sink, |l, _| l.stats().disconnects == 1);
    sub.stop();
    let messages = events
        .iter()
        .filter(|e| matches!(e, Event::Message { .. }))
        .count() as u64;
    let dropped: u64 = events
        .iter()
        .filter_map(|e| match e {
            Event::Overflow { messages, .. } => Some(*messages),
            _ => None,
        })
        .sum();
    assert!(dropped > 0, "{events:#?}");
    assert_eq!(messages + dropped, sent as u64);
    assert_eq!(live.stats().queue_overflows, dropped);
    assert_eq!(packets(&sink), messages);
    // The lost messages' time is SKIPDATA for the interface seen.
    assert!(!sink.losses.is_empty());
    assert!(sink.losses.iter().all(|l| l.interface == InterfaceIndex(0)));
}

#[test]
fn a_gap_reaches_back_one_update_period_before_the_drop() {
    use vpcflow_core::LossEvent;
    use vpcflow_sources::skydive::live::REACH_BACK_MS;
    // A message lost at the drop carries deltas whose window may end up to
    // one flow update period before it.
    let mut live = Live::new(Converter::new(ConverterOptions::default()), 1, 60);
    let mut sink = RecordingConsumer::default();
    let json = flow_json("g1", "n1", (1, 0), (T0, T0 + 30_000));
    let flow = serde_json::from_str::<vpcflow_sources::skydive::Flow>(&json)
        .unwrap()
        .into_owned();
    live.handle(Event::Connected { analyzer: 0 }, T0, &mut sink);
    live.handle(
        Event::Message {
            analyzer: 0,
            payload: vpcflow_sources::skydive::Payload::Flows {
                namespace: Some("flow".into()),
                flows: vec![flow],
                over_cap: 0,
            },
        },
        T0 + 30_000,
        &mut sink,
    );
    let drop_at = T0 + 125_000;
    live.handle(
        Event::Disconnected {
            analyzer: 0,
            reason: "test".into(),
        },
        drop_at,
        &mut sink,
    );
    live.handle(
        Event::Connected { analyzer: 0 },
        drop_at + 10_000,
        &mut sink,
    );
    let first = sink.losses.iter().map(|l| l.at).min().unwrap();
    assert_eq!(first, ((drop_at - REACH_BACK_MS) as u64) * 1_000_000);
    let ms = |l: &LossEvent| (l.at / 1_000_000) as i64;
    let windows: std::collections::BTreeSet<i64> =
        sink.losses.iter().map(|l| ms(l) / 60_000).collect();
    // Every one-minute window from a minute before the drop to the
    // reconnection.
    let from = (drop_at - REACH_BACK_MS) / 60_000;
    let to = (drop_at + 10_000) / 60_000;
    assert_eq!(windows, (from..=to).collect());
}
