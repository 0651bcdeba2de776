//! The file format of the objects (spec §3.1, §3.2): gzip text or Parquet.

use std::fmt;
use std::str::FromStr;

use vpcflow_core::name::FileKind;

/// What kind of object a [`FileWriter`](crate::FileWriter) writes, AWS's
/// `FileFormat` destination option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FileFormat {
    /// gzip-compressed text with a header line, `.log.gz` (AWS's `plain-text`).
    #[default]
    Text,
    /// Parquet with GZIP-compressed column chunks, `.log.parquet`.
    Parquet,
}

/// A file format name other than `text` or `parquet`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("file format {0:?} is not one of text, parquet")]
pub struct FileFormatError(pub String);

impl FileFormat {
    /// The kind of name its objects get.
    pub fn kind(self) -> FileKind {
        match self {
            FileFormat::Text => FileKind::TextGzip,
            FileFormat::Parquet => FileKind::Parquet,
        }
    }
}

impl FromStr for FileFormat {
    type Err = FileFormatError;

    /// `text` (or AWS's `plain-text`) or `parquet`.
    fn from_str(s: &str) -> Result<FileFormat, FileFormatError> {
        match s {
            "text" | "plain-text" => Ok(FileFormat::Text),
            "parquet" => Ok(FileFormat::Parquet),
            other => Err(FileFormatError(other.to_string())),
        }
    }
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileFormat::Text => "text",
            FileFormat::Parquet => "parquet",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in [FileFormat::Text, FileFormat::Parquet] {
            assert_eq!(f.to_string().parse::<FileFormat>(), Ok(f));
        }
        assert_eq!("plain-text".parse::<FileFormat>(), Ok(FileFormat::Text));
        assert_eq!(
            "csv".parse::<FileFormat>().unwrap_err().to_string(),
            "file format \"csv\" is not one of text, parquet"
        );
        assert_eq!(FileFormat::Parquet.kind().suffix(), ".log.parquet");
        assert_eq!(FileFormat::default().kind(), FileKind::TextGzip);
    }
}
