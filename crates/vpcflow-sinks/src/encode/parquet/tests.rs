use bytes::Bytes;
use parquet::basic::{Compression, Encoding, Type as PhysicalType};
use parquet::column::page::Page;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field as Value;
use vpcflow_core::enrich::record_values;
use vpcflow_core::fields::Field;
use vpcflow_core::name::FlowLogId;

use super::*;
use crate::test_support::{mixed_records, nodata, Fixture};

fn formats() -> Vec<LogFormat> {
    vec![
        LogFormat::default(),
        LogFormat::from_fields(Field::ALL.to_vec()).unwrap(),
        LogFormat::parse("${version} ${vpc-id} ${srcaddr} ${tcp-flags} ${end}").unwrap(),
    ]
}

/// The text lines of `n` mixed records and two NODATA ones, and their Parquet file.
fn encode(format: &LogFormat, n: usize) -> (Vec<String>, Encoded<Vec<u8>>) {
    let fx = Fixture::new();
    let mut records = mixed_records(&fx.indices, 1_616_729_000, n);
    records.push(nodata(
        fx.indices[0],
        1_616_728_800,
        600,
        vpcflow_core::LogStatus::NoData,
    ));
    records.push(nodata(
        fx.indices[1],
        1_616_728_800,
        600,
        vpcflow_core::LogStatus::SkipData,
    ));
    let mut enc = ParquetEncoder::new(Vec::new(), format, GzipLevel::default()).unwrap();
    let mut lines = Vec::new();
    for r in &records {
        let values = record_values(r, fx.table.get(r.interface), format.version());
        enc.write_record(&values).unwrap();
        let mut line = Vec::new();
        format.write_line(&values, &mut line);
        lines.push(String::from_utf8(line).unwrap().trim_end().to_string());
    }
    (lines, enc.finish().unwrap())
}

fn reader(bytes: &[u8]) -> SerializedFileReader<Bytes> {
    SerializedFileReader::new(Bytes::copy_from_slice(bytes)).unwrap()
}

/// Every row of the file as a text line: null is `-`.
fn rows_as_lines(bytes: &[u8]) -> Vec<String> {
    reader(bytes)
        .get_row_iter(None)
        .unwrap()
        .map(|row| {
            let row = row.unwrap();
            let cells: Vec<String> = row
                .get_column_iter()
                .map(|(_, v)| match v {
                    Value::Null => "-".to_string(),
                    Value::Int(i) => i.to_string(),
                    Value::Long(i) => i.to_string(),
                    Value::Str(s) => s.clone(),
                    other => panic!("unexpected value {other:?}"),
                })
                .collect();
            cells.join(" ")
        })
        .collect()
}

#[test]
fn rows_hold_the_text_records() {
    for format in formats() {
        let (lines, done) = encode(&format, 3_000);
        assert!(done.inner.starts_with(b"PAR1") && done.inner.ends_with(b"PAR1"));
        assert_eq!(rows_as_lines(&done.inner), lines, "{format}");
        assert_eq!(done.stats.records, lines.len() as u64);
        assert_eq!(done.stats.compressed_bytes, done.inner.len() as u64);
    }
}

#[test]
fn schema_codec_and_encodings_are_the_documented_ones() {
    let format = LogFormat::from_fields(Field::ALL.to_vec()).unwrap();
    let (_, done) = encode(&format, 2_000);
    let file = reader(&done.inner);
    let meta = file.metadata();
    assert_eq!(
        meta.file_metadata().created_by(),
        Some(concat!("vpcflow ", env!("CARGO_PKG_VERSION")))
    );
    let schema = meta.file_metadata().schema_descr();
    for (i, field) in format.fields().iter().enumerate() {
        let column = schema.column(i);
        assert_eq!(column.name(), field.column_name());
        let expected = match field.parquet_type() {
            vpcflow_core::fields::ParquetType::Int32 => PhysicalType::INT32,
            vpcflow_core::fields::ParquetType::Int64 => PhysicalType::INT64,
            vpcflow_core::fields::ParquetType::String => PhysicalType::BYTE_ARRAY,
        };
        assert_eq!(column.physical_type(), expected, "{field}");
        assert!(column.max_def_level() == 1 && column.max_rep_level() == 0);
    }
    for g in 0..file.num_row_groups() {
        let group = file.get_row_group(g).unwrap();
        for c in 0..group.num_columns() {
            for page in group.get_column_page_reader(c).unwrap() {
                assert!(
                    matches!(
                        page.unwrap(),
                        Page::DataPage { .. } | Page::DictionaryPage { .. }
                    ),
                    "data page v1 only"
                );
            }
        }
    }
    for group in meta.row_groups() {
        for chunk in group.columns() {
            assert!(matches!(chunk.compression(), Compression::GZIP(_)));
            for encoding in chunk.encodings() {
                assert!(
                    matches!(
                        encoding,
                        // RLE_DICTIONARY is how parquet-rs labels dictionary
                        // indices (the same bytes as the older
                        // PLAIN_DICTIONARY label); RLE is the levels.
                        Encoding::PLAIN
                            | Encoding::PLAIN_DICTIONARY
                            | Encoding::RLE_DICTIONARY
                            | Encoding::RLE
                    ),
                    "{encoding:?}"
                );
            }
        }
    }
}

#[test]
fn same_records_give_same_bytes_and_name() {
    let id = FlowLogId::new("123456789012", "us-east-1", "fl-1234abcd").unwrap();
    let (_, a) = encode(&LogFormat::default(), 2_000);
    let (_, b) = encode(&LogFormat::default(), 2_000);
    assert!(a.inner == b.inner);
    assert_eq!(a.hasher.name_hash(&id, 0, 0), b.hasher.name_hash(&id, 0, 0));
    let (_, c) = encode(&LogFormat::default(), 1_999);
    assert_ne!(a.hasher.name_hash(&id, 0, 0), c.hasher.name_hash(&id, 0, 0));
}

#[test]
fn large_objects_are_written_in_row_groups() {
    let format = LogFormat::default();
    let (lines, done) = encode(&format, ROW_GROUP_ROWS + 500);
    let file = reader(&done.inner);
    let groups: Vec<i64> = file
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows())
        .collect();
    assert_eq!(groups, [ROW_GROUP_ROWS as i64, 502]);
    assert_eq!(rows_as_lines(&done.inner), lines);
}

#[test]
fn size_estimate_follows_the_row_groups() {
    let fx = Fixture::new();
    let format = LogFormat::default();
    let mut enc = ParquetEncoder::new(Vec::new(), &format, GzipLevel::default()).unwrap();
    assert_eq!(enc.compressed_bytes(), 4, "the magic");
    let records = mixed_records(&fx.indices, 1_616_729_000, ROW_GROUP_ROWS * 2);
    for (i, r) in records.iter().enumerate() {
        enc.write_record(&record_values(r, fx.table.get(r.interface), 2))
            .unwrap();
        if i + 1 < ROW_GROUP_ROWS {
            // No ratio yet: the buffered values count uncompressed.
            assert_eq!(
                enc.estimated_compressed_bytes(),
                4 + enc.uncompressed_bytes()
            );
        }
    }
    let estimate = enc.estimated_compressed_bytes() as f64;
    let done = enc.finish().unwrap();
    let real = done.stats.compressed_bytes as f64;
    assert!((estimate / real - 1.0).abs() < 0.05, "{estimate} vs {real}");
}

#[test]
fn empty_object_is_a_valid_file_without_rows() {
    let done = ParquetEncoder::new(Vec::new(), &LogFormat::default(), GzipLevel::default())
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(reader(&done.inner).metadata().file_metadata().num_rows(), 0);
    assert_eq!(done.stats.records, 0);
}
