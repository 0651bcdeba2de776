//! End to end: a frame that claims to be IP but cannot be decoded becomes a
//! SKIPDATA record for its interface and window, next to the traffic that could
//! be counted, and the summary says so.

mod common;

use common::vpcflow_ok;
use pcapgen::pcap::{write_file_header, write_record};
use pcapgen::TsResolution;

/// An Ethernet frame carrying an IPv4 UDP packet of `payload` bytes.
fn udp_frame(src: [u8; 4], dst: [u8; 4], payload: usize) -> Vec<u8> {
    let mut f = vec![0u8; 14];
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let total = 20 + 8 + payload;
    let mut ip = vec![0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&src);
    ip[16..20].copy_from_slice(&dst);
    f.extend_from_slice(&ip);
    f.extend_from_slice(&5353u16.to_be_bytes());
    f.extend_from_slice(&53u16.to_be_bytes());
    f.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend(std::iter::repeat_n(0u8, payload));
    f
}

#[test]
fn undecodable_frames_become_skipdata_of_their_window() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("skip.pcap");
    let mut out = Vec::new();
    write_file_header(&mut out, TsResolution::Micro).unwrap();
    let t0 = 1_767_225_000u64 * 1_000_000_000; // a window start
                                               // Window 1: two good packets and one cut inside its IPv4 header.
    write_record(
        &mut out,
        TsResolution::Micro,
        t0 + 1_000_000_000,
        &udp_frame([10, 0, 0, 1], [10, 0, 0, 2], 100),
    )
    .unwrap();
    let mut cut = udp_frame([10, 0, 0, 1], [10, 0, 0, 2], 100);
    cut.truncate(14 + 12);
    write_record(&mut out, TsResolution::Micro, t0 + 2_000_000_000, &cut).unwrap();
    write_record(
        &mut out,
        TsResolution::Micro,
        t0 + 3_000_000_000,
        &udp_frame([10, 0, 0, 1], [10, 0, 0, 2], 100),
    )
    .unwrap();
    // Window 2 (60 s later): only good traffic.
    write_record(
        &mut out,
        TsResolution::Micro,
        t0 + 61_000_000_000,
        &udp_frame([10, 0, 0, 2], [10, 0, 0, 1], 50),
    )
    .unwrap();
    std::fs::write(&path, out).unwrap();

    let run = vpcflow_ok(&[
        "convert",
        path.to_str().unwrap(),
        "--out",
        "-",
        "--interval",
        "60",
        "--account-id",
        "123456789012",
    ]);
    let text = String::from_utf8(run.stdout).unwrap();
    let lines: Vec<&str> = text.lines().skip(1).collect();
    let status: Vec<(String, String, String)> = lines
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[10].to_string(), f[8].to_string(), f[13].to_string())
        })
        .collect();
    let start = 1_767_225_000u64;
    assert_eq!(
        status,
        vec![
            ((start + 1).to_string(), "2".to_string(), "OK".to_string()),
            (start.to_string(), "-".to_string(), "SKIPDATA".to_string()),
            ((start + 61).to_string(), "1".to_string(), "OK".to_string()),
        ],
        "{text}"
    );
    let skip = lines.iter().find(|l| l.ends_with("SKIPDATA")).unwrap();
    let f: Vec<&str> = skip.split(' ').collect();
    assert_eq!(&f[3..10], ["-"; 7], "traffic fields are dashes: {skip}");
    assert_eq!(
        (f[10], f[11]),
        (
            start.to_string().as_str(),
            (start + 59).to_string().as_str()
        )
    );
    let summary = String::from_utf8_lossy(&run.stderr);
    assert!(
        summary.contains("1 undecodable frames (SKIPDATA)"),
        "{summary}"
    );
    assert!(summary.contains("1 SKIPDATA"), "{summary}");
}
