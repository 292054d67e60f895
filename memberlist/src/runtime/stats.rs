//! Counters of the runtime.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::machine::State;
use crate::metrics::{Counter, DropReason, Gauge, Metrics, NoopMetrics};
use crate::wire::Limit;

/// Counters of a running node: the protocol machine's and the runtime's own.
///
/// ```
/// use memberlist::runtime::Stats;
/// let stats = Stats::default();
/// assert_eq!(stats.protocol.packets_dropped, 0);
/// assert_eq!(stats.streams_refused, 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// The protocol machine's counters: state changes, datagrams received and dropped
    /// (undecodable, wrong label, failed decryption), refutations, the health score...
    pub protocol: crate::machine::Stats,
    /// Inbound streams accepted from the transport (Go's `memberlist.tcp.accept`).
    pub streams_accepted: u64,
    /// Inbound streams closed at once because
    /// [`max_inbound_streams`](super::Config::max_inbound_streams) were being served.
    pub streams_refused: u64,
    /// Inbound push/pulls closed without an answer because
    /// [`max_concurrent_push_pulls`](super::Config::max_concurrent_push_pulls) were being
    /// served.
    pub push_pulls_refused: u64,
    /// Inbound streams dropped because they could not be read: undecodable, too long, timed
    /// out, wrong label, failed decryption, reset.
    pub inbound_stream_errors: u64,
    /// Streams we opened (push/pull, TCP ping fallback, reliable messages; Go's
    /// `memberlist.tcp.connect` counts only push/pulls).
    pub streams_opened: u64,
    /// Streams we opened that failed (dial, write, reply or timeout).
    pub stream_failures: u64,
    /// Datagrams the transport refused to send.
    pub transmit_errors: u64,
    /// Datagrams dropped because the send queue was full.
    pub transmits_dropped: u64,
}

/// The runtime's own counters, shared by the driver and the stream tasks, and the metrics
/// sink they report to.
pub(crate) struct Counters {
    pub(crate) streams_accepted: AtomicU64,
    pub(crate) streams_refused: AtomicU64,
    pub(crate) push_pulls_refused: AtomicU64,
    pub(crate) inbound_stream_errors: AtomicU64,
    pub(crate) streams_opened: AtomicU64,
    pub(crate) stream_failures: AtomicU64,
    pub(crate) transmit_errors: AtomicU64,
    pub(crate) transmits_dropped: AtomicU64,
    push_pulls_in_flight: AtomicI64,
    pub(crate) metrics: Arc<dyn Metrics>,
}

impl std::fmt::Debug for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counters").finish_non_exhaustive()
    }
}

impl Default for Counters {
    fn default() -> Self {
        Self::new(Arc::new(NoopMetrics))
    }
}

/// Holds one push/pull in the in-flight gauge until dropped.
pub(crate) struct PushPullInFlight(Arc<Counters>);

impl Drop for PushPullInFlight {
    fn drop(&mut self) {
        let n = self.0.push_pulls_in_flight.fetch_sub(1, Ordering::Relaxed) - 1;
        self.0.metrics.set(Gauge::PushPullInFlight, n as f64);
    }
}

impl Counters {
    pub(crate) fn new(metrics: Arc<dyn Metrics>) -> Self {
        Self {
            streams_accepted: AtomicU64::new(0),
            streams_refused: AtomicU64::new(0),
            push_pulls_refused: AtomicU64::new(0),
            inbound_stream_errors: AtomicU64::new(0),
            streams_opened: AtomicU64::new(0),
            stream_failures: AtomicU64::new(0),
            transmit_errors: AtomicU64::new(0),
            transmits_dropped: AtomicU64::new(0),
            push_pulls_in_flight: AtomicI64::new(0),
            metrics,
        }
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a push/pull as in flight until the guard is dropped.
    pub(crate) fn push_pull_started(self: &Arc<Self>) -> PushPullInFlight {
        let n = self.push_pulls_in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.metrics.set(Gauge::PushPullInFlight, n as f64);
        PushPullInFlight(Arc::clone(self))
    }

    /// An inbound stream was dropped before it was answered.
    pub(crate) fn inbound_stream_dropped(&self, reason: DropReason, limit: Option<Limit>) {
        Self::bump(&self.inbound_stream_errors);
        crate::metrics::count_drop(&*self.metrics, reason, limit, true);
    }

    /// Bytes written to a stream.
    pub(crate) fn stream_bytes_sent(&self, bytes: usize) {
        self.metrics.increment(Counter::TcpSentBytes, bytes as u64);
    }

    /// Reports what changed in the machine's counters since `before` (called by the driver
    /// after each input), and the member counts per state (alive, suspect, dead, left) when given.
    pub(crate) fn publish_machine(
        &self,
        before: &crate::machine::Stats,
        after: &crate::machine::Stats,
        counts: Option<[usize; 4]>,
    ) {
        let m = &*self.metrics;
        let delta = |c: Counter, b: u64, a: u64| {
            if a > b {
                m.increment(c, a - b);
            }
        };
        delta(Counter::MsgAlive, before.alive, after.alive);
        delta(Counter::MsgSuspect, before.suspect, after.suspect);
        delta(Counter::MsgDead, before.dead, after.dead);
        delta(Counter::Refutations, before.refutations, after.refutations);
        delta(
            Counter::DegradedProbe,
            before.degraded_probes,
            after.degraded_probes,
        );
        delta(
            Counter::DegradedTimeout,
            before.degraded_timeouts,
            after.degraded_timeouts,
        );
        if before.health_score != after.health_score {
            m.set(Gauge::HealthScore, f64::from(after.health_score));
        }
        if let Some(counts) = counts {
            let states = [State::Alive, State::Suspect, State::Dead, State::Left];
            for (state, n) in states.into_iter().zip(counts) {
                m.set(Gauge::Members(state), n as f64);
            }
        }
    }

    pub(crate) fn stats(&self, protocol: crate::machine::Stats) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            protocol,
            streams_accepted: get(&self.streams_accepted),
            streams_refused: get(&self.streams_refused),
            push_pulls_refused: get(&self.push_pulls_refused),
            inbound_stream_errors: get(&self.inbound_stream_errors),
            streams_opened: get(&self.streams_opened),
            stream_failures: get(&self.stream_failures),
            transmit_errors: get(&self.transmit_errors),
            transmits_dropped: get(&self.transmits_dropped),
        }
    }
}
