//! Size limits applied while decoding untrusted input, and [`Limit`], the name of each bound
//! the node enforces on hostile input (the label of `memberlist_limit_exceeded_total`).

/// Upper bounds the decoders enforce on declared counts and sizes, so that no input can make
/// a node allocate without bound. Defaults follow Go memberlist HEAD.
///
/// ```
/// use memberlist_core::wire::Limits;
/// let limits = Limits { max_push_nodes: 10_000, ..Limits::default() };
/// assert_eq!(limits.max_decompressed_size, 40 * 1024 * 1024);
/// assert_eq!(limits.max_datagram_size, 65_536);
/// assert_eq!(limits.max_remote_meta, 512);
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
    /// Largest inbound datagram in bytes, label and envelope included (Go reads datagrams
    /// into a `udpPacketBufSize` buffer of 65,536 bytes and the kernel truncates the rest).
    /// Larger ones are dropped before anything is decoded.
    pub max_datagram_size: usize,
    /// Largest metadata accepted in another node's alive message (Go's `MetaMaxSize`, 512;
    /// Go only checks its own metadata, but no Go node can announce more).
    pub max_remote_meta: usize,
}

impl Limits {
    /// The bound on the declared count or length `what` names: `u32::MAX` for a limit
    /// that is not one.
    pub(crate) fn count_limit(&self, what: Limit) -> u32 {
        match what {
            Limit::PushPullNodes => self.max_push_nodes,
            Limit::UserState => self.max_user_state,
            Limit::UserMessage => self.max_user_message,
            _ => u32::MAX,
        }
    }
}

/// Go's `udpPacketBufSize`: the buffer Go reads each datagram into.
pub const DEFAULT_MAX_DATAGRAM_SIZE: usize = 65_536;

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
            max_datagram_size: DEFAULT_MAX_DATAGRAM_SIZE,
            max_remote_meta: crate::machine::META_MAX_SIZE,
        }
    }
}

/// Which bound on hostile input was exceeded: the `limit` label of
/// `memberlist_limit_exceeded_total` (see
/// [`Counter::LimitExceeded`](crate::metrics::Counter::LimitExceeded)), and the `what` of
/// [`DecodeError::LimitExceeded`](super::DecodeError::LimitExceeded).
///
/// ```
/// use memberlist_core::wire::Limit;
/// assert_eq!(Limit::PushPullNodes.as_str(), "push_pull_nodes");
/// assert_eq!(Limit::PushPullNodes.to_string(), "push/pull node count");
/// assert_eq!(Limit::ALL.len(), 15);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// A datagram larger than [`Limits::max_datagram_size`].
    DatagramSize,
    /// A push/pull declaring more nodes than [`Limits::max_push_nodes`].
    PushPullNodes,
    /// A push/pull user state larger than [`Limits::max_user_state`].
    UserState,
    /// A stream user message larger than [`Limits::max_user_message`].
    UserMessage,
    /// A payload that decompresses to more than [`Limits::max_decompressed_size`].
    DecompressedSize,
    /// An encrypted stream frame declared longer than [`Limits::max_encrypted_stream`].
    EncryptedStream,
    /// A stream message longer than [`Limits::max_stream_message`].
    StreamMessage,
    /// A stream that sent more than the runtime's `stream_read_limit` bytes.
    StreamRead,
    /// Compound and compressed wrappers nested deeper than [`Limits::max_nesting`].
    Nesting,
    /// More inbound streams at once than the runtime's `max_inbound_streams`.
    InboundStreams,
    /// More inbound push/pulls at once than the runtime's `max_concurrent_push_pulls`.
    PushPulls,
    /// An inbound stream that did not finish a read or write phase within the TCP timeout
    /// (a silent or trickling peer, or one that does not read its answer). Our own dials
    /// that time out are stream failures, not counted here.
    StreamDeadline,
    /// Another node's metadata larger than [`Limits::max_remote_meta`].
    RemoteMeta,
    /// An incarnation number jumping further ahead of the known one than the protocol's
    /// `max_incarnation_jump` (see the machine's incarnation rule).
    IncarnationJump,
    /// An incarnation of `u32::MAX`, which no refutation can beat.
    IncarnationCeiling,
}

impl Limit {
    /// Every limit, in index order.
    pub const ALL: [Limit; 15] = [
        Limit::DatagramSize,
        Limit::PushPullNodes,
        Limit::UserState,
        Limit::UserMessage,
        Limit::DecompressedSize,
        Limit::EncryptedStream,
        Limit::StreamMessage,
        Limit::StreamRead,
        Limit::Nesting,
        Limit::InboundStreams,
        Limit::PushPulls,
        Limit::StreamDeadline,
        Limit::RemoteMeta,
        Limit::IncarnationJump,
        Limit::IncarnationCeiling,
    ];

    /// The label value (`limit="…"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Limit::DatagramSize => "datagram_size",
            Limit::PushPullNodes => "push_pull_nodes",
            Limit::UserState => "user_state",
            Limit::UserMessage => "user_message",
            Limit::DecompressedSize => "decompressed_size",
            Limit::EncryptedStream => "encrypted_stream",
            Limit::StreamMessage => "stream_message",
            Limit::StreamRead => "stream_read",
            Limit::Nesting => "nesting",
            Limit::InboundStreams => "inbound_streams",
            Limit::PushPulls => "push_pulls",
            Limit::StreamDeadline => "stream_deadline",
            Limit::RemoteMeta => "remote_meta",
            Limit::IncarnationJump => "incarnation_jump",
            Limit::IncarnationCeiling => "incarnation_ceiling",
        }
    }

    /// A dense index in `0..ALL.len()`.
    pub const fn index(self) -> usize {
        self as usize
    }

    const fn describe(self) -> &'static str {
        match self {
            Limit::DatagramSize => "datagram size",
            Limit::PushPullNodes => "push/pull node count",
            Limit::UserState => "push/pull user state length",
            Limit::UserMessage => "user message length",
            Limit::DecompressedSize => "decompressed size",
            Limit::EncryptedStream => "encrypted stream length",
            Limit::StreamMessage => "stream message size",
            Limit::StreamRead => "bytes read from a stream",
            Limit::Nesting => "message nesting",
            Limit::InboundStreams => "inbound streams",
            Limit::PushPulls => "inbound push/pulls",
            Limit::StreamDeadline => "stream deadline",
            Limit::RemoteMeta => "remote metadata size",
            Limit::IncarnationJump => "incarnation jump",
            Limit::IncarnationCeiling => "incarnation",
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

impl super::WireError {
    /// The limit this failure tripped, if it is a limit rather than malformed input.
    ///
    /// ```
    /// use memberlist_core::wire::{Limit, WireError};
    /// assert_eq!(WireError::NestingTooDeep(4).limit(), Some(Limit::Nesting));
    /// assert_eq!(WireError::EmptyFrame.limit(), None);
    /// ```
    pub fn limit(&self) -> Option<Limit> {
        use super::{DecodeError, WireError};
        match self {
            WireError::Decode(DecodeError::LimitExceeded { what, .. }) => Some(*what),
            WireError::Codec(crate::codec::CodecError::TooLarge { .. }) => {
                Some(Limit::DecompressedSize)
            }
            WireError::NestingTooDeep(_) => Some(Limit::Nesting),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_are_dense_and_names_unique() {
        let mut names = std::collections::HashSet::new();
        for (i, l) in Limit::ALL.iter().enumerate() {
            assert_eq!(l.index(), i);
            assert!(names.insert(l.as_str()), "{l:?}");
        }
    }
}
