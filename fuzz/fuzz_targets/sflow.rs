//! sFlow v5 datagrams through the decoder: the input is split into
//! datagrams by 2-byte big-endian lengths (the rest is the last one), each
//! decoded a second after the previous, into aggregation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vpcflow_fuzz::{datagrams, Pipeline};
use vpcflow_sources::sflow::{Decoder, DecoderOptions};

fuzz_target!(|data: &[u8]| {
    let mut decoder = Decoder::new(DecoderOptions::default());
    let mut pipeline = Pipeline::default();
    let mut at = 1_700_000_000_000_000_000u64;
    for datagram in datagrams(data) {
        let before = decoder.stats().malformed;
        if let Err(e) = decoder.datagram(at, datagram, &mut pipeline) {
            assert!(!e.to_string().contains('\n'));
            assert_eq!(decoder.stats().malformed, before + 1);
        }
        at += 1_000_000_000;
    }
    decoder.lost_datagrams(None, at, 1, &mut pipeline);
    pipeline.finish();
});
