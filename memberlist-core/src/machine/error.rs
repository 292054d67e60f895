//! Typed errors of the machine's public API.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use smol_str::SmolStr;

use crate::transport::TransportError;
use crate::wire::{ErrorResponse, WireError};

/// The step of a stream exchange that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamPhase {
    /// Dialing the peer.
    Connect,
    /// Writing the request.
    Write,
    /// Reading the reply.
    Read,
}

impl fmt::Display for StreamPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connecting to",
            Self::Write => "writing to",
            Self::Read => "reading the reply from",
        })
    }
}

/// Why a stream the machine asked for gave no usable reply: what a driver reports in
/// [`StreamOutcome::Failed`](super::StreamOutcome::Failed).
///
/// ```
/// use memberlist_core::machine::{StreamError, StreamPhase};
/// let e = StreamError::Timeout { to: "10.0.0.2:7946".parse().unwrap(), phase: StreamPhase::Connect };
/// assert_eq!(e.to_string(), "connecting to 10.0.0.2:7946 timed out");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The deadline passed during `phase`.
    #[error("{phase} {to} timed out")]
    Timeout {
        /// The peer.
        to: SocketAddr,
        /// What was under way.
        phase: StreamPhase,
    },
    /// The transport could not open the stream.
    #[error("connecting to {to} failed")]
    Connect {
        /// The peer.
        to: SocketAddr,
        /// The transport's error.
        #[source]
        source: Arc<TransportError>,
    },
    /// Reading or writing failed.
    #[error("{phase} {to} failed")]
    Io {
        /// The peer.
        to: SocketAddr,
        /// What was under way.
        phase: StreamPhase,
        /// The I/O error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The peer closed the stream without writing a reply.
    #[error("{to} closed the stream without replying")]
    NoReply {
        /// The peer.
        to: SocketAddr,
    },
    /// The peer closed the stream in the middle of its reply.
    #[error("{to} closed the stream in the middle of its reply")]
    Truncated {
        /// The peer.
        to: SocketAddr,
    },
    /// The reply exceeded the driver's read limit.
    #[error("the reply from {to} exceeds {limit} bytes")]
    TooLong {
        /// The peer.
        to: SocketAddr,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The reply's envelope (framing, encryption, compression) could not be opened.
    #[error("the reply from {to} cannot be opened")]
    Wire {
        /// The peer.
        to: SocketAddr,
        /// Why.
        #[source]
        source: WireError,
    },
    /// The driver's task for the stream ended without an outcome (it panicked or was
    /// cancelled).
    #[error("the stream's task ended without an outcome")]
    Aborted,
}

impl StreamError {
    /// The peer refused the connection (`ConnectionRefused` while connecting), as a driver
    /// without sockets (a simulator) reports an unreachable peer.
    pub fn refused(to: SocketAddr) -> Self {
        Self::Io {
            to,
            phase: StreamPhase::Connect,
            source: Arc::new(std::io::ErrorKind::ConnectionRefused.into()),
        }
    }
}

/// Why a push/pull exchange (a join, or a periodic one) did not merge the peer's state:
/// the error of [`Event::JoinResult`](super::Event::JoinResult).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PushPullError {
    /// The stream failed.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// The peer answered with an error message (Go's `errResp`).
    #[error("the peer answered with an error: {}", .0.error)]
    Remote(ErrorResponse),
    /// The peer answered with a message other than a push/pull.
    #[error("the peer answered a push/pull with another message")]
    UnexpectedReply,
    /// The driver reported the request as sent without a reply.
    #[error("the peer sent no reply")]
    NoReply,
    /// The reply could not be decoded.
    #[error("the peer's state cannot be decoded")]
    Decode(#[source] WireError),
    /// The state was refused.
    #[error(transparent)]
    Merge(#[from] MergeError),
}

/// Which version a [`MergeError::Version`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VersionKind {
    /// The memberlist protocol version.
    Protocol,
    /// The delegate protocol version.
    Delegate,
}

impl fmt::Display for VersionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Protocol => "protocol",
            Self::Delegate => "delegate protocol",
        })
    }
}

/// Why a remote state was not merged (Go's `mergeRemoteState` failures).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// A node speaks a version outside the range every alive node understands.
    #[error(
        "node {node:?} uses {kind} version {version}, outside the cluster's range [{min}, {max}]"
    )]
    Version {
        /// The node at fault.
        node: SmolStr,
        /// Which version.
        kind: VersionKind,
        /// The version it speaks.
        version: u8,
        /// The lowest version every alive node understands.
        min: u8,
        /// The highest version every alive node understands.
        max: u8,
    },
    /// The delegate vetoed the merge ([`Delegate::notify_merge`](crate::delegate::Delegate::notify_merge)).
    #[error("the delegate canceled the merge")]
    Vetoed(#[source] Veto),
}

/// A delegate's refusal of a merge or of a node
/// ([`Delegate::notify_merge`](crate::delegate::Delegate::notify_merge),
/// [`Delegate::notify_alive`](crate::delegate::Delegate::notify_alive)), carrying the
/// delegate's own error as its source.
///
/// ```
/// use memberlist_core::machine::Veto;
/// let veto = Veto::because("node is not in the allow list");
/// assert_eq!(veto.to_string(), "node is not in the allow list");
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("unknown team {0}")]
/// struct UnknownTeam(String);
/// let veto = Veto::new(UnknownTeam("blue".into()));
/// assert!(veto.downcast_ref::<UnknownTeam>().is_some());
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct Veto {
    source: Arc<dyn std::error::Error + Send + Sync + 'static>,
}

impl Veto {
    /// A veto whose source is the delegate's error `error`.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            source: Arc::new(error),
        }
    }

    /// A veto with a reason in words.
    pub fn because(reason: impl Into<String>) -> Self {
        Self::new(Reason(reason.into()))
    }

    /// The delegate's error, if it is an `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.source.downcast_ref::<E>()
    }
}

/// The reason of [`Veto::because`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Reason(String);
