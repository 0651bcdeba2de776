use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use hyper::{header, Method, StatusCode};
use vpcflow_sinks::s3::LATENCY_BOUNDS_SECS;
use vpcflow_sinks::{DeliveryStats, RunSummary};
use vpcflow_sources::live::LiveCaptureStats;

use super::health::{INGEST_STALL_MS, PERMANENT_ERROR_MS, WRITER_BEHIND_MS};
use super::server::{Endpoint, CONTENT_TYPE};
use super::*;

fn busy_telemetry() -> Arc<Telemetry> {
    let t = Telemetry::new();
    t.publish_ingest(IngestView {
        interfaces: vec![
            InterfaceCounts {
                name: "eth0".into(),
                source: "capture",
                packets: 10,
                bytes: 1_500,
                updates: 10,
            },
            InterfaceCounts {
                name: "node-1".into(),
                source: "skydive",
                packets: 3,
                bytes: 342,
                updates: 1,
            },
        ],
        captures: vec![(
            "eth0".into(),
            LiveCaptureStats {
                frames: 12,
                kernel_drops: 4,
                interface_drops: 1,
                queue_drops: 5,
                undecodable: 1,
                ..LiveCaptureStats::default()
            },
        )],
        captures_open: 1,
        open_flows: 7,
        ..IngestView::default()
    });
    t.publish_writer(|w| {
        w.records = vec![(
            "eth0".into(),
            RecordCounts {
                ok_accept: 6,
                ok_reject: 1,
                nodata: 2,
                skipdata: 3,
            },
        )];
        w.output = RunSummary {
            files: 2,
            files_already_present: 1,
            records: 12,
            uncompressed_bytes: 900,
            compressed_bytes: 400,
        };
        w.open_files = 1;
    });
    t.reloaded(true);
    t.reloaded(false);
    t.reloaded(true);
    t
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn the_text_format_holds_every_family_with_its_labels() {
    let text = Endpoint::new(busy_telemetry()).metrics_text();
    let all = lines(&text);
    for want in [
        "# TYPE vpcflow_packets_total counter",
        "vpcflow_packets_total{source=\"capture\",interface=\"eth0\"} 10",
        "vpcflow_packets_total{source=\"skydive\",interface=\"node-1\"} 3",
        "vpcflow_bytes_total{source=\"capture\",interface=\"eth0\"} 1500",
        "vpcflow_flow_updates_total{source=\"skydive\",interface=\"node-1\"} 1",
        "vpcflow_capture_frames_total{interface=\"eth0\"} 12",
        "vpcflow_capture_drops_total{interface=\"eth0\",reason=\"ring\"} 3",
        "vpcflow_capture_drops_total{interface=\"eth0\",reason=\"interface\"} 1",
        "vpcflow_capture_drops_total{interface=\"eth0\",reason=\"queue\"} 5",
        "vpcflow_decode_errors_total{interface=\"eth0\"} 1",
        "# TYPE vpcflow_open_flows gauge",
        "vpcflow_open_flows 7",
        "vpcflow_capture_interfaces_open 1",
        "vpcflow_records_total{interface=\"eth0\",log_status=\"OK\",action=\"ACCEPT\"} 6",
        "vpcflow_records_total{interface=\"eth0\",log_status=\"OK\",action=\"REJECT\"} 1",
        "vpcflow_records_total{interface=\"eth0\",log_status=\"NODATA\",action=\"-\"} 2",
        "vpcflow_records_total{interface=\"eth0\",log_status=\"SKIPDATA\",action=\"-\"} 3",
        "vpcflow_files_published_total 2",
        "vpcflow_files_already_present_total 1",
        "vpcflow_published_bytes_total 400",
        "vpcflow_written_bytes_total 900",
        "vpcflow_open_files 1",
        "vpcflow_config_reloads_total{result=\"ok\"} 2",
        "vpcflow_config_reloads_total{result=\"failed\"} 1",
        &format!(
            "vpcflow_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        ),
    ] {
        assert!(all.contains(&want), "missing {want:?} in\n{text}");
    }
    // No analyzer is configured and no uploading sink is connected: their
    // families are absent rather than zero.
    assert!(!text.contains("skydive_messages"), "{text}");
    assert!(!text.contains("spool"), "{text}");
    // Every sample has HELP and TYPE lines before it.
    for line in all.iter().filter(|l| !l.starts_with('#')) {
        let name = line.split(['{', ' ']).next().unwrap();
        let family = name.strip_suffix("_total").unwrap_or(name);
        assert!(
            text.contains(&format!("# TYPE {family}")),
            "{line} has no TYPE line"
        );
    }
}

#[test]
fn skydive_families_appear_with_analyzers() {
    let t = Telemetry::new();
    let mut view = IngestView {
        analyzers: 2,
        ..IngestView::default()
    };
    view.skydive_live.connects = 3;
    view.skydive_live.disconnects = 2;
    view.skydive_live.messages = 40;
    view.skydive_live.malformed = 2;
    view.skydive.dropped_units = 9;
    t.publish_ingest(view);
    let text = Endpoint::new(t).metrics_text();
    let all = lines(&text);
    for want in [
        "vpcflow_skydive_analyzers_connected 1",
        "vpcflow_skydive_connections_total 3",
        "vpcflow_skydive_disconnections_total 2",
        "vpcflow_skydive_capture_drops_total 9",
        "vpcflow_skydive_messages_total{result=\"accepted\"} 40",
        "vpcflow_skydive_messages_total{result=\"malformed\"} 2",
    ] {
        assert!(all.contains(&want), "missing {want:?} in\n{text}");
    }
}

/// The S3 sink's counters with fixed values for the families not under test.
fn uploads() -> Arc<DeliveryStats> {
    let d = DeliveryStats::default();
    for (counter, value) in [
        (&d.spool_files, 3),
        (&d.spool_bytes, 3_000),
        (&d.objects_delivered, 5),
        (&d.bytes_delivered, 5_000),
        (&d.already_present, 1),
        (&d.upload_errors_transient, 4),
        (&d.backpressure_waits, 6),
    ] {
        counter.store(value, Ordering::Relaxed);
    }
    Arc::new(d)
}

#[test]
fn delivery_counters_are_read_at_scrape_time() {
    let t = Telemetry::new();
    let uploads = uploads();
    t.plug_delivery("s3://bucket/", uploads.clone());
    let endpoint = Endpoint::new(t);
    uploads
        .upload_latency_us_sum
        .store(1_500_000, Ordering::Relaxed);
    uploads.upload_latency_count.store(4, Ordering::Relaxed);
    uploads.upload_errors_permanent.store(2, Ordering::Relaxed);
    let text = endpoint.metrics_text();
    let all = lines(&text);
    for want in [
        "vpcflow_spool_files 3",
        "vpcflow_spool_bytes 3000",
        "vpcflow_objects_delivered_total 5",
        "vpcflow_delivered_bytes_total 5000",
        "vpcflow_objects_already_present_total 1",
        "vpcflow_upload_errors_total{kind=\"transient\"} 4",
        "vpcflow_upload_errors_total{kind=\"permanent\"} 2",
        "vpcflow_upload_backpressure_waits_total 6",
        "# TYPE vpcflow_upload_latency_seconds histogram",
        "vpcflow_upload_latency_seconds_bucket{le=\"+Inf\"} 4",
        "vpcflow_upload_latency_seconds_sum 1.5",
        "vpcflow_upload_latency_seconds_count 4",
    ] {
        assert!(all.contains(&want), "missing {want:?} in\n{text}");
    }
    uploads.upload_latency_count.store(5, Ordering::Relaxed);
    assert!(endpoint
        .metrics_text()
        .contains("vpcflow_upload_latency_seconds_count 5"));
}

#[test]
fn latency_buckets_are_cumulative_in_the_output() {
    let t = Telemetry::new();
    let uploads = uploads();
    uploads.upload_latency_count.store(3, Ordering::Relaxed);
    let bucket = |bound: f64| {
        let i = LATENCY_BOUNDS_SECS
            .iter()
            .position(|b| *b == bound)
            .unwrap();
        &uploads.upload_latency_buckets[i]
    };
    bucket(0.1).store(2, Ordering::Relaxed);
    bucket(1.0).store(1, Ordering::Relaxed);
    t.plug_delivery("s3://bucket/", uploads);
    let text = Endpoint::new(t).metrics_text();
    let all = lines(&text);
    for want in [
        "vpcflow_upload_latency_seconds_bucket{le=\"0.1\"} 2",
        "vpcflow_upload_latency_seconds_bucket{le=\"1\"} 3",
        "vpcflow_upload_latency_seconds_bucket{le=\"+Inf\"} 3",
    ] {
        assert!(all.contains(&want), "missing {want:?} in\n{text}");
    }
}

#[test]
fn health_names_each_problem() {
    let t = Telemetry::new();
    t.ingest_alive();
    let now = t.now_ms();
    assert!(check(&t, now).is_ok());

    let stalled = check(&t, now + INGEST_STALL_MS + 1_000);
    assert_eq!(stalled.problems.len(), 1, "{stalled:?}");
    assert!(stalled.problems[0].contains("ingest thread"), "{stalled:?}");

    t.ingest_waiting(true);
    let since = t.waiting_since_ms().unwrap();
    assert!(check(&t, since + 1_000).is_ok());
    // Blocked on the writer, ingest gives no sign of life: one problem, the
    // writer's.
    let behind = check(&t, since + WRITER_BEHIND_MS + 1_000);
    assert_eq!(behind.problems.len(), 1, "{behind:?}");
    assert!(behind.problems[0].contains("not keeping up"), "{behind:?}");
    t.ingest_waiting(false);

    t.publish_ingest(IngestView {
        failing: vec!["capture.interface[0]: the capture of eth0 has ended".into()],
        ..IngestView::default()
    });
    let now = t.now_ms();
    assert_eq!(
        check(&t, now).problems,
        ["capture.interface[0]: the capture of eth0 has ended"]
    );
    t.publish_ingest(IngestView::default());

    t.writer_stopped("disk full".into());
    assert_eq!(
        check(&t, t.now_ms()).problems,
        ["the writer thread stopped: disk full"]
    );
}

#[test]
fn permanent_upload_errors_make_it_unhealthy_for_a_while() {
    let t = Telemetry::new();
    let uploads = Arc::new(DeliveryStats::default());
    t.plug_delivery("s3://bucket/", uploads.clone());
    t.ingest_alive();
    let now = t.now_ms();
    assert!(check(&t, now).is_ok());
    uploads.upload_errors_permanent.store(1, Ordering::Relaxed);
    let h = check(&t, now);
    assert!(h.problems[0].contains("permanent upload errors"), "{h:?}");
    // Much later, without new errors (the ingest thread's silence is
    // another problem, not looked at here).
    let later = check(&t, now + PERMANENT_ERROR_MS + 1);
    assert!(
        later.problems.iter().all(|p| !p.contains("upload")),
        "{later:?}"
    );
}

#[test]
fn endpoint_routes() {
    let t = busy_telemetry();
    let endpoint = Endpoint::new(t.clone());
    let r = endpoint.respond(&Method::GET, "/metrics");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
    assert_eq!(
        endpoint.respond(&Method::GET, "/healthz").status(),
        StatusCode::OK
    );
    assert_eq!(
        endpoint.respond(&Method::GET, "/").status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        endpoint.respond(&Method::GET, "/metrics/x").status(),
        StatusCode::NOT_FOUND
    );
    let post = endpoint.respond(&Method::POST, "/metrics");
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.headers()[header::ALLOW], "GET, HEAD");
    t.writer_stopped("disk full".into());
    assert_eq!(
        endpoint.respond(&Method::GET, "/healthz").status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
}

/// One HTTP/1.1 request over a real socket: (status line, whole response).
fn get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    let status = response.lines().next().unwrap_or_default().to_string();
    (status, response)
}

#[test]
fn the_server_answers_over_tcp_and_stops_when_dropped() {
    let t = busy_telemetry();
    let server = MetricsServer::start("127.0.0.1:0".parse().unwrap(), t.clone()).unwrap();
    let addr = server.local_addr();
    let (status, response) = get(addr, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK", "{response}");
    assert!(
        response.contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{response}"
    );
    assert!(response.contains("\r\n\r\n# HELP "), "{response}");
    assert!(response.contains("vpcflow_open_flows 7\n"), "{response}");
    let (status, response) = get(addr, "/healthz");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(response.ends_with("\r\n\r\nok\n"), "{response}");
    let (status, _) = get(addr, "/other");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    t.writer_stopped("disk full".into());
    let (status, response) = get(addr, "/healthz");
    assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
    assert!(
        response.ends_with("unhealthy: the writer thread stopped: disk full\n"),
        "{response}"
    );

    // The port is taken: starting a second server says which key and address.
    let e = MetricsServer::start(addr, t).err().unwrap().to_string();
    assert!(
        e.starts_with(&format!("metrics.listen: cannot listen on {addr}: ")),
        "{e}"
    );
    drop(server);
    assert!(TcpStream::connect(addr).is_err(), "still listening");
}

#[test]
fn each_destination_has_its_own_series_and_the_totals_add_up() {
    let t = Telemetry::new();
    let s3 = uploads();
    let logs = Arc::new(DeliveryStats::default());
    logs.spool_files.store(2, Ordering::Relaxed);
    logs.spool_bytes.store(700, Ordering::Relaxed);
    logs.objects_delivered.store(9, Ordering::Relaxed);
    logs.events_delivered.store(1234, Ordering::Relaxed);
    logs.events_rejected.store(7, Ordering::Relaxed);
    logs.upload_errors_transient.store(3, Ordering::Relaxed);
    let firehose = Arc::new(DeliveryStats::default());
    firehose.events_retried.store(11, Ordering::Relaxed);
    t.plug_delivery("s3://bucket/", s3);
    t.plug_delivery("cloudwatch://flow-logs", logs);
    t.plug_delivery("firehose://fl", firehose);
    let text = Endpoint::new(t).metrics_text();
    let all = lines(&text);
    for want in [
        "vpcflow_spool_files 5",
        "vpcflow_spool_bytes 3700",
        "vpcflow_objects_delivered_total 14",
        "vpcflow_upload_errors_total{kind=\"transient\"} 7",
        "vpcflow_destination_spool_files{destination=\"s3://bucket/\"} 3",
        "vpcflow_destination_spool_files{destination=\"cloudwatch://flow-logs\"} 2",
        "vpcflow_destination_spool_bytes{destination=\"cloudwatch://flow-logs\"} 700",
        "vpcflow_destination_delivered_total{destination=\"cloudwatch://flow-logs\"} 9",
        "vpcflow_destination_events_total{destination=\"cloudwatch://flow-logs\",result=\"sent\"} 1234",
        "vpcflow_destination_events_total{destination=\"cloudwatch://flow-logs\",result=\"rejected\"} 7",
        "vpcflow_destination_events_total{destination=\"firehose://fl\",result=\"retried\"} 11",
        "vpcflow_destination_errors_total{destination=\"cloudwatch://flow-logs\",kind=\"transient\"} 3",
    ] {
        assert!(all.contains(&want), "missing {want:?} in\n{text}");
    }
}
