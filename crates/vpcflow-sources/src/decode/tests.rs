//! Whole-decoder properties: no input makes it panic.

use proptest::prelude::*;

use super::linktype::*;
use super::testutil::*;
use super::{decode, Outcome};
use crate::fragments::{FragmentPolicy, PacketDecoder};

const LINKTYPES: [u32; 15] = [
    NULL, ETHERNET, PPP, RAW_12, RAW_14, PPP_HDLC, RAW, C_HDLC, LOOP, LINUX_SLL, IPV4, IPV6,
    LINUX_SLL2, 127, 0xFFFF,
];

/// Frames that reach deep into the decoder, to be mutated.
fn seeds() -> Vec<(u32, Vec<u8>)> {
    let inner = ipv4(6, C4, D4, &tcp(80, 1234, 0x02));
    let l2 = eth_tagged(&[(0x8100, 7)], 0x0800, &inner);
    let vxlan = cat(&[&[0x08, 0, 0, 0, 0, 0, 42, 0], &l2]);
    let geneve = cat(&[&[0x02, 0, 0x65, 0x58, 0, 0, 1, 0], &[0; 8], &l2]);
    let v6ext = ipv6(
        0,
        A6,
        B6,
        &cat(&[
            &[44, 0, 0, 0, 0, 0, 0, 0],
            &[6, 0, 0, 1, 0, 0, 0, 9],
            &tcp(1, 2, 3),
        ]),
    );
    let teredo = udp(
        3544,
        1,
        &cat(&[
            &[0, 1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0],
            &[0, 0, 1, 2, 3, 4, 5, 6],
            &v6ext,
        ]),
    );
    vec![
        (
            ETHERNET,
            eth(0x0800, &ipv4(47, A4, B4, &gre(0x3000, 0x6558, &l2))),
        ),
        (
            ETHERNET,
            eth(0x0800, &ipv4(17, A4, B4, &udp(1, 4789, &vxlan))),
        ),
        (
            ETHERNET,
            eth(0x0800, &ipv4(17, A4, B4, &udp(1, 6081, &geneve))),
        ),
        (ETHERNET, eth(0x0800, &ipv4(17, A4, B4, &teredo))),
        (
            ETHERNET,
            eth(0x8847, &mpls(&[1, 2], &ipv4(4, A4, B4, &inner))),
        ),
        (
            ETHERNET,
            eth_tagged(
                &[(0x88A8, 1), (0x8100, 2)],
                0x8864,
                &cat(&[&[0x11, 0, 0, 1, 0, 60, 0, 0x57], &v6ext]),
            ),
        ),
        (
            RAW,
            ipv4(
                47,
                A4,
                B4,
                &gre(
                    0x1000,
                    0x22EB,
                    &cat(&[&[0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1], &[0; 8], &l2]),
                ),
            ),
        ),
        (LINUX_SLL2, cat(&[&[0x86, 0xDD], &[0; 18], &v6ext])),
        (NULL, cat(&[&[30, 0, 0, 0], &ipv6(41, A6, B6, &v6ext)])),
        (
            PPP,
            cat(&[
                &[0xFF, 0x03, 0x00, 0x21],
                &ipv4(47, A4, B4, &gre(0, 0x8847, &mpls(&[3], &inner))),
            ]),
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(
        lt in prop::sample::select(LINKTYPES.to_vec()),
        frame in prop::collection::vec(any::<u8>(), 0..256),
        wire_len in any::<u32>(),
        at in any::<u64>(),
    ) {
        let d = decode(lt, &frame, wire_len);
        if let Outcome::Ip(p) = d.outcome {
            prop_assert!(p.l2_len as usize <= frame.len());
        }
        let mut tracker = PacketDecoder::with_capacity(FragmentPolicy::TrackFirst, 16);
        tracker.decode(lt, &frame, wire_len, at);
    }

    #[test]
    fn mutated_and_truncated_frames_never_panic(
        seed in 0..10usize,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
        wire_len in any::<u32>(),
    ) {
        let (lt, mut frame) = seeds().swap_remove(seed);
        for (i, v) in edits {
            let i = i.index(frame.len());
            frame[i] = v;
        }
        let keep = cut.index(frame.len() + 1);
        let d = decode(lt, &frame[..keep], wire_len);
        if let Outcome::Ip(p) = d.outcome {
            prop_assert!(p.l2_len as usize <= keep);
        }
    }
}

#[test]
fn seeds_decode_with_tunnels() {
    for (i, (lt, frame)) in seeds().into_iter().enumerate() {
        let p = ip_of(dec(lt, &frame));
        if ![5, 7].contains(&i) {
            assert!(p.tunnel.is_some() && p.inner.is_some(), "seed {i}: {p:?}");
        }
    }
}
