//! Helpers to spool objects and deliver them into the Garage server of
//! `vpcflow_testkit::garage`, with credentials from profiles.

#![allow(dead_code)] // each test file uses its own subset

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use vpcflow_core::layout::{Layout, Prefix};
use vpcflow_core::name::{FileKind, FileName, FlowLogId};
use vpcflow_sinks::s3::{DeliveryStats, S3Options};
use vpcflow_sinks::spool::{DrainOutcome, Spool, SpoolOptions, SpoolQueue};
use vpcflow_sinks::ObjectStore;
use vpcflow_testkit::garage::{shell_quote, when_this_process_exits, Garage};

/// Client settings for `garage` with credentials from `profile` (see
/// [`set_profile`]).
pub fn s3_options(garage: &Garage, profile: &str) -> S3Options {
    S3Options {
        endpoint: Some(garage.endpoint().to_string()),
        region: Some("us-east-1".into()),
        profile: Some(profile.into()),
        ..S3Options::default()
    }
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

/// Waits for `queue` to drain, up to `limit`.
pub fn drained(queue: &SpoolQueue, limit: Duration) -> DrainOutcome {
    queue.wait_drained(Some(Instant::now() + limit), None)
}
