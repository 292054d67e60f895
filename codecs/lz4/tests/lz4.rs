//! Round trips, limit enforcement and robustness against malformed input.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use memberlist_core::codec::{Codec, CodecError, CodecRegistry, DEFAULT_MAX_DECOMPRESSED_SIZE};
use memberlist_lz4::{LZ4_ALGORITHM, Lz4};
use proptest::collection::vec;
use proptest::prelude::*;

fn compress(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Lz4.compress(input, &mut out).unwrap();
    out
}

/// Decompresses after a prefix and checks the invariants: the prefix survives, at most `limit`
/// bytes are added, errors add nothing, and capacity stays within prefix + limit.
fn checked_decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, CodecError> {
    const PREFIX: &[u8] = b"prefix";
    let mut out = PREFIX.to_vec();
    let initial_capacity = out.capacity();
    let result = Lz4.decompress(input, limit, &mut out);
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

/// A length prefix followed by `block`.
fn with_prefix(declared: u32, block: &[u8]) -> Vec<u8> {
    let mut out = declared.to_le_bytes().to_vec();
    out.extend_from_slice(block);
    out
}

#[test]
fn round_trips_edge_sizes() {
    for len in [0usize, 1, 4, 12, 13, 64, 65_535, 65_536, 1 << 20] {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let compressed = compress(&data);
        assert_eq!(
            checked_decompress(&compressed, len).unwrap(),
            data,
            "len {len}"
        );
    }
}

#[test]
fn huge_declared_length_is_rejected_before_allocating() {
    // Declares 4 GiB - 1 with a tiny block: must fail at once with TooLarge, not try to
    // allocate (which would abort the test process on most machines).
    let input = with_prefix(u32::MAX, &[0x1f, 0x00, 0x01, 0x00]);
    let mut out = Vec::new();
    assert_eq!(
        Lz4.decompress(&input, DEFAULT_MAX_DECOMPRESSED_SIZE, &mut out),
        Err(CodecError::TooLarge {
            limit: DEFAULT_MAX_DECOMPRESSED_SIZE
        })
    );
    assert_eq!(out.capacity(), 0);
}

#[test]
fn impossible_declared_length_within_limit_is_corrupt_without_allocating() {
    // 40 MiB from a 5-byte block is impossible (LZ4 expands at most 255x).
    let input = with_prefix(40 << 20, &[0x10, b'a', 0x01, 0x00, 0xff]);
    let mut out = Vec::new();
    assert!(matches!(
        Lz4.decompress(&input, DEFAULT_MAX_DECOMPRESSED_SIZE, &mut out),
        Err(CodecError::LengthMismatch {
            algorithm: "lz4",
            declared: 41_943_040,
            ..
        })
    ));
    assert_eq!(out.capacity(), 0);
}

#[test]
fn limit_is_inclusive() {
    let data = vec![9u8; 5000];
    let compressed = compress(&data);
    assert_eq!(checked_decompress(&compressed, 5000).unwrap(), data);
    assert_eq!(
        checked_decompress(&compressed, 4999),
        Err(CodecError::TooLarge { limit: 4999 })
    );
}

#[test]
fn highly_compressible_data_fits_the_expansion_bound() {
    let data = vec![0u8; 16 << 20];
    let compressed = compress(&data);
    assert!(compressed.len() * 200 < data.len());
    assert_eq!(
        checked_decompress(&compressed, DEFAULT_MAX_DECOMPRESSED_SIZE).unwrap(),
        data
    );
    assert_eq!(
        checked_decompress(&compressed, 1 << 20),
        Err(CodecError::TooLarge { limit: 1 << 20 })
    );
}

#[test]
fn size_mismatch_is_corrupt() {
    let data = b"the quick brown fox jumps over the lazy dog".repeat(4);
    let compressed = compress(&data);
    let block = &compressed[4..];
    let real = data.len() as u32;
    for declared in [real - 1, real + 1, 0] {
        let err = checked_decompress(&with_prefix(declared, block), 1 << 20).unwrap_err();
        assert!(
            matches!(
                err,
                CodecError::Corrupt { .. } | CodecError::LengthMismatch { .. }
            ),
            "{declared}: {err:?}"
        );
    }
}

#[test]
fn short_or_empty_input_is_corrupt() {
    for input in [&[][..], &[1], &[1, 0, 0]] {
        assert!(matches!(
            checked_decompress(input, 100),
            Err(CodecError::Corrupt {
                algorithm: "lz4",
                ..
            })
        ));
    }
}

#[test]
fn through_the_registry() {
    let registry = CodecRegistry::new().with_compressor(Arc::new(Lz4));
    assert_eq!(registry.compressor().unwrap().algorithm(), LZ4_ALGORITHM);
    let mut compressed = Vec::new();
    registry
        .compressor()
        .unwrap()
        .compress(b"suspect", &mut compressed)
        .unwrap();
    let mut out = Vec::new();
    registry
        .decompress(LZ4_ALGORITHM, &compressed, 100, &mut out)
        .unwrap();
    assert_eq!(out, b"suspect");
    // An empty payload round-trips in the codec but the registry rejects it, as Go does.
    let empty = compress(&[]);
    assert_eq!(checked_decompress(&empty, 0).unwrap(), Vec::<u8>::new());
    assert_eq!(
        registry.decompress(LZ4_ALGORITHM, &empty, 100, &mut Vec::new()),
        Err(CodecError::Empty)
    );
    // A registry without Lz4 reports it as unknown, like a Go node would.
    assert_eq!(
        CodecRegistry::new().decompress(LZ4_ALGORITHM, &compressed, 100, &mut Vec::new()),
        Err(CodecError::UnknownAlgorithm(LZ4_ALGORITHM))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_trips_random_data(data in vec(any::<u8>(), 0..100 * 1024)) {
        let compressed = compress(&data);
        prop_assert_eq!(checked_decompress(&compressed, data.len()).unwrap(), data);
    }

    #[test]
    fn round_trips_compressible_data(data in vec(0u8..3, 0..100 * 1024)) {
        let compressed = compress(&data);
        prop_assert_eq!(checked_decompress(&compressed, data.len()).unwrap(), data);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_input_never_panics(input in vec(any::<u8>(), 0..4096), limit in 0usize..1 << 20) {
        let _ = checked_decompress(&input, limit);
    }

    #[test]
    fn arbitrary_block_with_plausible_prefix_never_panics(
        declared in 0u32..100_000,
        block in vec(any::<u8>(), 0..2048),
        limit in 0usize..200_000,
    ) {
        let _ = checked_decompress(&with_prefix(declared, &block), limit);
    }

    #[test]
    fn mutated_streams_never_panic(
        data in vec(0u8..5, 1..8000),
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
        if let Ok(out) = checked_decompress(&stream, limit) {
            // Whatever decodes, decodes to exactly the declared length.
            let declared = u32::from_le_bytes(stream[..4].try_into().unwrap()) as usize;
            prop_assert_eq!(out.len(), declared);
        }
    }
}
