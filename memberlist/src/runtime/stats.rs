//! The counts behind [`Stats`]: everything the machine and the runtime report to the
//! metrics sink, kept on the way.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::metrics::{Counter, DropReason, Gauge, InMemoryMetrics, Metrics, NoopMetrics};
use crate::wire::Limit;

/// Counters of a running node: the protocol machine's and the runtime's own, read from
/// the same counts the metrics sink receives (one channel: every figure here is also a
/// metric of the catalog).
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
    /// The protocol machine's counters: state changes, datagrams sent, received and dropped
    /// (undecodable, wrong label, failed decryption), refutations, the health score...
    pub protocol: crate::machine::Stats,
    /// Inbound streams accepted from the transport (`memberlist.tcp.accept`).
    pub streams_accepted: u64,
    /// Inbound streams closed at once because
    /// [`max_inbound_streams`](super::Config::max_inbound_streams) were being served
    /// (`memberlist.limit.exceeded{limit="inbound_streams"}`).
    pub streams_refused: u64,
    /// Inbound push/pulls closed without an answer because
    /// [`max_concurrent_push_pulls`](super::Config::max_concurrent_push_pulls) were being
    /// served (`memberlist.limit.exceeded{limit="push_pulls"}`).
    pub push_pulls_refused: u64,
    /// Streams dropped because they could not be read (undecodable, too long, timed out,
    /// wrong label, failed decryption, reset): `memberlist.tcp.dropped`, the two refusals
    /// above left out.
    pub inbound_stream_errors: u64,
    /// Streams we opened: push/pull, TCP ping fallback, reliable messages
    /// (`memberlist.tcp.connect`; Go's counts only push/pulls).
    pub streams_opened: u64,
    /// Streams we opened that failed: dial, write, reply or timeout (`memberlist.tcp.failed`).
    pub stream_failures: u64,
    /// Datagrams the transport refused to send (`memberlist.udp.send.errors`).
    pub transmit_errors: u64,
    /// Datagrams dropped because the send queue was full
    /// (`memberlist.udp.dropped{reason="queue_full"}`).
    pub transmits_dropped: u64,
}

/// The counts of everything reported to the metrics sink (kept for [`Stats`]), the sink
/// the driver, the stream tasks and the machine report to, and the push/pull gauge's count.
pub(crate) struct Counters {
    counts: Arc<InMemoryMetrics>,
    /// The user's sink behind the counts: every update goes to both.
    pub(crate) metrics: Arc<dyn Metrics>,
    push_pulls_in_flight: AtomicI64,
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
    /// Counts on the way to `sink`.
    pub(crate) fn new(sink: Arc<dyn Metrics>) -> Self {
        let counts = Arc::new(InMemoryMetrics::new());
        Self {
            metrics: Arc::new((Arc::clone(&counts), sink)),
            counts,
            push_pulls_in_flight: AtomicI64::new(0),
        }
    }

    /// Adds one to `counter`.
    pub(crate) fn bump(&self, counter: Counter) {
        self.metrics.increment(counter, 1);
    }

    /// A counter's count so far.
    pub(crate) fn count(&self, counter: Counter) -> u64 {
        self.counts.counter(counter)
    }

    /// The Lifeguard health score the machine last reported.
    pub(crate) fn health_score(&self) -> u32 {
        self.counts.gauge(Gauge::HealthScore) as u32
    }

    /// Counts a push/pull as in flight until the guard is dropped.
    pub(crate) fn push_pull_started(self: &Arc<Self>) -> PushPullInFlight {
        let n = self.push_pulls_in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.metrics.set(Gauge::PushPullInFlight, n as f64);
        PushPullInFlight(Arc::clone(self))
    }

    /// An inbound stream was dropped before it was answered.
    pub(crate) fn inbound_stream_dropped(&self, reason: DropReason, limit: Option<Limit>) {
        crate::metrics::count_drop(&*self.metrics, reason, limit, true);
    }

    /// Everything counted so far, as [`Stats`].
    pub(crate) fn stats(&self) -> Stats {
        let c = |counter| self.counts.counter(counter);
        let streams_refused = c(Counter::LimitExceeded(Limit::InboundStreams));
        let push_pulls_refused = c(Counter::LimitExceeded(Limit::PushPulls));
        let streams_dropped: u64 = DropReason::ALL
            .iter()
            .map(|r| c(Counter::StreamsDropped(*r)))
            .sum();
        Stats {
            protocol: crate::machine::Stats::from_metrics(&self.counts),
            streams_accepted: c(Counter::TcpAccept),
            streams_refused,
            push_pulls_refused,
            inbound_stream_errors: streams_dropped
                .saturating_sub(streams_refused + push_pulls_refused),
            streams_opened: c(Counter::TcpConnect),
            stream_failures: c(Counter::StreamFailures),
            transmit_errors: c(Counter::SendErrors),
            transmits_dropped: c(Counter::PacketsDropped(DropReason::QueueFull)),
        }
    }
}
