//! The file writer with Parquet objects: same slots, names, layouts and cap as
//! text, `.log.parquet` names.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use bytes::Bytes;
use parquet::file::reader::{FileReader, SerializedFileReader};
use regex::Regex;
use vpcflow_core::layout::{Layout, Prefix};

use super::*;
use crate::dir::DirSink;
use crate::test_support::{mixed_records, Fixture};

const HIVE_PARQUET_KEY_RE: &str = r"^pq/AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2021/month=03/day=(26|27)/hour=[0-9]{2}/123456789012_vpcflowlogs_us-east-1_fl-0630869f236e76872_2021032[67]T[0-9]{2}[0-5][05]Z_[0-9a-f]{8}\.log\.parquet$";

fn id() -> FlowLogId {
    FlowLogId::new("123456789012", "us-east-1", "fl-0630869f236e76872").unwrap()
}

fn parquet_options() -> WriterOptions {
    WriterOptions {
        file_format: FileFormat::Parquet,
        ..WriterOptions::default()
    }
}

fn objects(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let key = path.strip_prefix(root).unwrap().to_str().unwrap();
                out.insert(key.to_string(), fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn rows(bytes: &[u8]) -> i64 {
    let reader = SerializedFileReader::new(Bytes::copy_from_slice(bytes)).unwrap();
    reader.metadata().file_metadata().num_rows()
}

fn write_all(root: &Path, options: WriterOptions, n: usize) -> RunSummary {
    let fx = Fixture::new();
    let store = DirSink::open(
        root,
        Layout {
            hive: true,
            hourly: true,
        },
        Prefix::new("pq").unwrap(),
    )
    .unwrap();
    let mut w = FileWriter::new(store, id(), LogFormat::default(), options);
    // Four slots from 2021-03-26T23:50Z, across midnight.
    let records = (0..4)
        .flat_map(|k| mixed_records(&fx.indices, 1_616_802_600 + 300 * k, n / 4))
        .collect();
    let released = Released {
        records,
        complete_before: 0,
    };
    w.write(&released, &fx.table).unwrap();
    w.finish().unwrap()
}

#[test]
fn parquet_objects_go_where_text_objects_go() {
    let dir = tempfile::tempdir().unwrap();
    let summary = write_all(&dir.path().join("out"), parquet_options(), 20_000);
    let objects = objects(&dir.path().join("out"));
    assert!(objects.len() > 2, "several slots: {:?}", objects.keys());
    let re = Regex::new(HIVE_PARQUET_KEY_RE).unwrap();
    let mut total = 0;
    for (key, bytes) in &objects {
        assert!(re.is_match(key), "{key}");
        assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
        total += rows(bytes);
    }
    assert_eq!(total, 20_000);
    assert_eq!(summary.records, 20_000);
    assert_eq!(summary.files, objects.len() as u64);
    let sizes: u64 = objects.values().map(|b| b.len() as u64).sum();
    assert_eq!(summary.compressed_bytes, sizes);

    // The text objects of the same records: one per Parquet object, same slots.
    let text = tempfile::tempdir().unwrap();
    write_all(&text.path().join("out"), WriterOptions::default(), 20_000);
    let stems = |objects: &BTreeMap<String, Vec<u8>>, suffix: &str| -> Vec<String> {
        objects
            .keys()
            .map(|k| k.strip_suffix(suffix).unwrap()[..k.len() - suffix.len() - 9].to_string())
            .collect()
    };
    assert_eq!(
        stems(&objects, ".log.parquet"),
        stems(
            &super::parquet_tests::objects(&text.path().join("out")),
            ".log.gz"
        )
    );

    // Converting again gives the same objects.
    let again = tempfile::tempdir().unwrap();
    write_all(&again.path().join("out"), parquet_options(), 20_000);
    assert!(objects == super::parquet_tests::objects(&again.path().join("out")));
}

#[test]
fn the_size_cap_splits_parquet_slots() {
    let dir = tempfile::tempdir().unwrap();
    let cap = 200_000;
    let options = WriterOptions {
        max_file_bytes: cap,
        ..parquet_options()
    };
    write_all(&dir.path().join("out"), options, 60_000);
    let objects = objects(&dir.path().join("out"));
    let uncapped = tempfile::tempdir().unwrap();
    write_all(&uncapped.path().join("out"), parquet_options(), 60_000);
    assert!(objects.len() > super::parquet_tests::objects(&uncapped.path().join("out")).len());
    let total: i64 = objects.values().map(|b| rows(b)).sum();
    assert_eq!(total, 60_000);
    // Before the first row group the buffered values count uncompressed, so
    // capped files stay below the cap.
    for (key, bytes) in &objects {
        assert!(bytes.len() as u64 <= cap + 1024, "{key}: {}", bytes.len());
    }
}
