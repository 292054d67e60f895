//! Protocol settings of the machine, with Go memberlist's three presets.

use std::time::Duration;

use smol_str::SmolStr;

use crate::wire::{PROTOCOL_VERSION_DEFAULT, PROTOCOL_VERSION_MAX, PROTOCOL_VERSION_MIN, Vsn};

/// Everything the protocol machine needs to know about timing and sizes. The values of
/// [`lan`](ProtocolConfig::lan), [`wan`](ProtocolConfig::wan) and
/// [`local`](ProtocolConfig::local) are Go's `DefaultLANConfig`, `DefaultWANConfig` and
/// `DefaultLocalConfig`.
///
/// ```
/// use std::time::Duration;
/// use memberlist_core::machine::ProtocolConfig;
///
/// let cfg = ProtocolConfig::lan("node-a");
/// assert_eq!(cfg.probe_interval, Duration::from_secs(1));
/// assert_eq!(ProtocolConfig::wan("x").suspicion_mult, 6);
/// assert!(cfg.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ProtocolConfig {
    /// This node's unique name.
    pub name: SmolStr,
    /// Protocol version spoken (1..=5; Go's default is 2).
    pub protocol_version: u8,
    /// Delegate protocol versions advertised in `Vsn` bytes 3..6: (min, max, current).
    pub delegate_versions: (u8, u8, u8),
    /// Deadline for stream dials and I/O.
    pub tcp_timeout: Duration,
    /// Relays asked to probe a node that did not answer a direct probe.
    pub indirect_checks: usize,
    /// Broadcast retransmit multiplier.
    pub retransmit_mult: u32,
    /// Suspicion timeout multiplier (α).
    pub suspicion_mult: u32,
    /// Upper bound of the suspicion timeout as a multiple of the lower bound (β).
    pub suspicion_max_timeout_mult: u32,
    /// Interval of push/pull anti-entropy (zero disables it); scaled with the cluster size.
    pub push_pull_interval: Duration,
    /// Interval between probes.
    pub probe_interval: Duration,
    /// How long to wait for a direct ack.
    pub probe_timeout: Duration,
    /// Turns off the TCP fallback probe.
    pub disable_tcp_pings: bool,
    /// Lifeguard: the probe interval is multiplied by up to this factor when we are unhealthy.
    pub awareness_max_multiplier: u32,
    /// Interval between gossip rounds (zero disables gossip).
    pub gossip_interval: Duration,
    /// Peers gossiped to per round.
    pub gossip_nodes: usize,
    /// How long dead nodes are still gossiped to (and kept before reaping).
    pub gossip_to_the_dead_time: Duration,
    /// Budget for piggybacked broadcasts in one packet.
    pub udp_buffer_size: usize,
    /// After this long, a dead node's name may be taken by another address (zero disables).
    pub dead_node_reclaim_time: Duration,
    /// The Lifeguard extensions (on by default, as in Go): awareness, dynamic suspicion
    /// timeouts, the "buddy" system (beyond Go, the suspicion also goes to the accused as soon
    /// as the probe fails) and nacks. Off gives plain SWIM, for comparison.
    pub lifeguard: bool,
    /// Beyond Go: how often one node we saw fail (or a seed that is not a member) is pinged,
    /// with a push/pull when it answers, so that a healed partition rejoins by itself (Go
    /// memberlist issue #222). At most one attempt per probe tick; seeds at most once per
    /// `push_pull_interval`. Zero disables it. Default: the probe interval.
    pub reconnect_interval: Duration,
    /// Beyond Go: how long a failed node's address is remembered for reconnect attempts.
    pub reconnect_timeout: Duration,
    /// Beyond Go: extra push/pulls with random live members after a successful join, so that
    /// the early joiners of a mass join learn the late ones (zero disables them). Default 3.
    pub join_push_pulls: u32,
    /// Beyond Go: the wait before each follow-up push/pull of a join, multiplied by a random
    /// factor in [1, 2) so that nodes joining together do not exchange at the same instant.
    /// Default: 2 s (LAN), 5 s (WAN), 1 s (local).
    pub join_push_pull_delay: Duration,
    /// Go's `CIDRsAllowed`: when not empty, alive messages are accepted only if the node's
    /// address (and for packets, the sender's) falls in one of these networks.
    pub cidrs_allowed: Vec<ipnet::IpNet>,
    /// How far ahead of the incarnation we know for another node a message may go before it
    /// is refused as absurd (rule 1 of the incarnation rule, SECURITY.md "Incarnation
    /// abuse"). 0 turns the check off. Default: [`DEFAULT_MAX_INCARNATION_JUMP`].
    pub max_incarnation_jump: u32,
}

/// Default for [`ProtocolConfig::max_incarnation_jump`]: 65,536. Honest nodes move their
/// incarnation by one per refutation, so no real history comes near it.
pub const DEFAULT_MAX_INCARNATION_JUMP: u32 = 1 << 16;

impl ProtocolConfig {
    /// Go's `IPAllowed`: whether `ip` is inside the allow list (always true when it is empty).
    ///
    /// ```
    /// use memberlist_core::machine::ProtocolConfig;
    /// let mut cfg = ProtocolConfig::lan("a");
    /// assert!(cfg.ip_allowed("192.0.2.1".parse().unwrap()));
    /// cfg.cidrs_allowed = vec!["10.0.0.0/8".parse().unwrap()];
    /// assert!(cfg.ip_allowed("10.1.2.3".parse().unwrap()));
    /// assert!(!cfg.ip_allowed("192.0.2.1".parse().unwrap()));
    /// ```
    pub fn ip_allowed(&self, ip: std::net::IpAddr) -> bool {
        self.cidrs_allowed.is_empty() || self.cidrs_allowed.iter().any(|net| net.contains(&ip))
    }

    /// Go's `DefaultLANConfig`.
    pub fn lan(name: impl Into<SmolStr>) -> Self {
        Self {
            name: name.into(),
            protocol_version: PROTOCOL_VERSION_DEFAULT,
            delegate_versions: (0, 0, 0),
            tcp_timeout: Duration::from_secs(10),
            indirect_checks: 3,
            retransmit_mult: 4,
            suspicion_mult: 4,
            suspicion_max_timeout_mult: 6,
            push_pull_interval: Duration::from_secs(30),
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(500),
            disable_tcp_pings: false,
            awareness_max_multiplier: 8,
            gossip_interval: Duration::from_millis(200),
            gossip_nodes: 3,
            gossip_to_the_dead_time: Duration::from_secs(30),
            udp_buffer_size: 1400,
            dead_node_reclaim_time: Duration::ZERO,
            lifeguard: true,
            reconnect_interval: Duration::from_secs(1),
            reconnect_timeout: Duration::from_secs(6 * 3600),
            join_push_pulls: 3,
            join_push_pull_delay: Duration::from_secs(2),
            cidrs_allowed: Vec::new(),
            max_incarnation_jump: DEFAULT_MAX_INCARNATION_JUMP,
        }
    }

    /// Go's `DefaultWANConfig`.
    pub fn wan(name: impl Into<SmolStr>) -> Self {
        Self {
            tcp_timeout: Duration::from_secs(30),
            suspicion_mult: 6,
            push_pull_interval: Duration::from_secs(60),
            probe_timeout: Duration::from_secs(3),
            probe_interval: Duration::from_secs(5),
            reconnect_interval: Duration::from_secs(5),
            gossip_nodes: 4,
            gossip_interval: Duration::from_millis(500),
            gossip_to_the_dead_time: Duration::from_secs(60),
            join_push_pull_delay: Duration::from_secs(5),
            ..Self::lan(name)
        }
    }

    /// Go's `DefaultLocalConfig`.
    pub fn local(name: impl Into<SmolStr>) -> Self {
        Self {
            tcp_timeout: Duration::from_secs(1),
            indirect_checks: 1,
            retransmit_mult: 2,
            suspicion_mult: 3,
            push_pull_interval: Duration::from_secs(15),
            probe_timeout: Duration::from_millis(200),
            probe_interval: Duration::from_secs(1),
            gossip_interval: Duration::from_millis(100),
            gossip_to_the_dead_time: Duration::from_secs(15),
            join_push_pull_delay: Duration::from_secs(1),
            ..Self::lan(name)
        }
    }

    /// The `Vsn` this node advertises.
    pub fn vsn(&self) -> Vsn {
        let (dmin, dmax, dcur) = self.delegate_versions;
        Vsn::new(
            PROTOCOL_VERSION_MIN,
            PROTOCOL_VERSION_MAX,
            self.protocol_version,
            dmin,
            dmax,
            dcur,
        )
    }

    /// Checks the settings, with a message naming the field at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field: &'static str, reason: &'static str| Err(ConfigError { field, reason });
        if self.name.is_empty() {
            return bad("name", "a node name is required");
        }
        if !(PROTOCOL_VERSION_MIN..=PROTOCOL_VERSION_MAX).contains(&self.protocol_version) {
            return bad("protocol_version", "must be between 1 and 5");
        }
        let (dmin, dmax, dcur) = self.delegate_versions;
        if dmin > dmax || !(dmin..=dmax).contains(&dcur) {
            return bad("delegate_versions", "need min <= current <= max");
        }
        if self.probe_interval.is_zero() {
            return bad("probe_interval", "must be positive");
        }
        if self.probe_timeout.is_zero() || self.probe_timeout > self.probe_interval {
            return bad(
                "probe_timeout",
                "must be positive and at most probe_interval",
            );
        }
        if self.awareness_max_multiplier == 0 {
            return bad("awareness_max_multiplier", "must be at least 1");
        }
        if self.suspicion_mult == 0 || self.suspicion_max_timeout_mult == 0 {
            return bad("suspicion_mult", "multipliers must be at least 1");
        }
        if self.join_push_pulls > 0 && self.join_push_pull_delay.is_zero() {
            return bad(
                "join_push_pull_delay",
                "must be positive when join_push_pulls is set",
            );
        }
        if self.udp_buffer_size < 64 {
            return bad("udp_buffer_size", "must be at least 64 bytes");
        }
        Ok(())
    }
}

/// A setting is out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {field}: {reason}")]
pub struct ConfigError {
    /// The field at fault.
    pub field: &'static str,
    /// Why, in words.
    pub reason: &'static str,
}
