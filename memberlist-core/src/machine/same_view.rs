//! Push/pulls that carry exactly our view, recognised on their raw bytes.
//!
//! The drivers hand a received push/pull's bytes here first ([`Machine::accept_push_pull_bytes`]
//! for a request we accepted, [`Machine::push_pull_reply_bytes`] for the answer to ours).
//! The message is walked without being decoded ([`scan_push_pull`]) and its entries hashed
//! into the fingerprint the table keeps; when it equals ours the message is merged as
//! `merge_remote_state` merges an unchanged view — our own entry and the user state only.
//! Otherwise nothing happened, and the driver decodes the bytes and calls
//! [`handle_stream`](Machine::handle_stream) or
//! [`handle_stream_reply`](Machine::handle_stream_reply) as before.

use std::time::Instant;

use bytes::Bytes;

use crate::delegate::Delegate;
use crate::wire::{ScannedPushPull, StreamDecoder, StreamRole, match_push_pull, scan_push_pull};

use super::members::TableDigest;
use super::output::{StreamId, StreamKind};
use super::{Machine, ViewPool};

impl<D: Delegate> Machine<D> {
    /// Shares this machine's view message — every member's entry, encoded, as its push/pulls
    /// carry it — with the other machines of the process given the same pool: equal views
    /// are then held once (see [`ViewPool`]). Changes nothing on the wire.
    ///
    /// ```
    /// use memberlist_core::delegate::NoopDelegate;
    /// use memberlist_core::machine::{Machine, ProtocolConfig, ViewPool};
    /// use memberlist_core::wire::Pipeline;
    /// let pool = ViewPool::new();
    /// let now = std::time::Instant::now();
    /// for name in ["a", "b"] {
    ///     let addr = "127.0.0.1:7946".parse().unwrap();
    ///     let cfg = ProtocolConfig::lan(name);
    ///     let mut m = Machine::new(cfg, Pipeline::new(), addr, NoopDelegate, 1, now).unwrap();
    ///     m.share_view_pool(&pool);
    /// }
    /// ```
    pub fn share_view_pool(&mut self, pool: &ViewPool) {
        self.members.set_view_pool(pool);
    }

    /// Our view, as a received stream's bytes hold it: `Some` when
    /// `StreamDecoder::decode_complete(role, ..)` would return a push/pull that
    /// `merge_remote_state` would take as unchanged (same fingerprint, every entry alive with
    /// a non-zero port and a valid version range, not a join) and whose protocol check
    /// passes — here, when the entries are, byte for byte, the encodings of our own (up to
    /// a collision of the keyed 128-bit sums, as for the fingerprint of decoded entries).
    fn same_view(&mut self, role: StreamRole, data: &Bytes) -> Option<ScannedPushPull> {
        let body = StreamDecoder::plain_push_pull(role, &self.pipeline, data)?;
        if self.cfg.protocol_version < 2 {
            return None;
        }
        let scanned = match self.same_view_bytes(data, body) {
            Some(scanned) => scanned,
            None => self.same_view_entries(body)?,
        };
        // As in `merge_remote_state`: an equal view passes the protocol check iff our table
        // alone does (remembered per table generation). A failing check goes the full way,
        // which names the node at fault.
        let generation = self.members.generation();
        if self.members.verified_at != Some(generation) {
            if self.verify_protocol(&[]).is_err() {
                return None;
            }
            self.members.verified_at = Some(generation);
        }
        Some(scanned)
    }

    /// The first test of [`same_view`](Self::same_view): the entries are, byte for byte
    /// and in the same order, those we write ourselves — as every one of our nodes holding
    /// this view writes them. Exact: no hash is involved. `data` is the whole message,
    /// `body` its part after the type byte.
    fn same_view_bytes(&mut self, data: &Bytes, body: &[u8]) -> Option<ScannedPushPull> {
        let nodes = self.members.len();
        let view = self.members.view();
        if !view.plain() {
            return None;
        }
        let user_state = if self.members.share_view_message(data) {
            // Our own view message: no join, no user state.
            Bytes::new()
        } else {
            let view = self.members.view();
            match_push_pull(body, self.pipeline.limits(), nodes, view.entries())?
        };
        // The entry with our name is, byte for byte, our own.
        let me = self
            .members
            .get(&self.cfg.name)
            .map(|m| m.as_push_state().to_owned_state());
        Some(ScannedPushPull { me, user_state })
    }

    /// The second test of [`same_view`](Self::same_view), for the same entries in another
    /// order (a Go peer's probe order): the keyed fingerprint of the received entries equals
    /// the table's.
    fn same_view_entries(&mut self, body: &[u8]) -> Option<ScannedPushPull> {
        let ours = self.members.digest();
        if !ours.plain {
            return None;
        }
        let key = self.members.view_key();
        // Our own entry is found by its hash: when the fingerprints match, the entry with
        // our name has exactly our bytes, hence our hash (another entry with the same
        // 64-bit hash would be a collision, as unlikely as a fingerprint collision).
        let me = self.members.get(&self.cfg.name).map(|m| {
            let mut buf = Vec::with_capacity(128);
            m.as_push_state().encode(&mut buf);
            key.entry(&buf)[0]
        });
        // Every entry of ours is alive with a non-zero port and valid versions (`plain`),
        // so remote entries with the same bytes are too.
        let mut theirs = TableDigest::default();
        let scanned = scan_push_pull(
            body,
            self.pipeline.limits(),
            self.members.len(),
            |entry: &[u8]| {
                let h = key.entry(entry);
                theirs.add(h);
                Some(Some(h[0]) == me)
            },
        )?;
        (theirs.sums == ours.sums).then_some(scanned)
    }

    /// Merges a view equal to ours: what `merge_remote_state` does for one.
    fn merge_same_view(&mut self, view: ScannedPushPull, now: Instant) {
        if let Some(me) = &view.me {
            self.merge_one_state(me, now);
        }
        if !view.user_state.is_empty() {
            self.delegate.merge_remote_state(view.user_state, false);
        }
    }

    /// A stream we accepted delivered `data` (everything the dialer wrote). When it is a
    /// push/pull holding exactly our view, it is handled as
    /// [`handle_stream`](Self::handle_stream) would handle its decoded message, and the
    /// reply to write is returned (`Some(reply)`). Otherwise nothing happened (`None`): decode
    /// the bytes and call `handle_stream` as usual.
    pub fn accept_push_pull_bytes(&mut self, now: Instant, data: &Bytes) -> Option<Option<Bytes>> {
        self.skip_idle_gossip_ticks(now);
        let view = self.same_view(StreamRole::Acceptor, data)?;
        let reply = self.framed_local_push_pull(false, Vec::new());
        self.merge_same_view(view, now);
        self.collect_finished_broadcasts();
        Some(reply)
    }

    /// The reply `data` arrived for our push/pull `id`. When it holds exactly our view, it
    /// is handled as [`handle_stream_reply`](Self::handle_stream_reply) would handle its
    /// decoded message, and true is returned. Otherwise (including when `id` is not a
    /// pending push/pull, or is part of a join) nothing happened: decode the bytes and call
    /// `handle_stream_reply` as usual.
    pub fn push_pull_reply_bytes(&mut self, now: Instant, id: StreamId, data: &Bytes) -> bool {
        self.skip_idle_gossip_ticks(now);
        if self.streams.get(&id) != Some(&StreamKind::PushPull { join: false }) {
            return false;
        }
        let Some(view) = self.same_view(StreamRole::Dialer, data) else {
            return false;
        };
        self.streams.remove(&id);
        self.merge_same_view(view, now);
        self.collect_finished_broadcasts();
        true
    }
}

#[cfg(test)]
#[path = "same_view_tests.rs"]
mod tests;
