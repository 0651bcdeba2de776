//! NetFlow v5, v9 and IPFIX datagrams through the decoder: the input is
//! split into datagrams by 2-byte big-endian lengths (the rest is the last
//! one), the first byte of each naming one of two exporters, into
//! aggregation; then a loss and the end of the input.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use vpcflow_fuzz::{datagrams, Pipeline};
use vpcflow_sources::netflow::{Decoder, DecoderOptions};

fuzz_target!(|data: &[u8]| {
    let mut decoder = Decoder::new(DecoderOptions::default());
    let mut pipeline = Pipeline::default();
    let exporters: [IpAddr; 2] = [
        [192, 0, 2, 1].into(),
        [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1].into(),
    ];
    for datagram in datagrams(data) {
        let (exporter, datagram) = match datagram.split_first() {
            Some((e, d)) => (exporters[usize::from(*e & 1)], d),
            None => (exporters[0], datagram),
        };
        let before = decoder.stats().malformed;
        if let Err(e) = decoder.datagram(exporter, datagram, &mut pipeline) {
            assert!(!e.to_string().contains('\n'));
            assert_eq!(decoder.stats().malformed, before + 1);
        }
    }
    decoder.lost_datagrams(None, 1_700_000_000_000_000_000, 1, &mut pipeline);
    decoder.finish(&mut pipeline);
    pipeline.finish();
});
