use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use vpcflow_testkit::RecordingConsumer;

use super::{CollectorStats, ListenSpec};
use crate::netflow::{Decoder, DecoderOptions, NetflowSource};
use crate::source::{Source, SourceStats};

fn spec(address: SocketAddr) -> ListenSpec {
    ListenSpec {
        address,
        receive_buffer: 1 << 20,
    }
}

/// A loopback address with a port free at the moment.
fn free_port() -> SocketAddr {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn collector_stats(c: &NetflowSource) -> CollectorStats {
    match c.stats() {
        SourceStats::Netflow { collector, .. } => collector,
        other => panic!("{other:?}"),
    }
}

/// Sends a (malformed) datagram to `to` and pumps until the collector has
/// received `expected` datagrams in all, or a second passed.
fn send_and_count(c: &mut NetflowSource, to: SocketAddr, expected: u64) -> u64 {
    let out = &mut RecordingConsumer::default();
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let _ = sender.send_to(b"not an export datagram", to);
    let deadline = Instant::now() + Duration::from_secs(1);
    while collector_stats(c).datagrams < expected && Instant::now() < deadline {
        c.pump(Duration::from_millis(20), 0, out);
    }
    collector_stats(c).datagrams
}

#[test]
fn a_reload_opens_new_sockets_closes_removed_ones_and_keeps_the_others() {
    let (a, b) = (free_port(), free_port());
    let mut c = NetflowSource::new(vec![spec(a)], Decoder::new(DecoderOptions::default()));
    c.start(&mut RecordingConsumer::default()).unwrap();
    assert_eq!(c.bound(), [a]);
    assert_eq!(send_and_count(&mut c, a, 1), 1);

    assert!(c.relisten(&[spec(a), spec(b)]).is_empty());
    assert_eq!(c.bound(), [a, b]);
    assert_eq!(collector_stats(&c).listening, 2);
    assert_eq!(
        send_and_count(&mut c, a, 2),
        2,
        "the kept socket still receives"
    );
    assert_eq!(send_and_count(&mut c, b, 3), 3, "the new socket receives");

    // `a` removed, `b` kept with another buffer size.
    let bigger = ListenSpec {
        receive_buffer: 4 << 20,
        ..spec(b)
    };
    assert!(c.relisten(&[bigger]).is_empty());
    assert_eq!(c.bound(), [b]);
    assert_eq!(collector_stats(&c).listening, 1);
    assert_eq!(
        send_and_count(&mut c, a, 4),
        3,
        "the removed socket is closed"
    );
    UdpSocket::bind(a).expect("the removed address is free again");
    assert_eq!(send_and_count(&mut c, b, 4), 4);
    assert!(c.failing().is_empty());
    c.stop(0, &mut RecordingConsumer::default());
}

#[test]
fn an_address_a_reload_cannot_bind_is_reported_until_a_reload_fixes_it() {
    let a = free_port();
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap();
    let mut c = NetflowSource::new(vec![spec(a)], Decoder::new(DecoderOptions::default()));
    c.start(&mut RecordingConsumer::default()).unwrap();

    let errors = c.relisten(&[spec(a), spec(busy)]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(&format!(
            "netflow.listen[1].address: cannot listen on {busy}"
        )),
        "{}",
        errors[0]
    );
    assert_eq!(c.failing(), errors);
    assert_eq!(collector_stats(&c).listening, 1);
    assert_eq!(send_and_count(&mut c, a, 1), 1, "the good socket goes on");

    drop(taken);
    assert!(c.relisten(&[spec(a), spec(busy)]).is_empty());
    assert!(c.failing().is_empty());
    assert_eq!(collector_stats(&c).listening, 2);
    assert_eq!(send_and_count(&mut c, busy, 2), 2);

    // Moving a socket to the wildcard address of its port: the old one is
    // closed before the new one is bound.
    let wildcard: SocketAddr = format!("0.0.0.0:{}", busy.port()).parse().unwrap();
    assert!(c.relisten(&[spec(wildcard)]).is_empty());
    assert_eq!(send_and_count(&mut c, busy, 3), 3);
    c.stop(0, &mut RecordingConsumer::default());
}
