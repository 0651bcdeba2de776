//! pmacct as a second real NetFlow/IPFIX exporter: `pmacctd` reads a
//! capture file (`pcap_savefile`) and its `nfprobe` plugin exports the flows
//! as NetFlow v5, v9 or IPFIX over loopback.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::exporters::{Nfcapd, Tcpdump, Totals};

/// The tools the pmacct tests run besides those of the NetFlow tests.
pub const TOOLS: [&str; 2] = ["pmacctd", "tshark"];

/// Whether the pmacct tests can run here: root, [`TOOLS`] and the NetFlow
/// tests' tools (tcpdump, nfcapd, nfdump); prints why not, and panics under
/// `VPCFLOW_REQUIRE_PMACCT=1` (set by CI, which installs them).
pub fn available(test: &str) -> bool {
    let tools: Vec<&str> = TOOLS
        .iter()
        .chain(&["nfcapd", "nfdump", "tcpdump"])
        .copied()
        .collect();
    let missing = crate::common::missing_root_and(&tools);
    if missing.is_empty() {
        return true;
    }
    if std::env::var("VPCFLOW_REQUIRE_PMACCT").as_deref() == Ok("1") {
        panic!(
            "{test}: needs {} (VPCFLOW_REQUIRE_PMACCT=1)",
            missing.join(", ")
        );
    }
    println!(
        "SKIPPED: {test}: needs {} (apt-get install pmacct tshark nfdump tcpdump; as root)",
        missing.join(", ")
    );
    false
}

/// Runs `pmacctd` on `capture` with the nfprobe plugin exporting NetFlow
/// `version` (5, 9 or 10 for IPFIX) to 127.0.0.1:`port`, until it has read
/// the whole file and exported every flow (it exits at the end of the
/// file, expiring all flows). The error has its exit status and log.
pub fn pmacctd(capture: &Path, port: u16, version: &str, dir: &Path) -> Result<(), String> {
    let config = dir.join(format!("pmacctd-{port}.conf"));
    std::fs::write(
        &config,
        format!(
            "daemonize: false\n\
             pcap_savefile: {}\n\
             plugins: nfprobe\n\
             nfprobe_receiver: 127.0.0.1:{port}\n\
             nfprobe_version: {version}\n",
            capture.display()
        ),
    )
    .unwrap();
    let log = dir.join(format!("pmacctd-{port}.log"));
    // A process group of its own: pmacctd signals its whole group when it
    // shuts down, which would stop the other exports running meanwhile.
    let mut child = Command::new("pmacctd")
        .process_group(0)
        .arg("-f")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start pmacctd");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            // pmacctd 1.7 exits with status 1 when its plugin, told to shut
            // down at the end of the file, is gone before the core looks
            // (a race on a loaded machine): the plugin has exported
            // everything then, which the comparisons check.
            let raced = text.contains("nfprobe ): Shutting down on user request")
                && text.contains("no more plugins active");
            if (status.success() || raced) && !text.contains("ERROR") {
                return Ok(());
            }
            let lines: Vec<&str> = text
                .lines()
                .filter(|l| !l.contains("(RELEASE)") && !l.contains("--build"))
                .collect();
            return Err(format!("pmacctd: {status}: {}", lines.join(" | ")));
        }
        assert!(Instant::now() < deadline, "pmacctd did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Exports `capture` with pmacctd (`version`) to a running nfcapd while
/// tcpdump records the datagrams into `pcap`; returns nfdump's totals of
/// the stream, or why pmacctd failed.
pub fn export(capture: &Path, version: &str, pcap: &Path, dir: &Path) -> Result<Totals, String> {
    let nfcapd = Nfcapd::start(dir);
    let port = nfcapd.port;
    let tcpdump = Tcpdump::start(port, pcap);
    let ok = pmacctd(capture, port, version, dir);
    tcpdump.stop();
    let totals = nfcapd.stop();
    ok.map(|()| totals)
}
