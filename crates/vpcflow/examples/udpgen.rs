//! A UDP traffic generator for the live-capture benchmark (`bench/live.sh`):
//! sends datagrams of a given payload size to `DST:PORT` as fast as it can (or
//! at `--pps`) for a number of seconds, from `--flows` source ports, and
//! prints how many it sent.
//!
//! ```text
//! udpgen DST:PORT SECONDS [--size BYTES] [--flows N] [--pps RATE]
//!        [--raw IFACE --dst-mac MAC --src IPV4 [--batch N]]
//! ```
//!
//! Two modes:
//!
//! * UDP (default): one unconnected UDP socket per flow, one `sendto` per
//!   datagram. Simple, goes through the whole IP stack, and tops out at a few
//!   hundred thousand datagrams per second on one core.
//! * Raw (`--raw IFACE`, Linux, needs `CAP_NET_RAW`): Ethernet + IPv4 + UDP
//!   frames are built once (one per flow, checksums computed), then handed to
//!   an `AF_PACKET`/`SOCK_RAW` socket on `IFACE` in batches of `--batch` with
//!   `sendmmsg`, bypassing the qdisc layer (`PACKET_QDISC_BYPASS`) when the
//!   kernel allows it. The source MAC is `IFACE`'s, read from sysfs; the
//!   destination MAC (`--dst-mac`) and source address (`--src`) are given,
//!   the destination address and port come from `DST:PORT`, and the source
//!   ports are 40000, 40001, … (one per flow). IPv4 only.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// What was sent: datagrams handed to the kernel and failed send calls.
struct Sent {
    sent: u64,
    errors: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!(
            "usage: udpgen DST:PORT SECONDS [--size BYTES] [--flows N] [--pps RATE] \
             [--raw IFACE --dst-mac MAC --src IPV4 [--batch N]]"
        );
        std::process::exit(2);
    }
    let dst: SocketAddr = args[0].parse().expect("DST:PORT");
    let secs: f64 = args[1].parse().expect("SECONDS");
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let opt = |name: &str, default: u64| {
        value(name)
            .map(|v| v.parse().expect(name))
            .unwrap_or(default)
    };
    let size = opt("--size", 18) as usize;
    let flows = opt("--flows", 16).max(1) as usize;
    let pps = opt("--pps", 0);
    let pacer = Pacer::new(Duration::from_secs_f64(secs), pps);
    let (what, result) = match value("--raw") {
        Some(iface) => {
            let SocketAddr::V4(dst) = dst else {
                eprintln!("udpgen: --raw sends IPv4 only");
                std::process::exit(2);
            };
            let dst_mac = parse_mac(&value("--dst-mac").expect("--raw needs --dst-mac MAC"));
            let src: Ipv4Addr = value("--src")
                .expect("--raw needs --src IPV4")
                .parse()
                .expect("--src");
            let batch = opt("--batch", 64).clamp(1, 1024) as usize;
            let frames: Vec<Vec<u8>> = (0..flows)
                .map(|i| {
                    udp_frame(
                        iface_mac(&iface),
                        dst_mac,
                        src,
                        *dst.ip(),
                        40000 + i as u16,
                        dst.port(),
                        size,
                    )
                })
                .collect();
            ("frames", raw::send(&iface, &frames, batch, pacer))
        }
        None => ("datagrams", send_udp(dst, size, flows, pacer)),
    };
    let elapsed = result.elapsed.as_secs_f64();
    println!(
        "sent {} {what} ({} errors) in {elapsed:.2} s: {:.0} pps",
        result.sent.sent,
        result.sent.errors,
        result.sent.sent as f64 / elapsed
    );
}

/// Counts and the wall time they took.
struct Outcome {
    sent: Sent,
    elapsed: Duration,
}

/// Decides when to stop and, with a target rate, how long to wait so that the
/// `n`th packet leaves no earlier than `n / pps` seconds after the start.
struct Pacer {
    start: Instant,
    end: Instant,
    pps: u64,
}

impl Pacer {
    fn new(duration: Duration, pps: u64) -> Pacer {
        let start = Instant::now();
        Pacer {
            start,
            end: start + duration,
            pps,
        }
    }

    /// After `sent` packets: `false` once the time is up, otherwise sleeps
    /// until the next packet is due (if paced; never past the end) and
    /// returns `true`.
    fn go_on(&self, sent: u64) -> bool {
        let now = Instant::now();
        if now >= self.end {
            return false;
        }
        if self.pps > 0 {
            let due = self.start + Duration::from_secs_f64(sent as f64 / self.pps as f64);
            let due = due.min(self.end);
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        true
    }

    fn outcome(&self, sent: Sent) -> Outcome {
        Outcome {
            sent,
            elapsed: self.start.elapsed(),
        }
    }
}

/// UDP mode: round-robin over one socket per flow, one `sendto` each.
fn send_udp(dst: SocketAddr, size: usize, flows: usize, pacer: Pacer) -> Outcome {
    let bind = if dst.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let sockets: Vec<UdpSocket> = (0..flows)
        .map(|_| UdpSocket::bind(bind).expect("bind"))
        .collect();
    let payload = vec![0x5a_u8; size];
    let mut n = Sent { sent: 0, errors: 0 };
    loop {
        for s in &sockets {
            if s.send_to(&payload, dst).is_ok() {
                n.sent += 1;
            } else {
                n.errors += 1;
            }
        }
        if n.sent % 1024 < flows as u64 && !pacer.go_on(n.sent) {
            return pacer.outcome(n);
        }
    }
}

/// `aa:bb:cc:dd:ee:ff` as six bytes; exits on anything else.
fn parse_mac(s: &str) -> [u8; 6] {
    let bytes: Vec<u8> = s
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).expect("MAC byte"))
        .collect();
    bytes.try_into().unwrap_or_else(|_| {
        eprintln!("udpgen: {s}: not a MAC address");
        std::process::exit(2)
    })
}

/// The MAC address of `iface` in the current network namespace (sysfs).
fn iface_mac(iface: &str) -> [u8; 6] {
    let path = format!("/sys/class/net/{iface}/address");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        eprintln!("udpgen: {path}: {e}");
        std::process::exit(1)
    });
    parse_mac(text.trim())
}

/// An Ethernet II frame carrying an IPv4 (no options, TTL 64, DF) UDP datagram
/// with `payload` bytes of 0x5a, both checksums filled in.
fn udp_frame(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    payload: usize,
) -> Vec<u8> {
    let udp_len = 8 + payload;
    let ip_len = 20 + udp_len;
    let mut f = Vec::with_capacity(14 + ip_len);
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&0x0800_u16.to_be_bytes());
    // IPv4 header; checksum (bytes 10-11) filled below.
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&(ip_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    let ip_sum = checksum(&[&f[14..34]]);
    f[24..26].copy_from_slice(&ip_sum.to_be_bytes());
    // UDP header and payload; checksum over the pseudo-header, header, payload.
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&(udp_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.resize(14 + ip_len, 0x5a);
    let mut pseudo = [0u8; 12];
    pseudo[..4].copy_from_slice(&src.octets());
    pseudo[4..8].copy_from_slice(&dst.octets());
    pseudo[9] = 17;
    pseudo[10..].copy_from_slice(&(udp_len as u16).to_be_bytes());
    let udp_sum = match checksum(&[&pseudo, &f[34..]]) {
        0 => 0xffff, // 0 means "no checksum" in UDP over IPv4
        s => s,
    };
    f[40..42].copy_from_slice(&udp_sum.to_be_bytes());
    f
}

/// The Internet checksum (RFC 1071) of the concatenation of `parts`; every
/// part but the last must have an even length.
fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum = 0u32;
    for part in parts {
        let mut words = part.chunks_exact(2);
        for w in &mut words {
            sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
        }
        if let [last] = words.remainder() {
            sum += u32::from(*last) << 8;
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Raw mode: `AF_PACKET` socket and `sendmmsg` loop.
mod raw {
    use super::{Outcome, Pacer, Sent};
    use std::ffi::CString;
    use std::io::Error;

    /// Sends `frames` round-robin on `iface`, `batch` per `sendmmsg`, until
    /// the pacer says stop. A partly accepted batch counts what was accepted;
    /// a failed call counts one error (`ENOBUFS` when the device is full).
    pub fn send(iface: &str, frames: &[Vec<u8>], batch: usize, pacer: Pacer) -> Outcome {
        let name = CString::new(iface).expect("interface name");
        // SAFETY: plain libc calls on a socket this function owns; the
        // pointers handed to sendmmsg (addr, iovecs, frames) outlive the calls.
        unsafe {
            let ifindex = libc::if_nametoindex(name.as_ptr());
            if ifindex == 0 {
                fail(&format!("{iface}: {}", Error::last_os_error()));
            }
            // Protocol 0: a send-only socket that receives nothing.
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
            if fd < 0 {
                fail(&format!("AF_PACKET socket: {}", Error::last_os_error()));
            }
            let one: libc::c_int = 1;
            if libc::setsockopt(
                fd,
                libc::SOL_PACKET,
                libc::PACKET_QDISC_BYPASS,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            ) != 0
            {
                eprintln!(
                    "udpgen: PACKET_QDISC_BYPASS: {} (sending through the qdisc)",
                    Error::last_os_error()
                );
            }
            let mut addr: libc::sockaddr_ll = std::mem::zeroed();
            addr.sll_family = libc::AF_PACKET as u16;
            addr.sll_protocol = (libc::ETH_P_IP as u16).to_be();
            addr.sll_ifindex = ifindex as i32;
            addr.sll_halen = 6;
            addr.sll_addr[..6].copy_from_slice(&frames[0][..6]);
            let mut iovs: Vec<libc::iovec> = (0..batch)
                .map(|i| {
                    let f = &frames[i % frames.len()];
                    libc::iovec {
                        iov_base: f.as_ptr() as *mut libc::c_void,
                        iov_len: f.len(),
                    }
                })
                .collect();
            let mut msgs: Vec<libc::mmsghdr> = iovs
                .iter_mut()
                .map(|iov| {
                    let mut m: libc::mmsghdr = std::mem::zeroed();
                    m.msg_hdr.msg_name = (&mut addr as *mut libc::sockaddr_ll).cast();
                    m.msg_hdr.msg_namelen =
                        std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
                    m.msg_hdr.msg_iov = iov;
                    m.msg_hdr.msg_iovlen = 1;
                    m
                })
                .collect();
            let mut n = Sent { sent: 0, errors: 0 };
            // Each batch starts at flow (sent % flows) so that flows stay
            // evenly used when a batch is accepted only in part.
            let mut offset = 0usize;
            loop {
                if offset != 0 {
                    for (i, iov) in iovs.iter_mut().enumerate() {
                        let f = &frames[(offset + i) % frames.len()];
                        iov.iov_base = f.as_ptr() as *mut libc::c_void;
                    }
                }
                let r = libc::sendmmsg(fd, msgs.as_mut_ptr(), batch as libc::c_uint, 0);
                if r < 0 {
                    n.errors += 1;
                } else {
                    n.sent += r as u64;
                    offset = (offset + r as usize) % frames.len();
                }
                if !pacer.go_on(n.sent) {
                    libc::close(fd);
                    return pacer.outcome(n);
                }
            }
        }
    }

    fn fail(msg: &str) -> ! {
        eprintln!("udpgen: {msg}");
        std::process::exit(1)
    }
}
