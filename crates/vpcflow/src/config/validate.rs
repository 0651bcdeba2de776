//! Checks of single values shared by several sections; every error names
//! the key it is about.

use anyhow::{bail, Result};

/// `value`, when given, is `prefix` followed by lower-case hex digits.
pub fn check_id(key: &str, value: &Option<String>, prefix: &str) -> Result<()> {
    if let Some(v) = value {
        let hex = v.strip_prefix(prefix).unwrap_or("");
        if hex.is_empty()
            || !hex.bytes().all(|b| b.is_ascii_hexdigit())
            || hex.bytes().any(|b| b.is_ascii_uppercase())
        {
            bail!("{key}: {v:?} must be {prefix} followed by lower-case hex digits");
        }
    }
    Ok(())
}

/// `value`, when given, can stand as one field of a record or header: not
/// empty, not `-`, printable ASCII without spaces or quotes.
pub fn check_token(key: &str, value: Option<&str>) -> Result<()> {
    if let Some(v) = value {
        if v.is_empty()
            || v == "-"
            || v.bytes()
                .any(|b| b.is_ascii_whitespace() || !b.is_ascii_graphic() || b == b'"')
        {
            bail!("{key}: {v:?} must be a non-empty token without spaces, quotes or non-ASCII characters");
        }
    }
    Ok(())
}
