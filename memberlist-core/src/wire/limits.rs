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
    /// Largest inbound datagram in bytes, label and envelope included (Go's
    /// `udpPacketBufSize`); larger ones are dropped undecoded.
    pub max_datagram_size: usize,
    /// Largest metadata accepted in another node's alive message (Go's `MetaMaxSize`, which
    /// Go only checks on its own).
    pub max_remote_meta: usize,
}

impl Limits {
    /// The bound on the declared count or length `what` names (`u32::MAX` for other limits).
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

/// Declares a fieldless enum from one list of its variants and their label values, with
/// `ALL` (every value in index order), `as_str` and `index`; rows given as `(label,
/// description)` also give it a `Display` that writes the description.
macro_rules! label_enum {
    (
        $(#[$meta:meta])*
        pub enum $Enum:ident {
            $($(#[$doc:meta])* $Var:ident => ($label:literal, $describe:literal),)*
        }
    ) => {
        label_enum! {
            $(#[$meta])*
            pub enum $Enum {
                $($(#[$doc])* $Var => $label,)*
            }
        }

        impl std::fmt::Display for $Enum {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(match self {
                    $($Enum::$Var => $describe,)*
                })
            }
        }
    };
    (
        $(#[$meta:meta])*
        pub enum $Enum:ident {
            $($(#[$doc:meta])* $Var:ident => $label:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $Enum {
            $($(#[$doc])* $Var,)*
        }

        impl $Enum {
            /// Every value, in index order.
            pub const ALL: [$Enum; [$($label),*].len()] = [$($Enum::$Var,)*];

            /// The label value.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($Enum::$Var => $label,)*
                }
            }

            /// A dense index in `0..ALL.len()`.
            pub const fn index(self) -> usize {
                self as usize
            }
        }
    };
}

pub(crate) use label_enum;

label_enum! {
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
    pub enum Limit {
        /// A datagram larger than [`Limits::max_datagram_size`].
        DatagramSize => ("datagram_size", "datagram size"),
        /// A push/pull declaring more nodes than [`Limits::max_push_nodes`].
        PushPullNodes => ("push_pull_nodes", "push/pull node count"),
        /// A push/pull user state larger than [`Limits::max_user_state`].
        UserState => ("user_state", "push/pull user state length"),
        /// A stream user message larger than [`Limits::max_user_message`].
        UserMessage => ("user_message", "user message length"),
        /// A payload that decompresses to more than [`Limits::max_decompressed_size`].
        DecompressedSize => ("decompressed_size", "decompressed size"),
        /// An encrypted stream frame declared longer than [`Limits::max_encrypted_stream`].
        EncryptedStream => ("encrypted_stream", "encrypted stream length"),
        /// A stream message longer than [`Limits::max_stream_message`].
        StreamMessage => ("stream_message", "stream message size"),
        /// A stream that sent more than the runtime's `stream_read_limit` bytes.
        StreamRead => ("stream_read", "bytes read from a stream"),
        /// Compound and compressed wrappers nested deeper than [`Limits::max_nesting`].
        Nesting => ("nesting", "message nesting"),
        /// More inbound streams at once than the runtime's `max_inbound_streams`.
        InboundStreams => ("inbound_streams", "inbound streams"),
        /// More inbound push/pulls at once than the runtime's `max_concurrent_push_pulls`.
        PushPulls => ("push_pulls", "inbound push/pulls"),
        /// An inbound stream that did not finish a read or write phase within the TCP timeout
        /// (a silent or trickling peer, or one that does not read its answer). Our own dials
        /// that time out are stream failures, not counted here.
        StreamDeadline => ("stream_deadline", "stream deadline"),
        /// Another node's metadata larger than [`Limits::max_remote_meta`].
        RemoteMeta => ("remote_meta", "remote metadata size"),
        /// An incarnation number jumping further ahead of the known one than the protocol's
        /// `max_incarnation_jump` (see the machine's incarnation rule).
        IncarnationJump => ("incarnation_jump", "incarnation jump"),
        /// An incarnation of `u32::MAX`, which no refutation can beat.
        IncarnationCeiling => ("incarnation_ceiling", "incarnation"),
    }
}

impl Limit {
    /// The error for a declared `value` over this limit's bound `limit`.
    pub(crate) fn exceeded(self, value: u64, limit: u64) -> super::DecodeError {
        super::DecodeError::LimitExceeded {
            what: self,
            value,
            limit,
        }
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
