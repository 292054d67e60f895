//! Bounded LZW decoding on top of weezl's streaming decoder.
//!
//! Building a weezl decoder allocates and zeroes its code tables (about 60 KiB), which cost
//! more than decoding a small packet; each thread therefore keeps one decoder and its output
//! window and resets the decoder before every stream.

use std::cell::Cell;

use memberlist_core::codec::CodecError;
use weezl::{BitOrder, LzwStatus, decode::Decoder};

use crate::NAME;

/// Width in bits of a literal code, as Go memberlist's `lzwLitWidth`.
const LITERAL_WIDTH: u8 = 8;

/// Size of the window the decoder writes into before the output is checked against the limit.
const CHUNK: usize = 4 * 1024;

/// How many consecutive decoder calls may consume no input and produce no output before the
/// stream is declared stuck. The decoder's bit buffer holds at most seven 9-bit codes, and every
/// such call consumes at least one code, so a healthy stream never comes close to this bound.
const MAX_IDLE_CALLS: u32 = 64;

/// A decoder and the window it writes into, reused by the decodings of one thread.
struct Scratch {
    decoder: Decoder,
    chunk: Box<[u8; CHUNK]>,
}

impl Scratch {
    fn new() -> Self {
        Scratch {
            // A fresh decoder starts without a dictionary and, like Go's reader, treats a first
            // code other than a clear code as if a clear code had preceded it; `reset` returns
            // it to that state.
            decoder: Decoder::new(BitOrder::Lsb, LITERAL_WIDTH),
            chunk: Box::new([0; CHUNK]),
        }
    }
}

thread_local! {
    /// This thread's [`Scratch`], taken out while a decoding runs (a nested decoding on the
    /// same thread, were there one, would build its own).
    static SCRATCH: Cell<Option<Box<Scratch>>> = const { Cell::new(None) };
}

/// Builds a [`CodecError::Corrupt`] for this codec.
fn corrupt(reason: &'static str) -> CodecError {
    CodecError::Corrupt {
        algorithm: NAME,
        reason,
    }
}

/// Decodes the LZW stream in `input`, appending at most `limit` bytes to `out`.
///
/// On error `out` is truncated back to its original length.
pub(crate) fn decode(input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), CodecError> {
    // A thread being torn down has no scratch to lend: build a fresh one then.
    let mut scratch = match SCRATCH.try_with(Cell::take).ok().flatten() {
        Some(mut scratch) => {
            scratch.decoder.reset();
            scratch
        }
        None => Box::new(Scratch::new()),
    };
    let outcome = decode_with(&mut scratch, input, limit, out);
    // Ignored for the same reason: the scratch is then simply dropped.
    let _ = SCRATCH.try_with(|cell| cell.set(Some(scratch)));
    outcome
}

/// [`decode`] with a decoder in its initial state.
fn decode_with(
    scratch: &mut Scratch,
    input: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    let start = out.len();
    let outcome = decode_bounded(scratch, input, limit, out, start);
    if outcome.is_err() {
        out.truncate(start);
    }
    outcome
}

/// Runs the decoder over `input` in [`CHUNK`]-sized steps, appending to `out` (whose first
/// `start` bytes belong to the caller) until the EOF code, an error, or the limit.
fn decode_bounded(
    scratch: &mut Scratch,
    input: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
    start: usize,
) -> Result<(), CodecError> {
    let Scratch { decoder, chunk } = scratch;
    let chunk = &mut chunk[..];
    let mut rest = input;
    let mut idle_calls = 0u32;

    loop {
        let result = decoder.decode_bytes(rest, chunk);
        rest = rest.get(result.consumed_in..).unwrap_or_default();
        let produced = chunk
            .get(..result.consumed_out)
            .ok_or_else(|| corrupt("decoder reported more output than its buffer holds"))?;
        append_bounded(out, start, limit, produced)?;

        match result.status {
            // The EOF code: anything after it is ignored, as Go's reader does.
            Ok(LzwStatus::Done) => return Ok(()),
            Err(weezl::LzwError::InvalidCode) => return Err(corrupt("invalid code")),
            Ok(LzwStatus::NoProgress) => {
                return Err(corrupt(if rest.is_empty() {
                    "stream ends without an end-of-data code"
                } else {
                    "decoder made no progress"
                }));
            }
            Ok(LzwStatus::Ok) => {
                if result.consumed_in == 0 && result.consumed_out == 0 {
                    idle_calls += 1;
                    if idle_calls > MAX_IDLE_CALLS {
                        return Err(corrupt("decoder stalled before an end-of-data code"));
                    }
                } else {
                    idle_calls = 0;
                }
            }
        }
    }
}

/// Appends `data` to `out` unless the bytes appended since `start` would then exceed `limit`.
///
/// The vector's capacity is grown geometrically but never beyond `start + limit`, so a bounded
/// decompression never reserves more memory than the limit allows.
fn append_bounded(
    out: &mut Vec<u8>,
    start: usize,
    limit: usize,
    data: &[u8],
) -> Result<(), CodecError> {
    let produced = out.len().saturating_sub(start);
    let room = limit.saturating_sub(produced);
    if data.len() > room {
        return Err(CodecError::TooLarge { limit });
    }
    let needed = out.len() + data.len();
    if needed > out.capacity() {
        let ceiling = start.saturating_add(limit);
        let target = out.capacity().saturating_mul(2).max(needed).min(ceiling);
        out.reserve_exact(target - out.len());
    }
    out.extend_from_slice(data);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn append_bounded_respects_limit_and_capacity() {
        let mut out = vec![9u8; 3];
        append_bounded(&mut out, 3, 10, &[1; 6]).unwrap();
        append_bounded(&mut out, 3, 10, &[2; 4]).unwrap();
        assert_eq!(out.len(), 13);
        assert!(out.capacity() <= 13);
        assert_eq!(
            append_bounded(&mut out, 3, 10, &[3]),
            Err(CodecError::TooLarge { limit: 10 })
        );
        assert_eq!(out.len(), 13);
    }

    #[test]
    fn append_bounded_zero_limit_accepts_only_nothing() {
        let mut out = Vec::new();
        append_bounded(&mut out, 0, 0, &[]).unwrap();
        assert_eq!(
            append_bounded(&mut out, 0, 0, &[1]),
            Err(CodecError::TooLarge { limit: 0 })
        );
    }

    #[test]
    fn empty_input_is_corrupt() {
        let mut out = b"prefix".to_vec();
        assert!(matches!(
            decode(&[], 100, &mut out),
            Err(CodecError::Corrupt {
                algorithm: "lzw",
                ..
            })
        ));
        assert_eq!(out, b"prefix");
    }

    /// Decodes with a decoder built for this one call.
    fn decode_fresh(input: &[u8], limit: usize) -> (Result<(), CodecError>, Vec<u8>) {
        let mut out = Vec::new();
        let result = decode_with(&mut Scratch::new(), input, limit, &mut out);
        (result, out)
    }

    /// Decodes with this thread's reused decoder.
    fn decode_reused(input: &[u8], limit: usize) -> (Result<(), CodecError>, Vec<u8>) {
        let mut out = Vec::new();
        let result = decode(input, limit, &mut out);
        (result, out)
    }

    #[test]
    fn reused_decoder_matches_a_fresh_one() {
        let mut valid = Vec::new();
        crate::encode::encode(
            &b"memberlist gossip, memberlist gossip".repeat(200),
            &mut valid,
        );
        // Deterministic pseudo-random inputs: valid streams, truncated and corrupted ones and
        // noise, decoded in an order that leaves the reused decoder in every kind of state.
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..600 {
            let r = next();
            let mut input = valid.clone();
            match round % 4 {
                0 => {}
                1 => input.truncate(r as usize % valid.len()),
                2 => {
                    for _ in 0..(r % 4 + 1) {
                        let at = next() as usize % input.len();
                        input[at] ^= next() as u8 | 1;
                    }
                }
                _ => input = (0..r % 300).map(|_| next() as u8).collect(),
            }
            let limit = if round % 5 == 0 { 1000 } else { 1 << 16 };
            assert_eq!(
                decode_reused(&input, limit),
                decode_fresh(&input, limit),
                "round {round}"
            );
        }
    }

    #[test]
    fn clear_then_eof_is_empty_output() {
        let mut out = Vec::new();
        decode(&[0x00, 0x03, 0x02], 0, &mut out).unwrap();
        assert!(out.is_empty());
    }
}
