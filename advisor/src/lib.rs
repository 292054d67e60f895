//! # memberlist-advisor
//!
//! What a memberlist configuration will do for a cluster of a given size under a given
//! datagram loss, before running it: how soon a crash is suspected and declared dead, how
//! fast an update reaches every node, the scaled push/pull and suspicion timeouts, bandwidth
//! per node as Go sizes its messages, memory for the member table, and the risk of false
//! suspicions. Every number is a [`Figure`]: a typed value (a [`Duration`], bytes per second,
//! a probability…) with the formula it comes from in plain words. [`Prediction`]'s `Display`
//! prints all of them for an operator.
//!
//! The timing figures reuse the protocol machine's own formulas
//! ([`memberlist_core::machine::timing`], the broadcast queue's retransmit limit, Lifeguard's
//! confirmation count); message sizes come from the real encoders of
//! [`memberlist_core::wire`]. Everything is deterministic: no randomness, no I/O.
//!
//! ```
//! use std::time::Duration;
//! use memberlist_advisor::predict;
//! use memberlist_core::machine::ProtocolConfig;
//!
//! let p = predict(&ProtocolConfig::lan("node-a"), 100, 0.02)?;
//! assert_eq!(p.suspicion_timeout.value.low, Duration::from_secs(8));
//! assert_eq!(p.suspicion_timeout.value.high, Duration::from_secs(48));
//! assert_eq!(p.push_pull_interval.value, Duration::from_secs(90));
//! assert_eq!(p.retransmit_limit.value, 12);
//! // A crash is first suspected about two probe intervals after it happens.
//! assert!((p.first_suspicion.value.as_secs_f64() - 2.0).abs() < 0.01);
//! assert!(p.bandwidth.quiet_total.value < 1024.0); // bytes per second per direction
//! println!("{p}");
//! # Ok::<(), memberlist_advisor::PredictError>(())
//! ```
//!
//! What the figures assume (names of 16 bytes, no metadata, IPv4, no label, no encryption)
//! is an [`Assumptions`] value; [`predict_with`] takes other ones.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::time::Duration;

use memberlist_core::machine::ProtocolConfig;

mod figure;
mod model;
mod risk;
#[cfg(feature = "serde")]
mod serde_impl;
mod sizes;
mod text;
mod tune;

pub use figure::{Figure, Span};
pub use risk::Risk;
pub use sizes::WireSizes;
pub use tune::{Goal, Targets, Tuned, tune, tune_with};

/// Bytes one member costs in a node's member table besides a name longer than 23 bytes and
/// its metadata, as measured on the machine by `tests/memory.rs` (170 B at 1,500 and 3,000
/// members, 174 B at 1,000): the 24-byte row, the identity (name inline up to 23 bytes,
/// address, port, versions, metadata handle) behind its reference-counted pointer, and the
/// member's share of the name index and the other per-member structures.
pub const TABLE_BYTES_PER_MEMBER: usize = 170;

/// Bytes non-empty metadata costs besides its own length (its shared buffer's header).
pub const META_OVERHEAD: usize = 24;

/// Longest name kept inline (without a heap allocation of its own) in a member's identity.
pub const INLINE_NAME_MAX: usize = 23;

/// What the size figures assume about the members, beyond the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Assumptions {
    /// Length of node names in bytes (default 16).
    pub name_len: usize,
    /// Length of each node's metadata in bytes (default 0).
    pub meta_len: usize,
    /// Length of the cluster label (0: no label, the default); a label adds `2 + len` bytes
    /// to every datagram.
    pub label_len: usize,
    /// Whether packets are encrypted (default no); encryption adds 29 bytes to every
    /// datagram.
    pub encrypted: bool,
}

impl Default for Assumptions {
    fn default() -> Self {
        Self {
            name_len: 16,
            meta_len: 0,
            label_len: 0,
            encrypted: false,
        }
    }
}

/// Why no prediction could be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PredictError {
    /// The loss is not a probability below 1.
    #[error("loss must be a fraction of datagrams in [0, 1), got {0}")]
    Loss(f64),
    /// A cluster needs two nodes before anything can fail or spread.
    #[error("a cluster needs at least 2 nodes, got {0}")]
    Nodes(usize),
    /// The configuration itself is invalid.
    #[error(transparent)]
    Config(#[from] memberlist_core::machine::ConfigError),
}

/// Everything predicted for one configuration, cluster size and loss. Each field is a
/// [`Figure`] (value, unit, formula); `Display` prints them for an operator.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Prediction {
    /// Cluster size N.
    pub nodes: usize,
    /// Per-datagram loss probability p.
    pub loss: f64,
    /// Whether Lifeguard is on (dynamic suspicion, awareness, buddy, nacks).
    pub lifeguard: bool,
    /// What the sizes assume.
    pub assumptions: Assumptions,
    /// Protocol period T (`ProbeInterval`).
    #[cfg_attr(feature = "serde", serde(serialize_with = "serde_impl::seconds"))]
    pub probe_interval: Duration,
    /// Expected time from a crash to its first suspicion.
    pub first_suspicion: Figure<Duration>,
    /// Independent confirmations that bring the suspicion timeout to its minimum (k).
    pub confirmations: Figure<u32>,
    /// Suspicion timeout: `low` with k confirmations, `high` with none (equal without
    /// Lifeguard or with k = 0).
    pub suspicion_timeout: Figure<Span>,
    /// Time from a crash until every member sees the node dead.
    pub time_to_dead: Figure<Span>,
    /// Gossip rounds until an update reached every node (an estimate).
    pub dissemination_rounds: Figure<f64>,
    /// Time until an update reached every node, when gossip reaches every node (see
    /// [`gossip_miss`](Self::gossip_miss)).
    pub dissemination_time: Figure<Duration>,
    /// How many times each node sends each update it gossips.
    pub retransmit_limit: Figure<u32>,
    /// Probability that gossip stops before an update reached every node (the missed nodes
    /// learn it by push/pull); [`dissemination_time`](Self::dissemination_time) holds for the
    /// other updates.
    pub gossip_miss: Figure<f64>,
    /// The push/pull interval scaled to N (zero: push/pull is off).
    pub push_pull_interval: Figure<Duration>,
    /// Message sizes the bandwidth figures use.
    pub sizes: WireSizes,
    /// Bandwidth per node.
    pub bandwidth: Bandwidth,
    /// Memory for the member table, per node.
    pub memory: Figure<f64>,
    /// False suspicions (and deaths) caused by loss alone.
    pub risk: Risk,
}

/// Bytes per second per node. A quiet cluster is symmetric: each node sends and receives
/// about the same, so each figure holds for either direction. Payload bytes as Go sizes
/// them, without UDP/IP or TCP headers.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Bandwidth {
    /// Probing: a ping out and an ack back per protocol period, and one incoming probe.
    pub probes: Figure<f64>,
    /// Push/pull anti-entropy (uncompressed).
    pub push_pull: Figure<f64>,
    /// Gossip when nothing changes: zero.
    pub gossip_quiet: Figure<f64>,
    /// Probes + push/pull + quiet gossip.
    pub quiet_total: Figure<f64>,
    /// Bytes each node sends (and receives, on average) for one update (join, metadata
    /// change, suspicion, death) spreading through the cluster.
    pub gossip_per_update: Figure<f64>,
    /// The most gossip can send under heavy churn: full packets to every gossip peer every
    /// gossip interval.
    pub gossip_ceiling: Figure<f64>,
}

/// Predicts what `cfg` does in a cluster of `nodes` nodes where each datagram is lost with
/// probability `loss` (0 ≤ loss < 1), with the default [`Assumptions`].
///
/// ```
/// use memberlist_advisor::{PredictError, predict};
/// use memberlist_core::machine::ProtocolConfig;
///
/// let cfg = ProtocolConfig::wan("a");
/// assert!(predict(&cfg, 1000, 0.0).is_ok());
/// assert!(matches!(predict(&cfg, 1000, 1.5), Err(PredictError::Loss(_))));
/// assert!(matches!(predict(&cfg, 1, 0.0), Err(PredictError::Nodes(1))));
/// ```
pub fn predict(cfg: &ProtocolConfig, nodes: usize, loss: f64) -> Result<Prediction, PredictError> {
    predict_with(cfg, nodes, loss, &Assumptions::default())
}

/// [`predict`] with explicit [`Assumptions`] about names, metadata, label and encryption.
///
/// ```
/// use memberlist_advisor::{Assumptions, predict, predict_with};
/// use memberlist_core::machine::ProtocolConfig;
///
/// let cfg = ProtocolConfig::lan("a");
/// let big = Assumptions { meta_len: 200, ..Assumptions::default() };
/// let plain = predict(&cfg, 500, 0.0)?;
/// let with_meta = predict_with(&cfg, 500, 0.0, &big)?;
/// assert!(with_meta.bandwidth.push_pull.value > plain.bandwidth.push_pull.value);
/// assert!(with_meta.memory.value > plain.memory.value);
/// # Ok::<(), memberlist_advisor::PredictError>(())
/// ```
pub fn predict_with(
    cfg: &ProtocolConfig,
    nodes: usize,
    loss: f64,
    assumptions: &Assumptions,
) -> Result<Prediction, PredictError> {
    if !(0.0..1.0).contains(&loss) {
        return Err(PredictError::Loss(loss));
    }
    if nodes < 2 {
        return Err(PredictError::Nodes(nodes));
    }
    if cfg.name.is_empty() {
        // The name does not enter any figure: check the rest.
        let named = ProtocolConfig {
            name: "predict".into(),
            ..cfg.clone()
        };
        named.validate()?;
    } else {
        cfg.validate()?;
    }
    Ok(model::build(cfg, nodes, loss, assumptions))
}
