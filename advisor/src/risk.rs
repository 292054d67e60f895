//! False suspicions and deaths caused by datagram loss alone.

use std::time::Duration;

use memberlist_core::machine::ProtocolConfig;

use crate::figure::{secs, small};
use crate::{Figure, Span};

/// How often loss alone makes a healthy node suspected, or declared dead.
///
/// A probe of a healthy node fails only if the direct ping or its ack is lost, every
/// indirect path fails, and the TCP fallback fails too. Loss is independent per datagram.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Risk {
    /// The direct ping or its ack is lost: `1 − (1 − p)²`.
    pub direct_failure: Figure<f64>,
    /// One indirect path fails (ping-req, ping, ack, forwarded ack): `1 − (1 − p)⁴`.
    pub indirect_path_failure: Figure<f64>,
    /// The TCP fallback fails (1 when it is disabled).
    pub tcp_failure: Figure<f64>,
    /// Chance that one probe of a healthy node ends in a suspicion.
    pub suspicion_per_probe: Figure<f64>,
    /// The same without the TCP fallback (what a simulator that drops only datagrams sees
    /// with TCP pings disabled).
    pub udp_only_per_probe: Figure<f64>,
    /// False suspicions a node raises per hour.
    pub per_node_hour: Figure<f64>,
    /// False suspicions in the whole cluster per hour.
    pub per_cluster_hour: Figure<f64>,
    /// Upper bound on false deaths in the whole cluster per hour.
    pub false_deaths_per_cluster_hour: Figure<f64>,
}

pub(crate) fn risk(
    cfg: &ProtocolConfig,
    n: usize,
    p: f64,
    limit: u32,
    suspicion: &Span,
    spread: &Duration,
) -> Risk {
    let ok = 1.0 - p;
    let q_d = 1.0 - ok.powi(2);
    let q_i = 1.0 - ok.powi(4);
    // Relays are other live members: at most N − 2 of them.
    let relays = cfg.indirect_checks.min(n - 2);
    let q_t = if cfg.disable_tcp_pings { 1.0 } else { q_i };
    let udp = q_d * q_i.powi(relays as i32);
    let per_probe = udp * q_t;
    let probes_per_hour = 3600.0 / cfg.probe_interval.as_secs_f64();
    let node_hour = per_probe * probes_per_hour;
    let cluster_hour = node_hour * n as f64;
    // Each node that learns the refutation sends it `limit` times to random members, so
    // N × limit sends in all: a given member misses every one of them with probability
    // about e^(−limit × (1 − p)); any of the N members missing it (a union bound) can let
    // its timer run out.
    let miss_one = (-(f64::from(limit)) * ok).exp();
    let in_time = *spread < suspicion.low;
    let miss_any = if in_time {
        (n as f64 * miss_one).min(1.0)
    } else {
        1.0
    };
    let deaths = cluster_hour * miss_any;
    let death_words = if in_time {
        format!(
            "false suspicions per cluster-hour × min(1, N × e^(−limit × (1 − p))) = × {}: the \
             accused hears of the suspicion (directly from the prober and by gossip) and \
             refutes; its alive spreads in {} (before the shortest timeout {}) with {} sends \
             by every node, so a member misses it with probability about e^(−{limit} × {:.2}); \
             an upper bound (push/pull repairs more)",
            small(miss_any),
            secs(*spread),
            secs(suspicion.low),
            limit,
            ok
        )
    } else {
        format!(
            "equal to the false suspicions: the refutation needs {} to spread, longer than the \
             shortest suspicion timeout {}",
            secs(*spread),
            secs(suspicion.low)
        )
    };
    let tcp_words = if cfg.disable_tcp_pings {
        "1: the TCP fallback is disabled".to_owned()
    } else {
        format!(
            "1 − (1 − p)⁴ = {}: connect, SYN-ACK, ping and ack over TCP, counted as failing \
             when any segment is lost (a retransmission seldom fits the probe interval: \
             Linux retries a SYN after 1 s); pessimistic for long intervals, and 0 in a \
             simulator that drops only datagrams",
            small(q_i)
        )
    };
    Risk {
        direct_failure: Figure::new(
            q_d,
            "probability",
            format!("1 − (1 − p)² = {}: the ping or its ack is lost", small(q_d)),
        ),
        indirect_path_failure: Figure::new(
            q_i,
            "probability",
            format!(
                "1 − (1 − p)⁴ = {}: it fails unless ping-req, ping, ack and the forwarded ack \
                 all arrive",
                small(q_i)
            ),
        ),
        tcp_failure: Figure::new(q_t, "probability", tcp_words),
        suspicion_per_probe: Figure::new(
            per_probe,
            "probability",
            format!(
                "q_direct × q_indirect^K × q_tcp with K = {relays} relays (IndirectChecks {}, \
                 at most N − 2)",
                cfg.indirect_checks
            ),
        ),
        udp_only_per_probe: Figure::new(
            udp,
            "probability",
            format!("q_direct × q_indirect^{relays}, if the TCP fallback did not help"),
        ),
        per_node_hour: Figure::new(
            node_hour,
            "per hour",
            format!(
                "P(suspect) × 3600 s / T = P × {probes_per_hour:.0} probes an hour; awareness \
                 slows a node's probing after failures, so this is a little high"
            ),
        ),
        per_cluster_hour: Figure::new(
            cluster_hour,
            "per hour",
            format!("N × P(suspect) × 3600 / T = {n} × per node-hour"),
        ),
        false_deaths_per_cluster_hour: Figure::new(deaths, "per hour", death_words),
    }
}
