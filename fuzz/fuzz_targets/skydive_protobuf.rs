//! Skydive protobuf envelopes (flows in JSON inside, statistics in
//! protobuf or JSON), through the converter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vpcflow_fuzz::Pipeline;
use vpcflow_sources::skydive::protobuf::parse_protobuf;
use vpcflow_sources::skydive::{Converter, ConverterOptions};

fuzz_target!(|data: &[u8]| {
    let mut converter = Converter::new(ConverterOptions {
        max_tracked_flows: 256,
        ..ConverterOptions::default()
    });
    let mut pipeline = Pipeline::default();
    if let Ok((_, payload)) = parse_protobuf(data) {
        converter.payload(&payload, &mut pipeline);
    }
    converter.finish(&mut pipeline);
    pipeline.finish();
});
