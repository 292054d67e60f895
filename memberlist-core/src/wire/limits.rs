//! Size limits applied while decoding untrusted input.

/// Upper bounds the decoders enforce on declared counts and sizes, so that no input can make
/// a node allocate without bound. Defaults follow Go memberlist HEAD.
///
/// ```
/// use memberlist_core::wire::Limits;
/// let limits = Limits { max_push_nodes: 10_000, ..Limits::default() };
/// assert_eq!(limits.max_decompressed_size, 40 * 1024 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most node states in one push/pull (Go: 1,048,576).
    pub max_push_nodes: u32,
    /// Largest push/pull user state in bytes (Go: 20 MiB).
    pub max_user_state: u32,
    /// Largest stream user message in bytes (Go: 20 MiB).
    pub max_user_message: u32,
    /// Largest decompressed payload in bytes, per packet or stream (Go: 40 MiB).
    pub max_decompressed_size: usize,
    /// Largest declared length of an encrypted stream frame (Go `maxPushStateBytes`: 20 MiB).
    pub max_encrypted_stream: u32,
    /// Largest unencrypted, uncompressed stream message in bytes (40 MiB).
    pub max_stream_message: usize,
    /// Deepest nesting of compound and compressed wrappers accepted in a packet (Go sends at
    /// most compressed-compound, i.e. 2).
    pub max_nesting: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_push_nodes: 1 << 20,
            max_user_state: 20 * 1024 * 1024,
            max_user_message: 20 * 1024 * 1024,
            max_decompressed_size: crate::codec::DEFAULT_MAX_DECOMPRESSED_SIZE,
            max_encrypted_stream: 20 * 1024 * 1024,
            max_stream_message: 40 * 1024 * 1024,
            max_nesting: 4,
        }
    }
}
