//! Go-compatible LZW compression for memberlist-rs.
//!
//! Go memberlist compresses messages with Go's `compress/lzw` package (LSB bit order, literal
//! width 8) and sends them inside a `compressMsg` (type byte 9) with `Algo = 0`. This crate
//! provides [`Lzw`], a [`Codec`] that produces and accepts exactly that stream format, so Rust
//! and Go nodes can exchange compressed messages.
//!
//! # Stream format
//!
//! * Codes are packed least-significant bit first and grow from 9 to 12 bits.
//! * Code 256 is the *clear* code, 257 is the *end-of-data* (EOF) code and the first dictionary
//!   code is 258.
//! * [`Lzw::compress`](Codec::compress) produces byte-for-byte what Go's `lzw.Writer` produces
//!   for the same input: a leading clear code, greedy longest-match codes, a clear code whenever
//!   the dictionary is full (Go never assigns code 4095), and a final EOF code padded to a byte.
//!   The encoder is implemented in this crate for that reason: weezl's encoder makes different
//!   dictionary choices, so its (valid) output is not byte-identical to Go's.
//! * [`Lzw::decompress`](Codec::decompress) accepts streams with or without a leading clear
//!   code (Go before 1.17 omitted it for non-empty input), **requires** the EOF code (as Go's reader does; a truncated stream is
//!   [`CodecError::Corrupt`]) and ignores any bytes after it.
//!
//! Decompression uses the [`weezl`] decoder and is bounded: the output never grows beyond the
//! given limit (the decoder works through a fixed 4 KiB window and the limit is checked before
//! each chunk is copied out, and the output vector's capacity is capped at the limit), so a
//! "zip bomb" is rejected with [`CodecError::TooLarge`] after at most `limit` bytes of output.
//! Every [`CodecError`] returned leaves the caller's output vector as it was.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use memberlist_core::codec::{Codec, CodecRegistry, LZW_ALGORITHM};
//! use memberlist_lzw::Lzw;
//!
//! // An ack message, compressed exactly as Go memberlist compresses it.
//! let ack = hex::decode("0282a75061796c6f6164c0a55365714e6f01").unwrap();
//! let mut compressed = Vec::new();
//! Lzw.compress(&ack, &mut compressed).unwrap();
//! assert_eq!(hex::encode(&compressed), "0005083a05254c1e366fc29001566a4a99384ede040808");
//!
//! // Decompress through a registry, as the transport layer does.
//! let registry = CodecRegistry::new().with_compressor(Arc::new(Lzw));
//! let mut plain = Vec::new();
//! registry.decompress(LZW_ALGORITHM, &compressed, 1024, &mut plain).unwrap();
//! assert_eq!(plain, ack);
//! ```
#![forbid(unsafe_code)]

mod decode;
mod encode;

use memberlist_core::codec::{Codec, CodecError};

pub use memberlist_core::codec::LZW_ALGORITHM;

/// The name reported by [`Codec::name`] and used in errors.
const NAME: &str = "lzw";

/// LZW compression compatible with Go's `compress/lzw` (LSB order, literal width 8), the only
/// compression algorithm Go memberlist knows (algorithm id [`LZW_ALGORITHM`], 0).
///
/// `Lzw` holds no state, so one value can be shared freely between threads. To avoid
/// allocating code tables for every packet, each thread keeps the encoder's hash table and one
/// weezl decoder (about 130 KiB together) and resets them before each use.
///
/// # Example
///
/// ```
/// use memberlist_core::codec::{Codec, CodecError, LZW_ALGORITHM};
/// use memberlist_lzw::Lzw;
///
/// assert_eq!(Lzw.algorithm(), LZW_ALGORITHM);
/// assert_eq!(Lzw.name(), "lzw");
///
/// let data = b"memberlist memberlist memberlist memberlist".repeat(10);
/// let mut compressed = Vec::new();
/// Lzw.compress(&data, &mut compressed).unwrap();
/// assert!(compressed.len() < data.len());
///
/// let mut plain = Vec::new();
/// Lzw.decompress(&compressed, data.len(), &mut plain).unwrap();
/// assert_eq!(plain, data);
///
/// // One byte less than needed is refused, and nothing is appended.
/// let mut small = Vec::new();
/// let err = Lzw.decompress(&compressed, data.len() - 1, &mut small).unwrap_err();
/// assert_eq!(err, CodecError::TooLarge { limit: data.len() - 1 });
/// assert!(small.is_empty());
///
/// // A stream without its end-of-data code is corrupt, as in Go.
/// let err = Lzw.decompress(&compressed[..compressed.len() - 2], 1 << 20, &mut small);
/// assert!(matches!(err, Err(CodecError::Corrupt { .. })));
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lzw;

impl Lzw {
    /// Creates the codec (equivalent to `Lzw::default()` or just `Lzw`).
    pub const fn new() -> Self {
        Lzw
    }
}

impl Codec for Lzw {
    fn algorithm(&self) -> u8 {
        LZW_ALGORITHM
    }

    fn name(&self) -> &'static str {
        NAME
    }

    /// Compresses `input` into a complete LZW stream, byte-identical to Go's, appended to
    /// `out`. This never fails.
    fn compress(&self, input: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
        encode::encode(input, out);
        Ok(())
    }

    /// Like [`compress`](Codec::compress), but stops as soon as the stream would exceed
    /// `max_len` bytes (returning `Ok(false)` with `out` as it was). Output that fits is
    /// byte-identical to [`compress`](Codec::compress)'s.
    fn compress_within(
        &self,
        input: &[u8],
        max_len: usize,
        out: &mut Vec<u8>,
    ) -> Result<bool, CodecError> {
        Ok(encode::encode_within(input, max_len, out))
    }

    /// Decompresses the LZW stream in `input`, appending at most `limit` bytes to `out`.
    ///
    /// Fails with [`CodecError::TooLarge`] as soon as the output would exceed `limit`, and with
    /// [`CodecError::Corrupt`] on an invalid code or a stream without an EOF code (including an
    /// empty `input`). Bytes after the EOF code are ignored. On error `out` is left as it was.
    fn decompress(&self, input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), CodecError> {
        decode::decode(input, limit, out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_round_trips() {
        let mut out = Vec::new();
        Lzw.compress(&[], &mut out).unwrap();
        assert_eq!(out, [0x00, 0x03, 0x02]);
        let mut plain = Vec::new();
        Lzw.decompress(&out, 10, &mut plain).unwrap();
        assert!(plain.is_empty());
    }

    #[test]
    fn appends_after_existing_bytes() {
        let mut compressed = b"xy".to_vec();
        Lzw.compress(b"hello hello hello", &mut compressed).unwrap();
        assert_eq!(&compressed[..2], b"xy");
        let mut plain = b"ab".to_vec();
        Lzw.decompress(&compressed[2..], 17, &mut plain).unwrap();
        assert_eq!(plain, b"abhello hello hello");
    }
}
