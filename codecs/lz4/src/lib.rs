//! LZ4 compression for memberlist-rs, under a **Rust-only** algorithm id.
//!
//! [`Lz4`] is a [`Codec`] for the `compressMsg` wrapper that trades LZW's compression ratio for
//! much faster compression and decompression. It uses the algorithm id [`LZ4_ALGORITHM`]
//! (128), which Go memberlist does not know.
//!
//! # Go peers cannot read it
//!
//! Go memberlist only understands LZW (algorithm 0). A Go node that receives a `compressMsg`
//! with `Algo = 128` drops it with the error `cannot decompress unknown algorithm`, so the
//! message is lost. **Only compress with `Lz4` in clusters where every node is a Rust node with
//! this codec registered.** In mixed clusters, compress with `memberlist-lzw` instead; you can
//! still register `Lz4` as a decoder everywhere to prepare a later switch.
//!
//! # Format
//!
//! The `Buf` field holds the LZ4 *block* format with the uncompressed length prepended as a
//! little-endian `u32` (the format of `lz4_flex::block::compress_prepend_size`):
//!
//! ```text
//! +----------------------+----------------------------------+
//! | u32 LE: plain length | LZ4 block (no frame, no checksum) |
//! +----------------------+----------------------------------+
//! ```
//!
//! Decompression checks the declared length against the caller's limit *before* allocating
//! anything, rejects lengths that the block could not possibly produce (LZ4 expands at most
//! 255 bytes per input byte), decodes with `lz4_flex`'s safe decoder into a buffer of exactly
//! the declared length, and rejects blocks whose real length differs from the declared one.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use memberlist_core::codec::{Codec, CodecRegistry};
//! use memberlist_lz4::{LZ4_ALGORITHM, Lz4};
//!
//! // All-Rust cluster only: compress outgoing messages with LZ4.
//! let registry = CodecRegistry::new().with_compressor(Arc::new(Lz4));
//!
//! let message = b"alive alive alive alive alive alive alive alive".to_vec();
//! let mut compressed = Vec::new();
//! registry.compressor().unwrap().compress(&message, &mut compressed).unwrap();
//! assert_eq!(&compressed[..4], &(message.len() as u32).to_le_bytes());
//!
//! let mut plain = Vec::new();
//! registry.decompress(LZ4_ALGORITHM, &compressed, 1 << 20, &mut plain).unwrap();
//! assert_eq!(plain, message);
//! ```
#![forbid(unsafe_code)]

use lz4_flex::block;
use memberlist_core::codec::{Codec, CodecError};

/// The `Algo` id used for LZ4 in `compressMsg`: 128.
///
/// This id is **not** part of Go memberlist's protocol (see the [crate documentation](crate)).
/// Ids from 128 up are left for Rust-only algorithms so that they can never clash with ids Go
/// memberlist might define in the future (it uses 0).
pub const LZ4_ALGORITHM: u8 = 128;

/// The name reported by [`Codec::name`] and used in errors.
const NAME: &str = "lz4";

/// Bytes of the little-endian length prefix.
const PREFIX_LEN: usize = 4;

/// The most output one byte of an LZ4 block can produce: a match-length extension byte adds at
/// most 255 bytes. Used to reject impossible declared lengths before allocating for them.
const MAX_EXPANSION: usize = 255;

/// Slack for the fixed part of the final sequences when bounding the declared length.
const EXPANSION_SLACK: usize = 64;

/// LZ4 block compression with a length prefix, under the Rust-only id [`LZ4_ALGORITHM`].
///
/// **Go memberlist peers cannot decompress this**; enable it only in all-Rust clusters (see the
/// [crate documentation](crate)).
///
/// # Example
///
/// ```
/// use memberlist_core::codec::{Codec, CodecError};
/// use memberlist_lz4::{LZ4_ALGORITHM, Lz4};
///
/// assert_eq!(Lz4.algorithm(), LZ4_ALGORITHM);
/// assert_eq!(Lz4.name(), "lz4");
///
/// let data = vec![42u8; 10_000];
/// let mut compressed = Vec::new();
/// Lz4.compress(&data, &mut compressed).unwrap();
/// assert!(compressed.len() < 100);
///
/// let mut plain = Vec::new();
/// Lz4.decompress(&compressed, data.len(), &mut plain).unwrap();
/// assert_eq!(plain, data);
///
/// // A declared length above the limit is refused before any allocation.
/// let mut small = Vec::new();
/// assert_eq!(
///     Lz4.decompress(&compressed, 9_999, &mut small),
///     Err(CodecError::TooLarge { limit: 9_999 })
/// );
/// assert!(small.is_empty());
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lz4;

impl Lz4 {
    /// Creates the codec (equivalent to `Lz4::default()` or just `Lz4`).
    pub const fn new() -> Self {
        Lz4
    }
}

/// Builds a [`CodecError::Corrupt`] for this codec.
fn corrupt(reason: &'static str) -> CodecError {
    CodecError::Corrupt {
        algorithm: NAME,
        reason,
    }
}

/// What a malformed block is, in words that do not depend on lz4_flex's wording.
fn lz4_reason(err: &block::DecompressError) -> &'static str {
    match err {
        block::DecompressError::OutputTooSmall { .. } => {
            "the block decodes past its declared length"
        }
        block::DecompressError::LiteralOutOfBounds => "a literal runs past the end of the block",
        block::DecompressError::ExpectedAnotherByte => "the block ends in the middle of a sequence",
        block::DecompressError::OffsetZero => "a match has offset 0",
        block::DecompressError::OffsetOutOfBounds => {
            "a match reaches before the start of the output"
        }
        _ => "the block is malformed",
    }
}

/// Builds a [`CodecError::LengthMismatch`] for this codec.
fn mismatch(declared: usize, found: usize) -> CodecError {
    CodecError::LengthMismatch {
        algorithm: NAME,
        declared,
        found,
    }
}

impl Codec for Lz4 {
    fn algorithm(&self) -> u8 {
        LZ4_ALGORITHM
    }

    fn name(&self) -> &'static str {
        NAME
    }

    /// Appends the length prefix and the LZ4 block for `input` to `out`.
    ///
    /// Fails with [`CodecError::Compress`] (leaving `out` as it was) if `input` is longer than
    /// `u32::MAX` bytes, which the length prefix cannot express.
    fn compress(&self, input: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
        let declared = u32::try_from(input.len()).map_err(|_| CodecError::Compress {
            algorithm: NAME,
            reason: "the input is longer than the u32 length prefix can declare",
        })?;
        let start = out.len();
        out.extend_from_slice(&declared.to_le_bytes());
        let block_start = out.len();
        out.resize(block_start + block::get_maximum_output_size(input.len()), 0);
        match block::compress_into(input, &mut out[block_start..]) {
            Ok(written) => {
                out.truncate(block_start + written);
                Ok(())
            }
            Err(_) => {
                out.truncate(start);
                Err(CodecError::Compress {
                    algorithm: NAME,
                    reason: "the output buffer is too small",
                })
            }
        }
    }

    /// Decompresses a length-prefixed LZ4 block, appending exactly the declared number of bytes
    /// to `out`, with the checks the [crate documentation](crate) lists: [`CodecError::TooLarge`]
    /// above `limit`, else [`CodecError::Corrupt`] or [`CodecError::LengthMismatch`]. On error
    /// `out` is left as it was.
    fn decompress(&self, input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), CodecError> {
        let (prefix, block) = input
            .split_first_chunk::<PREFIX_LEN>()
            .ok_or_else(|| corrupt("input shorter than the 4-byte length prefix"))?;
        let declared = usize::try_from(u32::from_le_bytes(*prefix))
            .map_err(|_| CodecError::TooLarge { limit })?;
        if declared > limit {
            return Err(CodecError::TooLarge { limit });
        }
        let possible = block
            .len()
            .saturating_mul(MAX_EXPANSION)
            .saturating_add(EXPANSION_SLACK);
        if declared > possible {
            return Err(mismatch(declared, possible));
        }

        let start = out.len();
        out.try_reserve_exact(declared)
            .map_err(|_| CodecError::TooLarge { limit })?;
        out.resize(start + declared, 0);
        let outcome = match block::decompress_into(block, &mut out[start..]) {
            Ok(written) if written == declared => Ok(()),
            Ok(written) => Err(mismatch(declared, written)),
            Err(err) => Err(corrupt(lz4_reason(&err))),
        };
        if outcome.is_err() {
            out.truncate(start);
        }
        outcome
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn identity() {
        assert_eq!(Lz4.algorithm(), 128);
        assert_eq!(Lz4.name(), "lz4");
        assert_eq!(Lz4::new(), Lz4);
    }

    #[test]
    fn format_is_lz4_flex_prepend_size() {
        let data = b"hello hello hello hello hello hello".repeat(20);
        let mut ours = Vec::new();
        Lz4.compress(&data, &mut ours).unwrap();
        assert_eq!(ours, block::compress_prepend_size(&data));
        assert_eq!(block::decompress_size_prepended(&ours).unwrap(), data);
    }

    #[test]
    fn compress_appends() {
        let mut out = b"head".to_vec();
        Lz4.compress(b"abc", &mut out).unwrap();
        assert_eq!(&out[..4], b"head");
        assert_eq!(&out[4..8], &3u32.to_le_bytes());
        let mut plain = b"xy".to_vec();
        Lz4.decompress(&out[4..], 3, &mut plain).unwrap();
        assert_eq!(plain, b"xyabc");
    }
}
