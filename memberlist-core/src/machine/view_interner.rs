//! Sharing view messages, relayed gossip and member identities between the machines of
//! one process.

use std::sync::Arc;

use bytes::Bytes;

use crate::delegate::Delegate;

use super::broadcast::Broadcast;
use super::row::MemberIdentity;

use super::Machine;

/// Where a driver of many machines in one process keeps one copy of what they all hold:
/// view messages, the gossip they relay, and who their members are.
///
/// Machines in one process (a simulator, a test bed, many nodes behind one runtime) mostly
/// hold equal views (about 700 KB each at 10,000 members), queue the same alive messages
/// and know the same members. Given an interner ([`Machine::set_view_interner`]), a machine
/// hands it a view once another machine is found holding the same bytes, every alive
/// message it queues for gossip, and every identity it enters in its table, and keeps what
/// comes back. Nothing on the wire changes.
///
/// ```
/// use std::sync::Arc;
/// use bytes::Bytes;
/// use memberlist_core::machine::ViewInterner;
///
/// /// Keeps nothing: every machine holds its own copy (the default).
/// struct Own;
/// impl ViewInterner for Own {
///     fn intern(&self, message: Bytes) -> Bytes {
///         message
///     }
/// }
/// let interner: Arc<dyn ViewInterner> = Arc::new(Own);
/// assert_eq!(interner.intern(Bytes::from_static(b"view")), "view");
/// ```
pub trait ViewInterner: Send + Sync + 'static {
    /// A buffer with the same bytes as `message` — one already held, or `message` itself.
    fn intern(&self, message: Bytes) -> Bytes;

    /// A broadcast equal to `broadcast` (same key, same bytes) — one already held, or
    /// `broadcast` itself. A machine hands over every alive message it queues for gossip.
    /// By default, `broadcast` itself.
    fn intern_broadcast(&self, broadcast: Broadcast) -> Broadcast {
        broadcast
    }

    /// An identity equal to `identity` (same name, address, port, metadata and versions)
    /// — one already held, or `identity` itself. A machine hands over the identity of
    /// every member it enters in its table or updates. By default, `identity` itself.
    fn intern_member(&self, identity: MemberIdentity) -> MemberIdentity {
        identity
    }
}

impl<D: Delegate> Machine<D> {
    /// Hands this machine's view messages, relayed gossip and member identities to
    /// `interner` from now on (the current view and identities too).
    pub fn set_view_interner(&mut self, interner: Arc<dyn ViewInterner>) {
        self.members.set_view_interner(interner);
    }
}
