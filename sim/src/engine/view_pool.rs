//! One copy of each view message, relayed broadcast and member identity for the
//! simulator's machines: its [`ViewInterner`].

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use hashbrown::DefaultHashBuilder;
use memberlist_core::machine::broadcast::Broadcast;
use memberlist_core::machine::{MemberIdentity, ViewInterner};

/// The sets of buffers the simulator's machines share, so that equal ones are held once:
/// a converged cluster of 10,000 holds its view (about 700 KB) once instead of 10,000
/// times, and the alive message about a member that every machine queues during a join
/// once instead of once per machine, and every member's identity (name, address,
/// metadata, versions) once instead of once per table. Buffers no machine holds any more
/// are dropped as a pool grows.
#[derive(Debug, Default)]
pub(crate) struct ViewPool {
    views: Mutex<Pool<Bytes>>,
    broadcasts: Mutex<Pool<Broadcast>>,
    identities: Mutex<Pool<MemberIdentity>>,
}

/// What a pool holds: a shared handle that can tell whether anyone else holds it.
trait Pooled: Clone + Eq + Hash {
    /// Only the pool holds it.
    fn only_pooled(&self) -> bool;
}

impl Pooled for Bytes {
    fn only_pooled(&self) -> bool {
        self.is_unique()
    }
}

impl Pooled for MemberIdentity {
    fn only_pooled(&self) -> bool {
        self.holders() == 1
    }
}

impl Pooled for Broadcast {
    fn only_pooled(&self) -> bool {
        self.holders() == 1
    }
}

#[derive(Debug)]
struct Pool<T> {
    /// Buffers by a hash of their contents.
    by_hash: HashMap<u64, Vec<T>>,
    /// Number of buffers held.
    len: usize,
    /// Sweep for buffers nobody else holds when `len` reaches this.
    sweep_at: usize,
    hasher: DefaultHashBuilder,
}

impl<T> Default for Pool<T> {
    fn default() -> Self {
        Self {
            by_hash: HashMap::new(),
            len: 0,
            sweep_at: 0,
            hasher: DefaultHashBuilder::default(),
        }
    }
}

/// Fewest buffers worth a sweep.
const MIN_SWEEP: usize = 64;

/// A lock on a pool. A panic while holding the lock leaves the pool consistent (every
/// step keeps it so): keep using it.
fn lock<T>(pool: &Mutex<T>) -> MutexGuard<'_, T> {
    pool.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ViewPool {
    /// Number of view buffers held (including ones no machine holds any more, until the
    /// next sweep).
    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.views).len
    }
}

/// Each method returns the pooled value equal to its argument, or the argument, now pooled.
impl ViewInterner for ViewPool {
    fn intern(&self, message: Bytes) -> Bytes {
        lock(&self.views).intern(message)
    }

    fn intern_broadcast(&self, broadcast: Broadcast) -> Broadcast {
        lock(&self.broadcasts).intern(broadcast)
    }

    fn intern_member(&self, identity: MemberIdentity) -> MemberIdentity {
        lock(&self.identities).intern(identity)
    }
}

impl<T: Pooled> Pool<T> {
    /// The held value equal to `value`, or `value`, now held.
    fn intern(&mut self, value: T) -> T {
        let hash = self.hasher.hash_one(&value);
        if let Some(found) = self
            .by_hash
            .get(&hash)
            .and_then(|held| held.iter().find(|h| **h == value))
        {
            return found.clone();
        }
        if self.len >= self.sweep_at {
            self.sweep();
        }
        self.by_hash.entry(hash).or_default().push(value.clone());
        self.len += 1;
        value
    }

    /// Drops the values only the pool holds.
    fn sweep(&mut self) {
        self.by_hash.retain(|_, held| {
            held.retain(|h| !h.only_pooled());
            !held.is_empty()
        });
        self.len = self.by_hash.values().map(Vec::len).sum();
        self.sweep_at = (2 * self.len).max(MIN_SWEEP);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memberlist_core::machine::broadcast::BroadcastKey;

    #[test]
    fn equal_bytes_give_one_buffer_and_unheld_ones_are_swept() {
        let pool = ViewPool::default();
        let a = pool.intern(Bytes::from(vec![1, 2, 3]));
        let b = pool.intern(Bytes::from(vec![1, 2, 3]));
        assert_eq!(a.as_ptr(), b.as_ptr());
        let c = pool.intern(Bytes::from(vec![1, 2, 4]));
        assert_ne!(a.as_ptr(), c.as_ptr());
        assert_eq!(pool.len(), 2);
        drop((a, b, c));
        // Nobody holds them: the sweep, due once the pool reaches its threshold, drops
        // them; the ones still held stay.
        let held: Vec<Bytes> = (0..MIN_SWEEP as u32)
            .map(|i| pool.intern(Bytes::from(i.to_le_bytes().to_vec())))
            .collect();
        assert!(pool.len() <= MIN_SWEEP + 1, "{}", pool.len());
        for (i, h) in held.iter().enumerate() {
            let again = pool.intern(Bytes::from((i as u32).to_le_bytes().to_vec()));
            assert_eq!(again.as_ptr(), h.as_ptr());
        }
    }

    #[test]
    fn equal_broadcasts_give_one_allocation() {
        let pool = ViewPool::default();
        let make = |name: &str, bytes: &'static [u8]| {
            Broadcast::new(BroadcastKey::node(name), Bytes::from_static(bytes))
        };
        let a = pool.intern_broadcast(make("n1", b"alive"));
        let b = pool.intern_broadcast(make("n1", b"alive"));
        assert!(a.ptr_eq(&b));
        let c = pool.intern_broadcast(make("n2", b"alive"));
        assert!(!a.ptr_eq(&c));
        let d = pool.intern_broadcast(make("n1", b"alive again"));
        assert!(!a.ptr_eq(&d));
    }
}
