//! A real S3-compatible server for the S3 tests: Garage, started on loopback
//! by `../shared/scripts/s3-server-start.sh` (one node) or
//! `s3-cluster-start.sh` (three nodes, replication factor 3), each server on
//! its own ports and data folder, and a client that reads its bucket back.
//!
//! Without the shared scripts or a garage binary the tests say why and are
//! skipped, unless `VPCFLOW_REQUIRE_S3=1` (CI), which makes that a failure.
//! Tests never build garage themselves (that takes half an hour): `.ci/run`
//! installs it.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

mod bucket;

pub use bucket::{BucketClient, StoredObject};

use crate::shared::shared_location;

/// The garage version the shared scripts install.
const GARAGE_VERSION: &str = "2.5.0";

/// The garage binary the shared scripts would use, if it is installed.
fn garage_binary() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let root = std::env::var_os("GARAGE_INSTALL_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("CARGO_HOME").map(PathBuf::from))
        .unwrap_or_else(|| home.join(".cargo"));
    let mut candidates: Vec<PathBuf> = std::env::var_os("GARAGE_BIN")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    candidates.push(root.join("bin/garage"));
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|p| p.join("garage")));
    }
    // Only files are tried: every spawn briefly shares this process's open
    // files (and so their locks) with a child, which tests running in
    // parallel would notice.
    candidates.into_iter().filter(|c| c.is_file()).find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(GARAGE_VERSION))
    })
}

/// The shared scripts folder and the garage binary, or `None` after saying
/// why (a panic when `VPCFLOW_REQUIRE_S3=1`).
fn prerequisites() -> Option<(PathBuf, PathBuf)> {
    let required = std::env::var("VPCFLOW_REQUIRE_S3").as_deref() == Ok("1");
    let scripts = shared_location().join("scripts");
    if !scripts.join("s3-server-start.sh").is_file() {
        assert!(
            !required,
            "VPCFLOW_REQUIRE_S3=1 but ../shared/scripts is missing ({} not found; set VPCFLOW_SHARED)",
            scripts.display()
        );
        eprintln!(
            "SKIPPED: the S3 server scripts of ../shared/scripts are missing ({} not found; set VPCFLOW_SHARED)",
            scripts.display()
        );
        return None;
    }
    let Some(garage) = garage_binary() else {
        assert!(
            !required,
            "VPCFLOW_REQUIRE_S3=1 but garage {GARAGE_VERSION} is not installed (.ci/run installs it)"
        );
        eprintln!(
            "SKIPPED: garage {GARAGE_VERSION} is not installed; run .ci/run once, or \
             `{}/s3-server-start.sh DIR` (builds it, about 30 min)",
            scripts.display()
        );
        return None;
    };
    Some((scripts, garage))
}

/// A base port whose S3, RPC and admin ports (`+0`, `+1`, `+3`, and for a
/// cluster the same at `+10` and `+20`) are free now. Servers of one process
/// take turns through a counter; processes differ by pid.
fn free_base_port(nodes: u16) -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let pid_slot = (std::process::id() % 200) as u16;
    for _ in 0..500 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let base = 20_000 + ((pid_slot * 97 + n * 40) % 40_000);
        let all_free = (0..nodes).all(|node| {
            [0u16, 1, 3]
                .iter()
                .all(|d| TcpListener::bind(("127.0.0.1", base + node * 10 + d)).is_ok())
        });
        if all_free {
            return base;
        }
    }
    panic!("no free ports for a garage server");
}

/// Reads `export NAME=value` lines.
pub(crate) fn parse_exports(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

/// Runs the shell command `cleanup` once this process has exited (what a
/// `static` holds is never dropped).
pub fn when_this_process_exits(cleanup: &str) {
    let pid = std::process::id();
    // The watcher runs in the background of a shell that exits at once.
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "(while kill -0 {pid} 2>/dev/null; do sleep 1; done; {cleanup}) >/dev/null 2>&1 </dev/null &"
        ))
        .status()
        .expect("start the cleanup watcher");
    assert!(status.success());
}

/// `path` quoted for `sh`.
pub fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

/// A garage server (or three-node cluster) with one bucket, stopped and
/// wiped on drop, or when the test process ends if it is never dropped.
pub struct Garage {
    scripts: PathBuf,
    garage: PathBuf,
    data: PathBuf,
    base_port: u16,
    cluster: bool,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL`,
    /// `AWS_REGION`, `S3_BUCKET` (and `S3_ENDPOINTS` for a cluster), as the
    /// start script printed them.
    pub env: BTreeMap<String, String>,
}

impl Garage {
    /// A fresh one-node server with an empty bucket, or `None` when the
    /// prerequisites are missing (see the module documentation).
    pub fn start() -> Option<Garage> {
        Garage::launch(false)
    }

    /// A fresh three-node cluster (replication factor 3) with an empty bucket.
    pub fn start_cluster() -> Option<Garage> {
        Garage::launch(true)
    }

    fn launch(cluster: bool) -> Option<Garage> {
        let (scripts, garage) = prerequisites()?;
        let base_port = free_base_port(if cluster { 3 } else { 1 });
        let data =
            std::env::temp_dir().join(format!("vpcflow-garage-{}-{base_port}", std::process::id()));
        // Left by an earlier process with the same pid that was killed: the
        // start script would reuse its configuration, key and bucket.
        let _ = std::fs::remove_dir_all(&data);
        when_this_process_exits(&format!(
            "{} {} --wipe",
            shell_quote(&scripts.join("s3-server-stop.sh")),
            shell_quote(&data)
        ));
        let mut g = Garage {
            scripts,
            garage,
            data,
            base_port,
            cluster,
            env: BTreeMap::new(),
        };
        g.run_start_script();
        Some(g)
    }

    /// Runs the start script, which starts the nodes that are down (and, the
    /// first time, creates the key and the bucket).
    fn run_start_script(&mut self) {
        let script = if self.cluster {
            "s3-cluster-start.sh"
        } else {
            "s3-server-start.sh"
        };
        let out = Command::new("bash")
            .arg(self.scripts.join(script))
            .arg(&self.data)
            .env("S3_PORT", self.base_port.to_string())
            .env("GARAGE_BIN", &self.garage)
            .env("RUST_LOG", "garage=warn")
            .output()
            .expect("run the garage start script");
        assert!(
            out.status.success(),
            "{script} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        self.env = parse_exports(&String::from_utf8_lossy(&out.stdout));
        for name in [
            "AWS_ENDPOINT_URL",
            "S3_BUCKET",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            assert!(self.env.contains_key(name), "no {name} in {:?}", self.env);
        }
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.env["S3_BUCKET"]
    }

    /// The S3 endpoint (node 1 of a cluster).
    pub fn endpoint(&self) -> &str {
        &self.env["AWS_ENDPOINT_URL"]
    }

    /// The access key id of the test key.
    pub fn key_id(&self) -> &str {
        &self.env["AWS_ACCESS_KEY_ID"]
    }

    /// The secret of the test key.
    pub fn secret(&self) -> &str {
        &self.env["AWS_SECRET_ACCESS_KEY"]
    }

    /// The environment a vpcflow process needs to reach this server.
    pub fn apply_env(&self, cmd: &mut Command) {
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        // Never pick up a developer's own profile or shared files.
        cmd.env("AWS_CONFIG_FILE", self.data.join("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.data.join("no-aws-credentials"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true");
    }

    fn pid_files(&self) -> Vec<PathBuf> {
        if self.cluster {
            (1..=3)
                .map(|n| self.data.join(format!("node{n}/garage.pid")))
                .collect()
        } else {
            vec![self.data.join("garage.pid")]
        }
    }

    /// Kills node `n` (1-based; 1 for a single server) with SIGKILL.
    pub fn kill_node(&self, n: usize) {
        let pid_file = &self.pid_files()[n - 1];
        let pid: i32 = std::fs::read_to_string(pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
        // Wait until the process is gone and its port is free again.
        for _ in 0..100 {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the whole server (every node) with SIGKILL.
    pub fn kill(&self) {
        for n in 1..=self.pid_files().len() {
            self.kill_node(n);
        }
    }

    /// Stops the server cleanly (SIGTERM); its data stays.
    pub fn stop(&self) {
        let out = Command::new("bash")
            .arg(self.scripts.join("s3-server-stop.sh"))
            .arg(&self.data)
            .output()
            .expect("run s3-server-stop.sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the nodes that are down again on the same ports, keeping data,
    /// key and bucket.
    pub fn restart(&mut self) {
        self.run_start_script();
    }

    /// A client of this server with the test key, for reading back what it
    /// holds (and for writing as another exporter would).
    pub fn client(&self) -> BucketClient {
        let region = self
            .env
            .get("AWS_REGION")
            .map_or("us-east-1", String::as_str);
        BucketClient::new(
            self.endpoint(),
            region,
            (self.key_id(), self.secret()),
            self.bucket(),
        )
    }

    /// Every object of the bucket by key.
    pub fn objects(&self) -> BTreeMap<String, StoredObject> {
        self.client().objects()
    }

    /// Writes every object of the bucket below `root` at its key, so the
    /// directory-based checks apply to what the bucket holds; returns how
    /// many there were.
    pub fn download_to(&self, root: &Path) -> usize {
        let objects = self.objects();
        for (key, o) in &objects {
            let path = root.join(key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, &o.body).unwrap();
        }
        objects.len()
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(self.scripts.join("s3-server-stop.sh"))
            .arg(&self.data)
            .arg("--wipe")
            .output();
    }
}
