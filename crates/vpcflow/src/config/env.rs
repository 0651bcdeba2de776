//! `${NAME}` in string values of the configuration file: the environment
//! variable NAME, so that secrets and host-specific paths stay out of the
//! file (`token = "${SKYDIVE_TOKEN}"`, systemd's `Environment=` or
//! `EnvironmentFile=`). Only upper-case names (`[A-Z_][A-Z0-9_]*`) are
//! variables: the lower-case `${version}` of a record format is left as it is.
//! `$${` writes a literal `${`.

use anyhow::{bail, Result};
use toml::{Table, Value};

/// Expands the variables in every string of `table`; returns whether any
/// was found. An unset variable is an error naming the key.
pub fn expand(table: &mut Table, lookup: &dyn Fn(&str) -> Option<String>) -> Result<bool> {
    let mut any = false;
    for (key, value) in table.iter_mut() {
        any |= expand_value(value, key, lookup)?;
    }
    Ok(any)
}

fn expand_value(
    value: &mut Value,
    key: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<bool> {
    Ok(match value {
        Value::String(text) => match expand_str(text, key, lookup)? {
            Some(expanded) => {
                *text = expanded;
                true
            }
            None => false,
        },
        Value::Array(items) => {
            let mut any = false;
            for (i, item) in items.iter_mut().enumerate() {
                any |= expand_value(item, &format!("{key}[{i}]"), lookup)?;
            }
            any
        }
        Value::Table(table) => {
            let mut any = false;
            for (k, v) in table.iter_mut() {
                any |= expand_value(v, &format!("{key}.{k}"), lookup)?;
            }
            any
        }
        _ => false,
    })
}

/// `text` with its variables replaced, or `None` when it has none.
fn expand_str(
    text: &str,
    key: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>> {
    if !text.contains("${") {
        return Ok(None);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(at) = rest.find("${") {
        if rest[..at].ends_with('$') {
            // `$${`: a literal `${`.
            out.push_str(&rest[..at - 1]);
            out.push_str("${");
            rest = &rest[at + 2..];
            changed = true;
            continue;
        }
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let name_len = after.find('}').unwrap_or(0);
        let name = &after[..name_len];
        let is_variable = name_len > 0
            && name.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if !is_variable {
            out.push_str("${");
            rest = after;
            continue;
        }
        match lookup(name) {
            Some(value) => out.push_str(&value),
            None => bail!("{key}: environment variable {name} is not set"),
        }
        changed = true;
        rest = &after[name_len + 1..];
    }
    out.push_str(rest);
    Ok(changed.then_some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cr\"et".into()),
            "DIR" => Some("/srv/flows".into()),
            _ => None,
        }
    }

    fn run(text: &str) -> Result<(Table, bool)> {
        let mut table: Table = toml::from_str(text).unwrap();
        let any = expand(&mut table, &env)?;
        Ok((table, any))
    }

    #[test]
    fn upper_case_names_are_variables_and_field_names_are_not() {
        let (t, any) = run(concat!(
            "[flow_log]\nformat = \"${version} ${srcaddr}\"\n",
            "[output]\nout = \"${DIR}/out\"\n",
            "[[skydive.analyzer]]\ntoken = \"${TOKEN}\"\ncookies = { a = \"x${TOKEN}y\" }\n",
            "[x]\nlist = [\"$${DIR}\", \"${ unclosed\"]\n",
        ))
        .unwrap();
        assert!(any);
        assert_eq!(
            t["flow_log"]["format"].as_str(),
            Some("${version} ${srcaddr}")
        );
        assert_eq!(t["output"]["out"].as_str(), Some("/srv/flows/out"));
        let analyzer = &t["skydive"]["analyzer"][0];
        assert_eq!(analyzer["token"].as_str(), Some("s3cr\"et"));
        assert_eq!(analyzer["cookies"]["a"].as_str(), Some("xs3cr\"ety"));
        assert_eq!(t["x"]["list"][0].as_str(), Some("${DIR}"));
        assert_eq!(t["x"]["list"][1].as_str(), Some("${ unclosed"));
        let (_, any) = run("[flow_log]\nformat = \"${version}\"\n").unwrap();
        assert!(!any);
    }

    #[test]
    fn an_unset_variable_names_the_key() {
        let e = run("[[skydive.analyzer]]\nurl = \"ws://a\"\npassword = \"${NOPE}\"\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "skydive.analyzer[0].password: environment variable NOPE is not set"
        );
    }
}
