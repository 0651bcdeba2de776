//! Deserializing typed values from their text form: a setting such as
//! `layout = "hive"` becomes a [`Layout`](vpcflow_core::layout::Layout) while
//! the file is read, with the type's own error message (the TOML parser adds
//! the line and the key).

use std::fmt::Display;
use std::str::FromStr;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// An optional value parsed with its [`FromStr`] implementation; use with
/// `#[serde(default, deserialize_with = "typed::optional")]`.
pub fn optional<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    Option::<String>::deserialize(deserializer)?
        .map(|text| text.parse().map_err(D::Error::custom))
        .transpose()
}
