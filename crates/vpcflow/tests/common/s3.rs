//! A real S3-compatible server for the end-to-end tests: Garage, started on
//! loopback by `../shared/scripts/s3-server-start.sh` (one node) or
//! `s3-cluster-start.sh` (three nodes, replication factor 3), each test on
//! its own ports and data folder. The bucket is read back with the AWS SDK.
//!
//! Without the shared scripts or a garage binary the tests say why and are
//! skipped, unless `VPCFLOW_REQUIRE_S3=1` (CI), which makes that a failure.
//! Tests never build garage themselves (that takes half an hour): `.ci/run`
//! installs it.

#![allow(dead_code)] // each test file uses its own subset

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::Client;

use crate::common::shared_dir;

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
    candidates.into_iter().find(|c| {
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
    let scripts = shared_dir().map(|d| d.join("scripts"));
    let Some(scripts) = scripts.filter(|s| s.join("s3-server-start.sh").is_file()) else {
        assert!(
            !required,
            "VPCFLOW_REQUIRE_S3=1 but ../shared/scripts is missing"
        );
        eprintln!("SKIPPED: the S3 server scripts of ../shared/scripts are missing");
        return None;
    };
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
/// cluster the same at `+10` and `+20`) are free now. Tests of one process
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
fn parse_exports(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

/// A garage server (or three-node cluster) of one test, stopped and wiped on drop.
pub struct Garage {
    scripts: PathBuf,
    garage: PathBuf,
    dir: tempfile::TempDir,
    base_port: u16,
    cluster: bool,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL`,
    /// `AWS_REGION`, `S3_BUCKET` (and `S3_ENDPOINTS` for a cluster).
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
        let dir = tempfile::Builder::new()
            .prefix("vpcflow-garage-")
            .tempdir()
            .unwrap();
        let base_port = free_base_port(if cluster { 3 } else { 1 });
        let mut g = Garage {
            scripts,
            garage,
            dir,
            base_port,
            cluster,
            env: BTreeMap::new(),
        };
        g.run_start_script();
        Some(g)
    }

    fn run_start_script(&mut self) {
        let script = if self.cluster {
            "s3-cluster-start.sh"
        } else {
            "s3-server-start.sh"
        };
        let out = Command::new("bash")
            .arg(self.scripts.join(script))
            .arg(self.dir.path())
            .env("S3_PORT", self.base_port.to_string())
            .env("GARAGE_BIN", &self.garage)
            .env("RUST_LOG", "garage=warn")
            .output()
            .expect("run the garage start script");
        assert!(
            out.status.success(),
            "{script} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.env = parse_exports(&String::from_utf8_lossy(&out.stdout));
        assert!(
            self.env.contains_key("AWS_ENDPOINT_URL"),
            "no endpoint in {:?}",
            self.env
        );
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.env["S3_BUCKET"]
    }

    /// The S3 endpoint (node 1 of a cluster).
    pub fn endpoint(&self) -> &str {
        &self.env["AWS_ENDPOINT_URL"]
    }

    /// The environment a vpcflow process needs to reach this server.
    pub fn apply_env(&self, cmd: &mut Command) {
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        // Never pick up a developer's own profile or shared files.
        cmd.env("AWS_CONFIG_FILE", self.dir.path().join("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.dir.path().join("no-aws-credentials"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true");
    }

    fn pid_files(&self) -> Vec<PathBuf> {
        if self.cluster {
            (1..=3)
                .map(|n| self.dir.path().join(format!("node{n}/garage.pid")))
                .collect()
        } else {
            vec![self.dir.path().join("garage.pid")]
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

    /// Starts the nodes that are down again, keeping data, key and bucket.
    pub fn restart(&mut self) {
        self.run_start_script();
    }

    /// A client for reading the bucket back.
    fn client(&self, runtime: &tokio::runtime::Runtime) -> Client {
        let _guard = runtime.enter();
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.env["AWS_REGION"].clone()))
            .endpoint_url(self.endpoint())
            .force_path_style(true)
            .credentials_provider(Credentials::new(
                &self.env["AWS_ACCESS_KEY_ID"],
                &self.env["AWS_SECRET_ACCESS_KEY"],
                None,
                None,
                "test",
            ))
            .build();
        Client::from_conf(config)
    }

    /// Every object of the bucket: key → (body, headers of a HEAD request).
    pub fn objects(&self) -> BTreeMap<String, StoredObject> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = self.client(&runtime);
        runtime.block_on(async {
            let mut out = BTreeMap::new();
            let mut pages = client
                .list_objects_v2()
                .bucket(self.bucket())
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.expect("list the bucket");
                for o in page.contents() {
                    let key = o.key().unwrap().to_string();
                    let got = client
                        .get_object()
                        .bucket(self.bucket())
                        .key(&key)
                        .send()
                        .await
                        .expect("get an object");
                    let content_type = got.content_type().map(str::to_string);
                    let content_encoding = got.content_encoding().map(str::to_string);
                    let body = got.body.collect().await.unwrap().into_bytes().to_vec();
                    out.insert(
                        key,
                        StoredObject {
                            body,
                            content_type,
                            content_encoding,
                        },
                    );
                }
            }
            out
        })
    }

    /// Writes every object of the bucket below `root` at its key, so the
    /// directory-based checks apply to what the bucket holds.
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
            .arg(self.dir.path())
            .output();
    }
}

/// One object as read back.
#[derive(Debug, Clone)]
pub struct StoredObject {
    /// Its bytes.
    pub body: Vec<u8>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Content-Encoding`.
    pub content_encoding: Option<String>,
}
