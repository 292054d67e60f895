//! The demo's expectation: the advisor's [`Prediction`] for its preset and cluster size (one
//! model of Go's formulas, `memberlist::advisor`), and the deadlines past which the demo
//! reports a failure.

use std::time::Duration;

use memberlist::advisor::{Prediction, predict};
use memberlist::machine::ProtocolConfig;

/// The prediction for a crash in a cluster of `n` nodes running one preset, with the demo's
/// deadlines.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Model {
    /// What the advisor predicts for the preset, `n` nodes and no loss.
    pub(crate) prediction: Prediction,
}

impl Model {
    /// The model for `protocol`'s timers and a cluster of `n` nodes (all of them still in
    /// the member list when the suspicion starts, as after a crash).
    pub(crate) fn new(protocol: &ProtocolConfig, n: usize) -> Result<Self, String> {
        let prediction =
            predict(protocol, n, 0.0).map_err(|e| format!("cannot model the demo: {e}"))?;
        Ok(Self { prediction })
    }

    /// Go's `ProbeInterval` (T).
    fn probe_interval(&self) -> Duration {
        self.prediction.probe_interval
    }

    /// Confirmations that bring the suspicion timeout down to its minimum.
    pub(crate) fn confirmations(&self) -> u32 {
        self.prediction.confirmations.value
    }

    /// The suspicion timeout once every confirmation has arrived.
    pub(crate) fn suspicion_min(&self) -> Duration {
        self.prediction.suspicion_timeout.value.low
    }

    /// The suspicion timeout without any confirmation (the minimum when none is expected).
    pub(crate) fn suspicion_max(&self) -> Duration {
        self.prediction.suspicion_timeout.value.high
    }

    /// The expected time from a crash to its first suspicion.
    pub(crate) fn first_suspect(&self) -> Duration {
        self.prediction.first_suspicion.value
    }

    /// Estimated gossip rounds until a message reached every node.
    pub(crate) fn gossip_rounds(&self) -> f64 {
        self.prediction.dissemination_rounds.value
    }

    /// `gossip_rounds · GossipInterval`.
    pub(crate) fn gossip_spread(&self) -> Duration {
        self.prediction.dissemination_time.value
    }

    /// How long after the crash a missing first suspicion means the demo failed: ten probe
    /// intervals (SWIM's chance that nobody probed the node in that long is about e⁻¹⁰).
    pub(crate) fn suspect_deadline(&self) -> Duration {
        self.probe_interval().saturating_mul(10)
    }

    /// How long after the first suspicion a survivor that does not yet see the node dead means
    /// the demo failed: the longest suspicion timeout, five probe intervals and 5 s of slack.
    pub(crate) fn dead_deadline(&self) -> Duration {
        self.suspicion_max() + self.probe_interval().saturating_mul(5) + Duration::from_secs(5)
    }

    /// How long the joins (or a leave) may take to reach everyone before the demo fails:
    /// gossip normally does it within a second; a node it missed learns at its next push/pull,
    /// so the bound is a push/pull interval plus 5 s.
    pub(crate) fn spread_deadline(&self) -> Duration {
        self.prediction.push_pull_interval.value + Duration::from_secs(5)
    }

    /// Whether `after_suspect` (first dead − first suspicion) lies in the model's range;
    /// `slack` allows for scheduling on a busy machine.
    pub(crate) fn dead_within(&self, after_suspect: Duration, slack: Duration) -> bool {
        after_suspect + slack >= self.suspicion_min()
            && after_suspect <= self.suspicion_max() + slack
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn local_preset_five_nodes() {
        let m = Model::new(&ProtocolConfig::local("a"), 5).unwrap();
        assert_eq!(m.confirmations(), 1);
        assert_eq!(m.suspicion_min(), ms(3000));
        assert_eq!(m.suspicion_max(), ms(18_000));
        // The wait for a probe, T·(1 − (3/4)^5) / (5 · 1/4 · (1 − (3/4)^4)) = 0.893 s, plus
        // the probe's period T (→ 2 T for large N).
        assert!(m.first_suspect() > ms(1892) && m.first_suspect() < ms(1894));
        // 2 ln 5 / (3 + 2 × 0.1 s / 1 s) ≈ 1.0 rounds.
        assert!((m.gossip_rounds() - 2.0 * 5f64.ln() / 3.2).abs() < 1e-9);
        assert_eq!(
            m.gossip_spread(),
            Duration::from_millis(100).mul_f64(m.gossip_rounds())
        );
    }

    #[test]
    fn local_preset_fifty_nodes_scales_with_log10() {
        let m = Model::new(&ProtocolConfig::local("a"), 50).unwrap();
        assert_eq!(m.suspicion_min(), ms(3 * 1698));
        assert_eq!(m.suspicion_max(), ms(6 * 3 * 1698));
        assert_eq!(
            m.prediction.push_pull_interval.value,
            Duration::from_secs(30)
        );
        assert_eq!(m.spread_deadline(), Duration::from_secs(35));
    }

    #[test]
    fn lan_preset_matches_the_spec_table() {
        let m = Model::new(&ProtocolConfig::lan("a"), 10).unwrap();
        assert_eq!(m.confirmations(), 2);
        assert_eq!(m.suspicion_min(), ms(4000));
        assert_eq!(m.suspicion_max(), ms(24_000));
    }

    #[test]
    fn two_nodes_expect_no_confirmation() {
        let m = Model::new(&ProtocolConfig::local("a"), 2).unwrap();
        assert_eq!(m.confirmations(), 0);
        assert_eq!(m.suspicion_min(), ms(3000));
        assert_eq!(m.suspicion_max(), m.suspicion_min());
    }

    #[test]
    fn range_check_allows_slack() {
        let m = Model::new(&ProtocolConfig::local("a"), 5).unwrap();
        assert!(m.dead_within(ms(3000), ms(0)));
        assert!(m.dead_within(ms(2950), ms(100)));
        assert!(!m.dead_within(ms(2000), ms(100)));
        assert!(!m.dead_within(ms(19_000), ms(100)));
        assert!(m.suspect_deadline() >= ms(10_000));
        assert!(m.dead_deadline() > m.suspicion_max());
    }
}
