//! The stand-in for CloudWatch Logs and Firehose: moto in server mode, a
//! mock of the AWS APIs (no open-source server implements these two),
//! started on loopback by `../shared/scripts/s3-server-start.sh` with
//! `S3_SERVER=moto`. It checks the wire protocol, not AWS's limits: vpcflow
//! enforces those itself and unit-tests them.
//!
//! Tests talk to it from Python (boto3, and `flowlogs-reader` as the real
//! consumer) in the venv the script installs moto into. Without the
//! scripts, the venv or `flowlogs_reader` in it, the tests say why and are
//! skipped, unless `VPCFLOW_REQUIRE_MOTO=1` (CI: `.ci/run` installs them),
//! which makes that a failure.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::garage::{parse_exports, shell_quote, when_this_process_exits};
use crate::shared::shared_location;

/// The venv the shared scripts install moto into.
fn venv() -> PathBuf {
    std::env::var_os("MOTO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/s3-moto-venv")
        })
}

/// The scripts folder and the venv's python, or `None` after saying why (a
/// panic when `VPCFLOW_REQUIRE_MOTO=1`).
fn prerequisites() -> Option<(PathBuf, PathBuf)> {
    let required = std::env::var("VPCFLOW_REQUIRE_MOTO").as_deref() == Ok("1");
    let skip = |why: String| {
        assert!(
            !required,
            "VPCFLOW_REQUIRE_MOTO=1 but {why} (.ci/run installs it)"
        );
        eprintln!("SKIPPED: {why}; run .ci/run once, or `S3_SERVER=moto ../shared/scripts/s3-server-start.sh DIR` and `$MOTO_VENV/bin/pip install flowlogs-reader`");
    };
    let scripts = shared_location().join("scripts");
    if !scripts.join("s3-server-start.sh").is_file() {
        skip(format!(
            "the shared scripts are missing ({} not found; set VPCFLOW_SHARED)",
            scripts.display()
        ));
        return None;
    }
    let venv = venv();
    let python = venv.join("bin/python");
    if !venv.join("bin/moto_server").is_file() {
        skip(format!("moto is not installed in {}", venv.display()));
        return None;
    }
    let reader = Command::new(&python)
        .args(["-c", "import flowlogs_reader, boto3"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !reader {
        skip(format!(
            "flowlogs-reader is not installed in {}",
            venv.display()
        ));
        return None;
    }
    Some((scripts, python))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A moto server, stopped and wiped when the test process ends.
pub struct Moto {
    scripts: PathBuf,
    python: PathBuf,
    data: PathBuf,
    port: u16,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL`,
    /// `AWS_REGION`, as the start script printed them.
    pub env: BTreeMap<String, String>,
}

impl Moto {
    /// A fresh server, or `None` when the prerequisites are missing (see
    /// the module documentation).
    pub fn start() -> Option<Moto> {
        let (scripts, python) = prerequisites()?;
        let port = free_port();
        let data = std::env::temp_dir().join(format!("vpcflow-moto-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        when_this_process_exits(&format!(
            "{} {} --wipe",
            shell_quote(&scripts.join("s3-server-stop.sh")),
            shell_quote(&data)
        ));
        let mut moto = Moto {
            scripts,
            python,
            data,
            port,
            env: BTreeMap::new(),
        };
        moto.run_start_script();
        Some(moto)
    }

    fn run_start_script(&mut self) {
        let out = Command::new("bash")
            .arg(self.scripts.join("s3-server-start.sh"))
            .arg(&self.data)
            .env("S3_SERVER", "moto")
            .env("S3_PORT", self.port.to_string())
            .output()
            .expect("run s3-server-start.sh");
        assert!(
            out.status.success(),
            "s3-server-start.sh (moto) failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        self.env = parse_exports(&String::from_utf8_lossy(&out.stdout));
        assert!(self.env.contains_key("AWS_ENDPOINT_URL"), "{:?}", self.env);
    }

    /// The endpoint URL of every mocked service.
    pub fn endpoint(&self) -> &str {
        &self.env["AWS_ENDPOINT_URL"]
    }

    /// The environment a vpcflow process (or the Python helpers) needs to
    /// reach this server, and nothing of the developer's own AWS setup.
    pub fn apply_env(&self, cmd: &mut Command) {
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.env("AWS_CONFIG_FILE", self.data.join("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.data.join("no-aws-credentials"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true");
    }

    /// Runs the Python `script` (boto3 and flowlogs_reader importable, the
    /// server's environment set) with `args`; its stdout. Panics when it
    /// fails.
    pub fn python(&self, script: &str, args: &[&str]) -> String {
        let mut cmd = Command::new(&self.python);
        cmd.arg("-").args(args);
        self.apply_env(&mut cmd);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start python");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "python failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Kills the server (SIGKILL); its state is lost (moto keeps it in
    /// memory).
    pub fn kill(&self) {
        let pid_file = self.data.join("moto.pid");
        let Ok(pid) = std::fs::read_to_string(&pid_file) else {
            return;
        };
        let pid = pid.trim().to_string();
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
        for _ in 0..100 {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_file(pid_file);
    }

    /// Starts the server again on the same port (empty).
    pub fn restart(&mut self) {
        self.run_start_script();
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }
}
