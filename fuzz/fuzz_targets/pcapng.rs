//! pcapng files (and anything else a capture file may start with: the
//! format is sniffed as for a real file).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use vpcflow_fuzz::Pipeline;
use vpcflow_sources::pcap::{read_capture_bytes, PcapOptions};

fuzz_target!(|data: &[u8]| {
    let mut pipeline = Pipeline::default();
    match read_capture_bytes(
        Path::new("fuzz.pcapng"),
        data,
        &PcapOptions::default(),
        &mut pipeline,
        &mut |_| {},
    ) {
        Ok(_) => pipeline.finish(),
        // An error is one short line.
        Err(e) => assert!(
            e.to_string().len() < 512,
            "error of {} bytes",
            e.to_string().len()
        ),
    }
});
