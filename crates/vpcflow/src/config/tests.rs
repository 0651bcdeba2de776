//! Tests of the configuration: file, flags and validation.

use std::path::PathBuf;

use anyhow::anyhow;
use vpcflow_core::format::LogFormat;
use vpcflow_core::window::Interval;
use vpcflow_sinks::FileFormat;
use vpcflow_sources::skydive::subscriber::WireProtocol;

use super::settings::{build, DEFAULT_MAX_FILE_BYTES};
use super::*;

fn parse(text: &str) -> Result<Settings> {
    let file: ConfigFile = toml::from_str(text).map_err(|e| anyhow!("{e}"))?;
    build(file, &Overrides::default())
}

#[test]
fn file_format_from_file_and_flag() {
    assert_eq!(parse("").unwrap().file_format, FileFormat::Text);
    let s = parse("[output]\nfile_format = \"parquet\"").unwrap();
    assert_eq!(s.file_format, FileFormat::Parquet);
    let file: ConfigFile = toml::from_str("[output]\nfile_format = \"parquet\"").unwrap();
    let flag = Overrides {
        output: OutputFlags {
            file_format: Some(FileFormat::Text),
            ..OutputFlags::default()
        },
        ..Overrides::default()
    };
    assert_eq!(build(file, &flag).unwrap().file_format, FileFormat::Text);
    let e = parse("[output]\nfile_format = \"csv\"").unwrap_err();
    assert!(
        e.to_string()
            .contains("file format \"csv\" is not one of text, parquet"),
        "{e}"
    );
    let e = parse("[output]\nfile_format = \"parquet\"\nout = \"-\"").unwrap_err();
    assert!(e.to_string().contains("need an output directory"), "{e}");
}

#[test]
fn empty_config_gives_defaults() {
    let s = parse("").unwrap();
    assert_eq!(s.format, LogFormat::default_v2());
    assert_eq!(s.aggregation.interval, Interval::TenMinutes);
    assert_eq!(s.flow_log.region, "us-east-1");
    assert_eq!(s.flow_log.account_id.len(), 12);
    assert_eq!(s.destinations[0], Destination::Directory("flowlogs".into()));
    assert_eq!(s.max_file_bytes, DEFAULT_MAX_FILE_BYTES);
    assert!(!s.aggregation.key_by_packet_addrs);
    assert_eq!(s.state_save_interval_secs, 60);
    assert_eq!(s.state_dir, None);
    let s = parse("[state]\ndir = \"/srv/vpcflow-a\"\n[skydive]\nstate_save_interval = 5").unwrap();
    assert_eq!(
        s.state_dir.as_deref(),
        Some(std::path::Path::new("/srv/vpcflow-a"))
    );
    assert_eq!(s.state_save_interval_secs, 5);
}

#[test]
fn full_config() {
    let s = parse(
        r#"
        [flow_log]
        account_id = "123456789012"
        region = "eu-west-1"
        flow_log_id = "fl-0630869f236e76872"
        format = "${version} ${pkt-srcaddr} ${srcaddr}"
        interval = 60
        traffic_type = "ACCEPT"
        [output]
        out = "-"
        layout = "hive-hourly"
        prefix = "a/b"
        max_file_bytes = 1000000
        gzip_level = 1
        [aggregation]
        max_open_flows = 10
        overflow = "skip"
        allowed_lateness = 5
        nodata = false
        [capture]
        interface_name = "eth0"
        fragments = "track-first"
        [[interface]]
        name = "eth0"
        interface_id = "eni-1235b8ca123456789"
        addresses = ["10.0.0.1", "2001:db8::1"]
        primary_ipv4 = "10.0.0.2"
        networks = ["10.0.0.0/16", "fd00::/8"]
        [interface.ecs]
        cluster_name = "prod"
        "#,
    )
    .unwrap();
    assert_eq!(s.format.version(), 3);
    assert!(s.aggregation.key_by_packet_addrs);
    assert_eq!(s.destinations[0], Destination::Stdout);
    assert!(s.layout.hive && s.layout.hourly);
    assert_eq!(s.interfaces["eth0"].addresses.len(), 2);
    assert_eq!(
        s.interfaces["eth0"].primary_ipv4,
        Some("10.0.0.2".parse().unwrap())
    );
    assert_eq!(s.interfaces["eth0"].networks.len(), 2);
    assert_eq!(
        s.interfaces["eth0"]
            .ecs
            .as_ref()
            .unwrap()
            .cluster_name
            .as_deref(),
        Some("prod")
    );
    assert_eq!(s.capture.interface_name.as_deref(), Some("eth0"));
    assert!(!s.aggregation.emit_nodata);
}

#[test]
fn errors_name_the_key() {
    let cases = [
        ("[flow_log]\ninterval = 300", "flow_log.interval"),
        (
            "[flow_log]\nformat = \"${version} ${nope}\"",
            "flow_log.format: unknown field \"nope\"",
        ),
        ("[flow_log]\naccount_id = \"12\"", "flow_log: account id"),
        (
            "[flow_log]\nflow_log_id = \"fl-XYZ\"",
            "flow_log: flow log id",
        ),
        ("[output]\nprefix = \"x/AWSLogs\"", "output.prefix"),
        (
            "[output]\nlayout = \"daily\"",
            "layout = \"daily\"\n  |          ^^^^^^^\nlayout \"daily\" is not one of",
        ),
        ("[output]\ngzip_level = 11", "output.gzip_level"),
        ("[aggregation]\noverflow = \"grow\"", "aggregation.overflow"),
        (
            "[[interface]]\nname = \"a\"\naddresses = [\"10.0.0.300\"]",
            "addresses = [\"10.0.0.300\"]\n  |              ^^^^^^^^^^^^\ninvalid IP address syntax",
        ),
        (
            "[[interface]]\nname = \"a\"\ninterface_id = \"eth0\"",
            "interface[0] (a).interface_id",
        ),
        (
            "[[interface]]\nname = \"a\"\n[[interface]]\nname = \"a\"",
            "configured twice",
        ),
        ("[capture]\nfragments = \"all\"", "capture.fragments"),
        (
            "[[interface]]\nname = \"a\"\nprimary_ipv4 = \"fd00::1\"",
            "primary_ipv4 = \"fd00::1\"\n  |                ^^^^^^^^^\ninvalid IPv4 address syntax",
        ),
        (
            "[[interface]]\nname = \"a\"\nprimary_ipv6 = \"10.0.0.1\"",
            "invalid IPv6 address syntax",
        ),
        (
            "[[interface]]\nname = \"a\"\nnetworks = [\"10.0.0.0\"]",
            "networks = [\"10.0.0.0\"]\n  |             ^^^^^^^^^^\ninvalid IP address syntax",
        ),
        (
            "[[interface]]\nname = \"a\"\nnetworks = [\"10.0.0.5/16\"]",
            "host bits set (the network is 10.0.0.0/16)",
        ),
        (
            "[flow_log]\naws_ip_ranges = \"/nonexistent/ip-ranges.json\"",
            "flow_log.aws_ip_ranges: cannot read AWS ip-ranges file /nonexistent/ip-ranges.json",
        ),
        (
            "[[interface]]\nname = \"a\"\n[interface.ecs]\ntask_id = \"a b\"",
            "interface[0] (a).ecs.task_id",
        ),
        (
            "[skydive]\nstate_save_interval = 0",
            "skydive.state_save_interval: 0 s must be between 1 and 3600 s",
        ),
        (
            "[skydive]\nstate_save_interval = 3601",
            "skydive.state_save_interval",
        ),
        ("[state]\ndir = \"\"", "state.dir: must not be empty"),
        ("[state]\nfolder = \"x\"", "unknown field `folder`, expected `dir`"),
    ];
    for (text, expected) in cases {
        let e = parse(text).unwrap_err().to_string();
        assert!(e.contains(expected), "{text:?}: {e}");
    }
}

#[test]
fn unknown_ecs_keys_are_rejected_by_name() {
    let e =
        toml::from_str::<ConfigFile>("[[interface]]\nname = \"a\"\n[interface.ecs]\ntask = \"x\"")
            .unwrap_err()
            .to_string();
    assert!(e.contains("task"), "{e}");
}

#[test]
fn unknown_keys_are_rejected_by_name() {
    let e = toml::from_str::<ConfigFile>("[output]\nlayuot = \"hive\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("layuot"), "{e}");
}

#[test]
fn live_captures() {
    let s = parse(
        r#"
        [capture]
        idle_delay = 2
        [[capture.interface]]
        name = "eth0"
        filter = "ip or ip6"
        promisc = true
        snaplen = 128
        buffer = 1048576
        [[capture.interface]]
        name = "veth*"
    "#,
    )
    .unwrap();
    assert_eq!(s.capture_idle_delay_secs, 2);
    assert_eq!(s.captures.len(), 2);
    assert_eq!(s.captures[0].filter.as_deref(), Some("ip or ip6"));
    assert!(s.captures[0].promisc);
    assert_eq!(s.captures[0].snaplen, 128);
    assert_eq!(s.captures[0].buffer_bytes, 1 << 20);
    assert!(s.captures[1].is_pattern());
    assert!(!s.captures[1].promisc);
    for (text, key) in [
        (
            "[[capture.interface]]\nname = \"\"",
            "capture.interface[0].name",
        ),
        (
            "[[capture.interface]]\nname = \"a\"\nsnaplen = 10",
            "capture.interface[0].snaplen",
        ),
        (
            "[[capture.interface]]\nname = \"a\"\nbuffer = 10",
            "capture.interface[0].buffer",
        ),
    ] {
        let e = parse(text).unwrap_err().to_string();
        assert!(e.contains(key), "{e}");
    }
}

#[test]
fn skydive_analyzers() {
    let s = parse(
        r#"
        [skydive]
        capture_ids = ["c1"]
        idle_delay = 30
        [[skydive.analyzer]]
        url = "ws://a1:8082"
        username = "admin"
        password = "pw"
        [[skydive.analyzer]]
        url = "wss://a2"
        protocol = "protobuf"
        token = "tok"
        ca_file = "/etc/ca.pem"
        capture_id = "c1"
        stats = false
        cookies = { lb = "x" }
        "#,
    )
    .unwrap();
    assert_eq!(s.analyzers.len(), 2);
    assert_eq!(s.analyzers[0].username.as_deref(), Some("admin"));
    assert_eq!(s.analyzers[1].protocol, WireProtocol::Protobuf);
    assert_eq!(s.analyzers[1].namespaces(), vec!["flow/c1"]);
    assert_eq!(s.analyzers[1].cookies, vec![("lb".into(), "x".into())]);
    assert_eq!(s.skydive.capture_ids, vec!["c1"]);
    assert_eq!(s.idle_delay_secs, 30);
    for (text, expected) in [
        (
            "[[skydive.analyzer]]\nurl = \"http://a\"",
            "skydive.analyzer[0].url",
        ),
        (
            "[[skydive.analyzer]]\nurl = \"ws://a\"\nprotocol = \"xml\"",
            "skydive.analyzer[0].protocol",
        ),
        (
            "[[skydive.analyzer]]\nurl = \"ws://a\"\nusername = \"u\"\npassword = \"x\"\npassword_file = \"/p\"",
            "skydive.analyzer[0].password_file: give password or password_file, not both",
        ),
        (
            "[[skydive.analyzer]]\nurl = \"ws://a\"\ntoken_file = \"/nonexistent/token\"",
            "skydive.analyzer[0].token_file: cannot read /nonexistent/token",
        ),
        (
            "[[skydive.analyzer]]\nurl = \"ws://a\"\npassword = \"x\"",
            "skydive.analyzer[0].password",
        ),
        ("[skydive]\nstate_ttl = 5", "skydive.state_ttl"),
        (
            "[skydive.reject]\noutside = \"a\"\ninside = \"a\"",
            "skydive.reject",
        ),
    ] {
        let e = parse(text).unwrap_err().to_string();
        assert!(e.contains(expected), "{text:?}: {e}");
    }
}

#[test]
fn metrics_listen() {
    assert_eq!(parse("").unwrap().metrics_listen, None);
    let s = parse("[metrics]\nlisten = \"127.0.0.1:9808\"").unwrap();
    assert_eq!(s.metrics_listen, Some("127.0.0.1:9808".parse().unwrap()));
    let s = parse("[metrics]\nlisten = \"[::1]:9808\"").unwrap();
    assert_eq!(s.metrics_listen, Some("[::1]:9808".parse().unwrap()));
    for bad in ["localhost:9808", "127.0.0.1", ""] {
        let e = parse(&format!("[metrics]\nlisten = {bad:?}")).unwrap_err();
        assert!(e.to_string().starts_with("metrics.listen: "), "{e}");
    }
    let e = toml::from_str::<ConfigFile>("[metrics]\nport = 1")
        .unwrap_err()
        .to_string();
    assert!(e.contains("port"), "{e}");
}

#[test]
fn command_line_wins() {
    let file: ConfigFile = toml::from_str("[flow_log]\ninterval = 60").unwrap();
    let s = build(
        file,
        &Overrides {
            conversion: ConversionFlags {
                interval: Some(600),
                ..ConversionFlags::default()
            },
            ..Overrides::default()
        },
    )
    .unwrap();
    assert_eq!(s.aggregation.interval, Interval::TenMinutes);
}

#[test]
fn s3_destination_and_every_s3_key() {
    let s = parse(
        r#"
        [flow_log]
        region = "eu-west-1"
        [output]
        out = "arn:aws:s3:::my-flow-logs/vpc/"
        spool_dir = "/var/tmp/spool"
        spool_max_bytes = 2097152
        [output.s3]
        endpoint = "http://127.0.0.1:3900"
        region = "us-east-1"
        profile = "flowlogs"
        force_path_style = false
        acl = "none"
        sse = "aws:kms"
        sse_kms_key_id = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        storage_class = "STANDARD_IA"
        multipart_threshold = 33554432
        multipart_part_size = 16777216
        max_concurrent_uploads = 2
        shutdown_timeout = 5
        permanent_error_retry = 60
        "#,
    )
    .unwrap();
    let Destination::S3(t) = &s.destinations[0] else {
        panic!("{:?}", s.destinations)
    };
    assert_eq!(t.destination.bucket, "my-flow-logs");
    assert_eq!(s.prefix.as_str(), "vpc");
    let o = &t.settings.options;
    assert_eq!(o.endpoint.as_deref(), Some("http://127.0.0.1:3900"));
    assert_eq!(o.region.as_deref(), Some("us-east-1"));
    assert_eq!(o.fallback_region.as_deref(), Some("eu-west-1"));
    assert_eq!(o.profile.as_deref(), Some("flowlogs"));
    assert_eq!(o.force_path_style, Some(false));
    assert_eq!(o.acl, vpcflow_sinks::s3::Acl::None);
    assert!(matches!(o.sse, Some(vpcflow_sinks::s3::Sse::Kms(_))));
    assert_eq!(o.storage_class.as_deref(), Some("STANDARD_IA"));
    assert_eq!(
        (o.multipart_threshold, o.multipart_part_size),
        (32 << 20, 16 << 20)
    );
    assert_eq!(o.max_concurrent_uploads, 2);
    assert_eq!(o.permanent_error_retry.as_secs(), 60);
    assert_eq!(t.settings.shutdown_timeout.as_secs(), 5);
    assert_eq!(t.settings.spool_dir, PathBuf::from("/var/tmp/spool"));
    assert_eq!(t.settings.spool_max_bytes, 2 << 20);

    let e = parse("[output]\nout = \"s3://b-1/x/\"\n[output.s3]\nbucket = \"y\"").unwrap_err();
    assert!(e.to_string().contains("unknown field `bucket`"), "{e}");
    let e = parse("[output]\nout = \"s3://b-1/x/\"\nprefix = \"y\"").unwrap_err();
    assert!(e.to_string().starts_with("output.prefix: "), "{e}");
    let e = parse("[output]\nout = \"s3://B/\"").unwrap_err();
    assert!(e.to_string().starts_with("output.out: "), "{e}");
    // Without an S3 destination the S3 table is accepted and unused.
    let s = parse("[output.s3]\nregion = \"us-east-1\"").unwrap();
    assert_eq!(s.destinations[0], Destination::Directory("flowlogs".into()));
}

#[test]
fn analyzer_secrets_from_files_and_wss_with_the_system_roots() {
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("password");
    let token = dir.path().join("token");
    let empty = dir.path().join("empty");
    std::fs::write(&password, "pa ss\n").unwrap();
    std::fs::write(&token, "tok").unwrap();
    std::fs::write(&empty, "\n").unwrap();
    let s = parse(&format!(
        "[[skydive.analyzer]]\nurl = \"wss://a\"\nusername = \"u\"\npassword_file = {:?}\ntoken_file = {:?}\n",
        password.display().to_string(),
        token.display().to_string()
    ))
    .unwrap();
    let a = &s.analyzers[0];
    assert_eq!(a.password.as_deref(), Some("pa ss"));
    assert_eq!(a.token.as_deref(), Some("tok"));
    assert_eq!(a.ca_file, None, "wss without ca_file: the system's roots");
    let e = parse(&format!(
        "[[skydive.analyzer]]\nurl = \"ws://a\"\ntoken_file = {:?}\n",
        empty.display().to_string()
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("skydive.analyzer[0].token_file: ") && e.ends_with("is empty"),
        "{e}"
    );
}

#[test]
fn every_duration_and_count_has_an_upper_bound_named_with_its_key() {
    let s3 = "[output]\nout = \"s3://bkt/p/\"\nspool_dir = \"/tmp/s\"\n";
    for (text, message) in [
        (
            "[aggregation]\nnodata_max_gap = 2678401".to_string(),
            "aggregation.nodata_max_gap: 2678401 s is more than the maximum of 2678400 s",
        ),
        (
            "[aggregation]\nmax_open_flows = 100000001".to_string(),
            "aggregation.max_open_flows: 100000001 is more than the maximum of 100000000",
        ),
        (
            "[output]\nmax_file_bytes = 5000000001".to_string(),
            "output.max_file_bytes: 5000000001 bytes is more than the maximum of 5000000000 bytes",
        ),
        (
            "[skydive]\nstate_ttl = 2592001".to_string(),
            "skydive.state_ttl: 2592001 s is more than the maximum of 2592000 s",
        ),
        (
            "[skydive]\nmax_tracked_flows = 100000001".to_string(),
            "skydive.max_tracked_flows: 100000001 is more than the maximum of 100000000",
        ),
        (
            "[skydive]\norphan_wait = 86401".to_string(),
            "skydive.orphan_wait: 86401 s is more than the maximum of 86400 s",
        ),
        (
            "[skydive]\nidle_delay = 86401".to_string(),
            "skydive.idle_delay: 86401 s is more than the maximum of 86400 s",
        ),
        (
            "[skydive.reject]\noutside = \"a\"\ninside = \"b\"\ntimeout = 86401".to_string(),
            "skydive.reject.timeout: 86401 s is more than the maximum of 86400 s",
        ),
        (
            "[skydive.reject]\noutside = \"a\"\ninside = \"b\"\ntimeout = 0".to_string(),
            "skydive.reject.timeout: must be at least 1 s",
        ),
        (
            "[capture]\nidle_delay = 86401".to_string(),
            "capture.idle_delay: 86401 s is more than the maximum of 86400 s",
        ),
        (
            "[[capture.interface]]\nname = \"eth0\"\nbuffer = 2147483648".to_string(),
            "capture.interface[0].buffer: 2147483648 bytes is more than the maximum of 1073741824 bytes",
        ),
        (
            format!("{s3}spool_max_bytes = 1125899906842625"),
            "output.spool_max_bytes: 1125899906842625 bytes is more than the maximum of 1125899906842624 bytes",
        ),
        (
            format!("{s3}[output.s3]\nmax_concurrent_uploads = 1025"),
            "output.s3.max_concurrent_uploads: 1025 is more than the maximum of 1024",
        ),
        (
            format!("{s3}[output.s3]\nmultipart_part_size = 5368709121\nmultipart_threshold = 5368709121"),
            "output.s3.multipart_part_size: 5368709121 bytes is more than the maximum of 5368709120 bytes",
        ),
        (
            format!("{s3}[output.s3]\nmultipart_threshold = 5497558138881"),
            "output.s3.multipart_threshold: 5497558138881 bytes is more than the maximum of 5497558138880 bytes",
        ),
        (
            format!("{s3}[output.s3]\nshutdown_timeout = 86401"),
            "output.s3.shutdown_timeout: 86401 s is more than the maximum of 86400 s",
        ),
        (
            format!("{s3}[output.s3]\npermanent_error_retry = 86401"),
            "output.s3.permanent_error_retry: 86401 s is more than the maximum of 86400 s",
        ),
    ] {
        let e = parse(&text).err().unwrap_or_else(|| panic!("accepted: {text}"));
        assert_eq!(e.to_string(), message, "{text}");
    }
    // The bounds themselves are accepted.
    let s =
        parse("[aggregation]\nnodata_max_gap = 2678400\n[skydive]\nstate_ttl = 2592000").unwrap();
    assert_eq!(s.aggregation.nodata_max_gap_secs, 2_678_400);
    assert_eq!(s.skydive.state_ttl_secs, 2_592_000);
}

#[test]
fn several_destinations_each_with_a_spool_of_its_own() {
    let s = parse(
        r#"
        [flow_log]
        region = "eu-west-1"
        traffic_type = "REJECT"
        [output]
        out = ["s3://first/logs/", "arn:aws:logs:us-west-2:123456789012:log-group:/vpc/flow", "s3://second/", "firehose://fl", "local-out"]
        spool_dir = "/var/tmp/spool"
        spool_max_bytes = 4096
        [output.cloudwatch]
        create_log_group = false
        retention_days = 14
        kms_key_id = "arn:aws:kms:us-west-2:123456789012:key/1234abcd"
        shutdown_timeout = 7
        [output.firehose]
        region = "ap-south-1"
        endpoint_url = "http://127.0.0.1:5000"
        "#,
    )
    .unwrap();
    assert_eq!(s.destinations.len(), 5);
    let spools: Vec<Option<PathBuf>> = s
        .destinations
        .iter()
        .map(|d| d.spool_dir().map(PathBuf::from))
        .collect();
    let root = PathBuf::from("/var/tmp/spool");
    assert_eq!(
        spools,
        [
            Some(root.clone()),
            Some(root.join("cloudwatch-_vpc_flow")),
            Some(root.join("s3-second-")),
            Some(root.join("firehose-fl")),
            None
        ]
    );
    // The prefix is the first S3 destination's.
    assert_eq!(s.prefix.as_str(), "logs");
    let Destination::CloudWatch(cw) = &s.destinations[1] else {
        panic!("{:?}", s.destinations)
    };
    assert_eq!(cw.destination.name, "/vpc/flow");
    assert_eq!(
        cw.options.delivery.client.region.as_deref(),
        Some("us-west-2")
    );
    assert_eq!(
        cw.options.delivery.client.fallback_region.as_deref(),
        Some("eu-west-1")
    );
    assert!(!cw.options.create_log_group && cw.options.create_log_stream);
    assert_eq!(cw.options.retention_days, Some(14));
    assert_eq!(cw.shutdown_timeout.as_secs(), 7);
    assert_eq!(cw.spool_max_bytes, 4096);
    let Destination::Firehose(fh) = &s.destinations[3] else {
        panic!("{:?}", s.destinations)
    };
    assert_eq!(fh.options.client.region.as_deref(), Some("ap-south-1"));
    assert_eq!(
        fh.options.client.endpoint.as_deref(),
        Some("http://127.0.0.1:5000")
    );

    // Flags replace the file's list.
    let file: ConfigFile = toml::from_str("[output]\nout = [\"a\", \"b\"]").unwrap();
    let flags = Overrides {
        destination: DestinationFlags {
            out: vec!["cloudwatch://g".into(), "-".into()],
            spool: Some("/s".into()),
            ..DestinationFlags::default()
        },
        ..Overrides::default()
    };
    let s = build(file, &flags).unwrap();
    assert_eq!(s.destinations.len(), 2);
    assert_eq!(s.destinations[1], Destination::Stdout);

    for (text, error) in [
        ("out = [\"a\", \"a\"]", "output.out: \"a\" is given twice"),
        ("out = []", ""),
        ("out = \"cloudwatch://a b\"", "output.out: \"a b\" is not a log group name"),
        (
            "out = \"arn:aws:firehose:us-east-1:123456789012:stream/x\"",
            "output.out: \"arn:aws:firehose:us-east-1:123456789012:stream/x\" is not a delivery stream ARN",
        ),
        ("out = \"firehose://f\"\nspool_max_bytes = 0", "output.spool_max_bytes: must be positive"),
        ("out = \"firehose://f\"\n[output.firehose]\nstream = \"x\"", "unknown field `stream`"),
        ("out = \"cloudwatch://g\"\n[output.cloudwatch]\nretention_days = 0", "output.cloudwatch.retention_days: 0 "),
    ] {
        let result = parse(&format!("[output]\n{text}"));
        if error.is_empty() {
            // An empty list is the default directory.
            assert_eq!(result.unwrap().destinations, [Destination::Directory("flowlogs".into())]);
            continue;
        }
        let e = result.unwrap_err().to_string();
        assert!(e.contains(error), "{text}: {e}");
    }
}
