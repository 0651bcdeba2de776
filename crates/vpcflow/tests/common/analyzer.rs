//! A Skydive-protocol analyzer on loopback for `vpcflow run` tests: accepts
//! one WebSocket connection and sends it the messages it is given.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tungstenite::Message;

/// Wall-clock Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A UDP flow `a` → 10.9.9.9:53 of `node` with `packets` packets of 114
/// bytes at `at_ms`, as a Skydive flow object.
pub fn flow_of(node: &str, uuid: &str, a: &str, packets: i64, at_ms: i64) -> String {
    format!(
        r#"{{"UUID":"{uuid}","LayersPath":"Ethernet/IPv4/UDP","NodeTID":"{node}","CaptureID":"cap","Network":{{"Protocol":"IPV4","A":"{a}","B":"10.9.9.9"}},"Transport":{{"Protocol":"UDP","A":1000,"B":53}},"Metric":{{"ABPackets":{packets},"ABBytes":{},"Start":{at_ms},"Last":{at_ms}}},"LastUpdateMetric":{{"ABPackets":{packets},"ABBytes":{},"Start":{at_ms},"Last":{at_ms}}},"Start":{at_ms},"Last":{at_ms}}}"#,
        packets * 114,
        packets * 114
    )
}

/// [`flow_of`] on node `node-1`.
pub fn flow(uuid: &str, a: &str, packets: i64, at_ms: i64) -> String {
    flow_of("node-1", uuid, a, packets, at_ms)
}

/// A flow store message carrying `flows`.
pub fn store(flows: &[String]) -> String {
    format!(
        r#"{{"Namespace":"flow","Type":"store","UUID":"m","Status":200,"Obj":[{}]}}"#,
        flows.join(",")
    )
}

/// A one-connection analyzer: sends the messages it is given over the
/// returned sender, answering pings, until the client goes away.
pub fn analyzer() -> (u16, Sender<String>, thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = channel::<String>();
    let t = thread::spawn(move || {
        let (tcp, _) = l.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut ws = tungstenite::accept(tcp).unwrap();
        loop {
            while let Ok(m) = rx.try_recv() {
                ws.send(Message::text(m)).unwrap();
            }
            match ws.read() {
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return,
            }
        }
    });
    (port, tx, t)
}

/// An analyzer that outlives its clients: it accepts one connection after
/// the other on the same port (a restarted `vpcflow run` reconnects to it)
/// and sends each connected client the messages given over the returned
/// sender; messages given while no client is connected wait for the next
/// one. The counter counts the connections accepted so far. It ends once
/// the sender is dropped and no client is connected.
pub fn restartable_analyzer() -> (
    u16,
    Sender<String>,
    Arc<AtomicUsize>,
    thread::JoinHandle<()>,
) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = channel::<String>();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    let t = thread::spawn(move || {
        let mut waiting = std::collections::VecDeque::new();
        let mut open = true;
        loop {
            let tcp = match l.accept() {
                Ok((tcp, _)) => tcp,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    loop {
                        match rx.try_recv() {
                            Ok(m) => waiting.push_back(m),
                            Err(std::sync::mpsc::TryRecvError::Empty) => break,
                            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                                open = false;
                                break;
                            }
                        }
                    }
                    if !open {
                        return;
                    }
                    thread::sleep(Duration::from_millis(20));
                    continue;
                }
                Err(e) => panic!("accept: {e}"),
            };
            tcp.set_nonblocking(false).unwrap();
            tcp.set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            // A client killed during the handshake is not a connection.
            let Ok(mut ws) = tungstenite::accept(tcp) else {
                continue;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            'client: loop {
                while let Ok(m) = rx.try_recv() {
                    waiting.push_back(m);
                }
                while let Some(m) = waiting.pop_front() {
                    if ws.send(Message::text(m.clone())).is_err() {
                        waiting.push_front(m);
                        break 'client;
                    }
                }
                match ws.read() {
                    Ok(_) => {}
                    Err(tungstenite::Error::Io(e))
                        if e.kind() == std::io::ErrorKind::WouldBlock
                            || e.kind() == std::io::ErrorKind::TimedOut => {}
                    Err(_) => break,
                }
            }
        }
    });
    (port, tx, connections, t)
}

/// Waits (up to 20 s) until `connections` reaches `n`.
pub fn wait_connections(connections: &AtomicUsize, n: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while connections.load(Ordering::SeqCst) < n {
        assert!(std::time::Instant::now() < deadline, "no connection {n}");
        thread::sleep(Duration::from_millis(20));
    }
}
