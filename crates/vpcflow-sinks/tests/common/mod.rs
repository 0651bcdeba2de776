//! A real S3-compatible server (Garage, started by the shared scripts) for
//! the delivery tests, and helpers to spool and deliver objects into it.

#![allow(dead_code)] // each test file uses its own subset

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use vpcflow_core::layout::{Layout, Prefix};
use vpcflow_core::name::{FileKind, FileName, FlowLogId};
use vpcflow_sinks::s3::{DeliveryStats, S3Options};
use vpcflow_sinks::spool::{DrainOutcome, Spool, SpoolOptions, SpoolQueue};
use vpcflow_sinks::ObjectStore;

/// `$VPCFLOW_SHARED`, or `shared/` beside the workspace.
fn shared_dir() -> PathBuf {
    std::env::var_os("VPCFLOW_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

/// A Garage binary that runs, without installing one.
fn garage_binary() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(bin) = std::env::var_os("GARAGE_BIN") {
        candidates.push(bin.into());
    }
    if let Some(root) = std::env::var_os("GARAGE_INSTALL_ROOT") {
        candidates.push(PathBuf::from(root).join("bin/garage"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(home).join(".cargo/bin/garage"));
    }
    candidates.push("garage".into());
    candidates.into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Skips (returning `None` after saying why) when the server cannot be
/// started here, or fails when `VPCFLOW_REQUIRE_S3=1` (as in CI).
fn skip(reason: String) -> Option<Garage> {
    if std::env::var("VPCFLOW_REQUIRE_S3").as_deref() == Ok("1") {
        panic!("S3 test cannot run: {reason} (VPCFLOW_REQUIRE_S3=1)");
    }
    eprintln!("skipped: {reason}");
    None
}

/// A port P with P, P+1 and P+3 free on loopback (Garage's S3, RPC and
/// admin ports).
fn free_port_block() -> u16 {
    for _ in 0..200 {
        let port = fastrand_port();
        if [0, 1, 3]
            .iter()
            .all(|d| TcpListener::bind(("127.0.0.1", port + d)).is_ok())
        {
            return port;
        }
    }
    panic!("no free port block found");
}

fn fastrand_port() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let mixed = (nanos ^ std::process::id().wrapping_mul(2_654_435_761)) % 20_000;
    20_000 + mixed as u16
}

/// A single-node Garage server with its own data folder, stopped on drop.
pub struct Garage {
    /// Its S3 endpoint URL.
    pub endpoint: String,
    /// The bucket the start script created.
    pub bucket: String,
    /// Access key id of the test key.
    pub key_id: String,
    /// Its secret.
    pub secret: String,
    data: PathBuf,
    scripts: PathBuf,
}

impl Garage {
    /// Starts a server on a free port, or skips; see [`skip`].
    pub fn start_or_skip() -> Option<Garage> {
        let scripts = shared_dir().join("scripts");
        if !scripts.join("s3-server-start.sh").is_file() {
            return skip(format!(
                "{} not found (set VPCFLOW_SHARED)",
                scripts.join("s3-server-start.sh").display()
            ));
        }
        if garage_binary().is_none() {
            return skip(
                "garage is not installed (see ../shared/scripts/s3-server-start.sh)".into(),
            );
        }
        let port = free_port_block();
        let data =
            std::env::temp_dir().join(format!("vpcflow-garage-{}-{port}", std::process::id()));
        // Servers kept in statics are never dropped: stop and remove this one
        // when the test process ends, however it ends.
        when_this_process_exits(&format!(
            "{} {} --wipe",
            shell_quote(&scripts.join("s3-server-stop.sh")),
            shell_quote(&data)
        ));
        let out = Command::new(scripts.join("s3-server-start.sh"))
            .arg(&data)
            .env("S3_PORT", port.to_string())
            .output()
            .expect("run s3-server-start.sh");
        assert!(
            out.status.success(),
            "s3-server-start.sh failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let env = String::from_utf8(out.stdout).unwrap();
        let var = |name: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .unwrap_or_else(|| panic!("{name} missing from:\n{env}"))
                .to_string()
        };
        Some(Garage {
            endpoint: var("AWS_ENDPOINT_URL"),
            bucket: var("S3_BUCKET"),
            key_id: var("AWS_ACCESS_KEY_ID"),
            secret: var("AWS_SECRET_ACCESS_KEY"),
            data,
            scripts,
        })
    }

    /// Stops the server (its data stays).
    pub fn stop(&self) {
        let out = Command::new(self.scripts.join("s3-server-stop.sh"))
            .arg(&self.data)
            .output()
            .expect("run s3-server-stop.sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts it again on the same port with the same key and bucket.
    pub fn restart(&self) {
        let out = Command::new(self.scripts.join("s3-server-start.sh"))
            .arg(&self.data)
            .output()
            .expect("run s3-server-start.sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Client settings for this server with credentials from `profile`.
    pub fn options(&self, profile: &str) -> S3Options {
        S3Options {
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            profile: Some(profile.into()),
            ..S3Options::default()
        }
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        let _ = Command::new(self.scripts.join("s3-server-stop.sh"))
            .arg(&self.data)
            .arg("--wipe")
            .output();
    }
}

/// Runs the shell command `cleanup` once this process has exited.
fn when_this_process_exits(cleanup: &str) {
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

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

/// Credentials come from profiles of one shared credentials file per test
/// process, so that tests in parallel can use different keys; variables that
/// would override profiles are removed first.
static PROFILES: OnceLock<Profiles> = OnceLock::new();

/// The credentials file and its profiles: (name, key id, secret).
type Profiles = (PathBuf, Mutex<Vec<(String, String, String)>>);

fn profiles() -> &'static Profiles {
    PROFILES.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("vpcflow-s3-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        when_this_process_exits(&format!("rm -rf {}", shell_quote(&dir)));
        for name in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
        ] {
            std::env::remove_var(name);
        }
        std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", dir.join("credentials"));
        std::env::set_var("AWS_CONFIG_FILE", dir.join("config"));
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        (dir.join("credentials"), Mutex::new(Vec::new()))
    })
}

/// Adds (or replaces) a profile of the shared credentials file.
pub fn set_profile(name: &str, key_id: &str, secret: &str) {
    let (path, list) = profiles();
    let mut list = list.lock().unwrap();
    list.retain(|(n, _, _)| n != name);
    list.push((name.into(), key_id.into(), secret.into()));
    let temp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&temp).unwrap();
    for (n, k, s) in list.iter() {
        writeln!(
            f,
            "[{n}]\naws_access_key_id = {k}\naws_secret_access_key = {s}\n"
        )
        .unwrap();
    }
    drop(f);
    std::fs::rename(&temp, path).unwrap();
}

/// The name of attempt `a` of an object of `hash` (flow log fixed).
pub fn name(hash: u32, a: u32) -> FileName {
    FileName {
        id: FlowLogId::new("123456789012", "us-east-1", "fl-0123456789abcdef0").unwrap(),
        slot: 1_529_511_600,
        hash: hash.wrapping_add(a),
        kind: FileKind::TextGzip,
    }
}

/// Opens a spool in `dir` for `bucket` below `prefix`.
pub fn spool(dir: &Path, bucket: &str, prefix: &str) -> (Spool, SpoolQueue, Arc<DeliveryStats>) {
    let stats = Arc::new(DeliveryStats::default());
    let (spool, queue) = Spool::open(
        dir,
        SpoolOptions {
            bucket: bucket.into(),
            layout: Layout::default(),
            prefix: Prefix::new(prefix).unwrap(),
            max_bytes: 1 << 30,
            give_up_on_permanent_errors: None,
        },
        Arc::clone(&stats),
    )
    .unwrap();
    (spool, queue, stats)
}

/// Spools `body` under the names of `hash`; returns the attempt-0 key.
pub fn put(spool: &mut Spool, body: &[u8], hash: u32) -> String {
    let mut staged = spool.stage().unwrap();
    staged.write_all(body).unwrap();
    spool.publish(staged, &|a| name(hash, a)).unwrap().key
}

/// Random-looking bytes (not compressible), reproducible from `seed`.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A tokio runtime and a client for reading what the server holds.
pub struct Reader {
    rt: tokio::runtime::Runtime,
    client: aws_sdk_s3::Client,
}

/// What a stored object looks like.
#[derive(Debug)]
pub struct Stored {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub e_tag: Option<String>,
}

impl Reader {
    /// A client with `options`.
    pub fn new(options: &S3Options) -> Reader {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = rt.block_on(vpcflow_sinks::s3::client::build_client(options));
        Reader { rt, client }
    }

    /// The object at `key`, or `None`.
    pub fn get(&self, bucket: &str, key: &str) -> Option<Stored> {
        self.rt.block_on(async {
            let out = match self
                .client
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return None,
                Err(e) => panic!("GET {key}: {e:?}"),
            };
            let content_type = out.content_type().map(str::to_string);
            let content_encoding = out.content_encoding().map(str::to_string);
            let e_tag = out.e_tag().map(str::to_string);
            let body = out.body.collect().await.unwrap().into_bytes().to_vec();
            Some(Stored {
                body,
                content_type,
                content_encoding,
                e_tag,
            })
        })
    }

    /// Writes `body` at `key` directly (another writer).
    pub fn put(&self, bucket: &str, key: &str, body: &[u8]) {
        self.rt.block_on(async {
            self.client
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(body.to_vec().into())
                .send()
                .await
                .unwrap();
        });
    }

    /// Starts a multipart upload of `key` and sends one part, then leaves it
    /// incomplete (as a process killed mid-upload would).
    pub fn abandon_multipart(&self, bucket: &str, key: &str) {
        self.rt.block_on(async {
            let created = self
                .client
                .create_multipart_upload()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .unwrap();
            self.client
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(created.upload_id().unwrap())
                .part_number(1)
                .body(vec![7u8; 5 << 20].into())
                .send()
                .await
                .unwrap();
        });
    }

    /// The upload ids of incomplete multipart uploads of `key`.
    pub fn incomplete_uploads(&self, bucket: &str, key: &str) -> Vec<String> {
        self.rt.block_on(async {
            let out = self
                .client
                .list_multipart_uploads()
                .bucket(bucket)
                .prefix(key)
                .send()
                .await
                .unwrap();
            out.uploads()
                .iter()
                .filter(|u| u.key() == Some(key))
                .filter_map(|u| u.upload_id().map(str::to_string))
                .collect()
        })
    }

    /// Every key below `prefix`.
    pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        self.rt.block_on(async {
            let out = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .send()
                .await
                .unwrap();
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string))
                .collect()
        })
    }
}

/// Waits for `queue` to drain, up to `limit`.
pub fn drained(queue: &SpoolQueue, limit: Duration) -> DrainOutcome {
    queue.wait_drained(Some(Instant::now() + limit), None)
}
