//! [`MemoryNetwork`]: a network in memory for tests, with per-link loss and latency,
//! partitions and one-way cuts, all changeable while nodes run.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::DuplexStream;
use tokio::sync::mpsc;

use super::endpoint::MemoryTransport;
use super::loss::Rng;
use super::traffic::{add, counts};

/// A datagram in flight, with its sender.
pub(crate) type Datagram = (Bytes, SocketAddr);
/// A dialed stream on its way to the listener, with the dialer's address.
pub(crate) type Inbound = (DuplexStream, SocketAddr);

/// Where an endpoint receives: datagrams and dialed streams.
#[derive(Debug)]
pub(crate) struct Mailbox {
    /// Tells this endpoint from a later one at the same address.
    pub(crate) id: u64,
    pub(crate) datagrams: mpsc::UnboundedSender<Datagram>,
    pub(crate) streams: mpsc::UnboundedSender<Inbound>,
}

/// The conditions of one direction of a link: what fraction of datagrams is lost and how
/// long each takes. Streams are reliable (no loss); a dial takes one round trip.
///
/// ```
/// use std::time::Duration;
/// use memberlist::testing::Link;
///
/// let bad = Link::default().with_loss(0.2).with_latency(Duration::from_millis(30));
/// assert_eq!((bad.loss, bad.latency), (0.2, Duration::from_millis(30)));
/// assert_eq!(Link::default().loss, 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub struct Link {
    /// Probability (0 to 1) that a datagram is lost.
    pub loss: f64,
    /// How long a datagram takes to arrive.
    pub latency: Duration,
}

impl Link {
    /// This link with loss probability `loss` (clamped to 0..=1).
    pub fn with_loss(mut self, loss: f64) -> Self {
        self.loss = super::loss::probability(loss);
        self
    }

    /// This link with latency `latency`.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }
}

counts! {
    /// What happened to the datagrams sent on a [`MemoryNetwork`] so far.
    pub struct NetworkStats, counted by Counters {
        /// Datagrams delivered (or on their way, delayed by latency).
        delivered,
        /// Datagrams lost to a link's loss probability.
        lost,
        /// Datagrams dropped by a cut or a partition.
        cut,
        /// Datagrams to an address where no endpoint is.
        unreachable,
        /// Dials that failed on a cut or a partition (they time out).
        dials_cut,
    }
}

#[derive(Debug, Default)]
struct State {
    endpoints: HashMap<SocketAddr, Mailbox>,
    links: HashMap<(SocketAddr, SocketAddr), Link>,
    default_link: Link,
    cuts: HashSet<(SocketAddr, SocketAddr)>,
    next_port: u16,
    next_id: u64,
}

impl State {
    fn link(&self, from: SocketAddr, to: SocketAddr) -> Link {
        self.links
            .get(&(from, to))
            .copied()
            .unwrap_or(self.default_link)
    }
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    rng: Rng,
    counters: Counters,
}

/// A network in memory: endpoints ([`MemoryTransport`]s) exchange datagrams through channels
/// and streams through [`tokio::io::duplex`] pipes, under conditions that change while nodes
/// run (see the [module](super) overview). A clone is another handle to the same network.
///
/// Datagrams are never blocked: a lost or cut one is dropped, the sender sees `Ok` (as on a
/// real network). A dial across a cut waits for its deadline and times out (as a dial whose
/// packets are dropped would); a dial to an address where no endpoint is, is refused. Streams
/// already open are not affected by later cuts, and carry their bytes without loss nor
/// latency.
///
/// ```
/// use memberlist::prelude::*;
/// use memberlist::testing::MemoryNetwork;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let network = MemoryNetwork::new();
/// let (a, b) = (network.bind(), network.bind());
/// a.send_to(b.advertise_addr(), b"hello").await?;
/// assert_eq!(&b.recv_from().await?.0[..], b"hello");
///
/// network.cut(a.advertise_addr(), b.advertise_addr());
/// a.send_to(b.advertise_addr(), b"lost").await?; // Ok, and never arrives
/// b.send_to(a.advertise_addr(), b"the other way works").await?;
/// assert_eq!(&a.recv_from().await?.0[..], b"the other way works");
/// assert_eq!(network.stats().cut, 1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct MemoryNetwork {
    shared: Arc<Shared>,
}

impl Default for MemoryNetwork {
    fn default() -> Self {
        Self::new()
    }
}

/// The first port [`MemoryNetwork::bind`] hands out.
const FIRST_PORT: u16 = 10_001;

impl MemoryNetwork {
    /// A perfect network (no loss, no latency), with loss seed 0.
    pub fn new() -> Self {
        Self::with_seed(0)
    }

    /// A perfect network whose loss draws from the sequence of `seed`.
    pub fn with_seed(seed: u64) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    next_port: FIRST_PORT,
                    ..State::default()
                }),
                rng: Rng::new(seed),
                counters: Counters::default(),
            }),
        }
    }

    /// A new endpoint at the next free address: `127.0.0.1` with ports from 10001 up.
    ///
    /// # Panics
    ///
    /// When every port from 10001 up is taken (some 55,000 live endpoints).
    pub fn bind(&self) -> MemoryTransport {
        let mut state = self.lock();
        loop {
            let port = state.next_port;
            assert!(port != 0, "no free port left on the memory network");
            state.next_port = port.wrapping_add(1);
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            if !state.endpoints.contains_key(&addr) {
                return self.register(&mut state, addr);
            }
        }
    }

    /// A new endpoint at `addr`, or `None` if a live endpoint has it already (one shut down
    /// or dropped frees its address).
    pub fn endpoint(&self, addr: SocketAddr) -> Option<MemoryTransport> {
        let mut state = self.lock();
        if state.endpoints.contains_key(&addr) {
            return None;
        }
        Some(self.register(&mut state, addr))
    }

    fn register(&self, state: &mut State, addr: SocketAddr) -> MemoryTransport {
        let (datagrams, datagram_rx) = mpsc::unbounded_channel();
        let (streams, stream_rx) = mpsc::unbounded_channel();
        let id = state.next_id;
        state.next_id += 1;
        let mailbox = Mailbox {
            id,
            datagrams,
            streams,
        };
        state.endpoints.insert(addr, mailbox);
        MemoryTransport::new(addr, id, self.clone(), datagram_rx, stream_rx)
    }

    /// Sets the conditions of the link from `from` to `to` (one direction).
    pub fn set_link(&self, from: SocketAddr, to: SocketAddr, link: Link) {
        self.lock().links.insert((from, to), link);
    }

    /// Sets the conditions of every link that has none of its own (from
    /// [`set_link`](Self::set_link)).
    pub fn set_default_link(&self, link: Link) {
        self.lock().default_link = link;
    }

    /// Sets the loss probability of the link from `from` to `to`, keeping its latency.
    pub fn set_loss(&self, from: SocketAddr, to: SocketAddr, loss: f64) {
        let mut state = self.lock();
        let link = state.link(from, to).with_loss(loss);
        state.links.insert((from, to), link);
    }

    /// Sets the latency of the link from `from` to `to`, keeping its loss.
    pub fn set_latency(&self, from: SocketAddr, to: SocketAddr, latency: Duration) {
        let mut state = self.lock();
        let link = state.link(from, to).with_latency(latency);
        state.links.insert((from, to), link);
    }

    /// The conditions of the link from `from` to `to`.
    pub fn link(&self, from: SocketAddr, to: SocketAddr) -> Link {
        self.lock().link(from, to)
    }

    /// Cuts the link from `from` to `to`, one way: nothing sent by `from` reaches `to`, and
    /// neither can dial the other (a dial needs both directions).
    pub fn cut(&self, from: SocketAddr, to: SocketAddr) {
        self.lock().cuts.insert((from, to));
    }

    /// Cuts every link between a node of `a` and a node of `b`, both ways. Links within each
    /// side keep working.
    pub fn partition(&self, a: &[SocketAddr], b: &[SocketAddr]) {
        let mut state = self.lock();
        for &x in a {
            for &y in b {
                state.cuts.insert((x, y));
                state.cuts.insert((y, x));
            }
        }
    }

    /// Removes every cut and partition. Loss and latency stay as set.
    pub fn heal(&self) {
        self.lock().cuts.clear();
    }

    /// Whether datagrams from `from` can reach `to` (no cut; loss aside).
    pub fn is_connected(&self, from: SocketAddr, to: SocketAddr) -> bool {
        !self.lock().cuts.contains(&(from, to))
    }

    /// What happened to the datagrams so far.
    pub fn stats(&self) -> NetworkStats {
        self.shared.counters.snapshot()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No code panics while holding the lock; if one did, the state is still whole.
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Routes one datagram: drops it (counted) or delivers it, after the link's latency.
    /// Never blocks.
    pub(crate) fn send_datagram(&self, from: SocketAddr, to: SocketAddr, data: Bytes) {
        let c = &self.shared.counters;
        let (mailbox, latency) = {
            let state = self.lock();
            if state.cuts.contains(&(from, to)) {
                add(&c.cut, 1);
                return;
            }
            let Some(mailbox) = state.endpoints.get(&to) else {
                add(&c.unreachable, 1);
                return;
            };
            let link = state.link(from, to);
            if link.loss > 0.0 && self.shared.rng.chance(link.loss) {
                add(&c.lost, 1);
                return;
            }
            (mailbox.datagrams.clone(), link.latency)
        };
        add(&c.delivered, 1);
        if latency.is_zero() {
            // A closed mailbox is an endpoint going away: the datagram is lost.
            let _ = mailbox.send((data, from));
        } else {
            tokio::spawn(async move {
                tokio::time::sleep(latency).await;
                let _ = mailbox.send((data, from));
            });
        }
    }

    /// How a dial from `from` to `to` goes: `Err(true)` across a cut, `Err(false)` to nobody,
    /// else the listener's mailbox and the round trip to wait.
    pub(crate) fn dial(
        &self,
        from: SocketAddr,
        to: SocketAddr,
    ) -> Result<(mpsc::UnboundedSender<Inbound>, Duration), bool> {
        let state = self.lock();
        if state.cuts.contains(&(from, to)) || state.cuts.contains(&(to, from)) {
            add(&self.shared.counters.dials_cut, 1);
            return Err(true);
        }
        let mailbox = state.endpoints.get(&to).ok_or(false)?;
        let round_trip = state.link(from, to).latency + state.link(to, from).latency;
        Ok((mailbox.streams.clone(), round_trip))
    }

    /// Frees `addr` if the endpoint `id` still holds it.
    pub(crate) fn unregister(&self, addr: SocketAddr, id: u64) {
        let mut state = self.lock();
        if state.endpoints.get(&addr).is_some_and(|m| m.id == id) {
            state.endpoints.remove(&addr);
        }
    }
}
