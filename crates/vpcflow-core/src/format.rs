//! Record formats: the default v2 format and custom formats written as AWS
//! writes them (`${version} ${srcaddr} …`), their version, header line and the
//! text of one record (spec §1.1–1.5).

use std::fmt;
use std::str::FromStr;

use crate::fields::Field;
use crate::values::{RecordValues, ValueError};

/// The fields of a flow log, in the order they are written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LogFormat {
    fields: Vec<Field>,
}

/// Why a format string is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// No field at all.
    #[error("the log format has no fields")]
    Empty,
    /// A token that is not `${name}`.
    #[error("log format token {position} ({token:?}) is not of the form ${{field-name}}")]
    Malformed {
        /// 1-based position of the token.
        position: usize,
        /// The token.
        token: String,
    },
    /// `${name}` with an unknown name.
    #[error("unknown field {name:?} at position {position} of the log format (run `vpcflow fields` for the list)")]
    UnknownField {
        /// 1-based position of the token.
        position: usize,
        /// The name inside `${}`.
        name: String,
    },
    /// The same field twice.
    #[error("field {name:?} appears twice in the log format (positions {first} and {second})")]
    Duplicate {
        /// The field name.
        name: &'static str,
        /// 1-based position of its first occurrence.
        first: usize,
        /// 1-based position of the repeat.
        second: usize,
    },
}

/// Why a line cannot be read with a format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// Wrong number of space-separated fields.
    #[error("record has {found} fields, the format has {expected}")]
    FieldCount {
        /// Fields of the format.
        expected: usize,
        /// Fields found on the line.
        found: usize,
    },
    /// A field value is not valid.
    #[error(transparent)]
    Value(#[from] ValueError),
    /// `version` does not match the format's version.
    #[error("version {found} does not match the format's version {expected}")]
    Version {
        /// The format's version.
        expected: u8,
        /// The value on the line.
        found: u8,
    },
}

impl LogFormat {
    /// The default format: exactly the 14 version-2 fields.
    pub fn default_v2() -> LogFormat {
        use Field::*;
        LogFormat {
            fields: vec![
                Version,
                AccountId,
                InterfaceId,
                SrcAddr,
                DstAddr,
                SrcPort,
                DstPort,
                Protocol,
                Packets,
                Bytes,
                Start,
                End,
                Action,
                LogStatus,
            ],
        }
    }

    /// A format of the given fields, checked like [`LogFormat::parse`].
    pub fn from_fields(fields: Vec<Field>) -> Result<LogFormat, FormatError> {
        if fields.is_empty() {
            return Err(FormatError::Empty);
        }
        for (i, f) in fields.iter().enumerate() {
            if let Some(j) = fields[..i].iter().position(|g| g == f) {
                return Err(FormatError::Duplicate {
                    name: f.name(),
                    first: j + 1,
                    second: i + 1,
                });
            }
        }
        Ok(LogFormat { fields })
    }

    /// Parses a format as AWS takes it: `${field}` tokens separated by spaces.
    pub fn parse(text: &str) -> Result<LogFormat, FormatError> {
        let mut fields = Vec::new();
        for (i, token) in text.split_whitespace().enumerate() {
            let position = i + 1;
            let name = token
                .strip_prefix("${")
                .and_then(|t| t.strip_suffix('}'))
                .filter(|n| !n.is_empty() && !n.contains(['$', '{', '}']))
                .ok_or_else(|| FormatError::Malformed {
                    position,
                    token: token.to_string(),
                })?;
            let field = Field::from_name(name).ok_or_else(|| FormatError::UnknownField {
                position,
                name: name.to_string(),
            })?;
            fields.push(field);
        }
        LogFormat::from_fields(fields)
    }

    /// The fields in order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Whether the format contains `field`.
    pub fn contains(&self, field: Field) -> bool {
        self.fields.contains(&field)
    }

    /// The flow log version: the highest version among the fields (2 for the
    /// default format), whether or not `version` itself is among them.
    pub fn version(&self) -> u8 {
        self.fields.iter().map(|f| f.version()).max().unwrap_or(2)
    }

    /// The header line of text files, with its LF: field names without `${}`.
    pub fn header_line(&self) -> String {
        let mut line = self
            .fields
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(" ");
        line.push('\n');
        line
    }

    /// Appends one record line (with its LF) to `out`.
    pub fn write_line(&self, values: &RecordValues<'_>, out: &mut Vec<u8>) {
        for (i, field) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            values.write_field(*field, out);
        }
        out.push(b'\n');
    }

    /// Reads one record line (without its LF) written with this format.
    pub fn parse_line<'a>(&self, line: &'a str) -> Result<RecordValues<'a>, LineError> {
        let found = line.split(' ').count();
        if found != self.fields.len() {
            return Err(LineError::FieldCount {
                expected: self.fields.len(),
                found,
            });
        }
        let mut values = RecordValues::default();
        for (field, text) in self.fields.iter().zip(line.split(' ')) {
            values.read_field(*field, text)?;
        }
        if let Some(found) = values.version {
            if found != self.version() {
                return Err(LineError::Version {
                    expected: self.version(),
                    found,
                });
            }
        }
        Ok(values)
    }
}

impl Default for LogFormat {
    fn default() -> Self {
        LogFormat::default_v2()
    }
}

impl FromStr for LogFormat {
    type Err = FormatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LogFormat::parse(s)
    }
}

/// Writes the format as AWS's `LogFormat` string.
impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, field) in self.fields.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "${{{}}}", field.name())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2: &str = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}";

    #[test]
    fn default_is_exactly_the_v2_fields() {
        let f = LogFormat::default();
        assert_eq!(f.fields().len(), 14);
        assert_eq!(f.to_string(), V2);
        assert_eq!(LogFormat::parse(V2).unwrap(), f);
        assert_eq!(f.version(), 2);
        assert_eq!(
            f.header_line(),
            "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"
        );
    }

    #[test]
    fn version_is_the_highest_field_version() {
        assert_eq!(
            LogFormat::parse("${version} ${vpc-id} ${srcaddr}")
                .unwrap()
                .version(),
            3
        );
        assert_eq!(
            LogFormat::parse("${region} ${tcp-flags}")
                .unwrap()
                .version(),
            4
        );
        assert_eq!(LogFormat::parse("${traffic-path}").unwrap().version(), 5);
        assert_eq!(
            LogFormat::parse("${ecs-task-id} ${version}")
                .unwrap()
                .version(),
            7
        );
        assert_eq!(LogFormat::parse("${reject-reason}").unwrap().version(), 8);
        let all = Field::ALL
            .iter()
            .map(|f| format!("${{{}}}", f.name()))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(LogFormat::parse(&all).unwrap().version(), 8);
    }

    #[test]
    fn errors_name_the_culprit() {
        assert_eq!(LogFormat::parse("  ").unwrap_err(), FormatError::Empty);
        let e = LogFormat::parse("${version} ${srcaddress}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown field \"srcaddress\" at position 2 of the log format (run `vpcflow fields` for the list)"
        );
        let e = LogFormat::parse("${version} ${srcaddr} ${version}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "field \"version\" appears twice in the log format (positions 1 and 3)"
        );
        for bad in [
            "version",
            "${version",
            "$version}",
            "${}",
            "${a}${b}",
            "{version}",
        ] {
            assert!(
                matches!(LogFormat::parse(bad), Err(FormatError::Malformed { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn lines_must_have_the_format_field_count() {
        let f = LogFormat::default();
        assert_eq!(
            f.parse_line("2 123456789012").unwrap_err(),
            LineError::FieldCount {
                expected: 14,
                found: 2
            }
        );
        // Two spaces make an empty field, as CSV readers see it.
        let line =
            "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 -  NODATA";
        assert!(f.parse_line(line).is_err());
    }

    #[test]
    fn version_on_a_line_must_match() {
        let f = LogFormat::parse("${version} ${srcaddr}").unwrap();
        assert_eq!(
            f.parse_line("3 1.2.3.4").unwrap_err(),
            LineError::Version {
                expected: 2,
                found: 3
            }
        );
    }
}
