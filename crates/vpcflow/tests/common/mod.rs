//! Helpers shared by the end-to-end tests: running the binary and reading what
//! it wrote.

#![allow(dead_code)] // each test file uses its own subset

pub mod analyzer;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output};
use std::thread;
use std::time::{Duration, Instant};

/// Runs `vpcflow` with `args`.
pub fn vpcflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args(args)
        .env_remove("VPCFLOW_LOG")
        .output()
        .expect("run vpcflow")
}

/// Runs `vpcflow` and fails the test with its stderr unless it succeeds.
pub fn vpcflow_ok(args: &[&str]) -> Output {
    let out = vpcflow(args);
    assert!(
        out.status.success(),
        "vpcflow {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `cmd` and fails the test with its error output unless it succeeds;
/// its standard output.
pub fn stdout_ok(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("run {:?}: {e}", cmd.get_program()));
    assert!(
        out.status.success(),
        "{:?} {:?}: {}: {}",
        cmd.get_program(),
        cmd.get_args().collect::<Vec<_>>(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Sends signal `name` (`TERM`, `INT`, `HUP`, `STOP`, …) to `child` with
/// kill(1).
pub fn signal(child: &Child, name: &str) {
    stdout_ok(Command::new("kill").args([format!("-{name}"), child.id().to_string()]));
}

/// Waits (up to 20 s) for `vpcflow run` in `child` to exit: its exit status
/// and stderr (piped).
pub fn wait_exit(child: &mut Child) -> (ExitStatus, String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status, err);
        }
        assert!(Instant::now() < deadline, "vpcflow run did not stop");
        thread::sleep(Duration::from_millis(50));
    }
}

/// Every regular file below `root`, as paths relative to it, sorted.
pub fn files_below(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// The decompressed text of a `.log.gz` file, checking it is one gzip member.
pub fn gunzip(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let mut single = flate2::read::GzDecoder::new(&bytes[..]);
    let mut text = String::new();
    single.read_to_string(&mut text).unwrap();
    let mut all = flate2::read::MultiGzDecoder::new(&bytes[..]);
    let mut everything = String::new();
    all.read_to_string(&mut everything).unwrap();
    assert_eq!(
        text,
        everything,
        "{} has more than one gzip member",
        path.display()
    );
    text
}

/// The flow log identity flags of tests that compare outputs.
pub const IDENTITY: [&str; 6] = [
    "--account-id",
    "123456789012",
    "--region",
    "eu-west-1",
    "--flow-log-id",
    "fl-0630869f236e76872",
];

/// A synthetic capture of `flows` flows (pcapgen's defaults otherwise),
/// written to `dir/NAME`.
pub fn synthetic_capture(dir: &Path, name: &str, flows: u64) -> PathBuf {
    let path = dir.join(name);
    let config = pcapgen::Config {
        flows,
        ..pcapgen::Config::default()
    };
    pcapgen::generate(config, std::fs::File::create(&path).unwrap()).unwrap();
    path
}

/// What this machine lacks of root and the commands `tools`, root first
/// (empty: the tests that need them can run).
pub fn missing_root_and(tools: &[&str]) -> Vec<String> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let mut missing: Vec<String> = tools
        .iter()
        .filter(|t| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .stdout(std::process::Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        })
        .map(|t| t.to_string())
        .collect();
    if !root {
        missing.insert(0, "root".to_string());
    }
    missing
}

/// The records `vpcflow convert` prints for `capture` with `args`.
pub fn records(capture: &Path, args: &[&str]) -> String {
    let mut all = vec![
        "convert",
        "--quiet",
        capture.to_str().unwrap(),
        "--out",
        "-",
    ];
    all.extend(IDENTITY);
    all.extend(args);
    String::from_utf8(vpcflow_ok(&all).stdout).unwrap()
}

/// A loopback TCP port free at the time of the call.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP response: status code, headers (names lower-cased), body.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    /// The value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` over a new HTTP/1.1 connection to `addr`; `None` when nothing
/// listens there.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<HttpResponse> {
    let mut s = TcpStream::connect(addr).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(HttpResponse {
        status,
        headers,
        body: body.to_string(),
    })
}

/// Scrapes `/metrics` at `addr` until `sample` has `value` (20 s at most);
/// returns that scrape.
pub fn wait_metric(addr: SocketAddr, sample: &str, value: u64) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let text = http_get(addr, "/metrics")
            .map(|r| r.body)
            .unwrap_or_default();
        if metric(&text, sample) == Some(value) {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{sample} never reached {value}:\n{text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The value of `sample` (metric name with labels, as written) in a
/// Prometheus text scrape.
pub fn metric(text: &str, sample: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
}
