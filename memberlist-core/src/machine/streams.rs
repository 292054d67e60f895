//! Streams: a request we accepted, and the outcome of one we asked for, each given opened
//! ([`StreamDecoder::poll_opened`](crate::wire::StreamDecoder::poll_opened)), tried as our
//! own view (`same_view.rs`), else decoded here.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use tracing::{debug, warn};

use crate::delegate::Delegate;
use crate::metrics::count_wire_drop;
use crate::wire::{Ack, StreamMessage, WireError, WireMessage};

use super::Machine;
use super::error::PushPullError;
use super::output::{Event, StreamId, StreamKind, StreamOutcome};

impl<D: Delegate> Machine<D> {
    /// A stream we accepted delivered `msg` (opened, type byte first). Returns the framed
    /// reply to write, if any. A message that cannot be decoded is dropped and counted,
    /// without an error reply (see [`stream_error_reply`](Self::stream_error_reply)).
    pub fn handle_stream(&mut self, now: Instant, from: SocketAddr, msg: Bytes) -> Option<Bytes> {
        self.begin_input(now);
        let reply = self.stream_request(now, from, msg);
        self.end_input();
        reply
    }

    fn stream_request(&mut self, now: Instant, from: SocketAddr, msg: Bytes) -> Option<Bytes> {
        if let Some(view) = self.same_view(&msg) {
            let reply = self.framed_local_push_pull(false, Vec::new());
            self.merge_same_view(view, now);
            return reply;
        }
        let decoded = match StreamMessage::decode(&msg, self.pipeline.limits()) {
            Ok(decoded) => decoded,
            Err(e) => {
                count_wire_drop(&*self.metrics, &e, true);
                debug!(%from, error = %e, "dropping an undecodable stream message");
                return None;
            }
        };
        match decoded {
            StreamMessage::PushPull(pp) => self.accept_push_pull(pp, now),
            StreamMessage::User(payload) => {
                self.delegate.notify_message(payload);
                None
            }
            StreamMessage::Ping(p) => {
                if !p.node.is_empty() && p.node != self.cfg.name {
                    warn!(intended = %p.node, %from, "got a stream ping meant for another node");
                    None
                } else {
                    let ack = Ack {
                        seq_no: p.seq_no,
                        payload: Bytes::new(),
                    };
                    self.frame_stream(false, &ack.to_bytes()).map(Bytes::from)
                }
            }
            StreamMessage::Ack(_) | StreamMessage::Error(_) => {
                debug!(%from, "unexpected stream message");
                None
            }
        }
    }

    /// The reply to write when an accepted stream's envelope could not be opened: Go
    /// answers envelope failures with an `errResp` and drops the rest silently.
    pub fn stream_error_reply(&self, error: &WireError) -> Option<Vec<u8>> {
        if !error.is_envelope_error() {
            return None;
        }
        let mut out = Vec::new();
        self.pipeline
            .encode_stream_error(&error.to_string(), &mut out)
            .ok()?;
        Some(out)
    }

    /// The driver's report on stream request `id`: the opened reply, that it was sent, or
    /// why it failed.
    pub fn handle_stream_reply(&mut self, now: Instant, id: StreamId, outcome: StreamOutcome) {
        self.begin_input(now);
        if let Some(kind) = self.streams.remove(&id) {
            self.stream_outcome(now, id, kind, outcome);
        }
        self.end_input();
    }

    fn stream_outcome(
        &mut self,
        now: Instant,
        id: StreamId,
        kind: StreamKind,
        outcome: StreamOutcome,
    ) {
        match kind {
            StreamKind::PushPull { join } => {
                let result = self.push_pull_reply(now, outcome);
                if let Err(e) = &result {
                    debug!(error = %e, join, "push/pull failed");
                }
                if join {
                    if result.is_ok() {
                        self.schedule_join_follow_ups(now);
                    }
                    self.events.push_back(Event::JoinResult {
                        id,
                        contacted: result.is_ok(),
                        error: result.err(),
                    });
                }
            }
            StreamKind::Ping { seq_no } => {
                let ok = match outcome {
                    StreamOutcome::Reply(msg) => matches!(
                        StreamMessage::decode(&msg, self.pipeline.limits()),
                        Ok(StreamMessage::Ack(a)) if a.seq_no == seq_no
                    ),
                    _ => false,
                };
                self.tcp_probe_result(seq_no, ok, now);
            }
            StreamKind::User => {
                if let StreamOutcome::Failed(e) = outcome {
                    debug!(error = %e, "reliable user message failed");
                }
            }
        }
    }

    /// Merges the reply to a push/pull of ours.
    fn push_pull_reply(
        &mut self,
        now: Instant,
        outcome: StreamOutcome,
    ) -> Result<(), PushPullError> {
        let msg = match outcome {
            StreamOutcome::Reply(msg) => msg,
            StreamOutcome::Sent => return Err(PushPullError::NoReply),
            StreamOutcome::Failed(e) => return Err(e.into()),
        };
        if let Some(view) = self.same_view(&msg) {
            self.merge_same_view(view, now);
            return Ok(());
        }
        match StreamMessage::decode(&msg, self.pipeline.limits()) {
            Ok(StreamMessage::PushPull(pp)) => self.merge_remote_state(pp, now).map_err(|e| {
                warn!(error = %e, "push/pull merge failed");
                e.into()
            }),
            Ok(StreamMessage::Error(e)) => {
                warn!(error = %e.error, "remote error on push/pull");
                Err(PushPullError::Remote(e))
            }
            Ok(other) => {
                debug!(?other, "push/pull answered with another message");
                Err(PushPullError::UnexpectedReply)
            }
            Err(e) => {
                count_wire_drop(&*self.metrics, &e, true);
                Err(PushPullError::Decode(e))
            }
        }
    }
}
