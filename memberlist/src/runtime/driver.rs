//! The driver task: owns the [`Machine`], feeds it every input and carries out its outputs
//! (see the [runtime](super) module's "How it runs").
//!
//! Go's handoff queues (`HandoffQueueDepth`) have no counterpart: a datagram is processed
//! whole as soon as it is read. Why, and how overload is bounded instead, is in SECURITY.md
//! ("No handoff queue").

use std::collections::HashMap;
use std::hash::Hash;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use smol_str::SmolStr;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tracing::{debug, trace, warn};

use crate::delegate::Delegate;
use crate::machine::{Event, Machine, State, StreamError, StreamId, StreamOutcome, Transmit};
use crate::metrics::{Counter, DropReason, Gauge, Histogram};
use crate::transport::{Transport, TransportError};
use crate::wire::Limit;

use super::error::{JoinFailure, JoinFailureReason};
use super::snapshot::Snapshot;
use super::stats::Counters;
use super::stream::{InboundRequest, StreamContext, run_outbound, serve_inbound};

/// The machine's clock is `std::time::Instant`; the runtime reads time from tokio's clock and
/// converts, so that tokio's paused time (tests) drives the machine as well.
pub(crate) fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// An API call, run by the driver with the machine at hand.
pub(crate) type Command<D> = Box<dyn FnOnce(&mut Core<D>, std::time::Instant) + Send>;

/// Notification ids the runtime hands to `Machine::queue_broadcast` live in the upper half
/// of the id space; the machine numbers its own (leave, metadata updates) from 1 up.
const RUNTIME_NOTIFY_BASE: u64 = 1 << 63;

/// Where the push/pulls of one join report: `None` when the peer was contacted.
pub(crate) type JoinReport = mpsc::UnboundedSender<Option<JoinFailure>>;

/// API calls waiting for a result, by key.
pub(crate) type Waiters<K, V> = HashMap<K, oneshot::Sender<V>>;

/// Registers a waiter for the value `key` will get; waiters whose caller is gone go.
pub(crate) fn waiter<K: Eq + Hash, V>(waiters: &mut Waiters<K, V>, key: K) -> oneshot::Receiver<V> {
    waiters.retain(|_, tx| !tx.is_closed());
    let (tx, rx) = oneshot::channel();
    waiters.insert(key, tx);
    rx
}

/// Gives `value` to the waiter for `key`, if any.
fn wake<K: Eq + Hash, V>(waiters: &mut Waiters<K, V>, key: &K, value: V) {
    if let Some(tx) = waiters.remove(key) {
        let _ = tx.send(value);
    }
}

/// The machine and the API calls waiting on it.
pub(crate) struct Core<D: Delegate> {
    pub(crate) machine: Machine<D>,
    join_streams: HashMap<StreamId, (String, SocketAddr, JoinReport)>,
    /// Waiters (see [`waiter`]) for the outcome of reliable messages, ping results and
    /// `Event::BroadcastFinished`.
    pub(crate) user_streams: Waiters<StreamId, Result<(), StreamError>>,
    pub(crate) pings: Waiters<u32, Option<Duration>>,
    pub(crate) broadcasts: Waiters<u64, ()>,
    next_notify: u64,
    stop: bool,
}

impl<D: Delegate> Core<D> {
    pub(crate) fn new(machine: Machine<D>) -> Self {
        Self {
            machine,
            join_streams: HashMap::new(),
            user_streams: HashMap::new(),
            pings: HashMap::new(),
            broadcasts: HashMap::new(),
            next_notify: RUNTIME_NOTIFY_BASE,
            stop: false,
        }
    }

    /// Asks the driver to stop after this command.
    pub(crate) fn stop(&mut self) {
        self.stop = true;
    }

    /// Starts a push/pull with every address of a join; each reports to `report` once done
    /// (at once when the machine cannot build the request).
    pub(crate) fn start_join(
        &mut self,
        now: std::time::Instant,
        targets: Vec<(String, SocketAddr)>,
        report: &JoinReport,
    ) {
        for (address, to) in targets {
            match self.machine.join(now, [to]).first() {
                Some(&id) => {
                    self.join_streams.insert(id, (address, to, report.clone()));
                }
                None => {
                    let failure = JoinFailure::new(address, JoinFailureReason::Request);
                    let _ = report.send(Some(failure.tried_at(to)));
                }
            }
        }
    }

    /// A notification id for a user broadcast, distinct from the machine's own.
    pub(crate) fn notify_id(&mut self) -> u64 {
        self.next_notify = self.next_notify.wrapping_add(1) | RUNTIME_NOTIFY_BASE;
        self.next_notify
    }

    /// Tells a waiting `send_reliable` how its stream ended, before the machine gets the
    /// outcome.
    fn observe_outcome(&mut self, id: StreamId, outcome: &StreamOutcome) {
        let result = match outcome {
            StreamOutcome::Failed(e) => Err(e.clone()),
            _ => Ok(()),
        };
        wake(&mut self.user_streams, &id, result);
    }

    /// Resolves the API calls an event completes.
    fn on_event(&mut self, event: &Event) {
        match *event {
            Event::JoinResult {
                id,
                contacted,
                ref error,
            } => {
                if let Some((address, to, report)) = self.join_streams.remove(&id) {
                    // The machine gives the reason whenever it did not contact the peer;
                    // `Request` stands in should that ever not hold.
                    let reason = error.clone().map_or(JoinFailureReason::Request, Into::into);
                    let failure = JoinFailure::new(address, reason).tried_at(to);
                    let _ = report.send((!contacted).then_some(failure));
                }
            }
            Event::PingResult { seq_no, rtt } => wake(&mut self.pings, &seq_no, rtt),
            Event::BroadcastFinished(id) => wake(&mut self.broadcasts, &id, ()),
            _ => {}
        }
    }
}

/// Everything the driver task owns besides the transport.
pub(crate) struct Driver<T: Transport, D: Delegate> {
    pub(crate) core: Core<D>,
    pub(crate) transport: Arc<T>,
    pub(crate) commands: mpsc::Receiver<Command<D>>,
    pub(crate) ctx: Arc<StreamContext>,
    pub(crate) inbound_rx: mpsc::Receiver<InboundRequest>,
    pub(crate) inbound_limit: Arc<Semaphore>,
    pub(crate) transmit_tx: mpsc::Sender<Transmit>,
    pub(crate) sender: tokio::task::JoinHandle<()>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) snapshot: Arc<Mutex<Snapshot>>,
    pub(crate) stopped: watch::Sender<bool>,
    pub(crate) name: SmolStr,
}

/// Marks the node stopped (and ends the subscriptions) even if the driver unwinds.
struct StoppedGuard<'a> {
    snapshot: &'a Mutex<Snapshot>,
    stopped: &'a watch::Sender<bool>,
}

impl Drop for StoppedGuard<'_> {
    fn drop(&mut self) {
        let mut snapshot = self.snapshot.lock().unwrap_or_else(PoisonError::into_inner);
        snapshot.running = false;
        snapshot.events.close();
        drop(snapshot);
        self.stopped.send_replace(true);
    }
}

impl<T: Transport, D: Delegate + 'static> Driver<T, D> {
    /// The driver loop; returns when the node is shut down or every handle is gone.
    pub(crate) async fn run(mut self) {
        let snapshot = Arc::clone(&self.snapshot);
        let stopped = self.stopped.clone();
        let _guard = StoppedGuard {
            snapshot: &snapshot,
            stopped: &stopped,
        };
        let transport = Arc::clone(&self.transport);
        // Both futures are cancel-safe, but they are kept across iterations anyway and only
        // replaced once they complete, so nothing is recreated per input.
        let mut recv = transport.recv_from();
        let mut accept = transport.accept();
        let mut accepting = true;
        let mut outbound: JoinSet<(StreamId, StreamOutcome)> = JoinSet::new();
        let mut outbound_ids: HashMap<tokio::task::Id, StreamId> = HashMap::new();
        let mut inbound: JoinSet<()> = JoinSet::new();
        let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(
            self.core.machine.poll_timeout(),
        ));
        tokio::pin!(sleep);
        debug!(node = %self.name, "memberlist driver started");
        loop {
            sleep.as_mut().reset(tokio::time::Instant::from_std(
                self.core.machine.poll_timeout(),
            ));
            tokio::select! {
                cmd = self.commands.recv() => match cmd {
                    // Every machine input a command makes takes this instant.
                    Some(cmd) => cmd(&mut self.core, now()),
                    None => {
                        debug!("every memberlist handle is gone; stopping");
                        break;
                    }
                },
                received = &mut recv => {
                    recv = transport.recv_from();
                    match received {
                        Ok((data, from)) => self.core.machine.handle_datagram(now(), from, &data),
                        Err(e) if e.is_shutdown() => {
                            debug!("transport shut down; stopping");
                            break;
                        }
                        Err(e) => warn!(error = %e, "receiving a datagram failed"),
                    }
                }
                accepted = &mut accept, if accepting => {
                    accept = transport.accept();
                    match accepted {
                        Ok((stream, from)) => self.spawn_inbound(&mut inbound, stream, from),
                        Err(e) if e.is_shutdown() => accepting = false,
                        Err(e) => warn!(error = %e, "accepting a stream failed"),
                    }
                }
                Some(req) = self.inbound_rx.recv() => self.on_inbound(req),
                Some(done) = outbound.join_next_with_id(), if !outbound.is_empty() => {
                    let (id, outcome) = match done {
                        Ok((task, (id, outcome))) => {
                            outbound_ids.remove(&task);
                            (id, outcome)
                        }
                        Err(e) => {
                            let Some(id) = outbound_ids.remove(&e.id()) else {
                                continue;
                            };
                            debug!(error = %e, "a stream task ended without an outcome");
                            (id, StreamOutcome::Failed(StreamError::Aborted))
                        }
                    };
                    if matches!(outcome, StreamOutcome::Failed(_)) {
                        self.counters.bump(Counter::StreamFailures);
                    }
                    self.core.observe_outcome(id, &outcome);
                    self.core.machine.handle_stream_reply(now(), id, outcome);
                }
                Some(_) = inbound.join_next(), if !inbound.is_empty() => {}
                () = &mut sleep => {
                    let t = now();
                    let rounds = self.counters.count(Counter::GossipRounds);
                    let started = std::time::Instant::now();
                    self.core.machine.handle_timeout(t);
                    if self.counters.count(Counter::GossipRounds) != rounds {
                        // Go's `memberlist.gossip` timer: the real time the step took.
                        let took = started.elapsed().as_secs_f64();
                        self.counters.metrics.record(Histogram::Gossip, took);
                    }
                    if self.core.machine.poll_timeout() <= t {
                        // Never spin on a deadline the machine does not move.
                        trace!("machine deadline did not advance");
                        let retry = tokio::time::Instant::from_std(t) + Duration::from_millis(1);
                        sleep.as_mut().reset(retry);
                        (&mut sleep).await;
                    }
                }
            }
            self.flush(&mut outbound, &mut outbound_ids);
            if self.core.stop {
                break;
            }
        }
        drop(recv);
        drop(accept);
        let name = self.name.clone();
        self.finish(outbound, inbound).await;
        debug!(node = %name, "memberlist driver stopped");
    }

    /// Spawns the task serving an accepted stream, or closes it when too many are served.
    fn spawn_inbound(&self, inbound: &mut JoinSet<()>, stream: T::Stream, from: SocketAddr) {
        self.counters.bump(Counter::TcpAccept);
        match Arc::clone(&self.inbound_limit).try_acquire_owned() {
            Ok(permit) => {
                let ctx = Arc::clone(&self.ctx);
                inbound.spawn(serve_inbound(stream, from, ctx, permit));
            }
            Err(_) => {
                let limit = Some(Limit::InboundStreams);
                self.counters
                    .inbound_stream_dropped(DropReason::Limit, limit);
                debug!(%from, "too many inbound streams; closing a new one");
            }
        }
    }

    fn on_inbound(&mut self, req: InboundRequest) {
        let machine = &mut self.core.machine;
        let answer = match req.msg {
            Ok(msg) => machine.handle_stream(now(), req.from, msg),
            Err(error) => machine.stream_error_reply(&error).map(bytes::Bytes::from),
        };
        let _ = req.reply.send(answer);
    }

    /// Carries out everything the machine produced.
    fn flush(
        &mut self,
        outbound: &mut JoinSet<(StreamId, StreamOutcome)>,
        ids: &mut HashMap<tokio::task::Id, StreamId>,
    ) {
        while let Some(t) = self.core.machine.poll_transmit() {
            match self.transmit_tx.try_send(t) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(t)) => {
                    let queue_full = Counter::PacketsDropped(DropReason::QueueFull);
                    self.counters.bump(queue_full);
                    debug!(to = %t.to, "send queue full; dropping a datagram");
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
        while let Some(req) = self.core.machine.poll_stream_request() {
            self.counters.bump(Counter::TcpConnect);
            trace!(to = %req.to, kind = ?req.kind, "opening a stream");
            let id = req.id;
            let task = run_outbound(Arc::clone(&self.transport), req, Arc::clone(&self.ctx));
            let handle = outbound.spawn(async move { (id, task.await) });
            ids.insert(handle.id(), id);
        }
        let mut events = Vec::new();
        while let Some(e) = self.core.machine.poll_event() {
            events.push(e);
        }
        self.refresh_snapshot(&events);
        for event in events {
            if matches!(event, Event::Conflict { .. }) {
                self.counters.metrics.increment(Counter::Conflicts, 1);
            }
            self.core.on_event(&event);
        }
    }

    /// Brings the snapshot up to date and, under the same lock, sends subscribers the
    /// step's membership events (worked out only when someone subscribed).
    fn refresh_snapshot(&mut self, events: &[Event]) {
        let machine = &mut self.core.machine;
        let mut snap = self.snapshot.lock().unwrap_or_else(PoisonError::into_inner);
        let mut previous = snap.events.has_subscribers().then(Vec::new);
        let changed = snap.update(machine, previous.as_mut());
        if let Some(previous) = previous {
            snap.publish(events, previous);
        }
        if changed {
            for state in [State::Alive, State::Suspect, State::Dead, State::Left] {
                let members = snap.count(state) as f64;
                self.counters.metrics.set(Gauge::Members(state), members);
            }
        }
        let queued = machine.queued_broadcasts();
        if queued != snap.queued_broadcasts {
            snap.queued_broadcasts = queued;
            self.counters
                .metrics
                .set(Gauge::BroadcastQueue, queued as f64);
        }
    }

    /// Stops everything: pending datagrams are still handed to the transport (so a leave
    /// message queued just before a shutdown goes out), then the transport is shut down and
    /// every stream task is aborted.
    async fn finish(
        self,
        mut outbound: JoinSet<(StreamId, StreamOutcome)>,
        mut inbound: JoinSet<()>,
    ) {
        let Self {
            transport,
            transmit_tx,
            mut sender,
            ctx,
            ..
        } = self;
        drop(transmit_tx);
        let flush_for = ctx.tcp_timeout.min(Duration::from_secs(1));
        if tokio::time::timeout(flush_for, &mut sender).await.is_err() {
            sender.abort();
        }
        if let Err(e) = transport.shutdown().await {
            warn!(error = %e, "shutting the transport down failed");
        }
        outbound.shutdown().await;
        inbound.shutdown().await;
    }
}

/// The sender task: hands datagrams to the transport in order. A dedicated task keeps the
/// driver from ever waiting on the network, while the bounded queue in front of it drops
/// datagrams (as a congested network would) rather than growing without bound.
pub(crate) async fn send_datagrams<T: Transport>(
    transport: Arc<T>,
    mut queue: mpsc::Receiver<Transmit>,
    counters: Arc<Counters>,
) {
    while let Some(t) = queue.recv().await {
        match transport.send_to(t.to, &t.data).await {
            Ok(()) => {}
            Err(TransportError::Shutdown) => break,
            Err(e @ TransportError::DatagramTooLarge { .. }) => {
                counters.bump(Counter::SendErrors);
                warn!(to = %t.to, error = %e, "cannot send a datagram");
            }
            Err(e) => {
                counters.bump(Counter::SendErrors);
                debug!(to = %t.to, error = %e, "sending a datagram failed");
            }
        }
    }
}
