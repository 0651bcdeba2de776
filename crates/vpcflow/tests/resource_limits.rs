//! Bounded resources, whatever the input or setting (docs/reliability.md):
//! each input that once exhausted memory, descriptors or time runs through the
//! binary under a 1024-descriptor limit and an address-space limit, and must
//! succeed within them with the records it owes.

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

use common::{files_below, gunzip};
use vpcflow_testkit::{hostile, ConfigToml};

/// The descriptor limit most systems give a process.
const MAX_FILES: u64 = 1024;
/// The address space allowed (virtual: thread stacks and allocator arenas
/// count too, so it is above what is resident).
const MAX_ADDRESS_SPACE: u64 = 2 << 30;
/// The most resident memory any run of these tests may reach.
const MAX_RSS_BYTES: u64 = 400 << 20;

/// Runs `vpcflow` under the limits; checks the peak resident memory of every
/// child this test process has waited for so far (getrusage's
/// RUSAGE_CHILDREN is their maximum: an upper bound of this run's).
fn vpcflow_limited(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vpcflow"));
    cmd.args(args).env_remove("VPCFLOW_LOG");
    // SAFETY: only async-signal-safe calls (setrlimit) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            for (resource, value) in [
                (libc::RLIMIT_NOFILE, MAX_FILES),
                (libc::RLIMIT_AS, MAX_ADDRESS_SPACE),
            ] {
                let limit = libc::rlimit {
                    rlim_cur: value,
                    rlim_max: value,
                };
                if libc::setrlimit(resource, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let out = cmd.output().expect("run vpcflow");
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct it is given.
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
        0
    );
    let peak = usage.ru_maxrss as u64 * 1024;
    assert!(
        peak <= MAX_RSS_BYTES,
        "peak resident memory {} MB is above {} MB",
        peak >> 20,
        MAX_RSS_BYTES >> 20
    );
    out
}

fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{}\n{stderr}", out.status);
    stderr
}

/// Log status per record of every file below `dir`: (OK, NODATA, SKIPDATA).
fn statuses(dir: &Path) -> (u64, u64, u64) {
    let mut counts = (0, 0, 0);
    for f in files_below(dir) {
        for line in gunzip(&dir.join(f)).lines().skip(1) {
            match line.rsplit(' ').next() {
                Some("OK") => counts.0 += 1,
                Some("NODATA") => counts.1 += 1,
                Some("SKIPDATA") => counts.2 += 1,
                other => panic!("unexpected status {other:?} in {line}"),
            }
        }
    }
    counts
}

const T0: u64 = 1_700_000_000;
const DAY: u64 = 86_400;

#[test]
fn an_unbounded_nodata_gap_is_refused_naming_the_key() {
    // Accepted before, it made the run hold NODATA records without end
    // (7 GB after 20 s).
    let tmp = tempfile::tempdir().unwrap();
    let cfg = ConfigToml::new()
        .test_flow_log()
        .table("aggregation")
        .set("nodata_max_gap", i64::MAX)
        .write(tmp.path());
    let pcap = tmp.path().join("far.pcap");
    hostile::write_pcap(&pcap, &[T0, T0 + 400 * DAY]).unwrap();
    let out_dir = tmp.path().join("out");
    for args in [
        vec!["check", "--config", cfg.to_str().unwrap()],
        vec![
            "convert",
            pcap.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ],
    ] {
        let out = vpcflow_limited(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(
                "aggregation.nodata_max_gap: 9223372036854775807 s is more than the maximum of 2678400 s"
            ),
            "{stderr}"
        );
    }
}

#[test]
fn the_largest_nodata_gap_runs_within_the_limits() {
    // 30 days of one-minute windows: 43,200 NODATA records, streamed (to
    // stdout here: the files of a gap are the next test's).
    let tmp = tempfile::tempdir().unwrap();
    let cfg = ConfigToml::new()
        .test_flow_log()
        .table("aggregation")
        .set("nodata_max_gap", 31 * DAY)
        .write(tmp.path());
    let pcap = tmp.path().join("month.pcap");
    hostile::write_pcap(&pcap, &[T0, T0 + 30 * DAY]).unwrap();
    let out = vpcflow_limited(&[
        "convert",
        pcap.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--interval",
        "60",
        "--out",
        "-",
        "-q",
    ]);
    ok(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    let status = |s: &str| text.lines().filter(|l| l.ends_with(s)).count() as u64;
    assert_eq!((status(" OK"), status(" SKIPDATA")), (2, 0));
    assert_eq!(status(" NODATA"), 30 * DAY / 60 - 1);
}

#[test]
fn a_week_of_idle_one_minute_windows_fits_in_1024_descriptors() {
    // "Too many open files" before: one open file per 5-minute slot of the
    // whole gap (1,728 of them), nothing published.
    let tmp = tempfile::tempdir().unwrap();
    let cfg = ConfigToml::new()
        .test_flow_log()
        .table("aggregation")
        .set("nodata_max_gap", 7 * DAY)
        .write(tmp.path());
    let pcap = tmp.path().join("week.pcap");
    hostile::write_pcap(&pcap, &[T0, T0 + 6 * DAY]).unwrap();
    let out_dir = tmp.path().join("out");
    ok(&vpcflow_limited(&[
        "convert",
        pcap.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--interval",
        "60",
        "--out",
        out_dir.to_str().unwrap(),
        "-q",
    ]));
    let files = files_below(&out_dir);
    assert_eq!(files.len() as u64, 6 * DAY / 300 + 1);
    let (okay, nodata, skip) = statuses(&out_dir);
    assert_eq!((okay, skip), (2, 0));
    assert_eq!(nodata, 6 * DAY / 60 - 1);
}

#[test]
fn nodata_of_5000_interfaces_is_streamed_not_held() {
    // 1.4 GB peak before: NODATA of every interface and window held at once.
    let tmp = tempfile::tempdir().unwrap();
    let pcapng = tmp.path().join("interfaces.pcapng");
    hostile::write_pcapng_interfaces(&pcapng, 5_000, &[T0, T0 + DAY - 600]).unwrap();
    assert!(std::fs::metadata(&pcapng).unwrap().len() < 200_000);
    let out_dir = tmp.path().join("out");
    ok(&vpcflow_limited(&[
        "convert",
        pcapng.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "-q",
    ]));
    let (okay, nodata, skip) = statuses(&out_dir);
    assert_eq!((okay, skip), (2, 0));
    // 144 ten-minute windows (the second packet's is the 144th): every
    // interface idle in each, but interface 0 in the two with a packet.
    let windows = (T0 + DAY - 600) / 600 - T0 / 600 + 1;
    assert_eq!(nodata, windows * 5_000 - 2);
}

#[test]
fn a_skydive_message_of_millions_of_flows_is_capped_and_counted() {
    // 10 MB `[{},{},…]`: 1.6 GB peak before.
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("huge.jsonl");
    let flows = 3_400_000;
    hostile::write_skydive_empty_flows(&rec, flows).unwrap();
    let out_dir = tmp.path().join("out");
    let stderr = ok(&vpcflow_limited(&[
        "convert",
        "--skydive",
        rec.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]));
    let beyond = flows - 10_000;
    assert!(
        stderr.contains(&format!("{beyond} flows beyond the cap of one message")),
        "{stderr}"
    );
}
