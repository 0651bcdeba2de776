//! Classic pcap files: the first byte picks the header (byte order,
//! resolution, link type), the rest are the records.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use vpcflow_fuzz::Pipeline;
use vpcflow_sources::pcap::{read_capture_bytes, PcapOptions};

const LINKTYPES: [u32; 8] = [1, 0, 101, 113, 276, 12, 228, 229];

fuzz_target!(|data: &[u8]| {
    let Some((&variant, records)) = data.split_first() else {
        return;
    };
    let big = variant & 1 != 0;
    let magic: u32 = if variant & 2 != 0 {
        0xA1B2_3C4D
    } else {
        0xA1B2_C3D4
    };
    let linktype = LINKTYPES[usize::from(variant >> 2) % LINKTYPES.len()];
    let mut file = Vec::with_capacity(24 + records.len());
    let mut put = |v: &[u8]| file.extend_from_slice(v);
    if big {
        put(&magic.to_be_bytes());
        put(&2u16.to_be_bytes());
        put(&4u16.to_be_bytes());
        put(&[0; 8]);
        put(&65_535u32.to_be_bytes());
        put(&linktype.to_be_bytes());
    } else {
        put(&magic.to_le_bytes());
        put(&2u16.to_le_bytes());
        put(&4u16.to_le_bytes());
        put(&[0; 8]);
        put(&65_535u32.to_le_bytes());
        put(&linktype.to_le_bytes());
    }
    file.extend_from_slice(records);
    let mut pipeline = Pipeline::default();
    if read_capture_bytes(
        Path::new("fuzz.pcap"),
        &file,
        &PcapOptions::default(),
        &mut pipeline,
        &mut |_| {},
    )
    .is_ok()
    {
        pipeline.finish();
    }
});
