//! The inputs people have: standard input (also endless, as from `tcpdump -w
//! -`), gzip- and zstd-compressed files, and folders give the records of the
//! plain files.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{records, synthetic_capture, vpcflow_ok};

/// Standard input, gzip- and zstd-compressed files and a folder give the
/// records of the plain files.
#[test]
fn stdin_compressed_files_and_folders_give_the_records_of_the_plain_files() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("captures");
    std::fs::create_dir(&folder).unwrap();
    let a = synthetic_capture(&folder, "a.pcap", 150);
    let b = {
        let config = pcapgen::Config {
            flows: 120,
            seed: 7,
            ..pcapgen::Config::default()
        };
        let path = folder.join("b.pcap");
        pcapgen::generate(config, std::fs::File::create(&path).unwrap()).unwrap();
        path
    };
    std::fs::write(folder.join("notes.txt"), "not a capture").unwrap();
    let plain = records(&a, &[]);
    assert!(plain.lines().count() > 100, "{plain}");
    let bytes = std::fs::read(&a).unwrap();
    // gzip (two members, as `cat x.gz y.gz` gives) and zstd (two frames)
    let gz = tmp.path().join("a.pcap.gz");
    let mut gz_bytes = Vec::new();
    for part in [&bytes[..1000], &bytes[1000..]] {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(part).unwrap();
        gz_bytes.extend(enc.finish().unwrap());
    }
    std::fs::write(&gz, gz_bytes).unwrap();
    assert_eq!(records(&gz, &[]), plain, "gzip");
    let zst = tmp.path().join("a.pcap.zst");
    let mut zst_bytes = zstd::encode_all(&bytes[..777], 3).unwrap();
    zst_bytes.extend(zstd::encode_all(&bytes[777..], 19).unwrap());
    std::fs::write(&zst, zst_bytes).unwrap();
    assert_eq!(records(&zst, &[]), plain, "zstd");
    // standard input, plain and compressed
    for input in [&a, &gz, &zst] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vpcflow"))
            .args(["convert", "--quiet", "-", "--out", "-"])
            .args(common::IDENTITY)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let bytes = std::fs::read(input).unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || stdin.write_all(&bytes).unwrap());
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            plain,
            "{}",
            input.display()
        );
    }
    // a folder: its captures in name order (the text file is not one)
    let both = {
        let mut all = vec![
            "convert",
            "--quiet",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--out",
            "-",
        ];
        all.extend(common::IDENTITY);
        String::from_utf8(vpcflow_ok(&all).stdout).unwrap()
    };
    assert_eq!(records(&folder, &[]), both);
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = common::vpcflow(&["convert", empty.to_str().unwrap(), "--out", "-"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no capture file"));
}

/// A damaged compressed input is an error naming the file and the
/// decompressor; the records read before the damage are kept.
#[test]
fn a_damaged_compressed_file_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let a = synthetic_capture(tmp.path(), "a.pcap", 50);
    let zst = tmp.path().join("a.pcap.zst");
    let mut bytes = zstd::encode_all(&std::fs::read(&a).unwrap()[..], 3).unwrap();
    let cut = bytes.len() * 2 / 3;
    bytes[cut..].iter_mut().for_each(|b| *b ^= 0x5a);
    std::fs::write(&zst, bytes).unwrap();
    let out = common::vpcflow(&["convert", zst.to_str().unwrap(), "--out", "-"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a.pcap.zst") && err.contains("zstd decompression"),
        "{err}"
    );
}

/// One UDP packet from 10.0.0.1:1000 to 10.0.0.2:53 at `secs`, as a classic
/// pcap record (Ethernet).
fn udp_record(secs: u32, sport: u16) -> Vec<u8> {
    let payload = [0u8; 12];
    let udp_len = 8 + payload.len() as u16;
    let ip_len = 20 + udp_len;
    let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    frame.extend([
        0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    frame[16..18].copy_from_slice(&ip_len.to_be_bytes());
    frame.extend(sport.to_be_bytes());
    frame.extend(53u16.to_be_bytes());
    frame.extend(udp_len.to_be_bytes());
    frame.extend([0, 0]);
    frame.extend(payload);
    let mut rec = Vec::new();
    rec.extend(secs.to_le_bytes());
    rec.extend(0u32.to_le_bytes());
    rec.extend((frame.len() as u32).to_le_bytes());
    rec.extend((frame.len() as u32).to_le_bytes());
    rec.extend(frame);
    rec
}

/// An endless pipe (as `tcpdump -w - | vpcflow convert - --out -`) is
/// converted while it runs: a window's records are printed once later
/// packets have closed it, while standard input is still open.
#[test]
fn an_endless_pipe_is_converted_while_it_runs() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args(["convert", "--quiet", "-", "--out", "-"])
        .args(["--max-aggregation-interval", "60"])
        .args(common::IDENTITY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            tx.send(line.unwrap()).unwrap();
        }
    });
    let mut stdin = child.stdin.take().unwrap();
    let mut header = Vec::new();
    for v in [
        0xa1b2_c3d4u32.to_le_bytes().to_vec(),
        vec![2, 0, 4, 0],
        vec![0; 8],
    ] {
        header.extend(v);
    }
    header.extend(65535u32.to_le_bytes());
    header.extend(1u32.to_le_bytes());
    stdin.write_all(&header).unwrap();
    // Two packets in the window [1700000040, 1700000100), written in small
    // pieces as a pipe delivers them.
    for (secs, port) in [(1_700_000_050, 1000), (1_700_000_055, 1000)] {
        for piece in udp_record(secs, port).chunks(7) {
            stdin.write_all(piece).unwrap();
            stdin.flush().unwrap();
        }
    }
    // A packet far enough later closes that window (watermark past its end).
    stdin.write_all(&udp_record(1_700_000_400, 2000)).unwrap();
    stdin.flush().unwrap();
    let header_line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("header line while the pipe is open");
    assert!(
        header_line.starts_with("version account-id"),
        "{header_line}"
    );
    let first = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the closed window's record while the pipe is open");
    let fields: Vec<&str> = first.split(' ').collect();
    assert_eq!(
        &fields[3..14],
        &[
            "10.0.0.1",
            "10.0.0.2",
            "1000",
            "53",
            "17",
            "2",
            "80",
            "1700000050",
            "1700000055",
            "ACCEPT",
            "OK"
        ],
        "{first}"
    );
    assert!(child.try_wait().unwrap().is_none(), "still running");
    // The end of the stream writes the rest.
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    assert!(status.success());
    let rest: Vec<String> = rx.try_iter().collect();
    // The idle windows between the two in-between are NODATA, as AWS writes them.
    let (last, idle) = rest.split_last().unwrap();
    assert_eq!(idle.len(), 5, "{rest:?}");
    assert!(idle.iter().all(|l| l.ends_with(" - NODATA")), "{rest:?}");
    assert!(
        last.ends_with(" 2000 53 17 1 40 1700000400 1700000400 ACCEPT OK"),
        "{rest:?}"
    );
}
