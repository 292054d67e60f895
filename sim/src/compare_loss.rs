//! The loss rows of [`compare`](crate::compare::compare): a long steady run under loss
//! counting the false suspicions and deaths it raises.

use std::time::Duration;

use memberlist_advisor::Prediction;
use memberlist_core::machine::ProtocolConfig;

use crate::compare::{LOSS_BUDGET_NODE_SECONDS, Row};
use crate::engine::{Observation, SimError};
use crate::scenarios::{self, Options};

/// Suspicions the loss run aims to see (about ±10 % of Poisson noise).
const TARGET_SUSPICIONS: f64 = 100.0;

/// Below this many expected suspicions the rate is checked against a Poisson range.
const FEW_EXPECTED: f64 = 25.0;

/// Shortest loss run.
const MIN_WINDOW: Duration = Duration::from_secs(600);

/// Runs a converged cluster under `opts.loss` with TCP pings off (the simulator loses only
/// datagrams, so its TCP fallback would never fail) and compares the suspicions and deaths
/// it raises with the advisor's UDP-only rate and its bound on false deaths.
pub(crate) fn loss_rows(
    p: &Prediction,
    cfg: &ProtocolConfig,
    opts: &Options,
    virtual_time: &mut f64,
) -> Result<Vec<Row>, SimError> {
    let n = opts.nodes;
    let mut o = opts.clone();
    o.protocol = Some(ProtocolConfig {
        disable_tcp_pings: true,
        ..cfg.clone()
    });
    let mut sim = scenarios::build(&o)?;
    sim.bootstrap_converged();
    sim.run_for(Duration::from_secs(10));
    for i in 0..n {
        sim.watch(i);
    }
    let probes_per_hour = 3600.0 / cfg.probe_interval.as_secs_f64();
    let predicted = p.risk.udp_only_per_probe.value * probes_per_hour;
    // Long enough for TARGET_SUSPICIONS expected ones, within the budget.
    let wanted = if predicted > 0.0 {
        TARGET_SUSPICIONS / (predicted * n as f64) * 3600.0
    } else {
        f64::INFINITY
    };
    let budget = LOSS_BUDGET_NODE_SECONDS / n as f64;
    let window = Duration::from_secs_f64(wanted.min(budget).max(MIN_WINDOW.as_secs_f64()));
    let refutations = |s: &crate::Sim| (0..n).map(|i| s.stats(i).refutations).sum::<u64>();
    let (r0, start) = (refutations(&sim), sim.log().len());
    sim.run_for(window);
    *virtual_time += sim.elapsed().as_secs_f64();
    let suspicions = refutations(&sim) - r0;
    let mut dead: Vec<usize> = sim.log()[start..]
        .iter()
        .filter(|e| e.what == Observation::Dead)
        .map(|e| e.subject)
        .collect();
    dead.sort_unstable();
    dead.dedup();
    let hours = window.as_secs_f64() / 3600.0;
    let node_hours = hours * n as f64;
    let measured = suspicions as f64 / node_hours;
    let mut rows = Vec::new();
    let how = format!(
        "{suspicions} refutations in {node_hours:.0} node-hours ({:.0} s), TCP pings off; model: UDP-only chance per probe × probes per hour",
        window.as_secs_f64()
    );
    // Expected count over the run: with few, ±20 % is Poisson noise, so the measured rate
    // is checked against the count's ±2σ range instead.
    let expected = predicted * node_hours;
    if expected < FEW_EXPECTED {
        let spread = 2.0 * expected.sqrt() + 1.0;
        let (low, high) = ((expected - spread).max(0.0), expected + spread);
        let seen = if suspicions == 0 {
            format!("none seen (rate < {:.4}, 95 %)", 3.0 / node_hours)
        } else {
            format!("{suspicions} seen")
        };
        rows.push(
            Row::bound(
                "false suspicions",
                "per node-hour",
                low / node_hours,
                high / node_hours,
                Some(measured),
            )
            .note(format!(
                "{seen}; predicted {predicted:.4} ({expected:.1} expected in the run, checked against expected ± (2√expected + 1)); {how}"
            )),
        );
    } else {
        rows.push(
            Row::within(
                "false suspicions",
                "per node-hour",
                predicted,
                Some(measured),
            )
            .note(how),
        );
    }
    let deaths_bound = p.risk.false_deaths_per_cluster_hour.value;
    rows.push(
        Row::bound(
            "false deaths",
            "per cluster-hour",
            0.0,
            deaths_bound.max(3.0 / hours),
            Some(dead.len() as f64 / hours),
        )
        .note(format!(
            "{} members declared dead by someone in {hours:.2} h; model: an upper bound ({deaths_bound:.4}), widened to 3 per run for Poisson noise",
            dead.len()
        )),
    );
    Ok(rows)
}
