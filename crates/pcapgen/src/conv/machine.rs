//! The state machines of the conversation kinds: each step yields the next
//! packet and the natural gap to the one after it.

use super::{Conv, Kind, CLOSE_CLIENT_FIN, CLOSE_CLIENT_RST, CLOSE_SERVER_FIN, MS, SEC};
use crate::frame::{Pkt, TcpOpts, L4, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN};

// TCP phases.
const PH_SYN: u8 = 0;
const PH_SYNACK: u8 = 1;
const PH_REFUSE: u8 = 2;
const PH_ACK: u8 = 3;
const PH_REQ: u8 = 4;
const PH_REQ_ACK: u8 = 5;
const PH_RESP: u8 = 6;
const PH_RESP_ACK: u8 = 7;
const PH_CLOSE1: u8 = 8;
const PH_CLOSE2: u8 = 9;
const PH_CLOSE3: u8 = 10;

impl Conv {
    /// The next packet and the natural gap to the one after it (`None`: last).
    pub(crate) fn step(&mut self) -> (Pkt, Option<u64>) {
        match self.kind {
            Kind::TcpSession | Kind::TcpRefused | Kind::TcpSynOnly => self.step_tcp(),
            Kind::Dns => self.step_dns(),
            Kind::UdpBulk | Kind::UdpOneWay => self.step_udp(),
            Kind::Echo | Kind::EchoUnanswered => self.step_echo(),
        }
    }

    #[inline]
    fn jitter(&mut self, ns: u64) -> u64 {
        // 0.75 .. 1.25 of the nominal value.
        let f = 0.75 + 0.5 * self.rng.f64();
        ((ns as f64) * f) as u64
    }

    fn ack_gap(&mut self) -> u64 {
        self.rng.range(5_000, 40_000)
    }

    fn seg_gap(&mut self) -> u64 {
        let g = 12_000 + u64::from(self.rtt_ns) / 32;
        self.jitter(g)
    }

    fn rtt(&mut self) -> u64 {
        self.jitter(u64::from(self.rtt_ns))
    }

    fn tcp(&self, c2s: bool, flags: u8, opts: TcpOpts, payload: u32) -> Pkt {
        let (seq, ack) = if c2s {
            (self.c_seq, self.s_seq)
        } else {
            (self.s_seq, self.c_seq)
        };
        let mss = if self.v6() { 1440 } else { 1460 };
        Pkt {
            c2s,
            l4: L4::Tcp {
                flags,
                seq,
                ack,
                opts,
                mss,
            },
            payload,
        }
    }

    fn step_tcp(&mut self) -> (Pkt, Option<u64>) {
        let mss = Conv::mss_payload(self.v6());
        match self.phase {
            PH_SYN => {
                let p = self.tcp(true, TCP_SYN, TcpOpts::Syn, 0);
                match self.kind {
                    Kind::TcpSynOnly => {
                        // Retransmissions reuse the sequence number: 1 s, then 2 s.
                        self.rounds -= 1;
                        if self.rounds == 0 {
                            return (p, None);
                        }
                        let g = SEC << self.aux;
                        self.aux += 1;
                        (p, Some(g))
                    }
                    Kind::TcpRefused => {
                        self.c_seq = self.c_seq.wrapping_add(1);
                        self.phase = PH_REFUSE;
                        (p, Some(self.rtt()))
                    }
                    _ => {
                        self.c_seq = self.c_seq.wrapping_add(1);
                        self.phase = PH_SYNACK;
                        (p, Some(self.rtt()))
                    }
                }
            }
            PH_REFUSE => {
                let mut p = self.tcp(false, TCP_RST | TCP_ACK, TcpOpts::None, 0);
                if let L4::Tcp { seq, .. } = &mut p.l4 {
                    *seq = 0;
                }
                (p, None)
            }
            PH_SYNACK => {
                let p = self.tcp(false, TCP_SYN | TCP_ACK, TcpOpts::Syn, 0);
                self.s_seq = self.s_seq.wrapping_add(1);
                self.phase = PH_ACK;
                (p, Some(self.ack_gap()))
            }
            PH_ACK => {
                let p = self.tcp(true, TCP_ACK, TcpOpts::Ts, 0);
                self.phase = PH_REQ;
                self.sent = 0;
                self.aux = 0;
                let g = self.rng.range(20_000, 1_000_000);
                (p, Some(g))
            }
            PH_REQ => {
                let len = mss.min(self.q - self.sent);
                let last = self.sent + len == self.q;
                let flags = if last { TCP_ACK | TCP_PSH } else { TCP_ACK };
                let p = self.tcp(true, flags, TcpOpts::Ts, len);
                self.c_seq = self.c_seq.wrapping_add(len);
                self.sent += len;
                self.aux += 1;
                if last {
                    self.phase = PH_RESP;
                    self.sent = 0;
                    self.aux = 0;
                    let server_time = self.rng.range(20_000, 2_000_000);
                    (p, Some(self.rtt() + server_time))
                } else if self.aux % 2 == 0 {
                    self.phase = PH_REQ_ACK;
                    (p, Some(self.ack_gap()))
                } else {
                    (p, Some(self.seg_gap()))
                }
            }
            PH_REQ_ACK => {
                let p = self.tcp(false, TCP_ACK, TcpOpts::Ts, 0);
                self.phase = PH_REQ;
                (p, Some(self.seg_gap()))
            }
            PH_RESP => {
                let len = mss.min(self.b - self.sent);
                let last = self.sent + len == self.b;
                let flags = if last { TCP_ACK | TCP_PSH } else { TCP_ACK };
                let p = self.tcp(false, flags, TcpOpts::Ts, len);
                self.s_seq = self.s_seq.wrapping_add(len);
                self.sent += len;
                self.aux += 1;
                if last || self.aux % 2 == 0 {
                    self.phase = PH_RESP_ACK;
                    (p, Some(self.ack_gap()))
                } else {
                    (p, Some(self.seg_gap()))
                }
            }
            PH_RESP_ACK => {
                let p = self.tcp(true, TCP_ACK, TcpOpts::Ts, 0);
                if self.sent < self.b {
                    self.phase = PH_RESP;
                    return (p, Some(self.seg_gap()));
                }
                self.rounds -= 1;
                if self.rounds > 0 {
                    self.phase = PH_REQ;
                    self.sent = 0;
                    self.aux = 0;
                    let think = self.rng.exp(f64::from(self.think_ns)) as u64;
                    (p, Some(think.max(1_000)))
                } else {
                    self.phase = PH_CLOSE1;
                    let g = self.rng.range(50_000, 50 * MS);
                    (p, Some(g))
                }
            }
            PH_CLOSE1 => match self.close {
                CLOSE_CLIENT_FIN | CLOSE_SERVER_FIN => {
                    let c2s = self.close == CLOSE_CLIENT_FIN;
                    let p = self.tcp(c2s, TCP_FIN | TCP_ACK, TcpOpts::Ts, 0);
                    self.bump_seq(c2s);
                    self.phase = PH_CLOSE2;
                    (p, Some(self.rtt()))
                }
                c => {
                    let c2s = c == CLOSE_CLIENT_RST;
                    (self.tcp(c2s, TCP_RST | TCP_ACK, TcpOpts::None, 0), None)
                }
            },
            PH_CLOSE2 => {
                let c2s = self.close != CLOSE_CLIENT_FIN;
                let p = self.tcp(c2s, TCP_FIN | TCP_ACK, TcpOpts::Ts, 0);
                self.bump_seq(c2s);
                self.phase = PH_CLOSE3;
                (p, Some(self.ack_gap()))
            }
            _ => {
                let c2s = self.close == CLOSE_CLIENT_FIN;
                (self.tcp(c2s, TCP_ACK, TcpOpts::Ts, 0), None)
            }
        }
    }

    fn bump_seq(&mut self, c2s: bool) {
        if c2s {
            self.c_seq = self.c_seq.wrapping_add(1);
        } else {
            self.s_seq = self.s_seq.wrapping_add(1);
        }
    }

    fn step_dns(&mut self) -> (Pkt, Option<u64>) {
        if self.phase == 0 {
            self.phase = 1;
            let p = Pkt {
                c2s: true,
                l4: L4::Udp,
                payload: self.q,
            };
            (p, Some(self.rtt()))
        } else {
            self.phase = 0;
            self.rounds -= 1;
            let p = Pkt {
                c2s: false,
                l4: L4::Udp,
                payload: self.b,
            };
            let next = (self.rounds > 0).then(|| self.rng.range(10_000, 200_000));
            (p, next)
        }
    }

    fn step_udp(&mut self) -> (Pkt, Option<u64>) {
        let c2s = self.aux > 0 && (self.aux2 >= u32::from(self.k) || self.rounds == 0);
        let payload = if c2s {
            self.aux -= 1;
            self.aux2 = 0;
            self.q
        } else {
            self.rounds -= 1;
            self.aux2 += 1;
            self.b
        };
        let p = Pkt {
            c2s,
            l4: L4::Udp,
            payload,
        };
        if self.aux == 0 && self.rounds == 0 {
            return (p, None);
        }
        let g = self.jitter(u64::from(self.gap_ns));
        (p, Some(g.max(1_000)))
    }

    fn step_echo(&mut self) -> (Pkt, Option<u64>) {
        let seq = self.aux as u16;
        if self.phase == 0 {
            let p = Pkt {
                c2s: true,
                l4: L4::Echo {
                    reply: false,
                    id: self.cport,
                    seq,
                },
                payload: self.q,
            };
            if self.kind == Kind::EchoUnanswered {
                self.aux += 1;
                self.rounds -= 1;
                return (p, (self.rounds > 0).then_some(SEC));
            }
            self.phase = 1;
            (p, Some(self.rtt()))
        } else {
            let p = Pkt {
                c2s: false,
                l4: L4::Echo {
                    reply: true,
                    id: self.cport,
                    seq,
                },
                payload: self.q,
            };
            self.phase = 0;
            self.aux += 1;
            self.rounds -= 1;
            let next = (self.rounds > 0).then(|| SEC.saturating_sub(u64::from(self.rtt_ns)));
            (p, next)
        }
    }
}
