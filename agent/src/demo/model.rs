//! What Go's formulas predict for the demo's preset and cluster size, so that the measured
//! times can be printed next to an honest expectation.

use std::time::Duration;

use memberlist::machine::ProtocolConfig;
use memberlist::machine::timing::{push_pull_scale, suspicion_remaining, suspicion_timeout};

/// The expectation for a crash in a cluster of `n` nodes running one preset.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Model {
    /// Go's `ProbeInterval` (T).
    pub(crate) probe_interval: Duration,
    /// Confirmations that bring the suspicion timeout down to its minimum
    /// (`SuspicionMult − 2`, or 0 when `N − 2` is smaller).
    pub(crate) confirmations: u32,
    /// The suspicion timeout once every confirmation has arrived:
    /// `SuspicionMult · max(1, log10 N) · ProbeInterval`.
    pub(crate) suspicion_min: Duration,
    /// The suspicion timeout without any confirmation (`SuspicionMaxTimeoutMult · min`); equal
    /// to the minimum when no confirmation is expected, as Go's timer then starts at `min`.
    pub(crate) suspicion_max: Duration,
    /// SWIM's mean time from a crash to its first detection, `T · e/(e − 1)`.
    pub(crate) first_suspect: Duration,
    /// Rough gossip rounds until a message reached every node:
    /// `ceil(ln N / ln(GossipNodes + 1)) + 1`.
    pub(crate) gossip_rounds: u32,
    /// `gossip_rounds · GossipInterval`.
    pub(crate) gossip_spread: Duration,
    /// The push/pull interval scaled to N, which repairs what gossip missed.
    pub(crate) push_pull: Duration,
}

impl Model {
    /// The model for `protocol`'s timers and a cluster of `n` nodes (all of them still in
    /// the member list when the suspicion starts, as after a crash).
    pub(crate) fn new(protocol: &ProtocolConfig, n: usize) -> Self {
        let t = protocol.probe_interval;
        let min = suspicion_timeout(protocol.suspicion_mult, n, t);
        let mut k = protocol.suspicion_mult.saturating_sub(2);
        if (n.saturating_sub(2) as u64) < u64::from(k) {
            k = 0;
        }
        let max = if k == 0 {
            min
        } else {
            suspicion_remaining(
                0,
                k,
                Duration::ZERO,
                min,
                min.saturating_mul(protocol.suspicion_max_timeout_mult),
            )
        };
        let e = std::f64::consts::E;
        let fanout = protocol.gossip_nodes.max(1) as f64 + 1.0;
        let rounds = ((n.max(2) as f64).ln() / fanout.ln()).ceil() as u32 + 1;
        Self {
            probe_interval: t,
            confirmations: k,
            suspicion_min: min,
            suspicion_max: max,
            first_suspect: t.mul_f64(e / (e - 1.0)),
            gossip_rounds: rounds,
            gossip_spread: protocol.gossip_interval.saturating_mul(rounds),
            push_pull: push_pull_scale(protocol.push_pull_interval, n),
        }
    }

    /// How long after the crash a missing first suspicion means the demo failed: ten probe
    /// intervals (SWIM's chance that nobody probed the node in that long is about e⁻¹⁰).
    pub(crate) fn suspect_deadline(&self) -> Duration {
        self.probe_interval.saturating_mul(10)
    }

    /// How long after the first suspicion a survivor that does not yet see the node dead means
    /// the demo failed: the longest suspicion timeout, five probe intervals and 5 s of slack.
    pub(crate) fn dead_deadline(&self) -> Duration {
        self.suspicion_max + self.probe_interval.saturating_mul(5) + Duration::from_secs(5)
    }

    /// How long the joins (or a leave) may take to reach everyone before the demo fails:
    /// gossip normally does it within a second; a node it missed learns at its next push/pull,
    /// so the bound is a push/pull interval plus 5 s.
    pub(crate) fn spread_deadline(&self) -> Duration {
        self.push_pull + Duration::from_secs(5)
    }

    /// Whether `after_suspect` (first dead − first suspicion) lies in the model's range;
    /// `slack` allows for scheduling on a busy machine.
    pub(crate) fn dead_within(&self, after_suspect: Duration, slack: Duration) -> bool {
        after_suspect + slack >= self.suspicion_min && after_suspect <= self.suspicion_max + slack
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn local_preset_five_nodes() {
        let m = Model::new(&ProtocolConfig::local("a"), 5);
        assert_eq!(m.confirmations, 1);
        assert_eq!(m.suspicion_min, ms(3000));
        assert_eq!(m.suspicion_max, ms(18_000));
        assert!(m.first_suspect > ms(1581) && m.first_suspect < ms(1583));
        assert_eq!(m.gossip_rounds, 3);
        assert_eq!(m.gossip_spread, ms(300));
    }

    #[test]
    fn local_preset_fifty_nodes_scales_with_log10() {
        let m = Model::new(&ProtocolConfig::local("a"), 50);
        assert_eq!(m.suspicion_min, ms(3 * 1698));
        assert_eq!(m.suspicion_max, ms(6 * 3 * 1698));
        assert_eq!(m.gossip_rounds, 4);
        assert_eq!(m.push_pull, Duration::from_secs(30));
        assert_eq!(m.spread_deadline(), Duration::from_secs(35));
    }

    #[test]
    fn lan_preset_matches_the_spec_table() {
        let m = Model::new(&ProtocolConfig::lan("a"), 10);
        assert_eq!(m.confirmations, 2);
        assert_eq!(m.suspicion_min, ms(4000));
        assert_eq!(m.suspicion_max, ms(24_000));
    }

    #[test]
    fn two_nodes_expect_no_confirmation() {
        let m = Model::new(&ProtocolConfig::local("a"), 2);
        assert_eq!(m.confirmations, 0);
        assert_eq!(m.suspicion_min, ms(3000));
        assert_eq!(m.suspicion_max, m.suspicion_min);
    }

    #[test]
    fn range_check_allows_slack() {
        let m = Model::new(&ProtocolConfig::local("a"), 5);
        assert!(m.dead_within(ms(3000), ms(0)));
        assert!(m.dead_within(ms(2950), ms(100)));
        assert!(!m.dead_within(ms(2000), ms(100)));
        assert!(!m.dead_within(ms(19_000), ms(100)));
        assert!(m.suspect_deadline() >= ms(10_000));
        assert!(m.dead_deadline() > m.suspicion_max);
    }
}
