//! The Parquet schema of a format (spec §3.2) and the per-column buffers of
//! the rows of one row group.

use std::sync::Arc;

use bytes::Bytes;
use parquet::basic::{ConvertedType, LogicalType, Repetition, Type as PhysicalType};
use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::errors::Result as ParquetResult;
use parquet::file::writer::SerializedColumnWriter;
use parquet::schema::types::{Type, TypePtr};
use vpcflow_core::fields::{Field, ParquetType};
use vpcflow_core::format::LogFormat;
use vpcflow_core::values::RecordValues;

/// The message type of `format`: one OPTIONAL column per field in format order,
/// named [`Field::column_name`], INT32 / INT64 / BYTE_ARRAY annotated as a UTF-8
/// string, after [`Field::parquet_type`].
pub fn schema(format: &LogFormat) -> ParquetResult<TypePtr> {
    let columns = format
        .fields()
        .iter()
        .map(|f| column_type(*f).map(Arc::new))
        .collect::<ParquetResult<Vec<_>>>()?;
    Ok(Arc::new(
        Type::group_type_builder("schema")
            .with_fields(columns)
            .build()?,
    ))
}

fn column_type(field: Field) -> ParquetResult<Type> {
    let name = field.column_name();
    let builder = match field.parquet_type() {
        ParquetType::Int32 => Type::primitive_type_builder(&name, PhysicalType::INT32),
        ParquetType::Int64 => Type::primitive_type_builder(&name, PhysicalType::INT64),
        ParquetType::String => Type::primitive_type_builder(&name, PhysicalType::BYTE_ARRAY)
            .with_logical_type(Some(LogicalType::String))
            .with_converted_type(ConvertedType::UTF8),
    };
    builder.with_repetition(Repetition::OPTIONAL).build()
}

/// The value of an integer field (`None` for `-` and for string fields).
fn int_value(field: Field, v: &RecordValues<'_>) -> Option<i64> {
    use Field as F;
    let wide = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
    match field {
        F::Version => v.version.map(i64::from),
        F::SrcPort => v.srcport.map(i64::from),
        F::DstPort => v.dstport.map(i64::from),
        F::Protocol => v.protocol.map(i64::from),
        F::TcpFlags => v.tcp_flags.map(i64::from),
        F::TrafficPath => v.traffic_path.map(i64::from),
        F::Packets => v.packets.map(wide),
        F::Bytes => v.bytes.map(wide),
        F::Start => v.start.map(wide),
        F::End => v.end.map(wide),
        _ => None,
    }
}

/// Values of one column not yet written.
enum Values {
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    /// The text of the non-null values end to end, and where each ends.
    Text {
        data: Vec<u8>,
        ends: Vec<usize>,
    },
}

/// The buffered rows of one column: definition levels (1 = value, 0 = null)
/// and the non-null values.
pub struct ColumnBuffer {
    field: Field,
    defs: Vec<i16>,
    values: Values,
}

impl ColumnBuffer {
    /// An empty buffer for `field`.
    pub fn new(field: Field) -> ColumnBuffer {
        let values = match field.parquet_type() {
            ParquetType::Int32 => Values::Int32(Vec::new()),
            ParquetType::Int64 => Values::Int64(Vec::new()),
            ParquetType::String => Values::Text {
                data: Vec::new(),
                ends: Vec::new(),
            },
        };
        ColumnBuffer {
            field,
            defs: Vec::new(),
            values,
        }
    }

    /// Appends the field's value of one record and returns its PLAIN-encoded
    /// size (0 for null).
    #[inline]
    pub fn push(&mut self, record: &RecordValues<'_>) -> u64 {
        let (defined, size) = match &mut self.values {
            Values::Int32(v) => match int_value(self.field, record) {
                Some(x) => {
                    v.push(i32::try_from(x).unwrap_or(i32::MAX));
                    (true, 4)
                }
                None => (false, 0),
            },
            Values::Int64(v) => match int_value(self.field, record) {
                Some(x) => {
                    v.push(x);
                    (true, 8)
                }
                None => (false, 0),
            },
            Values::Text { data, ends } => {
                // The text form, where `-` stands for a missing value.
                let start = data.len();
                record.write_field(self.field, data);
                if &data[start..] == b"-" {
                    data.truncate(start);
                    (false, 0)
                } else {
                    ends.push(data.len());
                    (true, 4 + (data.len() - start) as u64)
                }
            }
        };
        self.defs.push(i16::from(defined));
        size
    }

    /// Writes the buffered rows as this column's chunk of a row group and
    /// empties the buffer.
    pub fn write_to(&mut self, column: &mut SerializedColumnWriter<'_>) -> ParquetResult<()> {
        let defs = Some(&self.defs[..]);
        match &mut self.values {
            Values::Int32(v) => {
                column.typed::<Int32Type>().write_batch(v, defs, None)?;
                v.clear();
            }
            Values::Int64(v) => {
                column.typed::<Int64Type>().write_batch(v, defs, None)?;
                v.clear();
            }
            Values::Text { data, ends } => {
                let all = Bytes::from(std::mem::take(data));
                let mut start = 0;
                let arrays: Vec<ByteArray> = ends
                    .iter()
                    .map(|&end| {
                        let value = ByteArray::from(all.slice(start..end));
                        start = end;
                        value
                    })
                    .collect();
                column
                    .typed::<ByteArrayType>()
                    .write_batch(&arrays, defs, None)?;
                ends.clear();
            }
        }
        self.defs.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_integer_field_has_a_value() {
        let full = RecordValues {
            version: Some(8),
            srcport: Some(1),
            dstport: Some(2),
            protocol: Some(6),
            tcp_flags: Some(18),
            traffic_path: Some(1),
            packets: Some(3),
            bytes: Some(4),
            start: Some(5),
            end: Some(6),
            ..RecordValues::default()
        };
        for f in Field::ALL {
            let is_int = f.parquet_type() != ParquetType::String;
            assert_eq!(int_value(*f, &full).is_some(), is_int, "{f}");
            assert_eq!(int_value(*f, &RecordValues::default()), None, "{f}");
        }
    }

    #[test]
    fn schema_follows_the_format() {
        let format = LogFormat::parse("${version} ${log-status} ${end} ${protocol}").unwrap();
        let schema = schema(&format).unwrap();
        let names: Vec<&str> = schema.get_fields().iter().map(|t| t.name()).collect();
        assert_eq!(names, ["version", "log_status", "end", "protocol"]);
        let types: Vec<PhysicalType> = schema
            .get_fields()
            .iter()
            .map(|t| t.get_physical_type())
            .collect();
        assert_eq!(
            types,
            [
                PhysicalType::INT32,
                PhysicalType::BYTE_ARRAY,
                PhysicalType::INT64,
                PhysicalType::INT32
            ]
        );
        assert!(schema
            .get_fields()
            .iter()
            .all(|t| t.get_basic_info().repetition() == Repetition::OPTIONAL));
    }
}
