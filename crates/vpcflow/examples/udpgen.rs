//! A UDP traffic generator for the live-capture benchmark (`bench/live.sh`):
//! sends datagrams of a given payload size to `DST:PORT` as fast as it can (or
//! at `--pps`) for a number of seconds, from `--flows` source ports, and
//! prints how many it sent.
//!
//! ```text
//! udpgen DST:PORT SECONDS [--size BYTES] [--flows N] [--pps RATE]
//! ```

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: udpgen DST:PORT SECONDS [--size BYTES] [--flows N] [--pps RATE]");
        std::process::exit(2);
    }
    let dst: SocketAddr = args[0].parse().expect("DST:PORT");
    let secs: f64 = args[1].parse().expect("SECONDS");
    let opt = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| v.parse().expect(name))
            .unwrap_or(default)
    };
    let size = opt("--size", 18) as usize;
    let flows = opt("--flows", 16).max(1) as usize;
    let pps = opt("--pps", 0);
    let bind = if dst.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let sockets: Vec<UdpSocket> = (0..flows)
        .map(|_| UdpSocket::bind(bind).expect("bind"))
        .collect();
    let payload = vec![0x5a_u8; size];
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    let mut sent = 0u64;
    let mut errors = 0u64;
    'outer: loop {
        for s in &sockets {
            if s.send_to(&payload, dst).is_ok() {
                sent += 1;
            } else {
                errors += 1;
            }
        }
        if sent % 1024 < flows as u64 {
            let now = Instant::now();
            if now >= end {
                break 'outer;
            }
            if pps > 0 {
                let due = start + Duration::from_secs_f64(sent as f64 / pps as f64);
                if due > now {
                    std::thread::sleep(due - now);
                }
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "sent {sent} datagrams ({errors} errors) in {elapsed:.2} s: {:.0} pps",
        sent as f64 / elapsed
    );
}
