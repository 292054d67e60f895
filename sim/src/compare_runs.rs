//! The crashes and updates of [`compare`](crate::compare::compare), run one after another on
//! one converged cluster: building a converged cluster of N nodes costs N² member entries, so
//! at N = 5,000 one cluster per crash would cost more than all the crashes.
//!
//! Each crashed node is restarted (through node 0) once every member has declared it dead,
//! and the next crash waits until every node sees it alive again. The pause before each crash
//! or update moves it across the probe period by a fixed irrational step, so the crash times
//! fall evenly over the members' (fixed) probe phases.

use std::time::Duration;

use bytes::Bytes;

use crate::Sim;
use crate::engine::{Observation, SimError};
use crate::scenarios::{self, Options};

/// Settling time before each crash or update.
const PAUSE: Duration = Duration::from_secs(5);
/// How long a crash may take to be declared dead everywhere.
const DEAD_LIMIT: Duration = Duration::from_secs(180);
/// How long a restarted node may take to be seen alive everywhere again.
const REJOIN_LIMIT: Duration = Duration::from_secs(120);
/// How long an update may take to reach everyone.
const UPDATE_LIMIT: Duration = Duration::from_secs(120);

/// One crash, in seconds from the crash (`None`: not within [`DEAD_LIMIT`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Crash {
    pub(crate) first_suspicion: Option<f64>,
    pub(crate) first_dead: Option<f64>,
    /// When the last member declared it dead (sampled every 250 ms).
    pub(crate) all_dead: Option<f64>,
}

/// One update: every other member's delay in seconds, sorted (only those reached within
/// [`UPDATE_LIMIT`]).
pub(crate) type Update = Vec<f64>;

/// A converged cluster for `opts`, settled.
fn cluster(opts: &Options) -> Result<Sim, SimError> {
    let mut sim = scenarios::build(opts)?;
    sim.bootstrap_converged();
    sim.run_for(Duration::from_secs(10));
    Ok(sim)
}

/// The pause before event `k`: [`PAUSE`] plus a fraction of the probe interval that steps by
/// the golden ratio.
fn pause(sim: &Sim, k: u64) -> Duration {
    let t = sim.machine(0).config().probe_interval;
    PAUSE + t.mul_f64((k as f64 * 0.618_033_988_7).fract())
}

/// `count` crashes of nodes N − 1, N − 2, … (never node 0, through which they rejoin).
pub(crate) fn crashes(
    opts: &Options,
    count: u64,
    virtual_time: &mut f64,
) -> Result<Vec<Crash>, SimError> {
    let mut sim = cluster(opts)?;
    let n = sim.len();
    let mut out = Vec::with_capacity(count as usize);
    for k in 0..count {
        let victim = n - 1 - (k as usize % (n - 1));
        sim.watch(victim);
        let wait = pause(&sim, k);
        sim.run_for(wait);
        let from = sim.log().len();
        sim.crash(victim);
        let t0 = sim.elapsed();
        let dead_everywhere = |s: &Sim| {
            let mut seen = vec![false; n];
            for e in &s.log()[from..] {
                if e.what == Observation::Dead && e.subject == victim {
                    seen[e.observer] = true;
                }
            }
            seen.iter().filter(|&&b| b).count() >= n - 1
        };
        let done = sim.run_until_true(t0 + DEAD_LIMIT, Duration::from_millis(250), dead_everywhere);
        let first = |what: Observation| {
            sim.log()[from..]
                .iter()
                .filter(|e| e.what == what && e.subject == victim)
                .map(|e| e.at.saturating_sub(t0).as_secs_f64())
                .reduce(f64::min)
        };
        out.push(Crash {
            first_suspicion: first(Observation::Suspected),
            first_dead: first(Observation::Dead),
            all_dead: done.map(|t| (t - t0).as_secs_f64()),
        });
        sim.restart(victim, 0)?;
        let back = sim.elapsed() + REJOIN_LIMIT;
        if sim
            .run_until_true(back, Duration::from_millis(500), Sim::converged)
            .is_none()
        {
            return Err(SimError(format!(
                "node {victim} was not seen alive everywhere {REJOIN_LIMIT:?} after its restart"
            )));
        }
    }
    *virtual_time += sim.elapsed().as_secs_f64();
    sim.check()?;
    Ok(out)
}

/// `count` metadata updates, from nodes 0, 1, 2… in turn, each with its own value.
pub(crate) fn updates(
    opts: &Options,
    count: u64,
    virtual_time: &mut f64,
) -> Result<Vec<Update>, SimError> {
    let mut sim = cluster(opts)?;
    let n = sim.len();
    let mut out = Vec::with_capacity(count as usize);
    for k in 0..count {
        let origin = k as usize % n;
        sim.watch(origin);
        let wait = pause(&sim, k);
        sim.run_for(wait);
        let meta = Bytes::from(format!("version={k}"));
        let from = sim.log().len();
        let t0 = sim.elapsed();
        sim.update_meta(origin, meta.clone());
        let delays = |s: &Sim| -> Vec<f64> {
            let mut seen = vec![false; n];
            let mut d = Vec::new();
            for e in &s.log()[from..] {
                if e.what == Observation::Updated
                    && e.subject == origin
                    && e.observer != origin
                    && e.meta == meta
                    && !std::mem::replace(&mut seen[e.observer], true)
                {
                    d.push(e.at.saturating_sub(t0).as_secs_f64());
                }
            }
            d
        };
        sim.run_until_true(t0 + UPDATE_LIMIT, Duration::from_millis(100), |s| {
            delays(s).len() >= n - 1
        });
        let mut d = delays(&sim);
        d.sort_by(f64::total_cmp);
        out.push(d);
    }
    *virtual_time += sim.elapsed().as_secs_f64();
    sim.check()?;
    Ok(out)
}
