//! The counters and gauges the machine keeps.

use std::time::Duration;

/// Counters and gauges the machine keeps (exported as metrics by the runtime).
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
    /// RTT of the last direct probe answered in time.
    pub last_rtt: Option<Duration>,
    /// Datagrams sent and their bytes.
    pub packets_sent: u64,
    /// Bytes of datagrams sent.
    pub bytes_sent: u64,
    /// Datagrams received.
    pub packets_received: u64,
    /// Datagrams or messages dropped because they could not be decoded or opened.
    pub packets_dropped: u64,
    /// Follow-up push/pulls run after a join (beyond Go; see
    /// [`ProtocolConfig::join_push_pulls`](super::ProtocolConfig::join_push_pulls)).
    pub join_follow_ups: u64,
    /// Gossip rounds run: the gossip ticks at which something could be sent (our queue held
    /// a broadcast, or the delegate may have some). Go's `memberlist.gossip` timer also
    /// counts the idle ticks; here those are skipped without a wake-up and counted in
    /// [`gossip_ticks_idle`](Self::gossip_ticks_idle).
    pub gossip_rounds: u64,
    /// Push/pull states received: requests we accepted and replies to ours.
    pub push_pulls: u64,
    /// Of [`push_pulls`](Self::push_pulls), those that held exactly our view and were
    /// merged from their bytes without being decoded (the equal-view path).
    pub push_pulls_same_view: u64,
    /// Gossip ticks that passed with nothing to send (see
    /// [`Delegate::has_broadcasts`](crate::delegate::Delegate::has_broadcasts)).
    pub gossip_ticks_idle: u64,
}
