//! One copy of each view message for the machines of one process.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use hashbrown::DefaultHashBuilder;

/// A set of push/pull view messages shared by the machines of one process, so that equal
/// views are held once.
///
/// Every machine keeps its view — every member's entry, encoded — as one buffer, the
/// push/pull message it sends (at 10,000 members, about 700 KB). Machines in one process
/// (a simulator, a test bed, many nodes behind one runtime) mostly hold equal views; given
/// the same pool ([`Machine::share_view_pool`](super::Machine::share_view_pool)), each
/// machine that writes its view looks for an equal buffer in the pool and keeps that one
/// instead. A converged cluster then holds its view once, and comparing two machines' views
/// is a pointer comparison. Cloning the pool shares it; buffers no machine holds any more
/// are dropped as the pool grows.
///
/// ```
/// use memberlist_core::machine::ViewPool;
/// let pool = ViewPool::new();
/// assert_eq!(pool.len(), 0);
/// let shared = pool.clone();
/// assert_eq!(shared.len(), 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ViewPool {
    inner: Arc<Mutex<Pool>>,
}

#[derive(Debug, Default)]
struct Pool {
    /// Buffers by a hash of their bytes.
    by_hash: HashMap<u64, Vec<Bytes>>,
    /// Number of buffers held.
    len: usize,
    /// Sweep for buffers nobody else holds when `len` reaches this.
    sweep_at: usize,
    hasher: DefaultHashBuilder,
}

/// Fewest buffers worth a sweep.
const MIN_SWEEP: usize = 64;

impl ViewPool {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of buffers held (including ones no machine holds any more, until the next
    /// sweep).
    pub fn len(&self) -> usize {
        self.lock().len
    }

    /// Whether the pool holds no buffer.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pool> {
        // A panic while holding the lock leaves the pool consistent (every step keeps it
        // so): keep using it.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The pool's buffer with the same bytes as `message`, or `message` itself, now in
    /// the pool.
    pub(crate) fn intern(&self, message: Bytes) -> Bytes {
        let mut pool = self.lock();
        let hash = pool.hasher.hash_one(&message[..]);
        if let Some(found) = pool
            .by_hash
            .get(&hash)
            .and_then(|bufs| bufs.iter().find(|b| **b == message))
        {
            return found.clone();
        }
        if pool.len >= pool.sweep_at {
            pool.sweep();
        }
        pool.by_hash.entry(hash).or_default().push(message.clone());
        pool.len += 1;
        message
    }
}

impl Pool {
    /// Drops the buffers only the pool holds.
    fn sweep(&mut self) {
        self.by_hash.retain(|_, bufs| {
            bufs.retain(|b| !b.is_unique());
            !bufs.is_empty()
        });
        self.len = self.by_hash.values().map(Vec::len).sum();
        self.sweep_at = (2 * self.len).max(MIN_SWEEP);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_bytes_give_one_buffer_and_unheld_ones_are_swept() {
        let pool = ViewPool::new();
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
}
