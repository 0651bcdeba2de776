//! Planning one conversation completely when it starts: endpoints, ports,
//! timing and sizes (drawn so that the run meets its targets).

use super::Generator;
use crate::addr::{self, EPHEMERAL_BASE, EPHEMERAL_COUNT};
use crate::conv::{
    self, Conv, Kind, BIT_PUBLIC, BIT_V6, CLOSE_CLIENT_FIN, CLOSE_CLIENT_RST, CLOSE_SERVER_FIN,
    CLOSE_SERVER_RST,
};
use crate::rng::{hash2, Rng};

const CONV_SALT: u64 = 0x636f_6e76_636f_6e76;

impl Generator {
    /// Picks a server: public with probability `p_public`, popular ones more often.
    fn pick_server(&self, rng: &mut Rng, p_public: f64) -> (u32, bool) {
        let public = rng.chance(p_public);
        let n = if public { self.public } else { self.internal };
        let u = rng.f64();
        let idx = ((f64::from(n) * u * u) as u32).min(n - 1);
        if public {
            (self.internal + idx, true)
        } else {
            (idx, false)
        }
    }

    /// Plans conversation `i` completely (sizes, endpoints, timing).
    pub(super) fn plan(&mut self, i: u64, start: u64) -> Conv {
        let kind = self.kind_of(i);
        let mut rng = Rng::new(hash2(self.cfg.seed ^ CONV_SALT, i));
        let mut c = conv::blank(kind, Rng::new(rng.next_u64()));
        let t = self.perm.apply(i);
        c.client = (t / EPHEMERAL_COUNT) as u32;
        let port_idx = (t % EPHEMERAL_COUNT) as u32;
        c.cport = EPHEMERAL_BASE + port_idx as u16;
        let v6 = rng.chance(self.cfg.ipv6_percent / 100.0);
        if v6 {
            c.bits |= BIT_V6;
        }
        if rng.chance(self.cfg.vlan_percent / 100.0) {
            c.vlan = 100 + (c.client % 32) as u16;
        }
        c.c_seq = rng.next_u32();
        c.s_seq = rng.next_u32();
        c.c_ipid = rng.next_u64() as u16;
        c.s_ipid = rng.next_u64() as u16;
        c.ts_base = rng.next_u32();

        let public = match kind {
            Kind::TcpSession | Kind::TcpRefused | Kind::TcpSynOnly => {
                let (s, p) = self.pick_server(&mut rng, 0.3);
                c.server = s;
                let table = if p {
                    addr::TCP_PUBLIC
                } else {
                    addr::TCP_INTERNAL
                };
                c.sport = rng.weighted(table);
                p
            }
            Kind::UdpBulk => {
                let (s, p) = self.pick_server(&mut rng, 0.3);
                c.server = s;
                c.sport = rng.weighted(addr::UDP_BULK);
                p
            }
            Kind::UdpOneWay => {
                let (s, p) = self.pick_server(&mut rng, 0.05);
                c.server = s;
                c.sport = rng.weighted(addr::UDP_ONE_WAY);
                p
            }
            Kind::Dns => {
                c.sport = 53;
                rng.chance(0.15)
            }
            Kind::Echo | Kind::EchoUnanswered => {
                // Ping targets are internal (public ones would repeat pairs).
                c.server = port_idx;
                false
            }
        };
        if public {
            c.bits |= BIT_PUBLIC;
        }
        let rtt = if public {
            rng.log_uniform(8e6, 180e6)
        } else {
            rng.log_uniform(80e3, 2e6)
        };
        c.rtt_ns = rtt as u32;
        let base_ttl = if rng.chance(0.15) { 128 } else { 64 };
        c.s_ttl = if public {
            base_ttl - rng.range(6, 22) as u8
        } else {
            base_ttl - 1
        };

        let (l2, iph) = (
            if c.vlan != 0 { 18.0 } else { 14.0 },
            if v6 { 40.0 } else { 20.0 },
        );
        let max_udp = if v6 { 1500 - 48 } else { 1500 - 28 };
        match kind {
            Kind::TcpSession => {
                c.close = rng.weighted(&[
                    (CLOSE_CLIENT_FIN, 80),
                    (CLOSE_SERVER_FIN, 8),
                    (CLOSE_CLIENT_RST, 8),
                    (CLOSE_SERVER_RST, 4),
                ]);
                c.think_ns = if rng.chance(0.04) {
                    rng.log_uniform(2e9, 30e9) as u32
                } else {
                    rng.log_uniform(1e6, 200e6) as u32
                };
                let (pc, ratio) = self.budget.next(&mut rng);
                size_tcp(&mut c, &mut rng, pc, ratio, 16.0 + l2 + iph + 32.0);
            }
            Kind::TcpRefused => {}
            Kind::TcpSynOnly => c.rounds = 3,
            Kind::Dns => {
                c.rounds = if rng.chance(0.4) { 2 } else { 1 };
                c.q = rng.range(28, 60) as u32;
                c.b = c.q + rng.range(16, 400) as u32;
                if public {
                    c.rtt_ns = rng.log_uniform(5e6, 40e6) as u32;
                }
            }
            Kind::UdpBulk => {
                let (pc, ratio) = self.budget.next(&mut rng);
                let n = (pc.round() as u64).clamp(2, u64::from(u32::MAX / 2));
                let k = rng.range(1, 8);
                let n_c = n.div_ceil(k + 1).clamp(1, n - 1);
                let n_s = n - n_c;
                c.k = k as u8;
                c.aux = n_c as u32;
                c.aux2 = k as u32;
                c.rounds = n_s as u32;
                c.q = rng.range(30, 80) as u32;
                let d = (ratio - (16.0 + l2 + iph + 8.0)).max(0.0);
                let b = (d * n as f64 - f64::from(c.q) * n_c as f64) / n_s as f64;
                c.b = (b.round() as u32).clamp(16, max_udp);
                c.gap_ns = if c.b < 300 {
                    20_000_000
                } else {
                    rng.log_uniform(20e3, 2e6) as u32
                };
            }
            Kind::UdpOneWay => {
                let (pc, ratio) = self.budget.next(&mut rng);
                let n = (pc.round() as u64).clamp(1, u64::from(u32::MAX / 2));
                c.aux = n as u32;
                c.rounds = 0;
                let d = ratio - (16.0 + l2 + iph + 8.0);
                c.q = (d.round().max(0.0) as u32).clamp(16, max_udp);
                c.gap_ns = rng.log_uniform(1e6, 1e9) as u32;
            }
            Kind::Echo | Kind::EchoUnanswered => {
                c.q = if rng.chance(0.2) { 32 } else { 56 };
                c.rounds = if kind == Kind::Echo {
                    rng.range(1, 8) as u32
                } else {
                    rng.range(1, 4) as u32
                };
            }
        }
        let cost = c.cost();
        self.budget.spend(kind, cost);
        c.pkts_left = cost.packets as u32;
        if self.cfg.open_at_once {
            let span = (self.deadline - start) as f64 * (0.85 + 0.14 * rng.f64());
            c.pace_ns = ((span / cost.packets.max(2) as f64) as u64).max(1);
        }
        c
    }
}

/// Chooses request/response sizes and rounds of a TCP session so that it has
/// about `pc` packets of about `ratio` file bytes each (`hdr`: file bytes of a
/// payload-less segment).
fn size_tcp(c: &mut Conv, rng: &mut Rng, pc: f64, ratio: f64, hdr: f64) {
    let mss = Conv::mss_payload(c.v6());
    let fin = c.close <= CLOSE_SERVER_FIN;
    let fixed = 3.0 + if fin { 3.0 } else { 1.0 };
    // Handshake (SYN options: 8 bytes more) and close packets carry no data.
    let fixed_bytes = 3.0 * hdr + 16.0 + if fin { 3.0 * hdr } else { hdr - 12.0 };
    let pd = (pc - fixed).max(3.0);
    // Payload bytes per data-phase packet wanted.
    let d = ((pc * ratio - fixed_bytes) / pd - hdr).max(1.0);
    let pkts = |q: u32, b: u32| -> f64 {
        let nq = q.div_ceil(mss);
        let nb = b.div_ceil(mss);
        f64::from(nq + (nq - 1) / 2 + nb + nb.div_ceil(2))
    };
    let small = (rng.log_uniform(40.0, 1200.0) as u32)
        .min((2.0 * d) as u32)
        .max(1);
    // Largest b with (small + b) / pkts <= d, by bisection.
    let (mut lo, mut hi) = (1u32, 1u32 << 26);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if f64::from(small + mid) / pkts(small, mid) <= d {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let mut big = lo;
    let per_round = pkts(small, big);
    let mut rounds = (pd / per_round).round().max(1.0);
    if rounds == 1.0 && per_round > pd {
        // Fewer packets wanted than this ratio needs: keep the packet count.
        let nq = f64::from(small.div_ceil(mss));
        let nb = ((pd - nq) / 1.5).max(1.0) as u32;
        big = big.min(nb.saturating_mul(mss)).max(1);
    }
    rounds = rounds.min(f64::from(u32::MAX / 4));
    if rng.chance(0.08) {
        // Upload: the client sends the big messages.
        c.q = big;
        c.b = small;
    } else {
        c.q = small;
        c.b = big;
    }
    c.rounds = rounds as u32;
}
