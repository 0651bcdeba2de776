//! `vpcflow run` restarted in the middle of a Skydive stream: the per-UUID
//! state survives (resent deltas are not counted twice, flows without
//! LastUpdateMetric count only what is new), and unusable state files or a
//! busy state folder are handled at start-up.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::analyzer::{flow, now_ms, restartable_analyzer, store, wait_connections};
use common::{files_below, gunzip, signal, wait_exit};
use serde_json::{json, Value};
use vpcflow_sources::pcap::{read_capture, PcapOptions};
use vpcflow_testkit::{shared_dir, ConfigToml, RecordingConsumer};

/// (src, dst, sport, dport, protocol).
type Tuple = (IpAddr, IpAddr, u16, u16, u8);

/// A Skydive flow being built from a capture's packets.
struct Building {
    uuid: String,
    a: (IpAddr, u16),
    b: (IpAddr, u16),
    protocol: u8,
    /// Cumulative AB packets, AB bytes, BA packets, BA bytes.
    metric: [i64; 4],
    /// What the previous update sent.
    sent: [i64; 4],
    start_ms: i64,
    last_ms: i64,
    updated: bool,
    /// Sent without LastUpdateMetric: vpcflow counts Metric differences.
    metric_only: bool,
}

impl Building {
    fn json(&self, tick_ms: i64) -> Value {
        let m = self.metric;
        let s = self.sent;
        let transport = if self.protocol == 6 { "TCP" } else { "UDP" };
        let mut f = json!({
            "UUID": self.uuid,
            "LayersPath": format!("Ethernet/IPv4/{transport}"),
            "NodeTID": "sip-node",
            "CaptureID": "cap",
            "Network": {"Protocol": "IPV4", "A": self.a.0.to_string(), "B": self.b.0.to_string()},
            "Transport": {"Protocol": transport, "A": self.a.1, "B": self.b.1},
            "Metric": {"ABPackets": m[0], "ABBytes": m[1], "BAPackets": m[2], "BABytes": m[3], "Start": self.start_ms, "Last": self.last_ms},
            "Start": self.start_ms,
            "Last": self.last_ms,
        });
        if !self.metric_only {
            let lum_start = if s == [0; 4] {
                self.start_ms
            } else {
                tick_ms - 1000
            };
            f["LastUpdateMetric"] = json!({"ABPackets": m[0] - s[0], "ABBytes": m[1] - s[1], "BAPackets": m[2] - s[2], "BABytes": m[3] - s[3], "Start": lum_start, "Last": tick_ms});
        }
        f
    }
}

/// The messages of an analyzer watching the capture: a flow table updated
/// at each whole second, each changed flow sent with its cumulative Metric
/// and (every other flow) its LastUpdateMetric; every message starts with
/// the previous message's flows again (Skydive's stale resends). Returns the
/// messages and, per message, the UUIDs of the Metric-only flows it updates.
fn skydive_stream(c: &RecordingConsumer) -> (Vec<String>, Vec<Vec<String>>) {
    let mut table: Vec<Building> = Vec::new();
    let mut index: BTreeMap<Tuple, usize> = BTreeMap::new();
    let mut updates = c.updates.clone();
    updates.sort_by_key(|u| u.last);
    let mut messages = Vec::new();
    let mut metric_only_updates = Vec::new();
    let mut previous: Vec<Value> = Vec::new();
    let mut flush = |table: &mut Vec<Building>, tick: i64| {
        let mut fresh = Vec::new();
        let mut metric_only = Vec::new();
        for b in table.iter_mut().filter(|b| b.updated) {
            fresh.push(b.json(tick));
            if b.metric_only {
                metric_only.push(b.uuid.clone());
            }
            b.sent = b.metric;
            b.updated = false;
        }
        let mut flows = std::mem::take(&mut previous);
        flows.extend(fresh.iter().cloned());
        previous = fresh;
        messages.push(
            json!({"Namespace": "flow", "Type": "store", "UUID": "m", "Status": 200, "Obj": flows})
                .to_string(),
        );
        metric_only_updates.push(metric_only);
    };
    let mut tick: Option<i64> = None;
    for u in &updates {
        assert!(matches!(u.key.protocol, 6 | 17), "{u:?}");
        let at = (u.last / 1_000_000) as i64;
        let this_tick = (at / 1000 + 1) * 1000;
        if tick.is_some_and(|t| this_tick > t) {
            flush(&mut table, tick.unwrap());
        }
        tick = Some(this_tick);
        let k = &u.key;
        let fwd = (k.src, k.dst, k.src_port, k.dst_port, k.protocol);
        let rev = (k.dst, k.src, k.dst_port, k.src_port, k.protocol);
        let (i, forward) = match (index.get(&fwd), index.get(&rev)) {
            (Some(&i), _) => (i, true),
            (None, Some(&i)) => (i, false),
            (None, None) => {
                let n = table.len();
                table.push(Building {
                    uuid: format!("flow-{n}"),
                    a: (k.src, k.src_port),
                    b: (k.dst, k.dst_port),
                    protocol: k.protocol,
                    metric: [0; 4],
                    sent: [0; 4],
                    start_ms: at,
                    last_ms: at,
                    updated: false,
                    metric_only: n % 2 == 1,
                });
                index.insert(fwd, n);
                (n, true)
            }
        };
        let b = &mut table[i];
        b.last_ms = b.last_ms.max(at);
        let slot = if forward { 0 } else { 2 };
        b.metric[slot] += u.packets as i64;
        b.metric[slot + 1] += u.bytes as i64 + 14 * u.packets as i64;
        b.updated = true;
    }
    if let Some(t) = tick {
        flush(&mut table, t);
    }
    (messages, metric_only_updates)
}

/// The truth's packets and bytes per 5-tuple.
fn truth(path: &Path) -> BTreeMap<Tuple, (u64, u64)> {
    let t: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for e in t["totals"].as_array().unwrap() {
        let tuple = (
            e["src"].as_str().unwrap().parse().unwrap(),
            e["dst"].as_str().unwrap().parse().unwrap(),
            e["sport"].as_u64().unwrap() as u16,
            e["dport"].as_u64().unwrap() as u16,
            e["proto"].as_u64().unwrap() as u8,
        );
        out.insert(
            tuple,
            (e["packets"].as_u64().unwrap(), e["bytes"].as_u64().unwrap()),
        );
    }
    out
}

/// Packets and bytes per 5-tuple in every file below `out` (default format).
fn written(out: &Path) -> BTreeMap<Tuple, (u64, u64)> {
    let mut sums = BTreeMap::new();
    if !out.is_dir() {
        return sums;
    }
    for f in files_below(out) {
        if f.starts_with(".vpcflow-staging") {
            continue;
        }
        for line in gunzip(&out.join(f)).lines().skip(1) {
            let v: Vec<&str> = line.split(' ').collect();
            if v[13] != "OK" {
                continue;
            }
            let tuple = (
                v[3].parse().unwrap(),
                v[4].parse().unwrap(),
                v[5].parse().unwrap(),
                v[6].parse().unwrap(),
                v[7].parse().unwrap(),
            );
            let e = sums.entry(tuple).or_insert((0, 0));
            e.0 += v[8].parse::<u64>().unwrap();
            e.1 += v[9].parse::<u64>().unwrap();
        }
    }
    sums
}

fn packets(m: &BTreeMap<Tuple, (u64, u64)>) -> u64 {
    m.values().map(|v| v.0).sum()
}

/// The configuration: analyzer on `port`, files below DIR/out, state in
/// DIR/state.
fn config(dir: &Path, port: u16, flow_log_id: &str) -> PathBuf {
    config_toml(dir, port, flow_log_id, 60).write_as(&dir.join(format!("{flow_log_id}.toml")))
}

/// [`config`] with the state written every `save_interval` seconds.
fn config_toml(dir: &Path, port: u16, flow_log_id: &str, save_interval: u64) -> ConfigToml {
    ConfigToml::new()
        .table("flow_log")
        .set("account_id", "123456789012")
        .set("region", "eu-west-1")
        .set("flow_log_id", flow_log_id)
        .set("interval", 60)
        .table("output")
        .set("out", dir.join("out"))
        .without_nodata()
        .table("skydive")
        .set("idle_delay", 120)
        .set("state_save_interval", save_interval)
        .skydive_analyzer(port)
        .set("host_id", "vpcflow-test")
        .table("state")
        .set("dir", dir.join("state"))
}

fn start(config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args(["run", "--log-level", "info", "--config"])
        .arg(config)
        .env_remove("VPCFLOW_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// SIGTERM, then the exit status must be 0: the stderr.
fn stop(mut child: Child) -> String {
    signal(&child, "TERM");
    let (status, stderr) = wait_exit(&mut child);
    assert!(status.success(), "{status}: {stderr}");
    stderr
}

/// Waits until the files below `out` hold `expected` packets (or more).
fn wait_for_packets(out: &Path, expected: u64) {
    wait_for_packets_within(out, expected, Duration::from_secs(30));
}

/// [`wait_for_packets`], waiting up to `limit`.
fn wait_for_packets_within(out: &Path, expected: u64, limit: Duration) {
    let deadline = Instant::now() + limit;
    while packets(&written(out)) < expected {
        assert!(
            Instant::now() < deadline,
            "{} of {expected} packets written",
            packets(&written(out))
        );
        thread::sleep(Duration::from_millis(100));
    }
}

const FLOW_LOG: &str = "fl-0630869f236e76872";

#[test]
fn a_restart_in_the_middle_of_the_stream_counts_every_packet_once() {
    let Some(shared) = shared_dir() else { return };
    for name in [
        "suricata-sip-method",
        "suricata-smb-length-5770",
        "suricata-output-multi-eve-sll",
    ] {
        restart_mid_stream(&shared, name);
    }
}

/// The capture `name` as an analyzer's stream, cut in the middle by a
/// SIGTERM and a restart: the files hold the capture's truth.
fn restart_mid_stream(shared: &Path, name: &str) {
    let pcap = shared.join("pcaps").join(format!("{name}.pcap"));
    let truth = truth(&shared.join("pcaps").join(format!("{name}.truth.json")));
    let mut c = RecordingConsumer::default();
    read_capture(&pcap, &PcapOptions::default(), &mut c, &mut |_| {}).unwrap();
    let (messages, metric_only) = skydive_stream(&c);
    let cut = messages.len() / 2;
    // The cut is worth testing: Metric-only flows updated on both sides of
    // it, and the first message after it resends the one before it.
    let before: Vec<&String> = metric_only[..cut].iter().flatten().collect();
    let crossing = metric_only[cut..]
        .iter()
        .flatten()
        .filter(|u| before.contains(u))
        .count();
    assert!(crossing > 0, "{name}: no Metric-only flow crosses the cut");
    assert!(messages[cut].contains(r#""LastUpdateMetric""#));

    let dir = tempfile::tempdir().unwrap();
    let (port, tx, connections, server) = restartable_analyzer();
    let config = config(dir.path(), port, FLOW_LOG);
    let out = dir.path().join("out");

    let first = start(&config);
    wait_connections(&connections, 1);
    for m in &messages[..cut] {
        tx.send(m.clone()).unwrap();
    }
    // Everything sent before the cut, each delta once (the resends are
    // recognised within the run).
    let mut upto_cut = RecordingConsumer::default();
    let mut conv = vpcflow_sources::skydive::Converter::new(Default::default());
    for m in &messages[..cut] {
        conv.payload(
            &vpcflow_sources::skydive::parse_json(m.as_bytes()).unwrap(),
            &mut upto_cut,
        );
    }
    wait_for_packets(&out, conv.stats().packets);
    let stderr = stop(first);
    assert!(
        stderr.contains(&format!("read      {cut} messages")),
        "{stderr}"
    );
    assert!(stderr.contains("Skydive state written to"), "{stderr}");
    assert!(dir.path().join("state/skydive-state.bin").is_file());

    let second = start(&config);
    wait_connections(&connections, 2);
    for m in &messages[cut..] {
        tx.send(m.clone()).unwrap();
    }
    let total: u64 = truth.values().map(|v| v.0).sum();
    wait_for_packets(&out, total);
    let stderr = stop(second);
    let rest = messages.len() - cut;
    assert!(
        stderr.contains(&format!("read      {rest} messages")),
        "{stderr}"
    );
    assert!(stderr.contains("Skydive state restored from"), "{stderr}");
    drop(tx);
    server.join().unwrap();

    // Per 5-tuple: exactly the truth, nothing above, nothing below.
    let written = written(&out);
    let mut wrong = Vec::new();
    for (tuple, t) in &truth {
        let w = written.get(tuple).copied().unwrap_or_default();
        if w != *t {
            wrong.push(format!("{tuple:?}: written {w:?}, truth {t:?}"));
        }
    }
    for tuple in written.keys().filter(|t| !truth.contains_key(t)) {
        wrong.push(format!("{tuple:?}: written, not in the truth"));
    }
    assert!(
        wrong.is_empty(),
        "{name}: {} five-tuples differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn unusable_state_files_are_set_aside_and_the_daemon_runs() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let file = state.join("skydive-state.bin");
    let aside = state.join("skydive-state.bin.rejected");
    std::fs::write(&file, b"VPCFSKY\0 cut short").unwrap();
    let (port, tx, connections, server) = restartable_analyzer();

    // A damaged file: one warning naming it and the reason; the run goes on.
    let daemon = start(&config(dir.path(), port, FLOW_LOG));
    wait_connections(&connections, 1);
    tx.send(store(&[flow("a", "10.0.0.1", 3, now_ms() - 3_600_000)]))
        .unwrap();
    wait_for_packets(&dir.path().join("out"), 3);
    let stderr = stop(daemon);
    assert!(stderr.contains("WARN"), "{stderr}");
    assert!(
        stderr.contains(&format!("Skydive state {} ignored", file.display())),
        "{stderr}"
    );
    assert!(stderr.contains("truncated"), "{stderr}");
    assert_eq!(std::fs::read(&aside).unwrap(), b"VPCFSKY\0 cut short");
    assert!(file.is_file(), "a new state was written at the stop");

    // A state of another configuration (another flow log): ignored with
    // the reason, set aside.
    let daemon = start(&config(dir.path(), port, "fl-0123456789abcdef0"));
    wait_connections(&connections, 2);
    tx.send(store(&[flow("b", "10.0.0.2", 2, now_ms() - 3_600_000)]))
        .unwrap();
    wait_for_packets(&dir.path().join("out"), 5);
    let stderr = stop(daemon);
    assert!(
        stderr.contains("written for another configuration"),
        "{stderr}"
    );
    assert!(
        stderr.contains(FLOW_LOG),
        "the other identity is named: {stderr}"
    );
    drop(tx);
    server.join().unwrap();
}

#[test]
fn a_second_daemon_on_the_same_state_folder_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let (port, tx, connections, server) = restartable_analyzer();
    let config = config(dir.path(), port, FLOW_LOG);
    let first = start(&config);
    // Connected: the state folder was locked before.
    wait_connections(&connections, 1);
    let second = common::vpcflow(&["run", "--config", config.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{err}");
    assert!(err.contains("state.dir"), "{err}");
    assert!(err.contains("in use by another vpcflow process"), "{err}");
    assert!(
        err.contains(dir.path().join("state").to_str().unwrap()),
        "{err}"
    );
    stop(first);
    drop(tx);
    server.join().unwrap();
}

#[test]
fn the_state_saved_while_running_survives_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let (port, tx, connections, server) = restartable_analyzer();
    let config = config_toml(dir.path(), port, FLOW_LOG, 1).write_as(&dir.path().join("kill.toml"));
    let out = dir.path().join("out");
    let state = dir.path().join("state/skydive-state.bin");
    let sent = flow("a", "10.0.0.1", 3, now_ms() - 3_600_000);

    let mut first = start(&config);
    wait_connections(&connections, 1);
    tx.send(store(std::slice::from_ref(&sent))).unwrap();
    wait_for_packets(&out, 3);
    // The periodic save, at least one second after the flow was counted.
    let counted = std::time::SystemTime::now();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::metadata(&state)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t > counted)
    {
        assert!(Instant::now() < deadline, "no state written while running");
        thread::sleep(Duration::from_millis(100));
    }
    signal(&first, "KILL");
    let _ = first.wait();

    // The analyzer resends the delta after the restart: not counted again.
    let second = start(&config);
    wait_connections(&connections, 2);
    tx.send(store(&[
        sent,
        flow("b", "10.0.0.2", 2, now_ms() - 3_600_000),
    ]))
    .unwrap();
    // The journal restored the clocks: these hour-old flows are late input,
    // whose window closes when event time next crosses a window boundary
    // (up to a minute).
    wait_for_packets_within(&out, 5, Duration::from_secs(90));
    let stderr = stop(second);
    assert!(stderr.contains("Skydive state restored from"), "{stderr}");
    assert!(stderr.contains("skipped   1 repeated deltas"), "{stderr}");
    drop(tx);
    server.join().unwrap();
    assert_eq!(packets(&written(&out)), 5);
}

/// A small random number generator for cut points (its seed is printed, so
/// a failure can be replayed with `VPCFLOW_CRASH_SEED`).
struct Lcg(u64);

impl Lcg {
    fn seeded() -> Lcg {
        let seed = std::env::var("VPCFLOW_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| now_ms() as u64);
        eprintln!("crash test seed {seed} (VPCFLOW_CRASH_SEED={seed} replays it)");
        Lcg(seed)
    }

    /// A number in `low..high`.
    fn range(&mut self, low: usize, high: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        low + (self.0 >> 33) as usize % (high - low).max(1)
    }
}

/// [`config_toml`] with the durability journal synced every 0.2 s.
fn crash_config(dir: &Path, port: u16) -> PathBuf {
    config_toml(dir, port, FLOW_LOG, 60)
        .table("durability")
        .set("sync_interval", vpcflow_testkit::RawToml("0.2"))
        .write_as(&dir.join("crash.toml"))
}

/// The capture `name` as a live stream of the last minutes (its windows and
/// files are still open when vpcflow is killed), cut at random points by
/// SIGKILLs, one of them while the journal is being replayed: the files
/// hold exactly the capture's truth, as the undisturbed run does.
fn sigkills_mid_stream(shared: &Path, name: &str, rng: &mut Lcg) {
    let pcap = shared.join("pcaps").join(format!("{name}.pcap"));
    let truth = truth(&shared.join("pcaps").join(format!("{name}.truth.json")));
    let mut c = RecordingConsumer::default();
    read_capture(&pcap, &PcapOptions::default(), &mut c, &mut |_| {}).unwrap();
    // Moved to end a few seconds ago: the windows of its last two minutes
    // (`idle_delay`) are open until the final stop.
    let last = c.updates.iter().map(|u| u.last).max().unwrap();
    let shift = (now_ms() as u64 - 5_000) * 1_000_000 - last;
    for u in &mut c.updates {
        u.first += shift;
        u.last += shift;
    }
    let (messages, _) = skydive_stream(&c);
    assert!(messages.len() >= 4, "{name}: {} messages", messages.len());
    let k1 = rng.range(1, messages.len() - 2);
    let k2 = rng.range(k1 + 1, messages.len() - 1);
    eprintln!(
        "{name}: {} messages, SIGKILL after {k1} and {k2}",
        messages.len()
    );

    let dir = tempfile::tempdir().unwrap();
    let (port, tx, connections, server) = restartable_analyzer();
    let config = crash_config(dir.path(), port);
    let out = dir.path().join("out");
    let mut accepted = 0;
    let connected = |n: usize| connections.load(std::sync::atomic::Ordering::SeqCst) >= n;
    for upto in [k1, k2] {
        let before = connections.load(std::sync::atomic::Ordering::SeqCst);
        let mut daemon = start(&config);
        wait_connections(&connections, before + 1);
        for m in &messages[accepted..upto] {
            tx.send(m.clone()).unwrap();
        }
        accepted = upto;
        // Received, then synced (ten sync intervals and more).
        thread::sleep(Duration::from_secs(3));
        signal(&daemon, "KILL");
        let _ = daemon.wait();
        // Killed again while it replays the journal (or just after).
        let mut replaying = start(&config);
        thread::sleep(Duration::from_millis(rng.range(0, 150) as u64));
        signal(&replaying, "KILL");
        let _ = replaying.wait();
        // A connection it may have made is over before the next start.
        thread::sleep(Duration::from_millis(300));
    }
    let before = connections.load(std::sync::atomic::Ordering::SeqCst);
    let last = start(&config);
    wait_connections(&connections, before + 1);
    assert!(connected(before + 1));
    for m in &messages[accepted..] {
        tx.send(m.clone()).unwrap();
    }
    thread::sleep(Duration::from_secs(2));
    let stderr = stop(last);
    assert!(stderr.contains("journal replayed"), "{stderr}");
    drop(tx);
    server.join().unwrap();

    let written = written(&out);
    let mut wrong = Vec::new();
    for (tuple, t) in &truth {
        let w = written.get(tuple).copied().unwrap_or_default();
        if w != *t {
            wrong.push(format!("{tuple:?}: written {w:?}, truth {t:?}"));
        }
    }
    for tuple in written.keys().filter(|t| !truth.contains_key(t)) {
        wrong.push(format!("{tuple:?}: written, not in the truth"));
    }
    assert!(
        wrong.is_empty(),
        "{name} (cuts {k1}, {k2}): {} five-tuples differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // A clean stop leaves no journal to replay.
    let journal: Vec<_> = std::fs::read_dir(dir.path().join("state/journal"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".wal"))
        .collect();
    assert!(journal.is_empty(), "{journal:?}");
}

#[test]
fn sigkills_at_random_points_of_a_live_stream_lose_nothing_synced_and_count_nothing_twice() {
    let Some(shared) = shared_dir() else { return };
    let mut rng = Lcg::seeded();
    for name in ["suricata-sip-method", "suricata-smb-length-5770"] {
        sigkills_mid_stream(&shared, name, &mut rng);
    }
}
