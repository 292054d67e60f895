//! Errors of the runtime API.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use smol_str::SmolStr;

use crate::machine::{MachineError, StreamError};
use crate::transport::TransportError;

use super::config::ConfigError;

/// Errors of [`Memberlist`](super::Memberlist) operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The transport failed.
    #[error("transport error: {0}")]
    Transport(#[from] TransportError),
    /// The node has been shut down (or its driver task stopped).
    #[error("memberlist is shut down")]
    Shutdown,
    /// No member has this name.
    #[error("unknown node {0:?}")]
    UnknownNode(SmolStr),
    /// The member has no address we can use.
    #[error("node {0:?} has no usable address")]
    NoAddress(SmolStr),
    /// An error of the protocol machine without a variant of its own here (its error enum
    /// may grow).
    #[error(transparent)]
    Protocol(MachineError),
    /// A datagram would exceed what the transport can carry.
    #[error("message of {len} bytes does not fit in one datagram (at most {max} bytes)")]
    MessageTooLarge {
        /// Size of the message.
        len: usize,
        /// The largest message that fits.
        max: usize,
    },
    /// A reliable message could not be delivered.
    #[error("sending to {node:?} failed: {}", Chain(source))]
    Send {
        /// The destination.
        node: SmolStr,
        /// What went wrong (dialing, writing, timeout...).
        #[source]
        source: Box<StreamError>,
    },
    /// No ack arrived within the probe timeout.
    #[error("no ack from {node:?} within {timeout:?}")]
    PingTimeout {
        /// The node pinged.
        node: SmolStr,
        /// How long we waited.
        timeout: Duration,
    },
    /// An operation did not complete in time (`what` says which: "leave broadcast", ...).
    #[error("timed out after {after:?} waiting for the {what}")]
    Timeout {
        /// What was awaited.
        what: &'static str,
        /// How long we waited.
        after: Duration,
    },
    /// Joining failed.
    #[error(transparent)]
    Join(#[from] JoinError),
    /// The delegate's `notify_alive` vetoed our own alive message, so this node would not be
    /// a member of its own list.
    #[error("the delegate vetoed this node's own alive message")]
    LocalNodeVetoed,
}

impl From<MachineError> for Error {
    fn from(e: MachineError) -> Self {
        match e {
            MachineError::UnknownNode(n) => Self::UnknownNode(n),
            MachineError::NoAddress(n) => Self::NoAddress(n),
            other => Self::Protocol(other),
        }
    }
}

/// Why one join address could not be contacted.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JoinFailure {
    /// The address as given to [`join`](super::Memberlist::join) (or a configured seed as
    /// written by its `Display`).
    pub address: String,
    /// The socket address the exchange was tried at (one of those a name resolved to);
    /// `None` when the address could not be parsed or resolved.
    pub tried: Option<SocketAddr>,
    /// What went wrong.
    pub reason: JoinFailureReason,
}

impl JoinFailure {
    /// A failure of `address` for `reason`.
    pub fn new(address: impl Into<String>, reason: impl Into<JoinFailureReason>) -> Self {
        Self {
            address: address.into(),
            tried: None,
            reason: reason.into(),
        }
    }

    /// The same failure, tried at `addr`.
    pub fn tried_at(mut self, addr: SocketAddr) -> Self {
        self.tried = Some(addr);
        self
    }
}

impl fmt::Display for JoinFailure {
    /// The address (and where it was tried, when that differs), the reason and the reason's
    /// sources: "db.local:7946 (10.0.0.5:7946): connecting to 10.0.0.5:7946 failed:
    /// Connection refused (os error 111)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)?;
        if let Some(tried) = self.tried
            && tried.to_string() != self.address
        {
            write!(f, " ({tried})")?;
        }
        write!(f, ": {}", Chain(&self.reason))
    }
}

/// An error and its sources, as one line: "connecting to 10.0.0.2:7946 failed: connection
/// refused" (error types here name the failing step and keep the cause as a source; a log
/// line or a message wants both). A source whose text its error already ends with (an
/// error that prints its cause too, as `TransportError::Io` does) is not repeated.
struct Chain<'a>(&'a dyn std::error::Error);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.to_string();
        f.write_str(&shown)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            let text = e.to_string();
            if !shown.ends_with(&text) {
                write!(f, ": {text}")?;
            }
            shown = text;
            source = e.source();
        }
        Ok(())
    }
}

/// What went wrong with one join address.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum JoinFailureReason {
    /// The address is malformed or its name cannot be resolved.
    #[error(transparent)]
    Address(#[from] super::address::AddressError),
    /// The push/pull exchange with it failed (the stream, the peer's answer, or the merge).
    #[error(transparent)]
    PushPull(#[from] crate::machine::PushPullError),
    /// The machine could not frame the push/pull request.
    #[error("cannot build the push/pull request")]
    Request,
}

/// [`join`](super::Memberlist::join) contacted no one.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    /// No address was given.
    #[error("no address to join")]
    NoAddresses,
    /// Every address failed; each failure is listed.
    #[error("failed to join any of {} addresses: {}", .0.len(), list(.0))]
    Failed(Vec<JoinFailure>),
    /// [`join_seeds`](super::Memberlist::join_seeds) reached its deadline; the failures
    /// are those of the last attempt.
    #[error(
        "gave up joining through the seeds after {attempts} attempts; the last: {}",
        list(.failures)
    )]
    GaveUp {
        /// How many attempts were made.
        attempts: u32,
        /// Each address's failure in the last attempt.
        failures: Vec<JoinFailure>,
    },
    /// The node has been shut down.
    #[error("memberlist is shut down")]
    Shutdown,
}

impl JoinError {
    /// The failure of each address (empty unless [`Failed`](JoinError::Failed) or
    /// [`GaveUp`](JoinError::GaveUp)).
    pub fn failures(&self) -> &[JoinFailure] {
        match self {
            Self::Failed(f) | Self::GaveUp { failures: f, .. } => f,
            _ => &[],
        }
    }
}

/// Each failure, separated by "; ".
fn list(failures: &[JoinFailure]) -> String {
    let each: Vec<String> = failures.iter().map(ToString::to_string).collect();
    each.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_error_lists_every_address() {
        let refused =
            crate::machine::StreamError::refused(std::net::SocketAddr::from(([10, 0, 0, 1], 7946)));
        let e = JoinError::Failed(vec![
            JoinFailure::new(
                "10.0.0.1:7946",
                crate::machine::PushPullError::Stream(refused),
            ),
            JoinFailure::new(
                "nope.invalid",
                super::super::address::AddressError::NoAddress,
            ),
        ]);
        assert_eq!(
            e.to_string(),
            "failed to join any of 2 addresses: 10.0.0.1:7946: connecting to 10.0.0.1:7946 \
             failed: connection refused; nope.invalid: the name resolves to no address"
        );
        assert_eq!(e.failures().len(), 2);
    }
}
