//! What the machine hands back to its driver: datagrams, stream work, events.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::wire::{Pipeline, StreamDecoder, StreamRole};

use super::error::{PushPullError, StreamError};
use super::members::Member;

/// A datagram to send, already framed (compound, compression, CRC, encryption, label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination.
    pub to: SocketAddr,
    /// Bytes to send.
    pub data: Vec<u8>,
}

/// Identifies a stream request so its outcome can be reported back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u64);

/// Why the machine opens a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// A push/pull exchange; `join` marks the ones started by [`join`](super::Machine::join).
    PushPull {
        /// Part of a join.
        join: bool,
    },
    /// The TCP fallback probe for this sequence number.
    Ping {
        /// Sequence number of the probe.
        seq_no: u32,
    },
    /// A reliable user message (no reply expected).
    User,
}

/// Stream work for the driver: dial `to`, write `data`, and, when `expects_reply`, read and
/// open one reply ([`StreamDecoder::poll_opened`](crate::wire::StreamDecoder::poll_opened),
/// dialer role); report with
/// [`Machine::handle_stream_reply`](super::Machine::handle_stream_reply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRequest {
    /// Identifies the request.
    pub id: StreamId,
    /// Where to dial.
    pub to: SocketAddr,
    /// Everything to write, label preamble included.
    pub data: Bytes,
    /// Why.
    pub kind: StreamKind,
    /// Give up (and report a failure) at this instant.
    pub deadline: Instant,
    /// Whether one reply is read.
    pub expects_reply: bool,
}

/// The driver's report on a stream request.
#[derive(Debug, Clone)]
pub enum StreamOutcome {
    /// The reply, opened, as
    /// [`StreamDecoder::poll_opened`](crate::wire::StreamDecoder::poll_opened) returns it.
    Reply(Bytes),
    /// The request was written and needed no reply.
    Sent,
    /// Dialing, writing, reading or opening the reply failed.
    Failed(StreamError),
}

impl StreamOutcome {
    /// What a driver holding the acceptor's whole answer in memory (a simulator) reports for
    /// `req`: the reply opened with the dialer's `pipeline`, why none, or
    /// [`Sent`](Self::Sent) when none is expected.
    pub fn from_reply(req: &StreamRequest, pipeline: &Pipeline, reply: Option<Bytes>) -> Self {
        let to = req.to;
        match reply {
            Some(bytes) if req.expects_reply => {
                match StreamDecoder::open_complete(StreamRole::Dialer, pipeline, bytes) {
                    Ok(Some(msg)) => Self::Reply(msg),
                    Ok(None) => Self::Failed(StreamError::Truncated { to }),
                    Err(source) => Self::Failed(StreamError::Wire { to, source }),
                }
            }
            _ if req.expects_reply => Self::Failed(StreamError::NoReply { to }),
            _ => Self::Sent,
        }
    }
}

/// What the machine tells its driver: membership changes and the results of API calls.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// A node joined (or came back after being dead or gone).
    Join(Member),
    /// A node left or was declared dead.
    Leave(Member),
    /// A node's metadata changed.
    Update(Member),
    /// Another node claims the name of a known node from a different address.
    Conflict {
        /// What we know.
        existing: Box<Member>,
        /// What the other node claims.
        other: Box<Member>,
    },
    /// A join or push/pull finished; `contacted` is whether the exchange succeeded.
    JoinResult {
        /// Which request.
        id: StreamId,
        /// Whether the peer answered and its state was merged.
        contacted: bool,
        /// Why not, when `contacted` is false.
        error: Option<PushPullError>,
    },
    /// A ping issued with [`Machine::ping`](super::Machine::ping) finished.
    PingResult {
        /// Sequence number returned by `ping`.
        seq_no: u32,
        /// Round-trip time, or `None` when no ack came within the probe timeout.
        rtt: Option<Duration>,
    },
    /// A broadcast queued with a notification id was sent enough times or superseded.
    BroadcastFinished(u64),
}
