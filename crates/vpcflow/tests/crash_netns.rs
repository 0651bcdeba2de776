//! `vpcflow run` capturing live traffic in a network namespace, killed with
//! SIGKILL at random moments (and once while it replays its journal): after
//! the restarts, the records hold every packet accepted more than one sync
//! interval before each kill, once, as an undisturbed run does.
//!
//! Needs root and `ip` (iproute2) and `ping`; without them the test prints
//! `SKIPPED:` and passes, except under `CI=true`, where it must run.

mod common;
#[path = "common/netns.rs"]
#[allow(dead_code)]
mod netns;

use std::thread;
use std::time::Duration;

use common::signal;
use netns::{can_run, config, records, show, start, stop, Netns};
use vpcflow_testkit::RawToml;

const FORMAT: &str = "${version} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}";

/// Random delays (the seed is printed; `VPCFLOW_CRASH_SEED` replays it).
struct Lcg(u64);

impl Lcg {
    fn seeded() -> Lcg {
        let seed = std::env::var("VPCFLOW_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("crash test seed {seed} (VPCFLOW_CRASH_SEED={seed} replays it)");
        Lcg(seed)
    }

    fn millis(&mut self, low: u64, high: u64) -> Duration {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        Duration::from_millis(low + (self.0 >> 33) % (high - low))
    }
}

/// ICMP packets and bytes from `src` to `dst` over every record.
fn icmp(rows: &[Vec<String>], src: &str, dst: &str) -> (u64, u64) {
    rows.iter()
        .filter(|r| r[12] == "OK" && r[2] == src && r[3] == dst && r[6] == "1")
        .fold((0, 0), |(p, b), r| {
            (
                p + r[7].parse::<u64>().unwrap(),
                b + r[8].parse::<u64>().unwrap(),
            )
        })
}

#[test]
fn sigkills_of_a_live_capture_lose_nothing_synced_and_count_nothing_twice() {
    if !can_run(
        "sigkills_of_a_live_capture_lose_nothing_synced_and_count_nothing_twice",
        &["ip", "ping"],
    ) {
        return;
    }
    let mut rng = Lcg::seeded();
    let n = Netns::new("10.78.0", "fd78::");
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), FORMAT)
        .array_entry("capture.interface")
        .set("name", &n.va)
        .table("durability")
        .set("sync_interval", RawToml("0.2"))
        .write(dir.path());
    let (a, b) = ("10.78.0.1", "10.78.0.2");
    // (count, payload size) of each round of pings; the last round ends
    // with a SIGTERM, every other with a SIGKILL.
    let rounds = [(4u64, 56u64), (3, 200), (5, 120), (2, 1000)];
    let mut expected = (0, 0);
    for (i, &(count, size)) in rounds.iter().enumerate() {
        let daemon = start(&n, &n.a, &cfg);
        n.run(&n.a, &format!("ping -n -q -c {count} -i 0.1 -s {size} {b}"));
        expected.0 += count;
        expected.1 += count * (20 + 8 + size);
        if i == rounds.len() - 1 {
            thread::sleep(Duration::from_millis(500));
            stop(daemon);
            break;
        }
        // Accepted, then synced at least twice, at a random moment after.
        thread::sleep(rng.millis(600, 1_600));
        let mut daemon = daemon;
        signal(&daemon, "KILL");
        let _ = daemon.wait();
        if i == 1 {
            // Killed again while it replays its journal.
            let mut replaying = std::process::Command::new("ip")
                .args(["netns", "exec", &n.a, env!("CARGO_BIN_EXE_vpcflow")])
                .args(["run", "--config", cfg.to_str().unwrap()])
                .env("VPCFLOW_LOG", "warn")
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            thread::sleep(rng.millis(1, 200));
            signal(&replaying, "KILL");
            let _ = replaying.wait();
        }
    }
    let rows = records(&dir.path().join("out"));
    assert_eq!(icmp(&rows, a, b), expected, "{}", show(&rows));
    assert_eq!(icmp(&rows, b, a), expected, "{}", show(&rows));
}
