//! `vpcflow fields`: the table of every record field.

use std::io::Write;

use vpcflow_core::fields::Field;

/// Writes one line per field: name, version, Parquet type, meaning.
pub fn print_fields(out: &mut impl Write) -> std::io::Result<()> {
    let width = Field::ALL.iter().map(|f| f.name().len()).max().unwrap_or(0);
    writeln!(
        out,
        "{:width$}  {:>7}  {:7}  meaning",
        "field", "version", "parquet"
    )?;
    for f in Field::ALL {
        writeln!(
            out,
            "{:width$}  {:>7}  {:7}  {}",
            f.name(),
            f.version(),
            f.parquet_type().aws_name(),
            f.meaning()
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_field() {
        let mut out = Vec::new();
        print_fields(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 41);
        assert!(text.contains("reject-reason"));
        assert!(text
            .lines()
            .any(|l| l.starts_with("tcp-flags") && l.contains(" 3 ")));
    }
}
