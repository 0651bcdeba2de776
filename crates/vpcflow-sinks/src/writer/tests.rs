use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;

use flate2::read::GzDecoder;
use regex::Regex;
use vpcflow_core::layout::{Layout, Prefix};
use vpcflow_core::record::FlowRecord;
use vpcflow_core::LogStatus;

use super::*;
use crate::dir::{staging_dir, DirSink};
use crate::test_support::{mixed_records, nodata, ok_record, Fixture, Rng};

const NAME_RE: &str = r"^(?P<account_id>[0-9]{12})_vpcflowlogs_(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]+)_(?P<flow_log_id>fl-[0-9a-f]{8}(?:[0-9a-f]{9})?)_(?P<ts>(?P<Y>[0-9]{4})(?P<m>0[1-9]|1[0-2])(?P<d>0[1-9]|[12][0-9]|3[01])T(?P<H>[01][0-9]|2[0-3])(?P<M>[0-5][05])Z)_(?P<hash>[0-9a-f]{8})\.log\.(?P<ext>gz|parquet)$";
const DEFAULT_KEY_RE: &str = r"^(?:(?P<prefix>[^/]+(?:/[^/]+)*)/)?AWSLogs/(?P<account_id>[0-9]{12})/vpcflowlogs/(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]+)/(?P<Y>[0-9]{4})/(?P<m>[0-9]{2})/(?P<d>[0-9]{2})/(?:(?P<H>[0-9]{2})/)?(?P<file>[^/]+)$";
const HIVE_KEY_RE: &str = r"^(?:(?P<prefix>[^/]+(?:/[^/]+)*)/)?AWSLogs/aws-account-id=(?P<account_id>[0-9]{12})/aws-service=vpcflowlogs/aws-region=(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]+)/year=(?P<Y>[0-9]{4})/month=(?P<m>[0-9]{2})/day=(?P<d>[0-9]{2})/(?:hour=(?P<H>[0-9]{2})/)?(?P<file>[^/]+)$";

/// 2021-03-26T03:29:09Z, the spec's v5 example record end.
const V5_END: u64 = 1_616_729_349;
/// 2021-03-27T00:00:00Z.
const MIDNIGHT: u64 = 1_616_803_200;

fn id() -> FlowLogId {
    FlowLogId::new("123456789012", "us-east-1", "fl-0630869f236e76872").unwrap()
}

fn options() -> WriterOptions {
    WriterOptions::default()
}

/// A store that keeps published objects in memory, named with attempt 0.
struct MemStore {
    dir: tempfile::TempDir,
    next: u64,
    objects: Vec<(FileName, Vec<u8>)>,
}

impl MemStore {
    fn new() -> MemStore {
        MemStore {
            dir: tempfile::tempdir().unwrap(),
            next: 0,
            objects: Vec::new(),
        }
    }
}

impl ObjectStore for MemStore {
    fn stage(&mut self) -> Result<StagedFile, SinkError> {
        let path = self.dir.path().join(self.next.to_string());
        self.next += 1;
        let file = fs::File::create(&path).unwrap();
        Ok(StagedFile::new(file, path))
    }

    fn publish(
        &mut self,
        staged: StagedFile,
        name_for_attempt: &dyn Fn(u32) -> FileName,
    ) -> Result<PublishedObject, SinkError> {
        let bytes = fs::read(staged.path()).unwrap();
        let name = name_for_attempt(0);
        self.objects.push((name.clone(), bytes.clone()));
        Ok(PublishedObject {
            key: name.to_string(),
            name,
            bytes: bytes.len() as u64,
            already_present: false,
        })
    }
}

fn gunzip(bytes: &[u8]) -> String {
    let mut s = String::new();
    GzDecoder::new(bytes).read_to_string(&mut s).unwrap();
    s
}

/// The record lines of an object, checking its single header line.
fn record_lines(bytes: &[u8], format: &LogFormat) -> Vec<String> {
    let text = gunzip(bytes);
    let body = text
        .strip_prefix(format.header_line().as_str())
        .expect("header line first");
    assert!(body.is_empty() || body.ends_with('\n'));
    body.lines().map(str::to_string).collect()
}

fn line_of(fx: &Fixture, format: &LogFormat, r: &FlowRecord) -> String {
    let mut out = Vec::new();
    let values = fx.table.values(r, format.version());
    format.write_line(&values, &mut out);
    String::from_utf8(out).unwrap().trim_end().to_string()
}

fn released(records: Vec<FlowRecord>, complete_before: u64) -> Released {
    Released {
        records,
        complete_before,
    }
}

/// Every object below `root` (staging folder excluded), by key.
fn objects(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let key = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string();
                out.insert(key, fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn staged_leftovers(root: &Path) -> usize {
    fs::read_dir(staging_dir(root).unwrap())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name() != ".lock")
        .count()
}

fn dir_writer(root: &Path, layout: Layout, prefix: &str) -> FileWriter<DirSink> {
    let store = DirSink::open(root, layout, Prefix::new(prefix).unwrap()).unwrap();
    FileWriter::new(store, id(), LogFormat::default(), options())
}

#[test]
fn records_land_in_the_slot_of_their_end() {
    let fx = Fixture::new();
    let mut rng = Rng::new(1);
    let eni = fx.indices[0];
    let ends = [V5_END, 1_616_729_100, 1_616_729_099, MIDNIGHT - 1, MIDNIGHT];
    let records: Vec<FlowRecord> = ends
        .iter()
        .map(|&end| ok_record(&mut rng, eni, end - 30, end))
        .collect();
    for layout in ["default", "hourly"] {
        let root = tempfile::tempdir().unwrap();
        let mut w = dir_writer(&root.path().join("out"), layout.parse().unwrap(), "");
        w.write(&released(records.clone(), 0), &fx.table).unwrap();
        assert_eq!(w.open_files(), 4);
        let summary = w.finish().unwrap();
        assert_eq!((summary.files, summary.records), (4, 5));
        let format = LogFormat::default();
        let found: Vec<(String, Vec<String>)> = objects(&root.path().join("out"))
            .into_iter()
            .map(|(key, bytes)| {
                let folder_and_ts = key
                    .replace(
                        "123456789012_vpcflowlogs_us-east-1_fl-0630869f236e76872_",
                        "",
                    )
                    .replace("AWSLogs/123456789012/vpcflowlogs/us-east-1/", "");
                let ts = folder_and_ts.rsplit_once('_').unwrap().0.to_string();
                let ends = record_lines(&bytes, &format)
                    .iter()
                    .map(|l| l.split(' ').nth(11).unwrap().to_string())
                    .collect();
                (ts, ends)
            })
            .collect();
        let expected: Vec<(&str, Vec<&str>)> = if layout == "default" {
            vec![
                ("2021/03/26/20210326T0320Z", vec!["1616729099"]),
                (
                    "2021/03/26/20210326T0325Z",
                    vec!["1616729349", "1616729100"],
                ),
                ("2021/03/26/20210326T2355Z", vec!["1616803199"]),
                ("2021/03/27/20210327T0000Z", vec!["1616803200"]),
            ]
        } else {
            vec![
                ("2021/03/26/03/20210326T0320Z", vec!["1616729099"]),
                (
                    "2021/03/26/03/20210326T0325Z",
                    vec!["1616729349", "1616729100"],
                ),
                ("2021/03/26/23/20210326T2355Z", vec!["1616803199"]),
                ("2021/03/27/00/20210327T0000Z", vec!["1616803200"]),
            ]
        };
        let expected: Vec<(String, Vec<String>)> = expected
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
            .collect();
        assert_eq!(found, expected, "{layout}");
    }
}

#[test]
fn keys_and_names_match_the_spec_for_every_layout_and_prefix() {
    let fx = Fixture::new();
    let name_re = Regex::new(NAME_RE).unwrap();
    let default_re = Regex::new(DEFAULT_KEY_RE).unwrap();
    let hive_re = Regex::new(HIVE_KEY_RE).unwrap();
    // Slots 09:05 and 23:55 on 2021-04-01, and 00:00 on 2021-04-02.
    let mut records = mixed_records(&fx.indices, 1_617_267_900, 50);
    records.extend(mixed_records(&fx.indices, 1_617_321_570, 100));
    for layout in ["default", "hive", "hourly", "hive-hourly"] {
        let layout: Layout = layout.parse().unwrap();
        for prefix in ["", "my-logs", "/a/b/"] {
            let root = tempfile::tempdir().unwrap();
            let mut w = dir_writer(&root.path().join("out"), layout, prefix);
            w.write(&released(records.clone(), u64::MAX), &fx.table)
                .unwrap();
            assert_eq!(w.open_files(), 0, "complete_before = MAX seals all");
            let keys: Vec<String> = objects(&root.path().join("out")).into_keys().collect();
            assert_eq!(keys.len(), 3, "{keys:?}");
            for key in &keys {
                let re = if layout.hive { &hive_re } else { &default_re };
                let c = re.captures(key).unwrap_or_else(|| panic!("{key}"));
                let n = name_re
                    .captures(&c["file"])
                    .unwrap_or_else(|| panic!("{key}"));
                assert_eq!(
                    c.name("prefix").map_or("", |p| p.as_str()),
                    prefix.trim_matches('/')
                );
                assert_eq!(&c["account_id"], &n["account_id"]);
                assert_eq!(&c["region"], &n["region"]);
                assert_eq!(&n["flow_log_id"], "fl-0630869f236e76872");
                assert_eq!(&n["ext"], "gz");
                assert_eq!(
                    (&c["Y"], &c["m"], &c["d"]),
                    (&n["Y"], &n["m"], &n["d"]),
                    "{key}"
                );
                assert_eq!(
                    c.name("H").map(|h| h.as_str()),
                    layout.hourly.then(|| &n["H"]),
                    "{key}"
                );
                assert!(
                    ["0905", "2355", "0000"].contains(&format!("{}{}", &n["H"], &n["M"]).as_str())
                );
            }
            assert_eq!(staged_leftovers(&root.path().join("out")), 0);
        }
    }
}

#[test]
fn uncompressed_cap_splits_a_slot_and_keeps_every_record() {
    let fx = Fixture::new();
    let format = LogFormat::default();
    let records = mixed_records(&fx.indices, 1_616_729_100, 2_000);
    let cap = 10_000;
    let mut w = FileWriter::new(
        MemStore::new(),
        id(),
        format.clone(),
        WriterOptions {
            max_file_bytes: cap,
            cap_measure: CapMeasure::Uncompressed,
            ..options()
        },
    );
    w.write(&released(records.clone(), 0), &fx.table).unwrap();
    let summary = w.finish().unwrap();
    let store = w.into_store();
    assert!(store.objects.len() > 10, "{}", store.objects.len());
    assert_eq!(summary.files, store.objects.len() as u64);
    let mut all = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (i, (name, bytes)) in store.objects.iter().enumerate() {
        assert_eq!(name.slot, 1_616_729_100);
        assert!(names.insert(name.hash), "distinct names");
        let size = gunzip(bytes).len() as u64;
        if i + 1 < store.objects.len() {
            assert!((cap..cap + 200).contains(&size), "{size}");
        } else {
            assert!(size <= cap + 200);
        }
        all.extend(record_lines(bytes, &format));
    }
    let expected: Vec<String> = records.iter().map(|r| line_of(&fx, &format, r)).collect();
    assert_eq!(all, expected);
    assert_eq!(summary.records, 2_000);
}

#[test]
fn compressed_cap_splits_a_slot_and_keeps_every_record() {
    let fx = Fixture::new();
    let format = LogFormat::default();
    let records = mixed_records(&fx.indices, 1_616_729_100, 15_000);
    let cap = 30_000;
    let mut w = FileWriter::new(
        MemStore::new(),
        id(),
        format.clone(),
        WriterOptions {
            max_file_bytes: cap,
            // Blocks in flight are not counted: pinned so that the overshoot
            // does not grow with the cores of the machine running the test.
            compression_threads: 2,
            ..options()
        },
    );
    w.write(&released(records.clone(), 0), &fx.table).unwrap();
    let summary = w.finish().unwrap();
    let store = w.into_store();
    assert!(store.objects.len() >= 3, "{}", store.objects.len());
    let mut all = Vec::new();
    for (_, bytes) in &store.objects {
        assert!((bytes.len() as u64) < cap + 300_000, "{}", bytes.len());
        all.extend(record_lines(bytes, &format));
    }
    assert_eq!(all.len(), records.len());
    assert_eq!(
        all.last().unwrap(),
        &line_of(&fx, &format, records.last().unwrap())
    );
    assert_eq!(
        summary.compressed_bytes,
        store
            .objects
            .iter()
            .map(|(_, b)| b.len() as u64)
            .sum::<u64>()
    );
}

/// Every object of `records` written with `options`, in publishing order.
fn write_all(records: &[FlowRecord], options: WriterOptions) -> Vec<(FileName, Vec<u8>)> {
    let fx = Fixture::new();
    let mut w = FileWriter::new(MemStore::new(), id(), LogFormat::default(), options);
    w.write(&released(records.to_vec(), 0), &fx.table).unwrap();
    w.finish().unwrap();
    w.into_store().objects
}

#[test]
fn files_do_not_depend_on_the_compression_threads() {
    let fx = Fixture::new();
    // One slot, about 50 blocks of text.
    let records = mixed_records(&fx.indices, 1_616_729_100, 60_000);
    let uncapped = write_all(
        &records,
        WriterOptions {
            compression_threads: 0,
            ..options()
        },
    );
    assert_eq!(uncapped.len(), 1);
    for threads in [1, 2, 3] {
        let objects = write_all(
            &records,
            WriterOptions {
                compression_threads: threads,
                ..options()
            },
        );
        assert!(objects == uncapped, "{threads} threads");
    }
}

#[test]
fn a_compressed_cap_is_kept_and_splits_at_the_same_records_in_every_run() {
    let fx = Fixture::new();
    let records = mixed_records(&fx.indices, 1_616_729_100, 40_000);
    let capped = |threads| WriterOptions {
        max_file_bytes: 100_000,
        compression_threads: threads,
        ..options()
    };
    for threads in [0, 2, 4] {
        let first = write_all(&records, capped(threads));
        let sizes: Vec<usize> = first.iter().map(|(_, b)| b.len()).collect();
        assert!(first.len() >= 5, "{threads} threads: {sizes:?}");
        // In-flight blocks are estimated at the ratio so far: files are close
        // to the cap whatever the number of threads.
        assert!(
            sizes[..sizes.len() - 1]
                .iter()
                .all(|&n| (95_000..105_000).contains(&n)),
            "{threads} threads: {sizes:?}"
        );
        for _ in 0..2 {
            assert!(
                write_all(&records, capped(threads)) == first,
                "{threads} threads"
            );
        }
    }
}

#[test]
fn slots_are_published_once_complete_before_passes_them() {
    let fx = Fixture::new();
    let mut rng = Rng::new(2);
    let eni = fx.indices[0];
    let slot = 1_616_729_100;
    for grace in [0, 60] {
        let mut w = FileWriter::new(
            MemStore::new(),
            id(),
            LogFormat::default(),
            WriterOptions {
                grace_secs: grace,
                ..options()
            },
        );
        let first = vec![
            ok_record(&mut rng, eni, slot + 10, slot + 20),
            ok_record(&mut rng, eni, slot + 250, slot + 310),
        ];
        w.write(&released(first, slot + 240), &fx.table).unwrap();
        assert_eq!((w.open_files(), w.summary().files), (2, 0));
        let more = vec![ok_record(&mut rng, eni, slot + 200, slot + 299)];
        w.write(&released(more, slot + 300 + grace - 1), &fx.table)
            .unwrap();
        assert_eq!((w.open_files(), w.summary().files), (2, 0), "grace {grace}");
        w.write(&released(Vec::new(), slot + 300 + grace), &fx.table)
            .unwrap();
        assert_eq!((w.open_files(), w.summary().files), (1, 1));
        assert_eq!(w.summary().records, 2);
        let store = w.store();
        assert_eq!(store.objects[0].0.slot, slot);
        let summary = w.finish().unwrap();
        assert_eq!((summary.files, summary.records), (2, 3));
    }
}

#[test]
fn late_records_start_another_file_of_a_published_slot() {
    let fx = Fixture::new();
    let format = LogFormat::default();
    let slot = 1_616_729_100;
    let mut w = FileWriter::new(MemStore::new(), id(), format.clone(), options());
    let on_time = mixed_records(&fx.indices, slot, 10);
    w.write(&released(on_time, slot + 600), &fx.table).unwrap();
    assert_eq!(w.summary().files, 1);
    let late = mixed_records(&fx.indices, slot + 60, 5);
    w.write(&released(late, slot + 600), &fx.table).unwrap();
    let store = w.into_store();
    assert_eq!(store.objects.len(), 2);
    assert!(store.objects.iter().all(|(n, _)| n.slot == slot));
    assert_ne!(store.objects[0].0.hash, store.objects[1].0.hash);
    assert_eq!(record_lines(&store.objects[1].1, &format).len(), 5);
}

#[test]
fn rerun_with_the_same_input_is_idempotent() {
    let fx = Fixture::new();
    // Ends 03:29:29 to 03:30:28: two slots.
    let records = mixed_records(&fx.indices, V5_END + 20, 3_000);
    let root = tempfile::tempdir().unwrap();
    let mut first = dir_writer(&root.path().join("out"), Layout::default(), "logs");
    first
        .write(&released(records.clone(), 0), &fx.table)
        .unwrap();
    let s1 = first.finish().unwrap();
    drop(first);
    let before = objects(&root.path().join("out"));
    let mut second = dir_writer(&root.path().join("out"), Layout::default(), "logs");
    second.write(&released(records, 0), &fx.table).unwrap();
    let s2 = second.finish().unwrap();
    assert_eq!(objects(&root.path().join("out")), before);
    assert_eq!(s1.files, 2);
    assert_eq!((s2.files, s2.files_already_present), (2, 2));
    assert_eq!(s1.compressed_bytes, s2.compressed_bytes);
    assert_eq!(staged_leftovers(&root.path().join("out")), 0);
}

#[test]
fn a_different_file_at_the_key_is_kept_and_a_new_hash_used() {
    let fx = Fixture::new();
    let records = mixed_records(&fx.indices, V5_END - 200, 100);
    let clean = tempfile::tempdir().unwrap();
    let mut w = dir_writer(&clean.path().join("out"), Layout::default(), "");
    w.write(&released(records.clone(), u64::MAX), &fx.table)
        .unwrap();
    let (key, bytes) = objects(&clean.path().join("out"))
        .into_iter()
        .next()
        .unwrap();

    let root = tempfile::tempdir().unwrap();
    let taken = root.path().join("out").join(&key);
    fs::create_dir_all(taken.parent().unwrap()).unwrap();
    fs::write(&taken, b"not ours").unwrap();
    let mut w = dir_writer(&root.path().join("out"), Layout::default(), "");
    w.write(&released(records, u64::MAX), &fx.table).unwrap();
    let found = objects(&root.path().join("out"));
    assert_eq!(found.len(), 2);
    assert_eq!(found[&key], b"not ours");
    let (other_key, other_bytes) = found.iter().find(|(k, _)| **k != key).unwrap();
    assert_eq!(other_bytes, &bytes, "same object under another hash");
    assert_eq!(
        other_key.rsplit_once('_').unwrap().0,
        key.rsplit_once('_').unwrap().0,
        "only the hash differs"
    );
    assert_eq!(staged_leftovers(&root.path().join("out")), 0);
}

#[test]
fn equal_objects_of_one_run_are_both_kept() {
    let fx = Fixture::new();
    let eni = fx.indices[2];
    let window = 1_616_729_100;
    let record = nodata(eni, window, 60, LogStatus::NoData);
    let root = tempfile::tempdir().unwrap();
    let mut w = dir_writer(&root.path().join("out"), Layout::default(), "");
    w.write(&released(vec![record], window + 300), &fx.table)
        .unwrap();
    // The same record again, late: an equal object in the same slot.
    w.write(&released(vec![record], window + 300), &fx.table)
        .unwrap();
    let summary = w.finish().unwrap();
    assert_eq!((summary.files, summary.files_already_present), (2, 0));
    let found = objects(&root.path().join("out"));
    assert_eq!(found.len(), 2);
    let bodies: Vec<&Vec<u8>> = found.values().collect();
    assert_eq!(bodies[0], bodies[1]);
}

#[test]
fn summary_adds_up() {
    let fx = Fixture::new();
    let format =
        LogFormat::parse("${version} ${interface-id} ${srcaddr} ${dstaddr} ${end} ${log-status}")
            .unwrap();
    let mut records = mixed_records(&fx.indices, V5_END - 200, 1_000);
    records.push(nodata(
        fx.indices[1],
        1_616_730_000,
        60,
        LogStatus::SkipData,
    ));
    let mut w = FileWriter::new(MemStore::new(), id(), format.clone(), options());
    w.write(&released(records, 0), &fx.table).unwrap();
    let summary = w.finish().unwrap();
    let store = w.into_store();
    assert_eq!(summary.files, 2);
    assert_eq!(summary.records, 1_001);
    let uncompressed: u64 = store
        .objects
        .iter()
        .map(|(_, b)| gunzip(b).len() as u64)
        .sum();
    let compressed: u64 = store.objects.iter().map(|(_, b)| b.len() as u64).sum();
    assert_eq!(summary.uncompressed_bytes, uncompressed);
    assert_eq!(summary.compressed_bytes, compressed);
    let skip = record_lines(&store.objects[1].1, &format);
    let meta = fx.table.get(fx.indices[1]);
    assert_eq!(
        skip,
        [format!("2 {} - - 1616730059 SKIPDATA", meta.interface_id)]
    );
}

#[test]
fn a_batch_in_file_order_seals_each_slot_as_the_next_begins() {
    // A day of idle one-minute windows in one batch: 288 slots, yet never
    // more than one file open at a time (a descriptor each).
    let fx = Fixture::new();
    let start = 1_617_235_200; // 2021-04-01T00:00:00Z
    let records: Vec<FlowRecord> = (0..1440u64)
        .map(|m| FlowRecord {
            interface: fx.indices[0],
            window_start: start + m * 60,
            start: start + m * 60,
            end: start + m * 60 + 59,
            traffic: None,
            status: LogStatus::NoData,
        })
        .collect();
    let root = tempfile::tempdir().unwrap();
    let mut w = dir_writer(&root.path().join("out"), Layout::default(), "");
    // A batch that completes only up to its own last record: every slot but
    // the last is sealed while it is written.
    w.write(
        &released(records.clone(), start + 1439 * 60 + 59),
        &fx.table,
    )
    .unwrap();
    assert_eq!(w.open_files(), 1);
    assert_eq!(objects(&root.path().join("out")).len(), 287);
    w.finish().unwrap();
    assert_eq!(objects(&root.path().join("out")).len(), 288);
    // The same records with the slots out of order: nothing is sealed
    // early (one file a slot, as before), and the files are the same.
    let shuffled: Vec<FlowRecord> = records.chunks(5).rev().flatten().copied().collect();
    let root2 = tempfile::tempdir().unwrap();
    let mut w = dir_writer(&root2.path().join("out"), Layout::default(), "");
    w.write(&released(shuffled, start), &fx.table).unwrap();
    assert_eq!(w.open_files(), 288);
    w.finish().unwrap();
    let in_order = objects(&root.path().join("out"));
    assert!(
        in_order == objects(&root2.path().join("out")),
        "the files differ"
    );
}
