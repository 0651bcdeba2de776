//! SIGHUP opens and closes the collectors' sockets of a running `vpcflow
//! run`: a NetFlow stream sent half to the socket the run started with, half
//! to the one a reload put in its place, is counted exactly once, like the
//! offline replay of the whole stream; an sFlow collector added by the reload
//! listens; nothing else of the run restarts.
//!
//! Needs what the NetFlow exporter tests need (root, softflowd, nfdump,
//! tcpdump, tshark); without them it prints `SKIPPED:` and passes, except
//! under `VPCFLOW_REQUIRE_NETFLOW=1` (CI).

mod common;
#[path = "common/exporters.rs"]
mod exporters;

use std::net::UdpSocket;

use exporters::{available, export};
use vpcflow_testkit::shared_dir;

#[test]
fn sighup_moves_a_netflow_socket_and_adds_an_sflow_one_counting_every_flow_once() {
    let test = "sighup_moves_a_netflow_socket_and_adds_an_sflow_one_counting_every_flow_once";
    if !available(test) {
        return;
    }
    let Some(shared) = shared_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let v9 = dir.path().join("v9.pcap");
    export(
        &shared.join("pcaps/suricata-sip-method.pcap"),
        "9",
        &[],
        &v9,
        dir.path(),
    )
    .expect("softflowd reads the capture");
    let datagrams = exporters::datagrams(&v9);
    assert!(datagrams.len() >= 4, "{} datagrams", datagrams.len());
    let (first, second) = datagrams.split_at(datagrams.len() / 2);

    let (mut daemon, old_port, metrics) = exporters::start_collector(dir.path(), "netflow.listen");
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    for d in first {
        sender.send_to(d, ("127.0.0.1", old_port)).unwrap();
    }
    let sample = r#"vpcflow_netflow_datagrams_total{result="received"}"#;
    common::wait_metric(metrics, sample, first.len() as u64);

    // The reload: the NetFlow socket on another port, an sFlow one added.
    let (new_port, sflow_port) = (exporters::free_udp_port(), exporters::free_udp_port());
    let config = dir.path().join("vpcflow.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace(
        &format!("127.0.0.1:{old_port}"),
        &format!("127.0.0.1:{new_port}"),
    );
    std::fs::write(
        &config,
        format!("{text}\n[[sflow.listen]]\naddress = \"127.0.0.1:{sflow_port}\"\n"),
    )
    .unwrap();
    common::signal(&daemon, "HUP");
    common::wait_metric(metrics, "vpcflow_sflow_listeners", 1);
    common::wait_metric(metrics, "vpcflow_netflow_listeners", 1);
    UdpSocket::bind(("127.0.0.1", old_port)).expect("the old NetFlow port is closed");
    assert!(
        UdpSocket::bind(("127.0.0.1", new_port)).is_err(),
        "the new NetFlow port is taken"
    );
    for d in second {
        sender.send_to(d, ("127.0.0.1", new_port)).unwrap();
    }
    sender
        .send_to(b"not sFlow", ("127.0.0.1", sflow_port))
        .unwrap();
    common::wait_metric(metrics, sample, datagrams.len() as u64);
    common::wait_metric(
        metrics,
        r#"vpcflow_sflow_datagrams_total{result="malformed"}"#,
        1,
    );
    let text = common::http_get(metrics, "/metrics").unwrap().body;
    assert_eq!(
        common::metric(
            &text,
            r#"vpcflow_netflow_datagrams_total{result="malformed"}"#
        ),
        Some(0)
    );

    let (_, err) = exporters::stop_and_compare(&mut daemon, dir.path(), "--netflow", &v9);
    assert!(!err.contains("need a restart"), "{err}");
}
