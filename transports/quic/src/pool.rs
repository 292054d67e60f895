//! The connection pool: at most one pooled connection per peer address, the dial in progress
//! for a peer (so concurrent senders share one handshake), and the datagrams waiting for it.
//!
//! The pool only keeps books; dialling, serving and closing connections is done by the
//! transport. It is generic over the connection type so its rules are unit-tested without a
//! network.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::oneshot;

/// What the pool needs to know about a connection.
pub(crate) trait Pooled: Clone {
    /// A value unique among the connections of one endpoint.
    fn id(&self) -> usize;
    /// True once the connection is closed (by either side, or idle).
    fn is_closed(&self) -> bool;
}

impl Pooled for quinn::Connection {
    fn id(&self) -> usize {
        self.stable_id()
    }
    fn is_closed(&self) -> bool {
        self.close_reason().is_some()
    }
}

/// Told to whoever waits for a dial: the connection or why there is none.
pub(crate) type DialOutcome<C> = Result<C, String>;

enum Slot<C> {
    Dialing {
        pending: Vec<Bytes>,
        waiters: Vec<oneshot::Sender<DialOutcome<C>>>,
    },
    Ready(C),
}

impl<C: Clone> Slot<C> {
    /// The pooled connection, if there is one.
    fn ready(&self) -> Option<C> {
        match self {
            Slot::Ready(c) => Some(c.clone()),
            Slot::Dialing { .. } => None,
        }
    }
}

/// What [`Pool::send_or_queue`] decided.
pub(crate) enum SendPlan<C> {
    /// Send on this connection now.
    Ready(C),
    /// Queued until the dial in progress completes.
    Queued,
    /// Queued; no dial was in progress, so the caller must start one.
    Dial,
    /// The queue for this peer is full: drop the datagram.
    Full,
}

/// What [`Pool::get_or_wait`] decided.
pub(crate) enum WaitPlan<C> {
    /// Use this connection.
    Ready(C),
    /// Wait on the receiver; with `dial` true the caller must start the dial.
    Wait {
        rx: oneshot::Receiver<DialOutcome<C>>,
        dial: bool,
    },
}

/// Whatever waited for a dial, handed back when it completes or fails.
pub(crate) struct Waiting<C> {
    pub(crate) pending: Vec<Bytes>,
    pub(crate) waiters: Vec<oneshot::Sender<DialOutcome<C>>>,
}

impl<C> Waiting<C> {
    fn none() -> Self {
        Self {
            pending: Vec::new(),
            waiters: Vec::new(),
        }
    }
}

pub(crate) struct Pool<C> {
    slots: Mutex<HashMap<SocketAddr, Slot<C>>>,
    pending_cap: usize,
}

impl<C: Pooled> Pool<C> {
    pub(crate) fn new(pending_cap: usize) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            pending_cap,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Slot<C>>> {
        // A panic while holding the lock cannot leave the map inconsistent (every update is
        // a single insert or remove), so a poisoned lock is still usable.
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The live pooled connection to `addr`, if any.
    #[cfg(test)]
    pub(crate) fn ready(&self, addr: SocketAddr) -> Option<C> {
        match self.lock().get(&addr) {
            Some(Slot::Ready(c)) if !c.is_closed() => Some(c.clone()),
            _ => None,
        }
    }

    /// For a datagram: the connection to send it on, or the datagram queued behind a dial.
    pub(crate) fn send_or_queue(&self, addr: SocketAddr, data: &[u8]) -> SendPlan<C> {
        let mut slots = self.lock();
        match slots.get_mut(&addr) {
            Some(Slot::Ready(c)) if !c.is_closed() => SendPlan::Ready(c.clone()),
            Some(Slot::Dialing { pending, .. }) => {
                if pending.len() >= self.pending_cap {
                    SendPlan::Full
                } else {
                    pending.push(Bytes::copy_from_slice(data));
                    SendPlan::Queued
                }
            }
            _ => {
                let pending = if self.pending_cap == 0 {
                    Vec::new()
                } else {
                    vec![Bytes::copy_from_slice(data)]
                };
                slots.insert(
                    addr,
                    Slot::Dialing {
                        pending,
                        waiters: Vec::new(),
                    },
                );
                SendPlan::Dial
            }
        }
    }

    /// For a stream: the connection, or a receiver told when the dial completes.
    pub(crate) fn get_or_wait(&self, addr: SocketAddr) -> WaitPlan<C> {
        let mut slots = self.lock();
        let (tx, rx) = oneshot::channel();
        match slots.get_mut(&addr) {
            Some(Slot::Ready(c)) if !c.is_closed() => WaitPlan::Ready(c.clone()),
            Some(Slot::Dialing { waiters, .. }) => {
                waiters.push(tx);
                WaitPlan::Wait { rx, dial: false }
            }
            _ => {
                slots.insert(
                    addr,
                    Slot::Dialing {
                        pending: Vec::new(),
                        waiters: vec![tx],
                    },
                );
                WaitPlan::Wait { rx, dial: true }
            }
        }
    }

    /// A connection to `addr` is established (dialled or accepted). It becomes the pooled one
    /// unless a live one is already pooled (then both stay usable, the older one pooled).
    /// Returns whatever waited for a dial to `addr`.
    pub(crate) fn established(&self, addr: SocketAddr, conn: &C) -> Waiting<C> {
        let mut slots = self.lock();
        let keep_old = matches!(slots.get(&addr), Some(Slot::Ready(old)) if !old.is_closed());
        if keep_old {
            return Waiting::none();
        }
        match slots.insert(addr, Slot::Ready(conn.clone())) {
            Some(Slot::Dialing { pending, waiters }) => Waiting { pending, waiters },
            _ => Waiting::none(),
        }
    }

    /// The dial to `addr` failed: forget it, returning whatever waited for it.
    pub(crate) fn dial_failed(&self, addr: SocketAddr) -> Waiting<C> {
        let mut slots = self.lock();
        if matches!(slots.get(&addr), Some(Slot::Dialing { .. })) {
            if let Some(Slot::Dialing { pending, waiters }) = slots.remove(&addr) {
                return Waiting { pending, waiters };
            }
        }
        Waiting::none()
    }

    /// Connection `conn` closed: unpool it if it is the pooled one.
    pub(crate) fn closed(&self, addr: SocketAddr, conn: &C) {
        let mut slots = self.lock();
        if matches!(slots.get(&addr), Some(Slot::Ready(c)) if c.id() == conn.id()) {
            slots.remove(&addr);
        }
    }

    /// Every pooled connection, leaving the pool as it is.
    pub(crate) fn connections(&self) -> Vec<C> {
        self.lock().values().filter_map(Slot::ready).collect()
    }

    /// Every pooled connection, emptying the pool (waiters are dropped, so they see an error).
    pub(crate) fn drain(&self) -> Vec<C> {
        self.lock()
            .drain()
            .filter_map(|(_, slot)| slot.ready())
            .collect()
    }

    /// Number of peers with a pooled connection or a dial in progress.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[derive(Clone)]
    struct Fake {
        id: usize,
        closed: Arc<AtomicBool>,
    }

    impl Fake {
        fn new(id: usize) -> Self {
            Self {
                id,
                closed: Arc::new(AtomicBool::new(false)),
            }
        }
        fn close(&self) {
            self.closed.store(true, Ordering::Relaxed);
        }
    }

    impl Pooled for Fake {
        fn id(&self) -> usize {
            self.id
        }
        fn is_closed(&self) -> bool {
            self.closed.load(Ordering::Relaxed)
        }
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn first_send_dials_and_later_ones_queue_up_to_the_cap() {
        let pool: Pool<Fake> = Pool::new(2);
        assert!(matches!(pool.send_or_queue(addr(1), b"a"), SendPlan::Dial));
        assert!(matches!(
            pool.send_or_queue(addr(1), b"b"),
            SendPlan::Queued
        ));
        assert!(matches!(pool.send_or_queue(addr(1), b"c"), SendPlan::Full));
        let conn = Fake::new(7);
        let waiting = pool.established(addr(1), &conn);
        assert_eq!(waiting.pending, vec![Bytes::from("a"), Bytes::from("b")]);
        assert!(matches!(pool.send_or_queue(addr(1), b"d"), SendPlan::Ready(c) if c.id == 7));
    }

    #[test]
    fn stream_waiters_share_one_dial_and_hear_its_outcome() {
        let pool: Pool<Fake> = Pool::new(4);
        let WaitPlan::Wait {
            rx: mut first,
            dial,
        } = pool.get_or_wait(addr(2))
        else {
            panic!("nothing pooled yet")
        };
        assert!(dial);
        let WaitPlan::Wait {
            rx: mut second,
            dial,
        } = pool.get_or_wait(addr(2))
        else {
            panic!("still dialling")
        };
        assert!(!dial, "one dial per peer");
        let waiting = pool.dial_failed(addr(2));
        for w in waiting.waiters {
            let _ = w.send(Err("refused".into()));
        }
        assert_eq!(
            first.try_recv().expect("told").err().as_deref(),
            Some("refused")
        );
        assert_eq!(
            second.try_recv().expect("told").err().as_deref(),
            Some("refused")
        );
        assert_eq!(pool.len(), 0);
    }

    #[test]
    fn a_live_connection_is_kept_and_a_closed_one_replaced() {
        let pool: Pool<Fake> = Pool::new(4);
        let (a, b) = (Fake::new(1), Fake::new(2));
        pool.established(addr(3), &a);
        pool.established(addr(3), &b);
        assert_eq!(
            pool.ready(addr(3)).map(|c| c.id),
            Some(1),
            "the older stays"
        );
        a.close();
        assert!(
            pool.ready(addr(3)).is_none(),
            "a closed one is not handed out"
        );
        pool.established(addr(3), &b);
        assert_eq!(pool.ready(addr(3)).map(|c| c.id), Some(2));
        // Closing a connection that is not the pooled one leaves the pool alone.
        pool.closed(addr(3), &a);
        assert_eq!(pool.ready(addr(3)).map(|c| c.id), Some(2));
        pool.closed(addr(3), &b);
        assert_eq!(pool.len(), 0);
    }

    #[test]
    fn an_accepted_connection_satisfies_a_dial_in_progress() {
        let pool: Pool<Fake> = Pool::new(4);
        assert!(matches!(pool.send_or_queue(addr(4), b"x"), SendPlan::Dial));
        let WaitPlan::Wait { rx, .. } = pool.get_or_wait(addr(4)) else {
            panic!("dialling")
        };
        let inbound = Fake::new(9);
        let waiting = pool.established(addr(4), &inbound);
        assert_eq!(waiting.pending.len(), 1);
        assert_eq!(waiting.waiters.len(), 1);
        drop(rx);
        // The dial finishing later does not displace it, nor fail anything.
        assert_eq!(pool.established(addr(4), &Fake::new(10)).waiters.len(), 0);
        assert_eq!(pool.dial_failed(addr(4)).waiters.len(), 0);
        assert_eq!(pool.ready(addr(4)).map(|c| c.id), Some(9));
        assert_eq!(pool.drain().len(), 1);
    }
}
