//! The tuner: searches the timing knobs for the cheapest configuration that meets an
//! operator's targets, judged by [`predict`](crate::predict_with)'s figures.

use std::time::Duration;

use memberlist_core::machine::ProtocolConfig;

use crate::{Assumptions, PredictError, Prediction, predict_with};

/// Probe intervals tried.
const PROBE_INTERVALS_MS: [u64; 12] = [
    100, 150, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 8_000,
];
/// Suspicion multipliers tried: from 3, as 2 leaves Lifeguard no confirmations to wait for
/// (k = SuspicionMult − 2), so one slow prober's suspicion would kill after the shortest
/// timeout.
const SUSPICION_MULTS: [u32; 5] = [3, 4, 5, 6, 8];
/// Indirect checks tried.
const INDIRECT_CHECKS: [usize; 5] = [1, 2, 3, 4, 5];
/// Gossip intervals tried.
const GOSSIP_INTERVALS_MS: [u64; 7] = [50, 100, 200, 300, 500, 1_000, 2_000];
/// Gossip fan-outs tried.
const GOSSIP_NODES: [usize; 5] = [2, 3, 4, 5, 6];
/// Retransmit multipliers tried.
const RETRANSMIT_MULTS: [u32; 5] = [2, 3, 4, 5, 6];
/// Push/pull intervals tried (before Go's scaling with N).
const PUSH_PULL_INTERVALS_S: [u64; 6] = [10, 15, 30, 60, 120, 300];
/// Gossip settings carried into the probe search at most (from the ones no other beats on
/// every count).
const GOSSIP_SHORTLIST: usize = 24;

/// What the tuned configuration must achieve. Unset time targets default to what the base
/// configuration achieves, so the tuner never makes a figure worse than the preset's unless
/// asked for a bandwidth budget, where detection is what it optimises.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Targets {
    /// A crash is declared dead by every member within this time (the expected time to dead
    /// in a healthy cluster, [`Prediction::time_to_dead`]'s low end).
    pub detect_within: Option<Duration>,
    /// An update reaches every node within this time ([`Prediction::dissemination_time`]).
    pub disseminate_within: Option<Duration>,
    /// A node that gossip missed learns an update by push/pull within this time (the push/pull
    /// interval scaled to N, [`Prediction::push_pull_interval`]); it also bounds how long
    /// diverged member tables stay apart.
    pub catch_up_within: Option<Duration>,
    /// Bytes per second per node in a quiet cluster ([`Bandwidth::quiet_total`](crate::Bandwidth::quiet_total)),
    /// and of gossip when every round is full ([`Bandwidth::gossip_ceiling`](crate::Bandwidth::gossip_ceiling)).
    pub max_bandwidth: Option<f64>,
    /// False deaths caused by loss alone, per cluster-hour (the risk's upper bound);
    /// default 0.001, about one in six weeks.
    pub max_false_deaths: f64,
    /// Share of updates that gossip may leave short of some node (they wait for push/pull);
    /// default 1 %.
    pub max_gossip_miss: f64,
    /// The shortest `ProbeTimeout` allowed: it must exceed the network's round-trip time,
    /// which the tuner cannot see; default 100 ms. The base's `ProbeTimeout` is the longest.
    pub min_probe_timeout: Duration,
}

impl Default for Targets {
    fn default() -> Self {
        Self {
            detect_within: None,
            disseminate_within: None,
            catch_up_within: None,
            max_bandwidth: None,
            max_false_deaths: 0.001,
            max_gossip_miss: 0.01,
            min_probe_timeout: Duration::from_millis(100),
        }
    }
}

/// A target and how the tuned configuration fares against it.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Goal {
    /// What is targeted: `"detect within"`, `"disseminate within"`, `"catch up within"`,
    /// `"bandwidth"` and `"gossip when busy"` (both against the budget), `"false deaths"`,
    /// `"gossip miss"`.
    pub what: &'static str,
    /// The target (seconds, bytes per second, per cluster-hour or a fraction).
    pub target: f64,
    /// What the tuned configuration is predicted to give.
    pub predicted: f64,
    /// The unit of both.
    pub unit: &'static str,
    /// Whether the target came from the base configuration (not asked for).
    pub from_base: bool,
}

impl Goal {
    /// Whether the prediction meets the target.
    pub fn met(&self) -> bool {
        self.predicted <= self.target * (1.0 + 1e-9)
    }
}

/// The tuner's answer.
#[derive(Debug, Clone)]
pub struct Tuned {
    /// The configuration found: the base with the tuned knobs changed.
    pub config: ProtocolConfig,
    /// Its prediction.
    pub prediction: Prediction,
    /// Every target and the predicted figure for it.
    pub goals: Vec<Goal>,
    /// Whether every target is met; if not, `config` is the nearest configuration (the one
    /// whose worst figure is the smallest multiple of its target).
    pub feasible: bool,
    /// How many configurations were predicted.
    pub searched: usize,
}

/// Searches probe interval and timeout, suspicion multiplier, indirect checks, gossip
/// interval and fan-out, retransmit multiplier and push/pull interval (the other fields stay
/// the base's) for the configuration that meets `targets` at `nodes` and `loss`: with a
/// bandwidth budget the one that detects a crash soonest, otherwise the one with the least
/// quiet-cluster bandwidth; ties go to the faster detection, then to fewer bytes per update.
///
/// ```
/// use std::time::Duration;
/// use memberlist_advisor::{Targets, tune};
/// use memberlist_core::machine::ProtocolConfig;
///
/// let targets = Targets {
///     detect_within: Some(Duration::from_secs(2)),
///     ..Targets::default()
/// };
/// let t = tune(&ProtocolConfig::lan("a"), 50, 0.0, &targets)?;
/// assert!(t.feasible);
/// assert!(t.prediction.time_to_dead.value.low <= Duration::from_secs(2));
/// # Ok::<(), memberlist_advisor::PredictError>(())
/// ```
pub fn tune(
    base: &ProtocolConfig,
    nodes: usize,
    loss: f64,
    targets: &Targets,
) -> Result<Tuned, PredictError> {
    tune_with(base, nodes, loss, targets, &Assumptions::default())
}

/// [`tune`] with explicit [`Assumptions`] about names, metadata, label and encryption.
pub fn tune_with(
    base: &ProtocolConfig,
    nodes: usize,
    loss: f64,
    targets: &Targets,
    assumptions: &Assumptions,
) -> Result<Tuned, PredictError> {
    let reference = predict_with(base, nodes, loss, assumptions)?;
    let limits = Limits::new(&reference, targets);
    let budget = targets.max_bandwidth.is_some();
    let mut searched = 0;
    // Stage 1: gossip settings. Dissemination, the chance of a miss and the bytes per update
    // depend only on them; the probe search below sees them through the time to dead and
    // the false-death risk, so it gets a shortlist.
    let mut gossip = Vec::new();
    for cfg in gossip_candidates(base) {
        let p = predict_with(&cfg, nodes, loss, assumptions)?;
        searched += 1;
        gossip.push((limits.gossip_ratio(&p), cfg, p));
    }
    let shortlist = shortlist(gossip);
    // Stage 2: probing, suspicion and push/pull on top of each shortlisted gossip setting.
    let mut best: Option<(Key, ProtocolConfig, Prediction)> = None;
    let mut nearest: Option<(f64, ProtocolConfig, Prediction)> = None;
    for g in &shortlist {
        for cfg in probe_candidates(g, targets) {
            let p = predict_with(&cfg, nodes, loss, assumptions)?;
            searched += 1;
            let worst = limits.worst(&p);
            if worst <= 1.0 + 1e-9 {
                let key = Key::of(&p, &cfg, base, budget);
                if best.as_ref().is_none_or(|(k, _, _)| key < *k) {
                    best = Some((key, cfg, p));
                }
            } else if best.is_none() && nearest.as_ref().is_none_or(|(w, _, _)| worst < *w) {
                nearest = Some((worst, cfg, p));
            }
        }
    }
    let (config, prediction, feasible) = match (best, nearest) {
        (Some((_, c, p)), _) => (c, p, true),
        (None, Some((_, c, p))) => (c, p, false),
        // The grid always yields candidates; keep the base if it somehow did not.
        (None, None) => (base.clone(), reference, false),
    };
    let goals = limits.goals(&prediction);
    Ok(Tuned {
        config,
        prediction,
        goals,
        feasible,
        searched,
    })
}

/// The constraints, with the base's figures filled in where no target was given.
struct Limits {
    detect: Option<(f64, bool)>,
    disseminate: (f64, bool),
    catch_up: (f64, bool),
    bandwidth: Option<f64>,
    false_deaths: f64,
    gossip_miss: f64,
}

impl Limits {
    fn new(reference: &Prediction, t: &Targets) -> Self {
        let base_detect = reference.time_to_dead.value.low.as_secs_f64();
        let detect = match (t.detect_within, t.max_bandwidth) {
            (Some(d), _) => Some((d.as_secs_f64(), false)),
            // With a budget, detection is the objective, not a constraint.
            (None, Some(_)) => None,
            (None, None) => Some((base_detect, true)),
        };
        let disseminate = match t.disseminate_within {
            Some(d) => (d.as_secs_f64(), false),
            None => (reference.dissemination_time.value.as_secs_f64(), true),
        };
        let catch_up = match t.catch_up_within {
            Some(d) => (d.as_secs_f64(), false),
            None => (reference.push_pull_interval.value.as_secs_f64(), true),
        };
        Self {
            detect,
            disseminate,
            catch_up,
            bandwidth: t.max_bandwidth,
            false_deaths: t.max_false_deaths,
            gossip_miss: t.max_gossip_miss.max(reference.gossip_miss.value),
        }
    }

    /// The largest figure / target ratio of the targets gossip alone decides (the
    /// dissemination time also depends on the probe interval, so stage 2 checks it).
    fn gossip_ratio(&self, p: &Prediction) -> f64 {
        let miss = if self.gossip_miss > 0.0 {
            p.gossip_miss.value / self.gossip_miss
        } else {
            0.0
        };
        let busy = self
            .bandwidth
            .map_or(0.0, |b| p.bandwidth.gossip_ceiling.value / b);
        miss.max(busy)
    }

    /// The largest figure / target ratio (≤ 1: every target met).
    fn worst(&self, p: &Prediction) -> f64 {
        self.goals(p)
            .iter()
            .map(|g| {
                if g.target > 0.0 {
                    g.predicted / g.target
                } else if g.predicted > 0.0 {
                    f64::INFINITY
                } else {
                    0.0
                }
            })
            .fold(0.0, f64::max)
    }

    fn goals(&self, p: &Prediction) -> Vec<Goal> {
        let mut goals = Vec::with_capacity(7);
        if let Some((target, from_base)) = self.detect {
            goals.push(Goal {
                what: "detect within",
                target,
                predicted: p.time_to_dead.value.low.as_secs_f64(),
                unit: "s",
                from_base,
            });
        }
        goals.push(Goal {
            what: "disseminate within",
            target: self.disseminate.0,
            predicted: p.dissemination_time.value.as_secs_f64(),
            unit: "s",
            from_base: self.disseminate.1,
        });
        goals.push(Goal {
            what: "catch up within",
            target: self.catch_up.0,
            predicted: p.push_pull_interval.value.as_secs_f64(),
            unit: "s",
            from_base: self.catch_up.1,
        });
        if let Some(target) = self.bandwidth {
            goals.push(Goal {
                what: "bandwidth",
                target,
                predicted: p.bandwidth.quiet_total.value,
                unit: "B/s",
                from_base: false,
            });
            // A budget holds in a busy cluster too: full gossip packets every round.
            goals.push(Goal {
                what: "gossip when busy",
                target,
                predicted: p.bandwidth.gossip_ceiling.value,
                unit: "B/s",
                from_base: false,
            });
        }
        goals.push(Goal {
            what: "false deaths",
            target: self.false_deaths,
            predicted: p.risk.false_deaths_per_cluster_hour.value,
            unit: "per cluster-hour",
            from_base: false,
        });
        goals.push(Goal {
            what: "gossip miss",
            target: self.gossip_miss,
            predicted: p.gossip_miss.value,
            unit: "fraction",
            from_base: false,
        });
        goals
    }
}

/// The ranking of feasible configurations (smaller is better). With a bandwidth budget:
/// detection time, quiet bandwidth, bytes per update, the gossip ceiling (bytes per second
/// when every round is full), how many knobs differ from the base. Without: quiet
/// bandwidth, bytes per update, the ceiling, the changes, then detection time, so that
/// nothing is spent beyond the targets. Figures are compared in steps of 1 % so that
/// near-ties fall through to the next.
#[derive(Debug, PartialEq, PartialOrd)]
struct Key(i64, i64, i64, i64, i64);

impl Key {
    fn of(p: &Prediction, cfg: &ProtocolConfig, base: &ProtocolConfig, budget: bool) -> Self {
        let detect = step(p.time_to_dead.value.low.as_secs_f64());
        let quiet = step(p.bandwidth.quiet_total.value);
        let update = step(p.bandwidth.gossip_per_update.value);
        let ceiling = step(p.bandwidth.gossip_ceiling.value);
        let changes = changes(cfg, base);
        if budget {
            Self(detect, quiet, update, ceiling, changes as i64)
        } else {
            Self(quiet, update, ceiling, changes as i64, detect)
        }
    }
}

/// `x` on a logarithmic scale in steps of 1 %.
fn step(x: f64) -> i64 {
    (x.max(1e-12).ln() / 1.01f64.ln()).round() as i64
}

/// How many of the searched knobs differ between `a` and `b`.
fn changes(a: &ProtocolConfig, b: &ProtocolConfig) -> usize {
    [
        a.probe_interval != b.probe_interval,
        a.probe_timeout != b.probe_timeout,
        a.suspicion_mult != b.suspicion_mult,
        a.indirect_checks != b.indirect_checks,
        a.gossip_interval != b.gossip_interval,
        a.gossip_nodes != b.gossip_nodes,
        a.retransmit_mult != b.retransmit_mult,
        a.push_pull_interval != b.push_pull_interval,
    ]
    .into_iter()
    .filter(|&d| d)
    .count()
}

/// The gossip settings the probe search tries: of those meeting the gossip targets, the
/// ones no other beats on every count (dissemination time, bytes per update, the ceiling and
/// the retransmit limit, which lowers the false-death risk), at most [`GOSSIP_SHORTLIST`]
/// spread evenly over their dissemination times; if none meets the targets, the nearest.
fn shortlist(mut all: Vec<(f64, ProtocolConfig, Prediction)>) -> Vec<ProtocolConfig> {
    let met: Vec<&(f64, ProtocolConfig, Prediction)> =
        all.iter().filter(|(r, _, _)| *r <= 1.0 + 1e-9).collect();
    if met.is_empty() {
        all.sort_by(|a, b| a.0.total_cmp(&b.0));
        return all.into_iter().take(4).map(|(_, c, _)| c).collect();
    }
    let score = |p: &Prediction| {
        [
            p.dissemination_time.value.as_secs_f64(),
            p.bandwidth.gossip_per_update.value,
            p.bandwidth.gossip_ceiling.value,
            -f64::from(p.retransmit_limit.value),
        ]
    };
    let beats = |a: &[f64; 4], b: &[f64; 4]| {
        a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
    };
    let mut front: Vec<&(f64, ProtocolConfig, Prediction)> = met
        .iter()
        .filter(|(_, _, p)| {
            let mine = score(p);
            !met.iter().any(|(_, _, q)| beats(&score(q), &mine))
        })
        .copied()
        .collect();
    front.sort_by(|a, b| {
        a.2.dissemination_time
            .value
            .cmp(&b.2.dissemination_time.value)
    });
    let keep = front.len().min(GOSSIP_SHORTLIST);
    (0..keep)
        .map(|i| {
            let at = if keep == 1 {
                0
            } else {
                i * (front.len() - 1) / (keep - 1)
            };
            front[at].1.clone()
        })
        .collect()
}

/// Every combination of the gossip knobs on top of `base`.
fn gossip_candidates(base: &ProtocolConfig) -> impl Iterator<Item = ProtocolConfig> + '_ {
    GOSSIP_INTERVALS_MS.iter().flat_map(move |&gossip_ms| {
        GOSSIP_NODES.iter().flat_map(move |&gossip_nodes| {
            RETRANSMIT_MULTS
                .iter()
                .map(move |&retransmit_mult| ProtocolConfig {
                    gossip_interval: Duration::from_millis(gossip_ms),
                    gossip_nodes,
                    retransmit_mult,
                    ..base.clone()
                })
        })
    })
}

/// Every combination of the probing, suspicion and push/pull knobs on top of `base`.
fn probe_candidates<'a>(
    base: &'a ProtocolConfig,
    t: &Targets,
) -> impl Iterator<Item = ProtocolConfig> + 'a {
    let min_timeout = t.min_probe_timeout;
    PROBE_INTERVALS_MS
        .iter()
        .map(|&ms| Duration::from_millis(ms))
        .filter(move |&interval| interval > min_timeout)
        .flat_map(move |interval| {
            // Half the interval leaves time for the indirect probes; never above the base's
            // timeout (its network's round trip), never below the floor.
            let timeout = base.probe_timeout.min(interval / 2).max(min_timeout);
            SUSPICION_MULTS.iter().flat_map(move |&suspicion_mult| {
                INDIRECT_CHECKS.iter().flat_map(move |&indirect_checks| {
                    PUSH_PULL_INTERVALS_S.iter().map(move |&pp| ProtocolConfig {
                        probe_interval: interval,
                        probe_timeout: timeout,
                        suspicion_mult,
                        indirect_checks,
                        push_pull_interval: Duration::from_secs(pp),
                        ..base.clone()
                    })
                })
            })
        })
}
