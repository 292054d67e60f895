//! The demo's fixed texts: the header (preset and model) and the closing summary.

use std::io::Write;
use std::time::Duration;

use memberlist::machine::ProtocolConfig;

use super::cluster::EventCounts;
use super::model::Model;
use super::screen::Screen;

/// Scheduling slack allowed when checking a measured time against the model's range.
const SLACK: Duration = Duration::from_millis(150);

/// Seconds with two decimals and a unit, e.g. `1.52 s`.
pub(crate) fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// `3.00 s`, or `3.00–18.00 s` for a range.
pub(crate) fn span(lo: Duration, hi: Duration) -> String {
    if lo == hi {
        secs(lo)
    } else {
        format!("{:.2}–{}", lo.as_secs_f64(), secs(hi))
    }
}

/// `1 survivor`, `3 survivors`.
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `all 3 survivors`, or `the only survivor`.
pub(crate) fn every(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("the only {noun}")
    } else {
        format!("all {n} {noun}s")
    }
}

/// Writes one line, turning an output error into the demo's error.
pub(crate) fn write<W: Write>(screen: &mut Screen<W>, line: &str) -> Result<(), String> {
    screen.line(line).map_err(output_error)
}

/// The demo's error for a failed write.
pub(crate) fn output_error(e: std::io::Error) -> String {
    format!("cannot write the demo's output: {e}")
}

/// The opening lines: what runs, with which preset, and what the model expects.
pub(crate) fn header(n: usize, transport: &str, p: &ProtocolConfig, m: &Model) -> Vec<String> {
    vec![
        format!(
            "memberlist demo: {n} nodes in this process on 127.0.0.1 (ports chosen by the system)"
        ),
        format!("transport: {transport}"),
        format!(
            "preset: Config::local (Go's DefaultLocalConfig): probe every {} (ack timeout {}), \
             gossip to {} nodes every {}, suspicion multiplier {}, max multiplier {}; \
             retransmit multiplier {} (LAN's value instead of local's 2, so that gossip \
             reaches every node without waiting for a push/pull)",
            secs(p.probe_interval),
            secs(p.probe_timeout),
            p.gossip_nodes,
            secs(p.gossip_interval),
            p.suspicion_mult,
            p.suspicion_max_timeout_mult,
            p.retransmit_mult,
        ),
        format!("model for {n} nodes: {}", expectation(m)),
    ]
}

/// The model's expectation for a crash, in one sentence.
pub(crate) fn expectation(m: &Model) -> String {
    let timeout = if m.confirmations() == 0 {
        format!(
            "dead {} after the first suspicion (no confirmation expected with so few nodes)",
            secs(m.suspicion_min())
        )
    } else {
        let confirmations = count(m.confirmations() as usize, "confirmation");
        format!(
            "dead {} after the first suspicion ({} once {confirmations} arrived, {} without)",
            span(m.suspicion_min(), m.suspicion_max()),
            secs(m.suspicion_min()),
            secs(m.suspicion_max()),
        )
    };
    format!(
        "a crash is first suspected after ~{} on average (≈ T until some member probes it, \
         plus the probe's period T), {timeout}, \
         so ~{} after the crash; every survivor knows within ~{} more (~{:.1} gossip rounds)",
        secs(m.first_suspect()),
        span(
            m.first_suspect() + m.suspicion_min(),
            m.first_suspect() + m.suspicion_max()
        ),
        secs(m.gossip_spread()),
        m.gossip_rounds(),
    )
}

/// How the crash was detected, measured from the moment the node was shut down.
#[derive(Debug, Clone)]
pub(crate) struct Detection {
    /// The crashed node.
    pub(crate) victim: String,
    /// How many nodes were left to notice.
    pub(crate) survivors: usize,
    /// First survivor to suspect it, and when.
    pub(crate) first_suspect: (String, Duration),
    /// First survivor to see it dead, and when.
    pub(crate) first_dead: (String, Duration),
    /// When the last survivor saw it dead.
    pub(crate) all_dead: Duration,
}

/// How the graceful leave was seen, measured from the call to `leave`.
#[derive(Debug, Clone)]
pub(crate) struct Departure {
    /// The node that left.
    pub(crate) leaver: String,
    /// How many nodes watched.
    pub(crate) observers: usize,
    /// How long `leave` took to return.
    pub(crate) call: Duration,
    /// When the last observer saw it left.
    pub(crate) all_left: Duration,
}

/// Everything the summary reports.
#[derive(Debug, Clone)]
pub(crate) struct Summary {
    /// Nodes started.
    pub(crate) nodes: usize,
    /// The transport they ran.
    pub(crate) transport: &'static str,
    /// From the first join until every node saw every node alive.
    pub(crate) converged: Duration,
    /// The crash.
    pub(crate) detection: Detection,
    /// The leave, unless skipped.
    pub(crate) departure: Option<Departure>,
    /// Events the nodes delivered.
    pub(crate) events: EventCounts,
    /// Wall time of the whole demo so far.
    pub(crate) total: Duration,
}

/// The closing lines.
pub(crate) fn summary(s: &Summary, m: &Model) -> Vec<String> {
    let d = &s.detection;
    let after_suspect = d.first_dead.1.saturating_sub(d.first_suspect.1);
    let verdict = if m.dead_within(after_suspect, SLACK) {
        "within the model"
    } else {
        "OUTSIDE the model's range"
    };
    let mut lines = vec![
        String::new(),
        format!("summary ({} nodes, Config::local):", s.nodes),
        format!("  transport:          {}", s.transport),
        format!(
            "  joined:             all {} nodes saw {} alive {} after the first join",
            s.nodes,
            s.nodes,
            secs(s.converged)
        ),
        format!(
            "  crash of {}:   first suspect {} after the crash ({}; model ~{} on average)",
            d.victim,
            secs(d.first_suspect.1),
            d.first_suspect.0,
            secs(m.first_suspect())
        ),
        format!(
            "                      first dead {} after the crash ({}), {} after the first \
             suspicion (model {}: {verdict})",
            secs(d.first_dead.1),
            d.first_dead.0,
            secs(after_suspect),
            span(m.suspicion_min(), m.suspicion_max()),
        ),
        format!(
            "                      {} saw it dead {} after the crash ({} after the first; \
             model within ~{})",
            every(d.survivors, "survivor"),
            secs(d.all_dead),
            secs(d.all_dead.saturating_sub(d.first_dead.1)),
            secs(m.gossip_spread()),
        ),
        format!("  expected:           {}", expectation(m)),
    ];
    lines.push(match &s.departure {
        Some(dep) => format!(
            "  leave of {}:   {} saw it left {} after leave() began \
             (leave() returned after {})",
            dep.leaver,
            every(dep.observers, "remaining node"),
            secs(dep.all_left),
            secs(dep.call)
        ),
        None => "  leave:              skipped (needs at least 3 nodes)".to_owned(),
    });
    let e = &s.events;
    let mut events = format!(
        "  events delivered:   {} joins, {} failures, {} leaves (summed over every node, \
         each node's own join and leave included)",
        e.joins, e.failures, e.leaves
    );
    if e.missed > 0 {
        events.push_str(&format!(" ({} missed by a slow subscriber)", e.missed));
    }
    lines.push(events);
    lines.push(format!("  demo took {}", secs(s.total)));
    lines
}
