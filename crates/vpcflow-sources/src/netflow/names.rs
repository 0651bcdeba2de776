//! The names of exporters' interfaces: a pattern of `{exporter}` and
//! `{ifindex}` per exporter (`netflow.interface_name`, `[[netflow.exporter]]`),
//! `{exporter}/ifindex-{ifindex}` by default.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Exporter,
    Ifindex,
}

/// A parsed interface name pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern {
    parts: Vec<Part>,
}

/// The default pattern's text.
pub const DEFAULT_PATTERN: &str = "{exporter}/ifindex-{ifindex}";

impl NamePattern {
    /// Parses `text`: literal text with the placeholders `{exporter}` (the
    /// exporter's address) and `{ifindex}` (the interface index), which must
    /// appear (else every interface of an exporter would share one name).
    /// `{{` and `}}` are literal braces. The error says what is wrong,
    /// without the key (the caller names it).
    pub fn parse(text: &str) -> Result<NamePattern, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if rest.starts_with("{{") || rest.starts_with("}}") {
                literal.push(c);
                rest = &rest[2..];
                continue;
            }
            match c {
                '{' => {
                    let end = rest
                        .find('}')
                        .ok_or_else(|| format!("{text:?}: a '{{' without its '}}'"))?;
                    let part = match &rest[1..end] {
                        "exporter" => Part::Exporter,
                        "ifindex" => Part::Ifindex,
                        other => {
                            return Err(format!(
                                "{text:?}: unknown placeholder {{{other}}} (known: {{exporter}}, {{ifindex}})"
                            ))
                        }
                    };
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(part);
                    rest = &rest[end + 1..];
                }
                '}' => return Err(format!("{text:?}: a '}}' without its '{{'")),
                _ => {
                    literal.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        if !parts.contains(&Part::Ifindex) {
            return Err(format!(
                "{text:?} has no {{ifindex}}: every interface of the exporter would get the same name"
            ));
        }
        Ok(NamePattern { parts })
    }

    /// The name of `ifindex` of `exporter`.
    pub fn render(&self, exporter: IpAddr, ifindex: u32) -> String {
        let mut s = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => s.push_str(t),
                Part::Exporter => {
                    let _ = write!(s, "{exporter}");
                }
                Part::Ifindex => {
                    let _ = write!(s, "{ifindex}");
                }
            }
        }
        s
    }
}

impl Default for NamePattern {
    fn default() -> NamePattern {
        NamePattern::parse(DEFAULT_PATTERN).expect("the default pattern is valid")
    }
}

/// The interface name pattern of every exporter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterfaceNames {
    /// For exporters without a pattern of their own.
    pub default: NamePattern,
    /// Per exporter address.
    pub exporters: HashMap<IpAddr, NamePattern>,
}

impl InterfaceNames {
    /// The name of `ifindex` of `exporter`.
    pub fn name(&self, exporter: IpAddr, ifindex: u32) -> String {
        self.exporters
            .get(&exporter)
            .unwrap_or(&self.default)
            .render(exporter, ifindex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_render_and_errors_say_why() {
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(NamePattern::default().render(a, 3), "192.0.2.1/ifindex-3");
        assert_eq!(
            NamePattern::parse("rtr1-{ifindex}").unwrap().render(a, 7),
            "rtr1-7"
        );
        assert_eq!(
            NamePattern::parse("{{x}}-{exporter}:{ifindex}.é")
                .unwrap()
                .render("2001:db8::1".parse().unwrap(), 0),
            "{x}-2001:db8::1:0.é"
        );
        for (bad, why) in [
            ("rtr1", "has no {ifindex}"),
            ("{exporter}", "has no {ifindex}"),
            ("r-{ifIndex}", "unknown placeholder {ifIndex}"),
            ("r-{ifindex", "without its '}'"),
            ("r}-{ifindex}", "without its '{'"),
        ] {
            let e = NamePattern::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let mut names = InterfaceNames::default();
        names
            .exporters
            .insert(a, NamePattern::parse("rtr1-{ifindex}").unwrap());
        assert_eq!(names.name(a, 2), "rtr1-2");
        assert_eq!(
            names.name("192.0.2.2".parse().unwrap(), 2),
            "192.0.2.2/ifindex-2"
        );
    }
}
