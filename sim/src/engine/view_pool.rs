//! One copy of each view message for the simulator's machines: its [`ViewInterner`].

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use hashbrown::DefaultHashBuilder;
use memberlist_core::machine::ViewInterner;

/// The set of push/pull view messages the simulator's machines share, so that equal views
/// are held once: a converged cluster of 10,000 holds its view (about 700 KB) once instead
/// of 10,000 times. Buffers no machine holds any more are dropped as the pool grows.
#[derive(Debug, Clone, Default)]
pub(crate) struct ViewPool {
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
    /// Number of buffers held (including ones no machine holds any more, until the next
    /// sweep).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pool> {
        // A panic while holding the lock leaves the pool consistent (every step keeps it
        // so): keep using it.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ViewInterner for ViewPool {
    /// The pool's buffer with the same bytes as `message`, or `message` itself, now in
    /// the pool.
    fn intern(&self, message: Bytes) -> Bytes {
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
}
