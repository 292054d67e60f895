//! Hostile inputs cannot make a decoder allocate more than its limits allow. The test binary
//! runs under a counting allocator with a hard cap: an allocation past the cap aborts the
//! process, failing the test. Everything runs in one test so the peak is not shared.
#![allow(clippy::unwrap_used)]

use std::alloc::System;
use std::sync::Arc;

use cap::Cap;
use memberlist::aes_gcm::AesGcm;
use memberlist::codec::{Codec, CodecRegistry};
use memberlist::encryption::{EnvelopeVersion, Keyring, SecretKey};
use memberlist::lzw::Lzw;
use memberlist::wire::*;
use memberlist_lz4::Lz4;

#[global_allocator]
static ALLOC: Cap<System> = Cap::new(System, 512 * 1024 * 1024);

const MIB: usize = 1024 * 1024;

/// Runs `f` and returns how far the heap peak rose above what was allocated before it.
fn peak_during(f: impl FnOnce()) -> usize {
    let before = ALLOC.allocated();
    // Reset the peak by lowering and restoring the limit is not possible; instead measure the
    // growth of the all-time peak, after making sure the old peak is not above `before`.
    let old_peak = ALLOC.max_allocated();
    f();
    ALLOC.max_allocated().saturating_sub(old_peak.max(before))
}

fn key(s: &str) -> Vec<u8> {
    let mut out = vec![0xa0 | s.len() as u8];
    out.extend_from_slice(s.as_bytes());
    out
}

fn push_pull_header(nodes: &[u8], user_state_len: &[u8]) -> Vec<u8> {
    let mut out = vec![0x06, 0x83];
    out.extend(key("Join"));
    out.push(0xc2);
    out.extend(key("Nodes"));
    out.extend_from_slice(nodes);
    out.extend(key("UserStateLen"));
    out.extend_from_slice(user_state_len);
    out
}

fn pipeline() -> Pipeline {
    let codecs = CodecRegistry::new()
        .with_decoder(Arc::new(Lz4))
        .with_decoder(Arc::new(Lzw));
    Pipeline::new().with_codecs(codecs)
}

#[test]
fn hostile_inputs_stay_within_limits() {
    // Warm up lazily allocated runtime state so it does not count.
    let _ = pipeline().decode_packet(&[0x00]);

    // 1. A push/pull declaring 1,048,576 nodes and 20 MiB of user state, followed by nothing:
    //    the decoder waits for bytes and allocates nothing for the declared sizes.
    let header = push_pull_header(
        &[0xd2, 0x00, 0x10, 0x00, 0x00],
        &[0xd2, 0x01, 0x40, 0x00, 0x00],
    );
    let grew = peak_during(|| {
        let mut dec = StreamDecoder::new(StreamRole::Acceptor);
        dec.feed(&header);
        assert_eq!(dec.poll(&pipeline()).unwrap(), None);
        assert!(PushPull::decode(&header, &Limits::default()).is_err());
    });
    assert!(
        grew < 64 * 1024,
        "declared push/pull sizes allocated {grew} bytes"
    );

    // 2. Msgpack length prefixes claiming 4 GiB (str32, bin32, array32) in every field.
    let grew = peak_during(|| {
        for claim in [
            &[0xdb, 0xff, 0xff, 0xff, 0xff][..],
            &[0xc6, 0xff, 0xff, 0xff, 0xff],
            &[0xdd, 0xff, 0xff, 0xff, 0xff],
            &[0xdf, 0xff, 0xff, 0xff, 0xff],
        ] {
            for field in ["Node", "Addr", "Meta", "Vsn", "Other"] {
                let mut msg = vec![0x04, 0x81];
                msg.extend(key(field));
                msg.extend_from_slice(claim);
                assert!(Message::decode(&msg).is_err());
            }
        }
    });
    assert!(grew < 64 * 1024, "length claims allocated {grew} bytes");

    // 3. An encrypted stream frame declaring 20 MiB and a plain frame growing past the limit.
    let aes = Arc::new(AesGcm::new(Keyring::new(
        SecretKey::new(&[1u8; 16]).unwrap(),
    )));
    let enc = pipeline().with_encryption(aes, EnvelopeVersion::V1);
    let grew = peak_during(|| {
        let mut dec = StreamDecoder::new(StreamRole::Acceptor);
        dec.feed(&[0x0a, 0x01, 0x40, 0x00, 0x00, 0x01]);
        assert_eq!(dec.poll(&enc).unwrap(), None);
        let mut dec = StreamDecoder::new(StreamRole::Acceptor);
        dec.feed(&[0x0a, 0x01, 0x40, 0x00, 0x01]);
        assert!(dec.poll(&enc).is_err());
    });
    assert!(
        grew < 64 * 1024,
        "encrypted length claim allocated {grew} bytes"
    );
    let small = Limits {
        max_stream_message: MIB,
        ..Limits::default()
    };
    let plain = pipeline().with_limits(small);
    let grew = peak_during(|| {
        let mut dec = StreamDecoder::new(StreamRole::Acceptor);
        dec.feed(&[0x08, 0x81]);
        dec.feed(&key("UserMsgLen"));
        dec.feed(&[0xd2, 0x00, 0x20, 0x00, 0x00]); // 2 MiB > the 1 MiB stream limit
        assert!(dec.poll(&plain).is_err());
    });
    assert!(grew < 64 * 1024, "oversized stream allocated {grew} bytes");

    // 4. Decompression bombs: a packet of LZW that expands enormously, one compress wrapper
    //    per compound part, against a 4 MiB budget for the whole packet.
    let mut bomb = Vec::new();
    Lzw.compress(&vec![0u8; 3 * MIB], &mut bomb).unwrap();
    let mut wrapped = vec![0x09, 0x82];
    wrapped.extend(key("Algo"));
    wrapped.push(0);
    wrapped.extend(key("Buf"));
    wrapped.push(0xda);
    wrapped.extend_from_slice(&(bomb.len() as u16).to_be_bytes());
    wrapped.extend_from_slice(&bomb);
    let parts = vec![wrapped.clone(); (60_000 / wrapped.len()).min(127)];
    let mut compound = Vec::new();
    encode_compound(&parts, &mut compound).unwrap();
    let budget = Limits {
        max_decompressed_size: 4 * MIB,
        ..Limits::default()
    };
    let p = pipeline().with_limits(budget);
    let grew = peak_during(|| {
        let d = p.decode_packet(&compound).unwrap();
        assert!(!d.errors.is_empty(), "the budget must stop the bomb");
    });
    assert!(
        grew < 12 * MIB,
        "LZW bomb allocated {grew} bytes against a 4 MiB budget"
    );

    // 5. lz4 claiming 4 GiB of output in 9 bytes.
    let grew = peak_during(|| {
        let mut out = Vec::new();
        assert!(
            Lz4.decompress(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0], 40 * MIB, &mut out)
                .is_err()
        );
    });
    assert!(grew < 64 * 1024, "lz4 size claim allocated {grew} bytes");

    // 6. A 1 MiB push/pull of minimal named states: memory stays proportional to the input.
    let mut pp = push_pull_header(&[0xd2, 0x00, 0x01, 0x00, 0x00], &[0]);
    let state = [&[0x81][..], &key("Name"), &[0xa1, b'x']].concat();
    for _ in 0..0x1_0000 {
        pp.extend_from_slice(&state);
    }
    let grew = peak_during(|| {
        let decoded = PushPull::decode(&pp, &Limits::default()).unwrap();
        assert_eq!(decoded.states.len(), 0x1_0000);
    });
    assert!(
        grew < 20 * pp.len(),
        "{} bytes of push/pull allocated {grew}",
        pp.len()
    );
}
