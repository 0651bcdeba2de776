//! The documentation stays true to the configuration types, through the built
//! binary only (`vpcflow check --config FILE`):
//!
//! * the keys each section accepts are learned from the parser itself: it
//!   rejects an unknown key with "unknown field `k`, expected one of `a`, `b`,
//!   …", so each section is fed an unknown key and the list is read back;
//! * `docs/configuration.md` documents exactly those keys, one table per
//!   section under a `###` heading whose first code span names the section
//!   (`[flow_log]`, `[[capture.interface]]`, `policy.security_group.inbound`);
//!   a key that is itself a table is documented by a section of its own;
//! * every ```` ```toml ```` block of the README and of `docs/*.md` is a
//!   configuration `vpcflow check` accepts (```` ```toml fragment ```` blocks
//!   only have to be valid TOML).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A key no section accepts.
const UNKNOWN: &str = "zzz_not_a_key";

/// A section of the configuration and a file that reaches it: the file is
/// `before`, then `KEY = VALUE`, then `after`.
struct Probe {
    /// The section's name in `docs/configuration.md` ("" for the top level).
    section: &'static str,
    before: &'static str,
    after: &'static str,
}

const SG: &str = "[[policy.security_group]]\nname = \"g\"\ninterfaces = [\"eth0\"]\n";
const ACL: &str = "[[policy.network_acl]]\nname = \"a\"\ninterfaces = [\"eth0\"]\n";

/// Every section of the configuration file, with the keys its array-of-tables
/// blocks require. Rules are inline tables; both directions are probed.
fn probes() -> Vec<Probe> {
    let table = |section: &'static str, before: &'static str| Probe {
        section,
        before,
        after: "\n",
    };
    vec![
        table("", ""),
        table("flow_log", "[flow_log]\n"),
        table("output", "[output]\n"),
        table("output.s3", "[output.s3]\n"),
        table("output.cloudwatch", "[output.cloudwatch]\n"),
        table("output.firehose", "[output.firehose]\n"),
        table("aggregation", "[aggregation]\n"),
        table("capture", "[capture]\n"),
        table(
            "capture.interface",
            "[[capture.interface]]\nname = \"eth0\"\n",
        ),
        table("interface", "[[interface]]\nname = \"eth0\"\n"),
        table(
            "interface.ecs",
            "[[interface]]\nname = \"eth0\"\n[interface.ecs]\n",
        ),
        table("skydive", "[skydive]\n"),
        table(
            "skydive.analyzer",
            "[[skydive.analyzer]]\nurl = \"ws://analyzer-1:8082\"\n",
        ),
        table(
            "skydive.reject",
            "[skydive.reject]\noutside = \"a\"\ninside = \"b\"\n",
        ),
        table("netflow", "[netflow]\n"),
        table(
            "netflow.listen",
            "[[netflow.listen]]\naddress = \"0.0.0.0:2055\"\n",
        ),
        table("policy", "[policy]\n"),
        table("policy.security_group", SG),
        table("policy.network_acl", ACL),
        Probe {
            section: "policy.security_group.inbound",
            before: concat!(
                "[[policy.security_group]]\nname = \"g\"\ninterfaces = [\"eth0\"]\n",
                "inbound = [ { protocol = \"tcp\", cidr = \"0.0.0.0/0\", "
            ),
            after: " } ]\n",
        },
        Probe {
            section: "policy.security_group.inbound",
            before: concat!(
                "[[policy.security_group]]\nname = \"g\"\ninterfaces = [\"eth0\"]\n",
                "outbound = [ { protocol = \"tcp\", cidr = \"0.0.0.0/0\", "
            ),
            after: " } ]\n",
        },
        Probe {
            section: "policy.network_acl.inbound",
            before: concat!(
                "[[policy.network_acl]]\nname = \"a\"\ninterfaces = [\"eth0\"]\n",
                "inbound = [ { rule = 100, action = \"allow\", protocol = \"all\", cidr = \"0.0.0.0/0\", "
            ),
            after: " } ]\n",
        },
        Probe {
            section: "policy.network_acl.inbound",
            before: concat!(
                "[[policy.network_acl]]\nname = \"a\"\ninterfaces = [\"eth0\"]\n",
                "outbound = [ { rule = 100, action = \"allow\", protocol = \"all\", cidr = \"0.0.0.0/0\", "
            ),
            after: " } ]\n",
        },
        table("metrics", "[metrics]\n"),
        table("state", "[state]\n"),
        table("durability", "[durability]\n"),
    ]
}

impl Probe {
    fn with(&self, key: &str, value: &str) -> String {
        format!("{}{key} = {value}{}", self.before, self.after)
    }
}

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// `vpcflow check --config FILE` with `text` as FILE, in a fresh directory.
fn check(text: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vpcflow.toml");
    std::fs::write(&path, text).unwrap();
    Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args(["check", "--config-only", "--config"])
        .arg(&path)
        .current_dir(dir.path())
        .env_remove("VPCFLOW_LOG")
        .output()
        .expect("run vpcflow check")
}

/// What the parser says about a section's keys.
enum Learned {
    /// The keys it listed after an unknown one.
    Listed(BTreeSet<String>),
    /// It named the unknown key but listed none.
    Unlisted,
}

/// The "`k`" code spans of `text`, in order.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// Feeds `probe`'s section an unknown key and reads the accepted keys from
/// the error.
fn learn(probe: &Probe) -> Learned {
    let text = probe.with(UNKNOWN, "1");
    let out = check(&text);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "an unknown key in section {:?} was accepted:\n{text}",
        probe.section
    );
    parse_unknown_field(&stderr, UNKNOWN).unwrap_or_else(|| {
        panic!(
            "section {:?}: the error no longer says \"unknown field `{UNKNOWN}`\"; adapt this test\n{text}\n{stderr}",
            probe.section
        )
    })
}

/// Reads serde's "unknown field `KEY`, expected one of `a`, `b`, …" (or
/// "expected `a`", "expected `a` or `b`") from `stderr`; `None` when it does
/// not name `key` as unknown.
fn parse_unknown_field(stderr: &str, key: &str) -> Option<Learned> {
    let marker = format!("unknown field `{key}`");
    let line = stderr.lines().find(|l| l.contains(&marker))?;
    let rest = &line[line.find(&marker).unwrap() + marker.len()..];
    Some(match rest.strip_prefix(", expected ") {
        Some(list) => Learned::Listed(code_spans(list).into_iter().map(String::from).collect()),
        None if rest.contains("no fields") => Learned::Listed(BTreeSet::new()),
        None => Learned::Unlisted,
    })
}

#[test]
fn the_shapes_of_the_unknown_field_error_are_read() {
    let listed = |stderr: &str| match parse_unknown_field(stderr, "zz") {
        Some(Learned::Listed(keys)) => keys.into_iter().collect::<Vec<_>>(),
        Some(Learned::Unlisted) => panic!("unlisted: {stderr}"),
        None => panic!("not found: {stderr}"),
    };
    let error = "error: file x: TOML parse error at line 2, column 1\n  |\n2 | zz = 1\n  | ^^\n";
    assert_eq!(
        listed(&format!(
            "{error}unknown field `zz`, expected one of `a`, `b_c`, `d`\n"
        )),
        ["a", "b_c", "d"]
    );
    assert_eq!(
        listed("unknown field `zz`, expected `a` or `b`"),
        ["a", "b"]
    );
    assert_eq!(listed("unknown field `zz`, expected `listen`"), ["listen"]);
    assert!(listed("unknown field `zz`, there are no fields").is_empty());
    assert!(matches!(
        parse_unknown_field("unknown field `zz`", "zz"),
        Some(Learned::Unlisted)
    ));
    assert!(parse_unknown_field("unknown field `other`, expected `zz`", "zz").is_none());
    assert!(parse_unknown_field("invalid type: integer `1`", "zz").is_none());
}

/// The sections of `docs/configuration.md` and the keys of their tables.
fn documented(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut sections: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_code = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        if line.starts_with('#') {
            current = line
                .strip_prefix("### ")
                .and_then(|h| code_spans(h).first().copied())
                .map(|name| name.trim_matches(['[', ']']).to_string());
            if let Some(name) = &current {
                assert!(
                    sections.insert(name.clone(), Vec::new()).is_none(),
                    "section {name} is documented twice"
                );
            }
            continue;
        }
        let (Some(section), Some(row)) = (&current, line.strip_prefix("| `")) else {
            continue;
        };
        let key = row.split('`').next().unwrap().to_string();
        let keys = sections.get_mut(section).unwrap();
        assert!(!keys.contains(&key), "{section}.{key} is documented twice");
        keys.push(key);
    }
    sections
}

#[test]
fn configuration_reference_documents_exactly_the_accepted_keys() {
    let reference = std::fs::read_to_string(repo_file("docs/configuration.md")).unwrap();
    let docs = documented(&reference);
    let probes = probes();

    let probed: BTreeSet<&str> = probes
        .iter()
        .map(|p| p.section)
        .filter(|s| !s.is_empty())
        .collect();
    let in_docs: BTreeSet<&str> = docs.keys().map(String::as_str).collect();
    assert_eq!(
        in_docs, probed,
        "the sections of docs/configuration.md and those this test probes differ"
    );

    let mut problems = Vec::new();
    for probe in &probes {
        let section = probe.section;
        let rows: &[String] = docs.get(section).map_or(&[], Vec::as_slice);
        let subsection = |key: &str| match section {
            "" => key.to_string(),
            _ => format!("{section}.{key}"),
        };
        match learn(probe) {
            Learned::Listed(accepted) => {
                assert!(
                    !accepted.is_empty(),
                    "section {section:?}: no accepted key could be read from the error"
                );
                for key in &accepted {
                    if !rows.contains(key) && !docs.contains_key(&subsection(key)) {
                        problems.push(format!("{}: accepted, not documented", subsection(key)));
                    }
                }
                for key in rows {
                    if !accepted.contains(key) {
                        problems.push(format!("{}: documented, not accepted", subsection(key)));
                    }
                }
            }
            Learned::Unlisted => {
                // Only one direction can be checked: each documented key must
                // not be the unknown one. A key the probe already sets was
                // accepted, since the error is about the unknown key after it.
                assert!(!rows.is_empty(), "section {section:?} documents no key");
                eprintln!(
                    "section {section:?}: the parser lists no keys; checking the documented ones"
                );
                for key in rows {
                    if probe.before.contains(&format!("{key} = ")) {
                        continue;
                    }
                    let out = check(&probe.with(key, "1"));
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    if stderr.contains(&format!("unknown field `{key}`")) {
                        problems.push(format!("{}: documented, not accepted", subsection(key)));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "docs/configuration.md and the configuration types differ:\n{}",
        problems.join("\n")
    );
}

/// The ```` ```toml ```` blocks of a Markdown file: (line, info string, text).
fn toml_blocks(text: &str) -> Vec<(usize, String, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.strip_prefix("```");
        match (&mut open, fence) {
            (None, Some(info)) => open = Some((i + 1, info.trim().to_string(), String::new())),
            (None, None) => {}
            (Some(_), Some(_)) => {
                let block = open.take().unwrap();
                if block.1.starts_with("toml") {
                    blocks.push(block);
                }
            }
            (Some((_, _, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    assert!(open.is_none(), "a code block is not closed");
    blocks
}

#[test]
fn every_toml_block_of_the_documentation_is_a_valid_configuration() {
    let mut files = vec![repo_file("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo_file("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);

    let mut checked = BTreeMap::new();
    let mut failures = Vec::new();
    for file in &files {
        let name = file
            .strip_prefix(repo_file(""))
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(file).unwrap();
        let blocks = toml_blocks(&text);
        for (line, info, body) in &blocks {
            let at = format!("{name}:{line}");
            match info.as_str() {
                "toml" => {
                    let out = check(body);
                    if !out.status.success() {
                        failures.push(format!(
                            "{at}: vpcflow check refuses it: {}",
                            String::from_utf8_lossy(&out.stderr)
                        ));
                    }
                }
                "toml fragment" => {
                    if let Err(e) = body.parse::<toml::Table>() {
                        failures.push(format!("{at}: not TOML: {e}"));
                    }
                }
                other => failures.push(format!(
                    "{at}: ```{other}: use ```toml, or ```toml fragment for a block that cannot be a whole file"
                )),
            }
        }
        checked.insert(name, blocks.len());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for file in ["README.md", "docs/configuration.md"] {
        assert!(
            checked.get(file).is_some_and(|&n| n > 0),
            "no toml block found in {file}: {checked:?}"
        );
    }
}
