//! AWS's `--destination-options` of `aws ec2 create-flow-logs`
//! (`FileFormat=parquet,HiveCompatiblePartitions=true,PerHourPartition=true`,
//! or the same as JSON), accepted with AWS's meaning: the file format and the
//! key layout in one setting.

use std::str::FromStr;

use serde::Deserialize;
use vpcflow_core::layout::Layout;
use vpcflow_sinks::FileFormat;

/// The destination options of an S3 flow log. What is left out takes AWS's
/// default: plain text, no Hive-compatible prefixes, daily partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct DestinationOptions {
    /// `plain-text` (or `text`) or `parquet`.
    #[serde(default, deserialize_with = "super::typed::optional")]
    pub file_format: Option<FileFormat>,
    /// Hive-compatible S3 prefixes (`year=…/month=…/day=…`).
    pub hive_compatible_partitions: Option<bool>,
    /// Hourly partitions (an `HH` folder, or `hour=HH`).
    pub per_hour_partition: Option<bool>,
}

impl DestinationOptions {
    /// The file format they give.
    pub fn file_format(&self) -> FileFormat {
        self.file_format.unwrap_or_default()
    }

    /// The key layout they give.
    pub fn layout(&self) -> Layout {
        Layout {
            hive: self.hive_compatible_partitions.unwrap_or(false),
            hourly: self.per_hour_partition.unwrap_or(false),
        }
    }
}

impl FromStr for DestinationOptions {
    type Err = String;

    /// AWS CLI shorthand (`Key=value,Key=value`) or JSON (`{"Key": value}`).
    fn from_str(text: &str) -> Result<DestinationOptions, String> {
        let text = text.trim();
        if text.starts_with('{') {
            return serde_json::from_str(text).map_err(|e| e.to_string());
        }
        let mut options = DestinationOptions::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not KEY=VALUE"))?;
            let flag = || match value.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(format!("{key}: {value:?} must be true or false")),
            };
            match key {
                "FileFormat" => {
                    options.file_format =
                        Some(value.parse().map_err(|e| format!("FileFormat: {e}"))?)
                }
                "HiveCompatiblePartitions" => options.hive_compatible_partitions = Some(flag()?),
                "PerHourPartition" => options.per_hour_partition = Some(flag()?),
                other => {
                    return Err(format!(
                        "{other:?} is not one of FileFormat, HiveCompatiblePartitions, PerHourPartition"
                    ))
                }
            }
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorthand_and_json_give_the_same_options() {
        let short: DestinationOptions =
            "FileFormat=parquet,HiveCompatiblePartitions=true,PerHourPartition=true"
                .parse()
                .unwrap();
        let json: DestinationOptions =
            r#"{"FileFormat":"parquet","HiveCompatiblePartitions":true,"PerHourPartition":true}"#
                .parse()
                .unwrap();
        assert_eq!(short, json);
        assert_eq!(short.file_format(), FileFormat::Parquet);
        assert_eq!(short.layout(), "hive-hourly".parse().unwrap());
        let only_format: DestinationOptions = "FileFormat=plain-text".parse().unwrap();
        assert_eq!(only_format.file_format(), FileFormat::Text);
        assert_eq!(only_format.layout(), Layout::default());
    }

    #[test]
    fn errors_name_the_option() {
        for (text, want) in [
            ("FileFormat=csv", "FileFormat: "),
            (
                "PerHourPartition=yes",
                "PerHourPartition: \"yes\" must be true or false",
            ),
            ("Compression=gzip", "\"Compression\" is not one of"),
            ("parquet", "is not KEY=VALUE"),
            (
                r#"{"FileFormat":"parquet","Extra":1}"#,
                "unknown field `Extra`",
            ),
        ] {
            let e = text.parse::<DestinationOptions>().unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
