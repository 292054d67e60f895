//! [`Memberlist`]: the handle applications hold.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use crate::delegate::{Delegate, NoopDelegate};
use crate::machine::{Member, State};
use crate::transport::Transport;

use super::config::Config;
use super::driver::{Command, Core, waiter};
use super::error::{Error, JoinError, JoinFailure};
use super::member_info::MemberInfo;
use super::seeds::Seed;
use super::snapshot::Snapshot;
use super::stats::{Counters, Stats};
use super::subscription::Subscription;

/// A running memberlist node: a cheap, cloneable handle to the task that runs the protocol.
///
/// Build one with [`Memberlist::builder`]. Every method takes `&self`; clones share the same
/// node. Queries ([`members`](Self::members), [`num_members`](Self::num_members),
/// [`local_node`](Self::local_node), [`health_score`](Self::health_score),
/// [`stats`](Self::stats)) read a snapshot the driver refreshes after every input and never
/// wait; operations are `async` and are carried out by the driver task.
///
/// The node runs until [`shutdown`](Self::shutdown), or until every handle has been dropped
/// (which shuts it down the same way, without leaving).
///
/// `T` is the transport, `D` the [`Delegate`] (owned by the driver; reach it with
/// [`with_delegate`](Self::with_delegate)).
///
/// ```no_run
/// use std::time::Duration;
/// use memberlist::runtime::{Config, Error, Memberlist};
/// use memberlist_core::transport::Transport;
///
/// async fn run<T: Transport>(transport: T) -> Result<(), Error> {
///     let ml = Memberlist::builder(Config::lan("node-a"))
///         .transport(transport)
///         .start()
///         .await?;
///     let contacted = ml.join(["10.0.0.2:7946", "node-c/10.0.0.3"]).await?;
///     println!("contacted {contacted} nodes");
///     for m in ml.members() {
///         println!("{} {} {}", m.name, m.addr, m.state);
///     }
///     let mut events = ml.subscribe();
///     tokio::spawn(async move {
///         while let Some(item) = events.recv().await {
///             println!("{item:?}");
///         }
///     });
///     ml.send_reliable("node-b", b"hello").await?;
///     ml.leave(Duration::from_secs(5)).await?;
///     ml.shutdown().await;
///     Ok(())
/// }
/// ```
pub struct Memberlist<T, D: Delegate = NoopDelegate> {
    pub(super) shared: Arc<Shared<T, D>>,
}

pub(crate) struct Shared<T, D: Delegate> {
    pub(crate) commands: mpsc::Sender<Command<D>>,
    pub(crate) transport: Arc<T>,
    pub(crate) config: Config,
    pub(crate) snapshot: Arc<Mutex<Snapshot>>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) stopped: watch::Receiver<bool>,
    /// Bytes a best-effort user message may have at most.
    pub(crate) max_user_datagram: usize,
}

impl<T, D: Delegate> Clone for Memberlist<T, D> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: Transport, D: Delegate + 'static> fmt::Debug for Memberlist<T, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memberlist")
            .field("name", &self.name())
            .field("advertise", &self.advertise_addr())
            .field("running", &self.is_running())
            .finish_non_exhaustive()
    }
}

impl<T, D: Delegate> Memberlist<T, D> {
    pub(crate) fn from_shared(shared: Shared<T, D>) -> Self {
        Self {
            shared: Arc::new(shared),
        }
    }

    fn snapshot(&self) -> std::sync::MutexGuard<'_, Snapshot> {
        self.shared
            .snapshot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: Transport, D: Delegate + 'static> Memberlist<T, D> {
    /// Runs `f` in the driver task with the machine at hand, and returns its result.
    pub(super) async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Core<D>, std::time::Instant) -> R + Send + 'static,
    ) -> Result<R, Error> {
        let (tx, rx) = oneshot::channel();
        let cmd: Command<D> = Box::new(move |core, now| {
            let _ = tx.send(f(core, now));
        });
        self.shared
            .commands
            .send(cmd)
            .await
            .map_err(|_| Error::Shutdown)?;
        rx.await.map_err(|_| Error::Shutdown)
    }

    /// Runs `queue` in the driver (it queues a broadcast and returns its notification id),
    /// then waits until the broadcast has been sent enough times, or `timeout` passes
    /// ([`Error::Timeout`] naming `what`).
    pub(super) async fn broadcast_within(
        &self,
        what: &'static str,
        timeout: Duration,
        queue: impl FnOnce(&mut Core<D>, std::time::Instant) -> u64 + Send + 'static,
    ) -> Result<(), Error> {
        let done = self
            .call(move |core, now| {
                let id = queue(core, now);
                waiter(&mut core.broadcasts, id)
            })
            .await?;
        match tokio::time::timeout(timeout, done).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Error::Shutdown),
            Err(_) => Err(Error::Timeout {
                what,
                after: timeout,
            }),
        }
    }

    /// Joins a cluster by exchanging state (a push/pull with `join` set) with every address,
    /// and returns how many exchanges succeeded. It fails only if none did, with every
    /// address's error listed ([`JoinError::Failed`]).
    ///
    /// Addresses take the forms of a [`Seed`] (a missing port is 7946, where Go uses the
    /// node's own bind port), and **every** address a DNS name resolves to is tried (each
    /// success counts).
    ///
    /// Each exchange is bounded by the TCP timeout, so `join` returns within about that long
    /// (plus name resolution).
    ///
    /// ```no_run
    /// # use memberlist::runtime::{Memberlist, JoinError};
    /// # use memberlist_core::transport::Transport;
    /// # async fn f<T: Transport>(ml: Memberlist<T>) {
    /// match ml.join(["seed-1.example.com", "10.0.0.7:7946"]).await {
    ///     Ok(n) => println!("joined through {n} nodes"),
    ///     Err(JoinError::Failed(failures)) => {
    ///         for f in failures {
    ///             eprintln!("{}: {}", f.address, f.reason);
    ///         }
    ///     }
    ///     Err(e) => eprintln!("{e}"),
    /// }
    /// # }
    /// ```
    pub async fn join<I, S>(&self, addrs: I) -> Result<usize, JoinError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut seeds = Vec::new();
        let mut failures = Vec::new();
        for spec in addrs {
            let spec = spec.as_ref().trim();
            match spec.parse::<Seed>() {
                Ok(seed) => seeds.push((spec.to_owned(), seed)),
                Err(reason) => failures.push(JoinFailure::new(spec, reason)),
            }
        }
        if seeds.is_empty() && failures.is_empty() {
            return Err(JoinError::NoAddresses);
        }
        self.join_through(seeds, failures, false).await
    }

    /// Resolves `seeds` (each with the text it was given as) and push/pulls with every
    /// address; `failures` already failed. With `remember`, the resolved addresses become
    /// the machine's seeds (its reconnection targets).
    pub(super) async fn join_through(
        &self,
        seeds: Vec<(String, Seed)>,
        mut failures: Vec<JoinFailure>,
        remember: bool,
    ) -> Result<usize, JoinError> {
        let mut targets = Vec::new();
        for (text, seed) in seeds {
            match seed.resolve().await {
                Ok(resolved) => targets.extend(resolved.into_iter().map(|a| (text.clone(), a))),
                Err(reason) => failures.push(JoinFailure::new(text, reason)),
            }
        }
        if remember {
            let addrs: Vec<SocketAddr> = targets.iter().map(|(_, a)| *a).collect();
            // Failing only when the node stopped, which the join below reports.
            let _ = self
                .call(move |core, _| core.machine.set_seeds(addrs))
                .await;
        }
        if targets.is_empty() {
            return Err(JoinError::Failed(failures));
        }
        tracing::debug!(addresses = targets.len(), "joining");
        let pending = targets.len();
        let (report, mut reports) = mpsc::unbounded_channel();
        self.call(move |core, now| core.start_join(now, targets, &report))
            .await
            .map_err(|_| JoinError::Shutdown)?;
        let mut contacted = 0;
        for _ in 0..pending {
            match reports.recv().await.ok_or(JoinError::Shutdown)? {
                None => contacted += 1,
                Some(failure) => failures.push(failure),
            }
        }
        if contacted == 0 {
            return Err(JoinError::Failed(failures));
        }
        Ok(contacted)
    }

    /// Leaves the cluster gracefully: broadcasts that this node is leaving, and waits until
    /// the message has been gossiped (or `timeout` passes, which is
    /// [`Error::Timeout`]; the node has left all the same), then
    /// [`leave_propagate_delay`](Config::leave_propagate_delay).
    ///
    /// As in Go, the node keeps running afterwards — it still answers probes so that others
    /// see it left rather than failed — until [`shutdown`](Self::shutdown).
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use memberlist::runtime::{Error, Memberlist};
    /// # use memberlist_core::transport::Transport;
    /// # async fn f<T: Transport>(ml: Memberlist<T>) -> Result<(), Error> {
    /// ml.leave(Duration::from_secs(5)).await?;
    /// ml.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub async fn leave(&self, timeout: Duration) -> Result<(), Error> {
        self.broadcast_within("leave broadcast", timeout, |core, now| {
            core.machine.leave(now)
        })
        .await?;
        let delay = self.shared.config.leave_propagate_delay;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok(())
    }

    /// Stops the node: the driver stops, datagrams already queued are still sent, the
    /// transport is shut down and stream tasks are aborted. No message is sent (peers find
    /// out by probing; call [`leave`](Self::leave) first to leave gracefully). Idempotent;
    /// returns once everything has stopped. Later operations fail with [`Error::Shutdown`];
    /// queries keep returning the last state seen.
    pub async fn shutdown(&self) {
        let _ = self.call(|core, _| core.stop()).await;
        let mut stopped = self.shared.stopped.clone();
        let _ = stopped.wait_for(|s| *s).await;
    }

    /// Whether the node is still running (not shut down).
    pub fn is_running(&self) -> bool {
        self.snapshot().running
    }

    /// The members that are alive or suspect (not dead nor left), ourselves included — Go's
    /// `Members`.
    ///
    /// ```no_run
    /// # use memberlist::runtime::Memberlist;
    /// # use memberlist::Transport;
    /// # fn f<T: Transport>(ml: Memberlist<T>) -> serde_json::Result<()> {
    /// for m in ml.members() {
    ///     println!("{} at {} is {} since {:?}", m.name, m.addr, m.state, m.since_state_change());
    /// }
    /// // With the `serde` feature (on by default):
    /// println!("{}", serde_json::to_string_pretty(&ml.members())?);
    /// # Ok(()) }
    /// ```
    pub fn members(&self) -> Vec<MemberInfo> {
        self.member_infos(|m| !m.state.is_gone())
    }

    /// Every entry of the member table, dead and left nodes not yet reaped included.
    pub fn all_members(&self) -> Vec<MemberInfo> {
        self.member_infos(|_| true)
    }

    /// The snapshot's members that `keep` keeps, as `MemberInfo`s (built after the lock is
    /// released).
    fn member_infos(&self, keep: impl Fn(&Member) -> bool) -> Vec<MemberInfo> {
        let (members, clock) = {
            let snapshot = self.snapshot();
            (Arc::clone(&snapshot.members), snapshot.clock)
        };
        members
            .iter()
            .filter(|m| keep(m))
            .map(|m| MemberInfo::from_member(m, &clock))
            .collect()
    }

    /// A member by name, whatever its state.
    pub fn member(&self, name: &str) -> Option<MemberInfo> {
        let snapshot = self.snapshot();
        snapshot.get(name).map(|m| snapshot.info(m))
    }

    /// How many members are alive or suspect — Go's `NumMembers`.
    pub fn num_members(&self) -> usize {
        let snapshot = self.snapshot();
        snapshot.count(State::Alive) + snapshot.count(State::Suspect)
    }

    /// How many members are in `state`.
    pub fn count_in_state(&self, state: State) -> usize {
        self.snapshot().count(state)
    }

    /// This node as the cluster sees it — Go's `LocalNode`.
    pub fn local_node(&self) -> MemberInfo {
        let snapshot = self.snapshot();
        snapshot.info(&snapshot.local)
    }

    /// This node's name.
    pub fn name(&self) -> &str {
        self.shared.config.name()
    }

    /// The Lifeguard health score: 0 is healthy; higher means this node is slow to answer
    /// and probes less often — Go's `GetHealthScore`.
    pub fn health_score(&self) -> u32 {
        self.shared.counters.health_score()
    }

    /// Counters of the protocol and of the runtime.
    ///
    /// ```no_run
    /// # use memberlist::runtime::Memberlist;
    /// # use memberlist_core::transport::Transport;
    /// # fn f<T: Transport>(ml: Memberlist<T>) {
    /// let stats = ml.stats();
    /// println!(
    ///     "{} datagrams dropped, {} push/pulls refused, health {}",
    ///     stats.protocol.packets_dropped,
    ///     stats.push_pulls_refused,
    ///     ml.health_score()
    /// );
    /// # }
    /// ```
    pub fn stats(&self) -> Stats {
        self.shared.counters.stats()
    }

    /// Broadcasts waiting in this node's gossip queue — memberlist's own (alive, suspect,
    /// dead) and user broadcasts — as of the driver's last step (Go's
    /// `memberlist.queue.broadcasts` gauge). Zero once a change has been gossiped its
    /// retransmit limit of times: a cluster whose nodes all read zero is quiet.
    ///
    /// ```
    /// # use memberlist::runtime::Memberlist;
    /// # use memberlist_core::transport::Transport;
    /// # fn f<T: Transport>(ml: Memberlist<T>) {
    /// if ml.queued_broadcasts() == 0 {
    ///     println!("nothing left to gossip");
    /// }
    /// # }
    /// ```
    pub fn queued_broadcasts(&self) -> usize {
        self.snapshot().queued_broadcasts
    }

    /// The address other nodes reach this one at.
    pub fn advertise_addr(&self) -> SocketAddr {
        self.shared.transport.advertise_addr()
    }

    /// The locally bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.transport.local_addr()
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.shared.transport
    }

    /// The configuration the node was started with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The members now, then every membership change in order: joins, departures (left or
    /// failed), metadata updates, suspicions and refutations, name conflicts (see
    /// [`Subscription`]).
    ///
    /// ```no_run
    /// # use std::collections::BTreeMap;
    /// # use memberlist::runtime::{Memberlist, MemberEvent, Notification};
    /// # use memberlist_core::transport::Transport;
    /// # async fn f<T: Transport>(ml: Memberlist<T>) {
    /// let mut view = BTreeMap::new();
    /// let mut events = ml.subscribe();
    /// while let Some(item) = events.recv().await {
    ///     match item {
    ///         Notification::Snapshot(s) | Notification::Lagged { snapshot: s, .. } => {
    ///             view = s.members.into_iter().map(|m| (m.name.clone(), m)).collect();
    ///         }
    ///         Notification::Event { event, .. } => match event {
    ///             MemberEvent::Join(m) => {
    ///                 println!("{} joined from {}", m.name, m.addr);
    ///                 view.insert(m.name.clone(), m);
    ///             }
    ///             MemberEvent::Left(m) | MemberEvent::Failed(m) => {
    ///                 println!("{} is {}", m.name, m.state);
    ///                 view.remove(&m.name);
    ///             }
    ///             MemberEvent::Conflict { .. } => {}
    ///             other => {
    ///                 let m = other.member().clone();
    ///                 view.insert(m.name.clone(), m);
    ///             }
    ///         },
    ///         _ => {}
    ///     }
    /// }
    /// # }
    /// ```
    pub fn subscribe(&self) -> Subscription {
        Subscription::new(Arc::clone(&self.shared.snapshot))
    }
}
