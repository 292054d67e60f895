//! Decompression limits: "zip bombs" are stopped at the limit without over-allocating.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use memberlist_core::codec::{
    Codec, CodecError, CodecRegistry, DEFAULT_MAX_DECOMPRESSED_SIZE, LZW_ALGORITHM,
};
use memberlist_lzw::Lzw;

const MIB: usize = 1024 * 1024;

fn compress(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Lzw.compress(input, &mut out).unwrap();
    out
}

#[test]
fn zip_bomb_is_stopped_at_the_limit() {
    let bomb = compress(&vec![0u8; 8 * MIB]);
    assert!(bomb.len() < 16 * 1024, "8 MiB of zeros should shrink a lot");

    let mut out = Vec::new();
    assert_eq!(
        Lzw.decompress(&bomb, MIB, &mut out),
        Err(CodecError::TooLarge { limit: MIB })
    );
    assert!(out.is_empty());
    assert!(
        out.capacity() <= MIB,
        "capacity {} exceeds the limit",
        out.capacity()
    );

    let mut out = Vec::new();
    Lzw.decompress(&bomb, DEFAULT_MAX_DECOMPRESSED_SIZE, &mut out)
        .unwrap();
    assert_eq!(out.len(), 8 * MIB);
    assert!(out.iter().all(|&b| b == 0));
}

#[test]
fn default_limit_rejects_more_than_40_mib() {
    let bomb = compress(&vec![7u8; DEFAULT_MAX_DECOMPRESSED_SIZE + 1]);
    let mut out = Vec::new();
    assert_eq!(
        Lzw.decompress(&bomb, DEFAULT_MAX_DECOMPRESSED_SIZE, &mut out),
        Err(CodecError::TooLarge {
            limit: DEFAULT_MAX_DECOMPRESSED_SIZE
        })
    );
    assert!(out.capacity() <= DEFAULT_MAX_DECOMPRESSED_SIZE);
}

#[test]
fn limit_is_inclusive() {
    let data = b"0123456789".repeat(1000);
    let stream = compress(&data);
    let mut out = Vec::new();
    Lzw.decompress(&stream, data.len(), &mut out).unwrap();
    assert_eq!(out, data);
    assert!(out.capacity() <= data.len());

    let mut out = Vec::new();
    assert_eq!(
        Lzw.decompress(&stream, data.len() - 1, &mut out),
        Err(CodecError::TooLarge {
            limit: data.len() - 1
        })
    );
}

#[test]
fn zero_and_huge_limits() {
    let empty = compress(&[]);
    let one = compress(b"x");
    let mut out = Vec::new();
    Lzw.decompress(&empty, 0, &mut out).unwrap();
    assert!(out.is_empty());
    assert_eq!(
        Lzw.decompress(&one, 0, &mut out),
        Err(CodecError::TooLarge { limit: 0 })
    );
    Lzw.decompress(&one, usize::MAX, &mut out).unwrap();
    assert_eq!(out, b"x");
}

#[test]
fn limit_counts_only_new_bytes() {
    let stream = compress(b"abcdef");
    let mut out = vec![1u8; 100];
    Lzw.decompress(&stream, 6, &mut out).unwrap();
    assert_eq!(&out[100..], b"abcdef");
}

#[test]
fn through_the_registry() {
    let registry = CodecRegistry::new().with_compressor(Arc::new(Lzw));
    let codec = registry.compressor().unwrap();
    assert_eq!(codec.algorithm(), LZW_ALGORITHM);

    let mut stream = Vec::new();
    codec.compress(b"hello memberlist", &mut stream).unwrap();
    let mut out = Vec::new();
    registry
        .decompress(LZW_ALGORITHM, &stream, 1024, &mut out)
        .unwrap();
    assert_eq!(out, b"hello memberlist");

    // Go rejects an empty decompressed payload; the registry does too.
    let mut empty = Vec::new();
    codec.compress(&[], &mut empty).unwrap();
    assert_eq!(
        registry.decompress(LZW_ALGORITHM, &empty, 1024, &mut Vec::new()),
        Err(CodecError::Empty)
    );
}
