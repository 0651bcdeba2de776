//! Configuration files for the binary's tests, built table by table instead
//! of by hand with `format!`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The flow log identity most tests use.
const ACCOUNT_ID: &str = "123456789012";
const REGION: &str = "eu-west-1";
const FLOW_LOG_ID: &str = "fl-0630869f236e76872";

/// A TOML configuration being written: tables and array-of-tables entries,
/// each followed by its `key = value` lines, in the order they are added.
///
/// ```
/// use vpcflow_testkit::ConfigToml;
/// let text = ConfigToml::new()
///     .test_flow_log()
///     .table("output")
///     .set("out", "/tmp/out")
///     .skydive_analyzer(9000)
///     .into_text();
/// assert!(text.contains("[output]\nout = \"/tmp/out\"\n"));
/// assert!(text.contains("[[skydive.analyzer]]\nurl = \"ws://127.0.0.1:9000\"\n"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ConfigToml {
    text: String,
}

impl ConfigToml {
    /// An empty file.
    pub fn new() -> ConfigToml {
        ConfigToml::default()
    }

    /// Starts table `[name]`; later [`set`](Self::set)s go into it.
    pub fn table(mut self, name: &str) -> ConfigToml {
        let _ = writeln!(self.text, "[{name}]");
        self
    }

    /// Starts a new entry `[[name]]` of an array of tables.
    pub fn array_entry(mut self, name: &str) -> ConfigToml {
        let _ = writeln!(self.text, "[[{name}]]");
        self
    }

    /// `key = value` in the current table.
    pub fn set(mut self, key: &str, value: impl ToToml) -> ConfigToml {
        let _ = writeln!(self.text, "{key} = {}", value.to_toml());
        self
    }

    /// Text appended as it is (rules with inline tables, a deliberate error).
    pub fn raw(mut self, text: &str) -> ConfigToml {
        self.text.push_str(text);
        if !text.ends_with('\n') {
            self.text.push('\n');
        }
        self
    }

    /// `[flow_log]` with the tests' flow log: account 123456789012 in
    /// eu-west-1, `fl-0630869f236e76872`, 60-second windows. More keys of
    /// `[flow_log]` may follow.
    pub fn test_flow_log(self) -> ConfigToml {
        self.table("flow_log")
            .set("account_id", ACCOUNT_ID)
            .set("region", REGION)
            .set("flow_log_id", FLOW_LOG_ID)
            .set("interval", 60)
    }

    /// `[aggregation]` without NODATA records, which would otherwise depend
    /// on when the test runs.
    pub fn without_nodata(self) -> ConfigToml {
        self.table("aggregation").set("nodata", false)
    }

    /// An `[[skydive.analyzer]]` entry on loopback port `port`; more keys of
    /// the entry may follow.
    pub fn skydive_analyzer(self, port: u16) -> ConfigToml {
        self.array_entry("skydive.analyzer")
            .set("url", format!("ws://127.0.0.1:{port}"))
    }

    /// The text so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The finished text.
    pub fn into_text(self) -> String {
        self.text
    }

    /// Writes the file as `dir/vpcflow.toml`; returns its path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        self.write_as(&dir.join("vpcflow.toml"))
    }

    /// Writes the file at `path`; returns it.
    pub fn write_as(&self, path: &Path) -> PathBuf {
        std::fs::write(path, &self.text)
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path.to_path_buf()
    }
}

/// A value written in TOML syntax.
pub trait ToToml {
    /// The value as it appears right of `=`.
    fn to_toml(&self) -> String;
}

/// TOML text used as it is, e.g. an array of inline tables.
#[derive(Debug, Clone, Copy)]
pub struct RawToml<'a>(pub &'a str);

impl ToToml for RawToml<'_> {
    fn to_toml(&self) -> String {
        self.0.to_string()
    }
}

impl ToToml for str {
    fn to_toml(&self) -> String {
        let mut out = String::with_capacity(self.len() + 2);
        out.push('"');
        for c in self.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => {
                    let _ = write!(out, "\\u{:04X}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }
}

impl ToToml for String {
    fn to_toml(&self) -> String {
        self.as_str().to_toml()
    }
}

impl ToToml for Path {
    fn to_toml(&self) -> String {
        self.to_str()
            .unwrap_or_else(|| panic!("{} is not UTF-8", self.display()))
            .to_toml()
    }
}

impl ToToml for PathBuf {
    fn to_toml(&self) -> String {
        self.as_path().to_toml()
    }
}

impl ToToml for bool {
    fn to_toml(&self) -> String {
        self.to_string()
    }
}

macro_rules! integer_to_toml {
    ($($t:ty),*) => {$(
        impl ToToml for $t {
            fn to_toml(&self) -> String {
                self.to_string()
            }
        }
    )*};
}

integer_to_toml!(i32, i64, u16, u32, u64, usize);

impl<T: ToToml> ToToml for [T] {
    fn to_toml(&self) -> String {
        let items: Vec<String> = self.iter().map(ToToml::to_toml).collect();
        format!("[{}]", items.join(", "))
    }
}

impl<T: ToToml, const N: usize> ToToml for [T; N] {
    fn to_toml(&self) -> String {
        self.as_slice().to_toml()
    }
}

impl<T: ToToml + ?Sized> ToToml for &T {
    fn to_toml(&self) -> String {
        (**self).to_toml()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_and_escaped() {
        assert_eq!("a\"b\\c".to_toml(), r#""a\"b\\c""#);
        assert_eq!("${srcaddr}".to_toml(), r#""${srcaddr}""#);
        assert_eq!(Path::new("/tmp/x y").to_toml(), r#""/tmp/x y""#);
    }

    #[test]
    fn arrays_numbers_and_raw_values() {
        assert_eq!(
            ["10.0.0.5", "fe80::5"].to_toml(),
            r#"["10.0.0.5", "fe80::5"]"#
        );
        assert_eq!(65536u32.to_toml(), "65536");
        assert_eq!(false.to_toml(), "false");
        assert_eq!(RawToml("[ { a = 1 } ]").to_toml(), "[ { a = 1 } ]");
    }

    #[test]
    fn tables_keep_their_order() {
        let text = ConfigToml::new()
            .test_flow_log()
            .set("format", "${srcaddr}")
            .without_nodata()
            .array_entry("interface")
            .set("name", "node-1")
            .raw("[metrics]\nlisten = \"127.0.0.1:1\"")
            .into_text();
        assert_eq!(
            text,
            "[flow_log]\naccount_id = \"123456789012\"\nregion = \"eu-west-1\"\n\
             flow_log_id = \"fl-0630869f236e76872\"\ninterval = 60\nformat = \"${srcaddr}\"\n\
             [aggregation]\nnodata = false\n[[interface]]\nname = \"node-1\"\n\
             [metrics]\nlisten = \"127.0.0.1:1\"\n"
        );
    }
}
