//! The example records of AWS's documentation (`../shared/spec/aws-example-records.txt`)
//! parse with their format and are written back byte for byte.

use vpcflow_core::format::LogFormat;
use vpcflow_testkit::shared_dir;

struct Case {
    id: String,
    format: LogFormat,
    lines: Vec<String>,
}

fn cases(text: &str) -> Vec<Case> {
    let mut out = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut lines = block.lines();
        let head = lines.next().unwrap();
        let head = head
            .strip_prefix("# ")
            .expect("block starts with # <case-id>");
        let (id, format) = head.split_once(" | format: ").expect("case header");
        out.push(Case {
            id: id.to_string(),
            format: LogFormat::parse(format).unwrap_or_else(|e| panic!("{id}: {e}")),
            lines: lines.map(str::to_string).collect(),
        });
    }
    out
}

#[test]
fn every_example_record_round_trips() {
    let Some(dir) = shared_dir() else { return };
    let text = std::fs::read_to_string(dir.join("spec/aws-example-records.txt")).unwrap();
    let cases = cases(&text);
    assert_eq!(cases.len(), 14, "case blocks in the file");
    let mut records = 0;
    for case in &cases {
        for line in &case.lines {
            let values = case
                .format
                .parse_line(line)
                .unwrap_or_else(|e| panic!("{}: {e}: {line}", case.id));
            let mut out = Vec::new();
            case.format.write_line(&values, &mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                format!("{line}\n"),
                "{}",
                case.id
            );
            records += 1;
        }
    }
    assert_eq!(records, 29);
}

#[test]
fn example_versions_follow_the_version_rule() {
    let Some(dir) = shared_dir() else { return };
    let text = std::fs::read_to_string(dir.join("spec/aws-example-records.txt")).unwrap();
    for case in cases(&text) {
        let expected = match case.id.as_str() {
            id if id.starts_with("v2-") || id.starts_with("observed-") => 2,
            id if id.starts_with("v3-") || id.starts_with("transit-") => 3,
            id if id.starts_with("v5-") => 5,
            id if id.starts_with("nat-") => 3, // pkt-* and instance-id are v3; no version column
            id => panic!("unexpected case {id}"),
        };
        assert_eq!(case.format.version(), expected, "{}", case.id);
        let has_version_column = case.format.fields().first().map(|f| f.name()) == Some("version");
        assert_eq!(
            has_version_column,
            !case.id.starts_with("nat-"),
            "{}",
            case.id
        );
    }
}
