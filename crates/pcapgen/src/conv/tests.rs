use super::*;
use crate::frame::{Pkt, L4};
use crate::rng::Rng;

fn run(c: &mut Conv) -> Vec<Pkt> {
    let mut out = Vec::new();
    loop {
        let (p, g) = c.step();
        out.push(p);
        if g.is_none() {
            return out;
        }
    }
}

fn flags(p: &Pkt) -> u8 {
    match p.l4 {
        L4::Tcp { flags, .. } => flags,
        _ => 0,
    }
}

#[test]
fn tcp_session_sequence() {
    let mut c = blank(Kind::TcpSession, Rng::new(1));
    c.q = 300;
    c.b = 4 * 1448 + 10; // five segments: acks after 2, 4 and the last
    c.rounds = 2;
    let pkts = run(&mut c);
    let f: Vec<(bool, u8, u32)> = pkts.iter().map(|p| (p.c2s, flags(p), p.payload)).collect();
    let round = [
        (true, 0x18, 300),
        (false, 0x10, 1448),
        (false, 0x10, 1448),
        (true, 0x10, 0),
        (false, 0x10, 1448),
        (false, 0x10, 1448),
        (true, 0x10, 0),
        (false, 0x18, 10),
        (true, 0x10, 0),
    ];
    let mut want = vec![(true, 0x02, 0), (false, 0x12, 0), (true, 0x10, 0)];
    want.extend(round);
    want.extend(round);
    want.extend([(true, 0x11, 0), (false, 0x11, 0), (true, 0x10, 0)]);
    assert_eq!(f, want);
}

#[test]
fn state_stays_small() {
    // A million open conversations must fit in about 100 MB.
    assert!(
        std::mem::size_of::<Conv>() <= 96,
        "{}",
        std::mem::size_of::<Conv>()
    );
}

#[test]
fn cost_matches_a_run() {
    for kind in [
        Kind::TcpSession,
        Kind::TcpRefused,
        Kind::TcpSynOnly,
        Kind::Dns,
        Kind::UdpBulk,
        Kind::UdpOneWay,
        Kind::Echo,
        Kind::EchoUnanswered,
    ] {
        let mut c = blank(kind, Rng::new(3));
        c.rounds = 3;
        c.aux = if kind == Kind::UdpBulk { 2 } else { 0 };
        if kind == Kind::UdpOneWay {
            c.aux = 4;
            c.rounds = 0;
        }
        c.k = 2;
        c.aux2 = 2;
        c.q = 3000;
        c.b = 200;
        let cost = c.cost();
        let pkts = run(&mut c);
        assert_eq!(cost.packets, pkts.len() as u64, "{kind:?}");
    }
}
