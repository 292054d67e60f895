//! [`Broadcast`]: a key and its encoded message behind one pointer, which is what a slot
//! of the queue holds.

use std::fmt;

use bytes::Bytes;

use super::BroadcastKey;
use crate::machine::interned::Interned;

/// A broadcast as the queue holds it: its [`BroadcastKey`] and its encoded message,
/// behind one reference-counted pointer.
///
/// A queue slot is then one pointer (plus its sequence number), and equal broadcasts queued
/// by many queues can be one allocation, shared through a
/// [`ViewInterner`](crate::machine::ViewInterner). Equality and hashing look at the key and
/// the bytes, not at the pointer.
///
/// ```
/// use bytes::Bytes;
/// use memberlist_core::machine::broadcast::{Broadcast, BroadcastKey};
///
/// let a = Broadcast::new(BroadcastKey::node("n1"), Bytes::from_static(b"alive"));
/// let b = Broadcast::new(BroadcastKey::node("n1"), Bytes::from_static(b"alive"));
/// assert_eq!(a, b);
/// assert_eq!(a.holders(), 1);
/// let c = a.clone();
/// assert_eq!(c.holders(), 2);
/// assert_eq!(c.message(), "alive");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Broadcast(Interned<Parts>);

#[derive(PartialEq, Eq, Hash)]
struct Parts {
    key: BroadcastKey,
    message: Bytes,
}

impl Broadcast {
    /// A broadcast of `message` (encoded, type byte included) under `key`.
    #[must_use]
    pub fn new(key: BroadcastKey, message: Bytes) -> Self {
        Self(Interned::new(Parts { key, message }))
    }

    /// What it invalidates.
    #[must_use]
    pub fn key(&self) -> &BroadcastKey {
        &self.0.key
    }

    /// The encoded message.
    #[must_use]
    pub fn message(&self) -> &Bytes {
        &self.0.message
    }

    /// How many handles share this allocation (an interner holding the only one may
    /// drop it).
    #[must_use]
    pub fn holders(&self) -> usize {
        self.0.holders()
    }

    /// Whether `self` and `other` are one allocation.
    #[must_use]
    pub fn ptr_eq(&self, other: &Self) -> bool {
        self.0.ptr_eq(&other.0)
    }
}

impl fmt::Debug for Broadcast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broadcast")
            .field("key", &self.0.key)
            .field("len", &self.0.message.len())
            .finish()
    }
}
