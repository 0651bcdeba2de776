//! A Skydive-protocol analyzer on loopback for `vpcflow run` tests: accepts
//! one WebSocket connection and sends it the messages it is given.

use std::net::TcpListener;
use std::sync::mpsc::{channel, Sender};
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
