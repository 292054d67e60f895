//! Compression plugins.
//!
//! Go memberlist wraps a compressed message in a `compressMsg` (type byte 9), `{Algo, Buf}`;
//! the only algorithm Go knows is LZW (`Algo = 0`, the `memberlist-lzw` crate). A [`Codec`]
//! implements one algorithm; a [`CodecRegistry`] holds every algorithm a node can
//! *decompress*, since Go peers decompress whatever arrives regardless of their own setting.

use std::fmt;
use std::sync::Arc;

/// The algorithm id Go memberlist uses for LZW (`lzwAlgo`).
pub const LZW_ALGORITHM: u8 = 0;

/// Default upper bound on the size of one decompressed payload: 40 MiB, as Go's
/// `maxDecompressedBytes`.
pub const DEFAULT_MAX_DECOMPRESSED_SIZE: usize = 40 * 1024 * 1024;

/// Errors from compressing or decompressing a payload.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    /// The compressed input is malformed (bad code, missing end marker, truncated data, ...).
    #[error("corrupt {algorithm} data: {reason}")]
    Corrupt {
        /// Name of the algorithm that rejected the input.
        algorithm: &'static str,
        /// What was wrong.
        reason: &'static str,
    },
    /// The input declares one decompressed length and decodes to another (or could not
    /// possibly decode to the declared length).
    #[error("corrupt {algorithm} data: {declared} bytes declared, {found} found")]
    LengthMismatch {
        /// Name of the algorithm that rejected the input.
        algorithm: &'static str,
        /// The length the input declares.
        declared: usize,
        /// The length it decodes to, or the most it could decode to.
        found: usize,
    },
    /// The decompressed output would exceed the configured limit.
    #[error("decompressed data exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The decompressed output is empty, which Go memberlist rejects.
    #[error("decompressed data is empty")]
    Empty,
    /// No registered codec handles this algorithm id.
    #[error("cannot decompress unknown algorithm {0}")]
    UnknownAlgorithm(u8),
    /// Compression failed.
    #[error("{algorithm} compression failed: {reason}")]
    Compress {
        /// Name of the algorithm that failed.
        algorithm: &'static str,
        /// What went wrong.
        reason: &'static str,
    },
}

/// A compression algorithm usable in a `compressMsg` wrapper.
///
/// Implementations must never panic, must stop producing output once `limit` bytes have been
/// written (returning [`CodecError::TooLarge`]), and must not allocate more than a small constant
/// beyond the output they produce.
///
/// # Example
///
/// A toy codec that stores data uncompressed (useful only to show the shape of the trait):
///
/// ```
/// use memberlist_core::codec::{Codec, CodecError};
///
/// #[derive(Debug)]
/// struct Identity;
///
/// impl Codec for Identity {
///     fn algorithm(&self) -> u8 { 200 }
///     fn name(&self) -> &'static str { "identity" }
///     fn compress(&self, input: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
///         out.extend_from_slice(input);
///         Ok(())
///     }
///     fn decompress(&self, input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), CodecError> {
///         if input.len() > limit {
///             return Err(CodecError::TooLarge { limit });
///         }
///         out.extend_from_slice(input);
///         Ok(())
///     }
/// }
///
/// let mut out = Vec::new();
/// Identity.compress(b"hello", &mut out).unwrap();
/// assert_eq!(out, b"hello");
///
/// // `compress_within`'s default: compress, then give up if the output is too long.
/// let mut out = b"x".to_vec();
/// assert!(!Identity.compress_within(b"hello", 4, &mut out).unwrap());
/// assert_eq!(out, b"x");
/// assert!(Identity.compress_within(b"hello", 5, &mut out).unwrap());
/// assert_eq!(out, b"xhello");
/// ```
pub trait Codec: Send + Sync + fmt::Debug {
    /// The id written in the `Algo` field of the `compress` message.
    fn algorithm(&self) -> u8;

    /// A short human-readable name, used in errors and logs.
    fn name(&self) -> &'static str;

    /// Compresses `input`, appending the compressed bytes to `out`.
    fn compress(&self, input: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError>;

    /// Compresses `input` only if the result is at most `max_len` bytes: appends it to `out`
    /// and returns `Ok(true)`, or leaves `out` as it was and returns `Ok(false)`.
    ///
    /// For the packet pipeline's compress-if-smaller: a codec may give up as soon as the
    /// output cannot fit. The default compresses fully, then checks the length.
    fn compress_within(
        &self,
        input: &[u8],
        max_len: usize,
        out: &mut Vec<u8>,
    ) -> Result<bool, CodecError> {
        let start = out.len();
        self.compress(input, out)?;
        if out.len() - start > max_len {
            out.truncate(start);
            return Ok(false);
        }
        Ok(true)
    }

    /// Decompresses `input`, appending at most `limit` bytes to `out`.
    fn decompress(&self, input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), CodecError>;
}

/// The set of codecs a node can decompress, plus the one it compresses with (if any).
///
/// ```
/// use memberlist_core::codec::CodecRegistry;
///
/// let registry = CodecRegistry::new();
/// assert!(registry.compressor().is_none());
/// assert!(registry.get(0).is_none());
/// ```
#[derive(Clone, Default)]
pub struct CodecRegistry {
    codecs: Vec<Arc<dyn Codec>>,
    compressor: Option<Arc<dyn Codec>>,
}

impl fmt::Debug for CodecRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodecRegistry")
            .field(
                "codecs",
                &self.codecs.iter().map(|c| c.name()).collect::<Vec<_>>(),
            )
            .field("compressor", &self.compressor.as_ref().map(|c| c.name()))
            .finish()
    }
}

impl CodecRegistry {
    /// An empty registry: nothing is compressed and compressed input is rejected.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a codec to decompress with, replacing one with the same algorithm id.
    pub fn with_decoder(mut self, codec: Arc<dyn Codec>) -> Self {
        self.add_decoder(codec);
        self
    }

    /// Makes `codec` the one used to compress outgoing data (and registers it as a decoder).
    pub fn with_compressor(mut self, codec: Arc<dyn Codec>) -> Self {
        self.add_decoder(codec.clone());
        self.compressor = Some(codec);
        self
    }

    fn add_decoder(&mut self, codec: Arc<dyn Codec>) {
        self.codecs.retain(|c| c.algorithm() != codec.algorithm());
        self.codecs.push(codec);
    }

    /// The codec used for outgoing data, if compression is enabled.
    pub fn compressor(&self) -> Option<&Arc<dyn Codec>> {
        self.compressor.as_ref()
    }

    /// The decoder for an algorithm id.
    pub fn get(&self, algorithm: u8) -> Option<&Arc<dyn Codec>> {
        self.codecs.iter().find(|c| c.algorithm() == algorithm)
    }

    /// Decompresses `input` with the codec for `algorithm` onto `out`, enforcing `limit` and
    /// rejecting an empty result.
    pub fn decompress(
        &self,
        algorithm: u8,
        input: &[u8],
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        let codec = self
            .get(algorithm)
            .ok_or(CodecError::UnknownAlgorithm(algorithm))?;
        let start = out.len();
        codec.decompress(input, limit, out)?;
        let produced = out.len() - start;
        if produced > limit {
            out.truncate(start);
            return Err(CodecError::TooLarge { limit });
        }
        if produced == 0 {
            return Err(CodecError::Empty);
        }
        Ok(())
    }
}
