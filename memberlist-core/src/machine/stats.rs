//! The machine's counters and gauges, read back from what it reported to its metrics sink.

use std::time::Duration;

use crate::metrics::{Counter, DropReason, Gauge, Histogram, InMemoryMetrics};

/// The machine's counters and gauges, as one struct, derived by [`Stats::from_metrics`]
/// from the counts an [`InMemoryMetrics`] sink kept.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Instant;
/// use memberlist_core::delegate::NoopDelegate;
/// use memberlist_core::machine::{Machine, ProtocolConfig, Stats};
/// use memberlist_core::metrics::InMemoryMetrics;
/// use memberlist_core::wire::Pipeline;
///
/// let (addr, now) = ("127.0.0.1:7946".parse()?, Instant::now());
/// let cfg = ProtocolConfig::lan("a");
/// let mut machine = Machine::new(cfg, Pipeline::new(), addr, NoopDelegate, 1, now)?;
/// let counts = Arc::new(InMemoryMetrics::new());
/// machine.set_metrics(counts.clone());
/// machine.handle_datagram(now, "127.0.0.1:7947".parse()?, b"junk");
/// let stats = Stats::from_metrics(&counts);
/// assert_eq!((stats.packets_received, stats.packets_dropped), (1, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Accepted alive state changes (`memberlist.msg.alive`).
    pub alive: u64,
    /// Accepted suspicions (`memberlist.msg.suspect`).
    pub suspect: u64,
    /// Accepted deaths and leaves (`memberlist.msg.dead`).
    pub dead: u64,
    /// Times we refuted an accusation about ourselves.
    pub refutations: u64,
    /// Probes run with an awareness-scaled interval (`memberlist.degraded.probe`).
    pub degraded_probes: u64,
    /// Suspicions that expired without all confirmations (`memberlist.degraded.timeout`).
    pub degraded_timeouts: u64,
    /// Current awareness score (`memberlist.health.score`).
    pub health_score: u32,
    /// Round-trip time of the last direct probe answered in time.
    pub last_rtt: Option<Duration>,
    /// Datagrams sent (handed to the transport).
    pub packets_sent: u64,
    /// Bytes of datagrams sent.
    pub bytes_sent: u64,
    /// Datagrams received.
    pub packets_received: u64,
    /// Bytes of datagrams received.
    pub bytes_received: u64,
    /// Datagrams or messages received and dropped (every reason but a full queue).
    pub packets_dropped: u64,
    /// Follow-up push/pulls run after a join ([`Counter::JoinFollowUps`]).
    pub join_follow_ups: u64,
    /// Gossip rounds run ([`Counter::GossipRounds`]).
    pub gossip_rounds: u64,
    /// Push/pull states received: requests we accepted and replies to ours.
    pub push_pulls: u64,
    /// Push/pull states equal to our view, merged without decoding
    /// ([`Counter::PushPullsSameView`]).
    pub push_pulls_same_view: u64,
    /// Gossip ticks that passed with nothing to send ([`Counter::GossipTicksIdle`]).
    pub gossip_ticks_idle: u64,
}

impl Stats {
    /// The counters and gauges `counts` holds.
    pub fn from_metrics(counts: &InMemoryMetrics) -> Self {
        let c = |counter| counts.counter(counter);
        let rtt = counts.histogram(Histogram::ProbeRtt);
        let dropped = DropReason::ALL
            .iter()
            .filter(|r| **r != DropReason::QueueFull)
            .map(|r| c(Counter::PacketsDropped(*r)))
            .sum();
        Stats {
            alive: c(Counter::MsgAlive),
            suspect: c(Counter::MsgSuspect),
            dead: c(Counter::MsgDead),
            refutations: c(Counter::Refutations),
            degraded_probes: c(Counter::DegradedProbe),
            degraded_timeouts: c(Counter::DegradedTimeout),
            health_score: counts.gauge(Gauge::HealthScore) as u32,
            last_rtt: (rtt.count > 0).then(|| Duration::from_secs_f64(rtt.last.max(0.0))),
            packets_sent: c(Counter::UdpSentPackets),
            bytes_sent: c(Counter::UdpSentBytes),
            packets_received: c(Counter::UdpReceivedPackets),
            bytes_received: c(Counter::UdpReceivedBytes),
            packets_dropped: dropped,
            join_follow_ups: c(Counter::JoinFollowUps),
            gossip_rounds: c(Counter::GossipRounds),
            push_pulls: c(Counter::PushPulls),
            push_pulls_same_view: c(Counter::PushPullsSameView),
            gossip_ticks_idle: c(Counter::GossipTicksIdle),
        }
    }
}
