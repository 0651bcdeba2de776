//! The frame decoder: the first two bytes pick the link type, the rest is
//! the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vpcflow_sources::decode::decode;
use vpcflow_sources::Outcome;

/// Ethernet, raw IP, BSD loopback, Linux cooked v1 and v2, raw IPv4 and
/// IPv6, PPP, Cisco HDLC, OpenBSD loopback, and one unsupported (as
/// fuzz/seeds.py numbers them).
const LINKTYPES: [u32; 12] = [1, 101, 0, 113, 276, 12, 228, 229, 9, 104, 108, 0xFFFF];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let linktype = LINKTYPES[usize::from(pick) % LINKTYPES.len()];
    for wire_len in [
        frame.len() as u32,
        (frame.len() as u32).saturating_add(1000),
    ] {
        let d = decode(linktype, frame, wire_len);
        if let Outcome::Ip(p) = d.outcome {
            assert!(u64::from(p.bytes) <= u64::from(wire_len).max(65_535 + 40));
        }
    }
});
