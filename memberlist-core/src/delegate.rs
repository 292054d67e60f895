//! Hooks an application plugs into the protocol: metadata, user messages and state, and
//! vetoes. Everything Go spreads over `Delegate`, `MergeDelegate`, `PingDelegate`,
//! `AliveDelegate` and `ConflictDelegate` is one trait here, with no-op defaults, called
//! synchronously by the machine. Membership changes are reported as
//! [`Event`](crate::machine::Event)s instead of an `EventDelegate`.

use std::time::Duration;

use bytes::Bytes;

use crate::machine::Member;

/// Application hooks. Every method has a default that does nothing.
///
/// ```
/// use bytes::Bytes;
/// use memberlist_core::delegate::Delegate;
///
/// struct Tags;
/// impl Delegate for Tags {
///     fn node_meta(&mut self, limit: usize) -> Bytes {
///         let meta = Bytes::from_static(b"role=db");
///         assert!(meta.len() <= limit);
///         meta
///     }
/// }
/// ```
pub trait Delegate: Send {
    /// Metadata announced in our alive messages (at most `limit` bytes; longer is truncated
    /// away by the machine with a warning).
    fn node_meta(&mut self, _limit: usize) -> Bytes {
        Bytes::new()
    }

    /// A user message arrived (best-effort packet or reliable stream).
    fn notify_message(&mut self, _msg: Bytes) {}

    /// User broadcasts to piggyback: each returned message costs `overhead` + its length, and
    /// the total may not exceed `limit`.
    fn broadcasts(&mut self, _overhead: usize, _limit: usize) -> Vec<Bytes> {
        Vec::new()
    }

    /// Whether [`broadcasts`](Self::broadcasts) may return something now. While it is
    /// `false` and the machine's own queue is empty, gossip ticks are skipped without a
    /// wake-up. The default, `true`, asks at every tick.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use memberlist_core::delegate::Delegate;
    ///
    /// struct Outbox(Vec<Bytes>);
    /// impl Delegate for Outbox {
    ///     fn broadcasts(&mut self, _overhead: usize, _limit: usize) -> Vec<Bytes> {
    ///         std::mem::take(&mut self.0)
    ///     }
    ///     fn has_broadcasts(&self) -> bool {
    ///         !self.0.is_empty()
    ///     }
    /// }
    /// ```
    fn has_broadcasts(&self) -> bool {
        true
    }

    /// Opaque state sent in push/pull exchanges.
    fn local_state(&mut self, _join: bool) -> Bytes {
        Bytes::new()
    }

    /// A peer's state from a push/pull.
    fn merge_remote_state(&mut self, _state: Bytes, _join: bool) {}

    /// Called on joins (both sides) before a remote node list is merged; a [`Veto`]
    /// cancels the merge (the join fails with [`MergeError::Vetoed`]).
    ///
    /// [`Veto`]: crate::machine::Veto
    /// [`MergeError::Vetoed`]: crate::machine::MergeError::Vetoed
    fn notify_merge(&mut self, _peers: &[Member]) -> Result<(), crate::machine::Veto> {
        Ok(())
    }

    /// Payload put in direct acks we send.
    fn ack_payload(&mut self) -> Bytes {
        Bytes::new()
    }

    /// A direct probe of `node` was answered within the probe timeout.
    fn notify_ping_complete(&mut self, _node: &Member, _rtt: Duration, _payload: Bytes) {}

    /// Every alive message that may change our view (our own included; repeats of an
    /// incarnation we already hold for that address are skipped); a
    /// [`Veto`](crate::machine::Veto) refuses it.
    fn notify_alive(&mut self, _peer: &Member) -> Result<(), crate::machine::Veto> {
        Ok(())
    }
}

/// A delegate that does nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopDelegate;

impl Delegate for NoopDelegate {
    fn has_broadcasts(&self) -> bool {
        false
    }
}
