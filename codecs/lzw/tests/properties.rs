//! Property tests: round trips, byte-identity with the Go model, and robustness of the decoder
//! against arbitrary and mutated input (no panics, output bounded, same verdict as Go's reader).
#![allow(clippy::unwrap_used)]

mod common;

use common::{go_compress, go_decompress};
use memberlist_core::codec::{Codec, CodecError};
use memberlist_lzw::Lzw;
use proptest::collection::vec;
use proptest::prelude::*;

fn compress(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Lzw.compress(input, &mut out).unwrap();
    out
}

/// Decompresses into a vector that already holds a prefix, and checks the invariants every
/// call must keep: the prefix survives, at most `limit` bytes are added, errors add nothing,
/// and the capacity never exceeds the prefix plus the limit (plus the initial capacity).
fn checked_decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, CodecError> {
    const PREFIX: &[u8] = b"prefix";
    let mut out = PREFIX.to_vec();
    let initial_capacity = out.capacity();
    let result = Lzw.decompress(input, limit, &mut out);
    assert_eq!(&out[..PREFIX.len()], PREFIX);
    assert!(out.len() - PREFIX.len() <= limit);
    assert!(out.capacity() <= initial_capacity.max(PREFIX.len().saturating_add(limit)));
    match result {
        Ok(()) => Ok(out.split_off(PREFIX.len())),
        Err(err) => {
            assert_eq!(out, PREFIX, "an error must not leave output behind");
            Err(err)
        }
    }
}

/// Checks that our decoder and the model of Go's reader agree on `input` under `limit`.
fn assert_same_verdict_as_go(input: &[u8], limit: usize) {
    let ours = checked_decompress(input, limit);
    let go = go_decompress(input, limit);
    match (&ours, &go) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(CodecError::TooLarge { .. }), Err("output over cap")) => {}
        (Err(CodecError::Corrupt { .. }), Err("invalid code" | "unexpected EOF")) => {}
        _ => panic!(
            "verdicts differ on {}: ours {ours:?}, Go {go:?}",
            hex::encode(input)
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn round_trips_random_bytes(data in vec(any::<u8>(), 0..100 * 1024)) {
        let compressed = compress(&data);
        prop_assert_eq!(checked_decompress(&compressed, data.len()).unwrap(), data.clone());
        if !data.is_empty() {
            prop_assert_eq!(
                checked_decompress(&compressed, data.len() - 1),
                Err(CodecError::TooLarge { limit: data.len() - 1 })
            );
        }
    }

    #[test]
    fn round_trips_compressible_data_and_matches_go(data in vec(0u8..4, 0..100 * 1024)) {
        // A 4-letter alphabet fills the dictionary every few kilobytes.
        let compressed = compress(&data);
        prop_assert!(compressed == go_compress(&data));
        prop_assert_eq!(checked_decompress(&compressed, data.len()).unwrap(), data);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn matches_go_writer_byte_for_byte(data in vec(any::<u8>(), 0..4096)) {
        let compressed = compress(&data);
        prop_assert_eq!(&compressed, &go_compress(&data));
        prop_assert_eq!(go_decompress(&compressed, usize::MAX).unwrap(), data);
    }

    #[test]
    fn arbitrary_input_never_panics_and_agrees_with_go(
        input in vec(any::<u8>(), 0..2048),
        limit in 0usize..100_000,
    ) {
        assert_same_verdict_as_go(&input, limit);
    }

    #[test]
    fn mutated_streams_never_panic_and_agree_with_go(
        data in vec(0u8..6, 1..6000),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in proptest::option::of(any::<prop::sample::Index>()),
        limit in 0usize..20_000,
    ) {
        let mut stream = compress(&data);
        for (at, byte) in edits {
            let i = at.index(stream.len());
            stream[i] ^= byte;
        }
        if let Some(cut) = cut {
            stream.truncate(cut.index(stream.len()));
        }
        assert_same_verdict_as_go(&stream, limit);
    }

    #[test]
    fn streams_with_trailing_garbage_decode(
        data in vec(any::<u8>(), 0..2000),
        garbage in vec(any::<u8>(), 0..64),
    ) {
        let mut stream = compress(&data);
        stream.extend_from_slice(&garbage);
        prop_assert_eq!(checked_decompress(&stream, data.len()).unwrap(), data);
    }
}
