//! [`Interned`]: a value behind one reference-counted pointer, what the shared handles
//! ([`MemberIdentity`](super::MemberIdentity), [`Broadcast`](super::broadcast::Broadcast))
//! are made of, so that equal values queued or listed by many machines can be one
//! allocation.

use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// A value behind one pointer; equality and hashing look at the value (equal pointers
/// answer without comparing), so an interned copy and a fresh one are interchangeable.
#[derive(Debug)]
pub(crate) struct Interned<T>(Arc<T>);

impl<T> Interned<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(Arc::new(value))
    }

    /// How many handles share this allocation (an interner holding the only one may drop
    /// it).
    pub(crate) fn holders(&self) -> usize {
        Arc::strong_count(&self.0)
    }

    /// Whether `self` and `other` are one allocation.
    pub(crate) fn ptr_eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<T> Clone for Interned<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> Deref for Interned<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: PartialEq> PartialEq for Interned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.ptr_eq(other) || self.0 == other.0
    }
}

impl<T: Eq> Eq for Interned<T> {}

impl<T: Hash> Hash for Interned<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}
