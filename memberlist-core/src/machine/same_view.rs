//! Push/pulls that carry exactly our view, recognised on their raw bytes.
//!
//! Both stream entry points try an opened push/pull here first: compared byte for byte with
//! our own view message, else its entries hashed undecoded ([`scan_push_pull`]) into the
//! table's fingerprint. When it equals ours, only our own entry and the user state are merged.

use std::time::Instant;

use bytes::Bytes;

use crate::delegate::Delegate;
use crate::metrics::Counter;
use crate::wire::{MessageType, ScannedPushPull, match_push_pull, scan_push_pull};

use super::Machine;
use super::members::TableDigest;

impl<D: Delegate> Machine<D> {
    /// `Some` when the opened message `msg` (type byte first) is a push/pull that, decoded,
    /// `merge_remote_state` would take as unchanged and whose protocol check passes: its
    /// entries are, byte for byte, the encodings of our own (up to a fingerprint collision).
    /// Counts the push/pull, and the same view.
    pub(super) fn same_view(&mut self, msg: &Bytes) -> Option<ScannedPushPull> {
        let body = match msg.split_first() {
            Some((&t, body)) if t == MessageType::PushPull.byte() => body,
            _ => return None,
        };
        self.metrics.increment(Counter::PushPulls, 1);
        if self.cfg.protocol_version < 2 {
            return None;
        }
        let scanned = match self.same_view_bytes(msg, body) {
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
        self.metrics.increment(Counter::PushPullsSameView, 1);
        Some(scanned)
    }

    /// The first test of [`same_view`](Self::same_view), exact: the entries are, byte for
    /// byte and in order, those we write ourselves. `body` is `data` after the type byte.
    fn same_view_bytes(&mut self, data: &Bytes, body: &[u8]) -> Option<ScannedPushPull> {
        let nodes = self.members.len();
        let view = self.members.view();
        if !view.plain {
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
        // Our own entry is found by its hash: when the fingerprints match, it has exactly our
        // bytes (another entry with the same 64-bit hash would be a collision).
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
    pub(super) fn merge_same_view(&mut self, view: ScannedPushPull, now: Instant) {
        if let Some(me) = &view.me {
            self.merge_one_state(me, now);
        }
        if !view.user_state.is_empty() {
            self.delegate.merge_remote_state(view.user_state, false);
        }
    }
}

#[cfg(test)]
#[path = "same_view_tests.rs"]
mod tests;
