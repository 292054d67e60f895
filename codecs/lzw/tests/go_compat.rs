//! Compatibility with Go's `compress/lzw`: a Go-generated vector, real packets captured from Go
//! memberlist 0.2.2, and the Go behaviour model in `common`.
#![allow(clippy::unwrap_used)]

mod common;

use common::{capture_bytes, compress_msg_buf, go_compress, go_decompress, pseudo_text};
use memberlist_core::codec::{Codec, CodecError, DEFAULT_MAX_DECOMPRESSED_SIZE, LZW_ALGORITHM};
use memberlist_lzw::Lzw;

/// An ack message and its LZW form as produced by Go.
const ACK_PLAIN: &str = "0282a75061796c6f6164c0a55365714e6f01";
const ACK_GO_LZW: &str = "0005083a05254c1e366fc29001566a4a99384ede040808";

const CAPTURES: &[(&str, &str)] = &[
    (
        "compressed_compressed_packet",
        include_str!("data/compressed_compressed_packet.hex"),
    ),
    (
        "compressed_pushpull_join_request",
        include_str!("data/compressed_pushpull_join_request.hex"),
    ),
    (
        "compressed_user_broadcast_gossip",
        include_str!("data/compressed_user_broadcast_gossip.hex"),
    ),
];

fn compress(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Lzw.compress(input, &mut out).unwrap();
    out
}

fn decompress(input: &[u8]) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    Lzw.decompress(input, DEFAULT_MAX_DECOMPRESSED_SIZE, &mut out)
        .map(|()| out)
}

#[test]
fn identity() {
    assert_eq!(Lzw.algorithm(), LZW_ALGORITHM);
    assert_eq!(Lzw.algorithm(), 0);
    assert_eq!(Lzw.name(), "lzw");
    assert_eq!(Lzw::new(), Lzw);
}

#[test]
fn go_vector_matches_byte_for_byte() {
    let plain = hex::decode(ACK_PLAIN).unwrap();
    let compressed = compress(&plain);
    assert_eq!(hex::encode(&compressed), ACK_GO_LZW);
    assert_eq!(compressed.len(), 23);
    assert_eq!(decompress(&compressed).unwrap(), plain);
}

#[test]
fn go_model_reproduces_go_vector() {
    // Validates the test model itself against the real Go bytes.
    let plain = hex::decode(ACK_PLAIN).unwrap();
    assert_eq!(hex::encode(go_compress(&plain)), ACK_GO_LZW);
    let go_bytes = hex::decode(ACK_GO_LZW).unwrap();
    assert_eq!(go_decompress(&go_bytes, usize::MAX).unwrap(), plain);
}

#[test]
fn captured_go_payloads_decompress_and_recompress_identically() {
    for (name, text) in CAPTURES {
        let packet = capture_bytes(text);
        let buf = compress_msg_buf(&packet).unwrap_or_else(|| panic!("{name}: no compressMsg"));
        let plain = decompress(buf).unwrap_or_else(|e| panic!("{name}: {e}"));
        let msg_type = plain[0];
        assert!(msg_type <= 13, "{name}: bad message type {msg_type}");
        assert_eq!(
            go_decompress(buf, usize::MAX).unwrap(),
            plain,
            "{name}: model"
        );
        // Small streams: our encoder (and the model) produce exactly Go's bytes.
        assert_eq!(hex::encode(compress(&plain)), hex::encode(buf), "{name}");
        assert_eq!(go_compress(&plain), buf, "{name}: model");
    }
}

#[test]
fn captured_payload_sizes_match_annotations() {
    let expected = [
        ("compressed_pushpull_join_request", 6u8, 184usize),
        ("compressed_user_broadcast_gossip", 8, 128),
    ];
    for (name, msg_type, len) in expected {
        let (_, text) = CAPTURES.iter().find(|(n, _)| *n == name).unwrap();
        let packet = capture_bytes(text);
        let plain = decompress(compress_msg_buf(&packet).unwrap()).unwrap();
        assert_eq!((plain[0], plain.len()), (msg_type, len), "{name}");
    }
}

#[test]
fn empty_input_matches_go() {
    assert_eq!(compress(&[]), go_compress(&[]));
    assert_eq!(decompress(&go_compress(&[])).unwrap(), Vec::<u8>::new());
}

#[test]
fn short_inputs_match_go_exactly() {
    for len in [
        1usize, 2, 3, 7, 8, 9, 100, 255, 256, 257, 511, 512, 513, 1000, 3000,
    ] {
        for alphabet in [1u8, 2, 5, 26] {
            let input = pseudo_text(len, alphabet, len as u64 * 31 + u64::from(alphabet));
            assert_eq!(
                compress(&input),
                go_compress(&input),
                "len {len} alphabet {alphabet}"
            );
        }
    }
    let all_bytes: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    assert_eq!(compress(&all_bytes), go_compress(&all_bytes));
}

/// Inputs long enough to fill the 12-bit dictionary many times, so Go's writer emits clear
/// codes mid-stream (and sometimes right before the EOF code): still byte-identical.
#[test]
fn long_inputs_match_go_exactly() {
    let inputs = [
        pseudo_text(200_000, 2, 1),
        pseudo_text(200_000, 4, 2),
        pseudo_text(150_000, 26, 3),
        (0..=255u8).cycle().take(300_000).collect::<Vec<_>>(),
        vec![0u8; 9_000_000],
    ];
    for (i, input) in inputs.iter().enumerate() {
        let ours = compress(input);
        assert!(ours == go_compress(input), "input {i}: differs from Go");
        assert_eq!(
            go_decompress(&ours, usize::MAX).unwrap(),
            *input,
            "input {i}: Go reads ours"
        );
        assert_eq!(decompress(&ours).unwrap(), *input, "input {i}: round trip");
    }
}

/// Go's writer emits a clear code right before the EOF code when the final code exhausts the
/// dictionary; the EOF code then goes out at 9 bits.
#[test]
fn clear_code_right_before_eof() {
    // Blocks of `j * s mod 256` for odd steps `s`: no byte pair repeats, so every byte becomes
    // its own literal code and `n` bytes use exactly `n` codes. The dictionary (codes
    // 258..=4094) is exhausted by the 3838th code.
    let distinct_pairs: Vec<u8> = (1..32u32)
        .step_by(2)
        .flat_map(|s| (0..256u32).map(move |j| (j * s % 256) as u8))
        .collect();
    for n in [3837usize, 3838, 3839, 3840] {
        let input = &distinct_pairs[..n];
        let ours = compress(input);
        assert_eq!(ours, go_compress(input), "n {n}");
        assert_eq!(ends_with_clear_then_eof(&ours), n == 3838, "n {n}");
        assert_eq!(decompress(&ours).unwrap(), input, "n {n}");
        assert_eq!(
            go_decompress(&ours, usize::MAX).unwrap(),
            input,
            "n {n}: model"
        );
    }
}

/// Whether the stream's final 21 meaningful bits are clear (12 bits) followed by EOF (9 bits).
fn ends_with_clear_then_eof(stream: &[u8]) -> bool {
    let tail = u32::from_le_bytes(stream[stream.len() - 4..].try_into().unwrap());
    // The EOF code ends in the last byte; padding above it is zero. Find its top bit.
    let used = 32 - tail.leading_zeros(); // EOF has bit 8 set, so `used` marks its end.
    used >= 21 && (tail >> (used - 9)) & 0x1ff == 257 && (tail >> (used - 21)) & 0xfff == 256
}

#[test]
fn accepts_stream_without_leading_clear_code() {
    // Go before 1.17 did not start non-empty streams with a clear code: pack the codes by hand.
    // "abab" -> a, b, 258 ("ab"), EOF, all 9-bit.
    let codes = [u32::from(b'a'), u32::from(b'b'), 258, 257];
    let mut out = Vec::new();
    let (mut bits, mut n) = (0u64, 0u32);
    for code in codes {
        bits |= u64::from(code) << n;
        n += 9;
    }
    while n > 0 {
        out.push(bits as u8);
        bits >>= 8;
        n = n.saturating_sub(8);
    }
    assert_eq!(go_decompress(&out, usize::MAX).unwrap(), b"abab");
    assert_eq!(decompress(&out).unwrap(), b"abab");
}

#[test]
fn requires_end_of_data_code() {
    let full = hex::decode(ACK_GO_LZW).unwrap();
    assert!(matches!(
        decompress(&[]),
        Err(CodecError::Corrupt {
            algorithm: "lzw",
            ..
        })
    ));
    // Every strict prefix lacks the EOF code (the last two bytes hold it).
    for cut in 0..full.len() - 1 {
        let err = decompress(&full[..cut]).unwrap_err();
        assert!(
            matches!(err, CodecError::Corrupt { .. }),
            "cut {cut}: {err:?}"
        );
        assert!(
            go_decompress(&full[..cut], usize::MAX).is_err(),
            "cut {cut}: model"
        );
    }
    // A lone clear code, and a stream that just stops, are corrupt too.
    assert!(decompress(&[0x00, 0x01]).is_err());
    let mut out = b"keep".to_vec();
    assert!(Lzw.decompress(&full[..10], 1000, &mut out).is_err());
    assert_eq!(out, b"keep");
}

#[test]
fn ignores_data_after_end_of_data_code() {
    let plain = hex::decode(ACK_PLAIN).unwrap();
    let mut stream = hex::decode(ACK_GO_LZW).unwrap();
    stream.extend_from_slice(&[0xff; 64]);
    assert_eq!(decompress(&stream).unwrap(), plain);
    assert_eq!(go_decompress(&stream, usize::MAX).unwrap(), plain);
}

#[test]
fn rejects_invalid_codes() {
    // Clear, then code 300 (not yet defined) as the first code.
    let bits: u32 = 256 | (300 << 9);
    let stream = [bits as u8, (bits >> 8) as u8, (bits >> 16) as u8];
    assert!(matches!(
        decompress(&stream),
        Err(CodecError::Corrupt {
            algorithm: "lzw",
            ..
        })
    ));
    assert_eq!(go_decompress(&stream, usize::MAX), Err("invalid code"));
}

#[test]
fn many_clear_codes_terminate() {
    // 10 000 clear codes then EOF: no output, no stall.
    let mut out = Vec::new();
    let (mut bits, mut n) = (0u64, 0u32);
    for code in std::iter::repeat_n(256u32, 10_000).chain([257]) {
        bits |= u64::from(code) << n;
        n += 9;
        while n >= 8 {
            out.push(bits as u8);
            bits >>= 8;
            n -= 8;
        }
    }
    if n > 0 {
        out.push(bits as u8);
    }
    assert_eq!(decompress(&out).unwrap(), Vec::<u8>::new());
    // Without the EOF code it is corrupt.
    assert!(decompress(&out[..out.len() - 3]).is_err());
}
