//! Skydive JSON messages, one per line, through the converter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vpcflow_fuzz::Pipeline;
use vpcflow_sources::skydive::{parse_json, Converter, ConverterOptions};

fuzz_target!(|data: &[u8]| {
    let mut converter = Converter::new(ConverterOptions {
        max_tracked_flows: 256,
        ..ConverterOptions::default()
    });
    let mut pipeline = Pipeline::default();
    for line in data.split(|&b| b == b'\n') {
        if let Ok(payload) = parse_json(line) {
            converter.payload(&payload, &mut pipeline);
        }
    }
    converter.finish(&mut pipeline);
    pipeline.finish();
});
