//! The encoder against a deliberately plain reference implementation of Go's `compress/lzw`
//! writer (LSB order, literal width 8), on random and repetitive inputs of up to 70,000 bytes:
//! enough to fill the 4,096-code dictionary many times over (Go then writes a clear code and
//! starts afresh), and with `compress_within`'s length limit below, at and above the length of
//! the stream.
//!
//! The reference favours obviousness over speed: the dictionary maps whole strings to codes,
//! and the output is built as a list of bits, one code at a time, least significant bit first.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use memberlist_core::codec::Codec;
use memberlist_lzw::Lzw;
use proptest::collection::vec;
use proptest::prelude::*;

const CLEAR: u32 = 256;
const EOF: u32 = 257;
/// Go's writer starts afresh (clear code) when the last assigned code reaches this value.
const MAX_CODE: u32 = 4095;

/// Appends `code` to `bits` as `width` bits, least significant first.
fn put(bits: &mut Vec<bool>, code: u32, width: u32) {
    for i in 0..width {
        bits.push((code >> i) & 1 == 1);
    }
}

/// What Go's `lzw.NewWriter(w, lzw.LSB, 8)` writes for `input` followed by `Close()`.
fn reference(input: &[u8]) -> Vec<u8> {
    reference_and_close(input).0
}

/// [`reference`]'s stream, and whether closing it ran out of codes (a clear code before EOF).
fn reference_and_close(input: &[u8]) -> (Vec<u8>, bool) {
    let mut cleared_on_close = false;
    let mut bits = Vec::new();
    // Strings of two or more bytes and their codes; a single byte is its own code.
    let mut dict: HashMap<Vec<u8>, u32> = HashMap::new();
    let code_of = |dict: &HashMap<Vec<u8>, u32>, s: &[u8]| match s {
        [byte] => u32::from(*byte),
        _ => dict[s],
    };
    let mut width = 9;
    // The last code assigned.
    let mut hi = EOF;
    put(&mut bits, CLEAR, width);
    if let Some((&first, rest)) = input.split_first() {
        // The longest dictionary string matching the input at the current position so far.
        let mut current = vec![first];
        for &byte in rest {
            let mut longer = current.clone();
            longer.push(byte);
            if dict.contains_key(&longer) {
                current = longer;
                continue;
            }
            put(&mut bits, code_of(&dict, &current), width);
            current = vec![byte];
            hi += 1;
            if hi == 1 << width {
                width += 1;
            }
            if hi == MAX_CODE {
                put(&mut bits, CLEAR, width);
                width = 9;
                hi = EOF;
                dict.clear();
                continue;
            }
            dict.insert(longer, hi);
        }
        put(&mut bits, code_of(&dict, &current), width);
        hi += 1;
        if hi == 1 << width {
            width += 1;
        }
        if hi == MAX_CODE {
            put(&mut bits, CLEAR, width);
            width = 9;
            cleared_on_close = true;
        }
    }
    put(&mut bits, EOF, width);
    let bytes = bits
        .chunks(8)
        .map(|byte| {
            byte.iter()
                .enumerate()
                .map(|(i, &bit)| u8::from(bit) << i)
                .sum()
        })
        .collect();
    (bytes, cleared_on_close)
}

fn compress(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Lzw.compress(input, &mut out).unwrap();
    out
}

/// Inputs of up to 70,000 bytes: random, from small alphabets, runs of one byte, and a random
/// chunk repeated with occasional changes.
fn inputs() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..70_000),
        (1u8..=8, 0usize..70_000, any::<u64>()).prop_map(|(letters, len, seed)| {
            let mut state = seed | 1;
            (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state % u64::from(letters)) as u8
                })
                .collect()
        }),
        (any::<u8>(), 0usize..70_000).prop_map(|(byte, len)| vec![byte; len]),
        (
            vec(any::<u8>(), 1..300),
            0usize..70_000,
            vec((any::<prop::sample::Index>(), any::<u8>()), 0..20)
        )
            .prop_map(|(chunk, len, edits)| {
                let mut data: Vec<u8> = chunk.iter().copied().cycle().take(len).collect();
                for (at, byte) in edits {
                    if !data.is_empty() {
                        let i = at.index(data.len());
                        data[i] = byte;
                    }
                }
                data
            }),
    ]
}

#[test]
fn reference_matches_known_streams() {
    assert_eq!(reference(&[]), [0x00, 0x03, 0x02]);
    let bits: u32 = 256 | (97 << 9) | (257 << 18);
    assert_eq!(reference(b"a"), bits.to_le_bytes()[..4]);
    // The ack captured from Go in lib.rs's example.
    let ack = hex::decode("0282a75061796c6f6164c0a55365714e6f01").unwrap();
    assert_eq!(
        hex::encode(reference(&ack)),
        "0005083a05254c1e366fc29001566a4a99384ede040808"
    );
}

#[test]
fn matches_reference_around_the_dictionary_reset() {
    // Random bytes take about one code per byte: lengths around the first and the second reset
    // (closing runs out of codes at 3,931 and 7,875 bytes), so that the last code, the clear
    // code and the EOF code's width are tested at the boundary.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..12_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect();
    let mut closes_with_clear = 0;
    for len in (3_900..3_960).chain(7_850..7_900) {
        let input = &noise[..len];
        let (expected, cleared) = reference_and_close(input);
        assert_eq!(compress(input), expected, "length {len}");
        closes_with_clear += usize::from(cleared);
    }
    assert_eq!(
        closes_with_clear, 2,
        "inputs that run out of codes on close"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn matches_reference(input in inputs()) {
        prop_assert_eq!(compress(&input), reference(&input));
    }

    #[test]
    fn within_matches_reference(input in inputs(), slack in -40isize..40, fraction in 0.0f64..1.2) {
        let expected = reference(&input);
        // Limits near the stream's length and anywhere below it (or a little above).
        let limit = if slack % 2 == 0 {
            expected.len().saturating_add_signed(slack)
        } else {
            (expected.len() as f64 * fraction) as usize
        };
        let mut out = b"prefix".to_vec();
        let fits = Lzw.compress_within(&input, limit, &mut out).unwrap();
        prop_assert_eq!(fits, expected.len() <= limit);
        if fits {
            prop_assert_eq!(&out[..6], b"prefix");
            prop_assert_eq!(&out[6..], &expected[..]);
        } else {
            prop_assert_eq!(&out[..], b"prefix");
        }
        // The tables are left clean for the next encoding on this thread.
        prop_assert_eq!(compress(b"abcabcabcabc"), reference(b"abcabcabcabc"));
    }
}
