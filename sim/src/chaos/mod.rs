//! Randomized fault schedules, in the manner of FoundationDB's simulation and TigerBeetle's
//! VOPR: the seed draws a cluster of 5–64 nodes and a schedule of 20–40 faults (crashes,
//! restarts at the same or a new address, leaves, late joins, partitions, one-way cuts, loss
//! bursts, slow members; see [`schedule`]), the cluster runs it, and these invariants are
//! checked throughout:
//!
//! 1. **A node's own incarnation never goes backwards** (within one life of the process).
//! 2. **No node that left or died comes back at a stale incarnation**: an observer that saw
//!    it gone at incarnation `i` sees it alive again only above `i` (the engine's check (c),
//!    with (a) no death before a suspicion matured and (b) incarnations never decrease).
//! 3. **No healthy node is declared dead.** Node `x` is healthy for observer `o` at `t` when,
//!    throughout the window `[t − W, t]` with `W` = the longest suspicion timeout + two probe
//!    intervals: `x` and `o` ran (one life each, `x` not leaving) and were not slow, no loss
//!    burst was in force and no partition or cut ended (a heal lets in claims made while
//!    the sides were apart, which the merge then corrects), and `x` and `o` both belong to
//!    the clean majority `M`: the running nodes that are not slow, on `x`'s side of a
//!    partition and not deaf, with `2·|M| >` the running nodes; and every other node of
//!    `M` has listed `x` and `o` at their current addresses since before the window (a node
//!    restarted at a new address is refused there until its old entry is reaped, and hears
//!    no gossip — and no accusation about it spreads — until then). Nodes outside `M` may suspect `x` — Lifeguard and refutation must keep those
//!    claims from killing it.
//! 4. **Convergence after the faults stop**: once the last action has happened, within
//!    `B` = N × probe interval (a full probe round) + the longest suspicion timeout +
//!    gossip to the dead + the scaled push/pull interval + 10 s, every running node lists
//!    exactly the running nodes, all alive at their current addresses.
//!
//! A violation names the seed and the command that replays it exactly:
//! `memberlist-sim chaos --seed S`.

pub mod schedule;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use memberlist_core::machine::State;
use memberlist_core::machine::timing::{push_pull_scale, suspicion_timeout};

use crate::engine::{Sim, SimConfig, SimError};
use crate::report::{CpuClock, Report};
use schedule::{Action, FIRST_FAULT, Schedule};

/// Steps between invariant checks.
const STEP: Duration = Duration::from_millis(250);

/// What one run found.
#[derive(Debug)]
pub struct Outcome {
    /// The drawn schedule.
    pub schedule: Schedule,
    /// When the last action happened.
    pub quiet_at: Duration,
    /// How long after `quiet_at` the cluster converged (`None`: not within the bound).
    pub converged_after: Option<Duration>,
    /// The convergence bound `B`.
    pub bound: Duration,
    /// Deaths declared during the run, each checked against invariant 3.
    pub deaths_checked: usize,
    /// Invariant violations, each with the replay command.
    pub violations: Vec<String>,
    /// The finished simulation.
    pub sim: Sim,
}

/// A span of network or node trouble, for invariant 3.
#[derive(Debug, Clone)]
struct Span {
    start: Duration,
    end: Option<Duration>,
    kind: SpanKind,
}

#[derive(Debug, Clone)]
enum SpanKind {
    Partition(Vec<bool>),
    Deaf(Vec<usize>),
    Loss,
    Slow(usize),
}

/// The bookkeeping behind invariants 1 and 3.
#[derive(Debug, Default)]
struct Watch {
    spans: Vec<Span>,
    /// When each node's current life began (`None` while stopped).
    life: Vec<Option<Duration>>,
    /// Whether the node has left in its current life.
    left: Vec<bool>,
    /// Each node's own incarnation as last seen, in its current life.
    incarnation: Vec<u32>,
    /// When each observer first listed each node alive at an address (from its join
    /// events): (observer, node) → (address, since).
    known: BTreeMap<(usize, usize), (SocketAddr, Duration)>,
    /// Events already examined.
    seen_events: usize,
    deaths_checked: usize,
    violations: Vec<String>,
}

/// Runs the schedule of `seed` (with `cfg`'s protocol, network and checks; its node count
/// and seed are replaced by the schedule's).
pub fn run_with(seed: u64, mut cfg: SimConfig) -> Result<Outcome, SimError> {
    let schedule = schedule::draw(seed);
    let n = schedule.nodes;
    cfg.nodes = n;
    cfg.seed = seed;
    cfg.record_events = true;
    let protocol = cfg.protocol.clone();
    let mut sim = Sim::new(cfg)?;
    let mut watch = Watch {
        life: vec![Some(Duration::ZERO); n],
        left: vec![false; n],
        incarnation: vec![0; n],
        ..Watch::default()
    };
    for &i in &schedule.late {
        sim.crash(i);
        watch.life[i] = None;
    }
    // Every node's seeds are every node's address when it starts, as a host list resolved
    // then (reconnection retries the seeds that are not members); all join through node 0.
    for i in 0..n {
        let seeds = addresses(&sim);
        sim.input(i, |m, _| m.set_seeds(seeds));
    }
    for i in 1..n {
        if sim.is_up(i) {
            sim.join(i, 0);
        }
    }
    let max_suspicion = suspicion_timeout(protocol.suspicion_mult, n, protocol.probe_interval)
        * protocol.suspicion_max_timeout_mult;
    let window = max_suspicion + protocol.probe_interval * 2;
    advance(&mut sim, &mut watch, FIRST_FAULT, window, seed);
    for (at, action) in &schedule.actions {
        advance(&mut sim, &mut watch, *at, window, seed);
        apply(&mut sim, &mut watch, action, *at)?;
    }
    let quiet_at = sim.elapsed();
    let bound = protocol.probe_interval * n as u32
        + max_suspicion
        + protocol.gossip_to_the_dead_time
        + push_pull_scale(protocol.push_pull_interval, n)
        + Duration::from_secs(10);
    let mut converged_after = None;
    let mut t = quiet_at;
    while t <= quiet_at + bound {
        if agreed(&sim) {
            converged_after = Some(t - quiet_at);
            break;
        }
        t += STEP;
        advance(&mut sim, &mut watch, t, window, seed);
    }
    if converged_after.is_none() {
        watch.violations.push(format!(
            "the live nodes did not agree on membership within {:.0} s of the last fault: {}",
            bound.as_secs_f64(),
            disagreements(&sim).join("; ")
        ));
    }
    if let Err(e) = sim.check() {
        watch.violations.extend(e.0.lines().map(str::to_owned));
    }
    let violations = watch
        .violations
        .into_iter()
        .map(|v| format!("{v} (replay: memberlist-sim chaos --seed {seed})"))
        .collect();
    Ok(Outcome {
        schedule,
        quiet_at,
        converged_after,
        bound,
        deaths_checked: watch.deaths_checked,
        violations,
        sim,
    })
}

/// The scenario: [`run_with`] on the LAN preset, as a report.
pub fn run(seed: u64) -> Result<Report, SimError> {
    let clock = CpuClock::start();
    let out = run_with(seed, SimConfig::lan(5, seed))?;
    let mut report = Report::new("chaos", out.schedule.nodes, seed, 0.0);
    report.measure("faults", out.schedule.faults);
    report.measure("actions", out.schedule.actions.len());
    report.measure("late_joiners", out.schedule.late.len());
    report.measure("last_action_s", out.quiet_at.as_secs_f64());
    report.measure("deaths_checked", out.deaths_checked);
    report.measure(
        "converged_after_s",
        out.converged_after.map(|d| d.as_secs_f64()),
    );
    report.expect("converged_after_s", out.bound.as_secs_f64());
    report.note("expected converged_after_s is the bound B, not a prediction");
    for (at, action) in &out.schedule.actions {
        report.note(format!("t={:.1}s {action}", at.as_secs_f64()));
    }
    report.violations = out.violations;
    report.finish(
        &clock,
        out.sim.elapsed(),
        out.sim.steps(),
        out.sim.trace_hash(),
    );
    Ok(report)
}

/// Runs the simulation up to `until` in steps, checking invariants 1 and 3 at each.
fn advance(sim: &mut Sim, watch: &mut Watch, until: Duration, window: Duration, seed: u64) {
    while sim.elapsed() < until {
        let next = (sim.elapsed() + STEP).min(until);
        sim.run_until(next);
        own_incarnations(sim, watch, seed);
        deaths(sim, watch, window, seed);
    }
}

fn apply(sim: &mut Sim, w: &mut Watch, action: &Action, at: Duration) -> Result<(), SimError> {
    let open = |w: &mut Watch, kind| {
        w.spans.push(Span {
            start: at,
            end: None,
            kind,
        });
    };
    match action {
        Action::Crash(i) => {
            sim.crash(*i);
            w.life[*i] = None;
        }
        Action::Restart { node, elsewhere } => {
            let via = (0..sim.len())
                .find(|&j| j != *node && sim.is_up(j))
                .unwrap_or(0);
            if *elsewhere {
                sim.restart_elsewhere(*node, via)?;
            } else {
                sim.restart(*node, via)?;
            }
            // Its seed list as resolved when it starts: every node's address then (a static
            // list of first addresses is lost once every node has moved).
            let seeds = addresses(sim);
            sim.input(*node, |m, _| m.set_seeds(seeds));
            w.life[*node] = Some(at);
            w.left[*node] = false;
            w.incarnation[*node] = 0;
        }
        Action::Leave(i) => {
            sim.leave(*i);
            w.left[*i] = true;
        }
        Action::Partition(side) => {
            sim.net_mut().partition(|i| u32::from(side[i]));
            open(w, SpanKind::Partition(side.clone()));
        }
        Action::Deaf(nodes) => {
            for &d in nodes {
                for j in (0..sim.len()).filter(|&j| j != d) {
                    sim.net_mut().cut_one_way(j, d);
                }
            }
            open(w, SpanKind::Deaf(nodes.clone()));
        }
        Action::Loss(p) => {
            sim.net_mut().set_loss(*p);
            open(w, SpanKind::Loss);
        }
        Action::Heal => {
            sim.net_mut().heal();
            sim.net_mut().set_loss(0.0);
            close(w, at, |k| !matches!(k, SpanKind::Slow(_)));
        }
        Action::Slow(i, delay) => {
            sim.net_mut().set_slow(*i, *delay);
            open(w, SpanKind::Slow(*i));
        }
        Action::Fast(i) => {
            sim.net_mut().set_slow(*i, Duration::ZERO);
            close(w, at, |k| matches!(k, SpanKind::Slow(j) if j == i));
        }
    }
    Ok(())
}

fn close(w: &mut Watch, at: Duration, which: impl Fn(&SpanKind) -> bool) {
    for span in w
        .spans
        .iter_mut()
        .filter(|s| s.end.is_none() && which(&s.kind))
    {
        span.end = Some(at);
    }
}

/// Invariant 1: each running node's own incarnation, never lower than before in its life.
fn own_incarnations(sim: &Sim, w: &mut Watch, seed: u64) {
    for i in (0..sim.len()).filter(|&i| sim.is_up(i)) {
        let Some(me) = sim.machine(i).member(&crate::engine::node_name(i)) else {
            continue;
        };
        if me.incarnation < w.incarnation[i] {
            w.violations.push(format!(
                "seed {seed}: t={:.3}s: node {i}'s own incarnation went from {} down to {}",
                sim.elapsed().as_secs_f64(),
                w.incarnation[i],
                me.incarnation
            ));
        }
        w.incarnation[i] = me.incarnation;
    }
}

/// Invariant 3 over the events since the last call.
fn deaths(sim: &Sim, w: &mut Watch, window: Duration, seed: u64) {
    let events = sim.events();
    let new = &events[w.seen_events..];
    w.seen_events = events.len();
    for e in new {
        if let memberlist_core::machine::Event::Join(m) = &e.event
            && let (Some(x), Some(addr)) = (sim.index_of(&m.name), m.socket_addr())
        {
            let since = w.known.entry((e.node, x)).or_insert((addr, e.at));
            if since.0 != addr {
                *since = (addr, e.at);
            }
        }
        let memberlist_core::machine::Event::Leave(m) = &e.event else {
            continue;
        };
        if m.state != State::Dead {
            continue;
        }
        // A death at an address the node no longer runs at is its previous life's.
        let Some(x) = sim
            .index_of(&m.name)
            .filter(|&x| m.socket_addr() == Some(sim.addr(x)))
        else {
            continue;
        };
        w.deaths_checked += 1;
        if let Some(size) = healthy(sim, w, x, e.node, e.at, window) {
            w.violations.push(format!(
                "seed {}: t={:.3}s: node {} declared {} dead while both were in a clean \
                 majority of {size} nodes for the last {:.1} s",
                seed,
                e.at.as_secs_f64(),
                e.node,
                m.name,
                window.as_secs_f64()
            ));
        }
    }
}

/// The size of the clean majority holding `x` and `o` throughout `[t − window, t]`, if
/// there is one (invariant 3's definition).
fn healthy(
    sim: &Sim,
    w: &Watch,
    x: usize,
    o: usize,
    t: Duration,
    window: Duration,
) -> Option<usize> {
    let from = t.checked_sub(window)?;
    let ran = |i: usize| w.life[i].is_some_and(|born| born <= from) && sim.is_up(i);
    if x == o || !ran(x) || !ran(o) || w.left[x] {
        return None;
    }
    let overlaps = |s: &Span| s.start <= t && s.end.is_none_or(|end| end > from);
    let mut side: Option<&Vec<bool>> = None;
    let mut deaf: &[usize] = &[];
    let mut slow = vec![false; sim.len()];
    for s in w.spans.iter().filter(|s| overlaps(s)) {
        if s.end.is_some_and(|end| end <= t) && !matches!(s.kind, SpanKind::Slow(_)) {
            return None; // a heal inside the window
        }
        match &s.kind {
            SpanKind::Loss => return None,
            SpanKind::Partition(p) => side = Some(p),
            SpanKind::Deaf(d) => deaf = d,
            SpanKind::Slow(i) => slow[*i] = true,
        }
    }
    let running = (0..sim.len()).filter(|&i| sim.is_up(i)).count();
    let in_m = |i: usize| {
        sim.is_up(i) && !slow[i] && !deaf.contains(&i) && side.is_none_or(|p| p[i] == p[x])
    };
    let members: Vec<usize> = (0..sim.len()).filter(|&i| in_m(i)).collect();
    // Reachable means known where it runs: a node restarted at a new address is refused
    // there (a name conflict) until its old entry is dead and reaped, and hears no gossip.
    let known = |i: usize| {
        let name = crate::engine::node_name(i);
        members.iter().filter(|&&j| j != i).all(|&j| {
            let listed = sim.machine(j).member(&name);
            listed.is_some_and(|m| m.socket_addr() == Some(sim.addr(i)))
                && w.known
                    .get(&(j, i))
                    .is_some_and(|&(addr, since)| addr == sim.addr(i) && since <= from)
        })
    };
    let size = members.len();
    (in_m(x) && in_m(o) && 2 * size > running && known(x) && known(o)).then_some(size)
}

/// Invariant 4's condition: every running node lists exactly the running nodes, alive at
/// their current addresses.
fn agreed(sim: &Sim) -> bool {
    let up: Vec<usize> = (0..sim.len()).filter(|&i| sim.is_up(i)).collect();
    sim.converged()
        && up.iter().all(|&o| {
            let m = sim.machine(o);
            up.iter().all(|&i| {
                m.member(&crate::engine::node_name(i)).is_some_and(|m| {
                    m.state == State::Alive && m.socket_addr() == Some(sim.addr(i))
                })
            })
        })
}

/// A few of the differences between the running nodes' views and the truth, for messages.
fn disagreements(sim: &Sim) -> Vec<String> {
    let up: Vec<usize> = (0..sim.len()).filter(|&i| sim.is_up(i)).collect();
    let mut found = Vec::new();
    for &o in &up {
        for m in sim.machine(o).members() {
            let Some(i) = sim.index_of(&m.name) else {
                continue;
            };
            let truth = sim.is_up(i).then(|| sim.addr(i));
            let listed = (!m.state.is_gone()).then(|| m.socket_addr()).flatten();
            if (m.state == State::Alive) != truth.is_some() || (listed.is_some() && listed != truth)
            {
                found.push(format!(
                    "node {o} lists {} {} at {:?} (it {})",
                    m.name,
                    m.state,
                    m.socket_addr(),
                    truth.map_or("is stopped".into(), |a| format!("runs at {a}"))
                ));
            }
        }
        for &i in &up {
            if sim
                .machine(o)
                .member(&crate::engine::node_name(i))
                .is_none()
            {
                found.push(format!("node {o} does not know node-{i}"));
            }
        }
    }
    found.truncate(6);
    found
}

/// Every node's address now (a seed list as resolved at that moment).
fn addresses(sim: &Sim) -> Vec<SocketAddr> {
    (0..sim.len()).map(|j| sim.addr(j)).collect()
}
