//! The advisor's predictions checked against the simulator: [`compare`] runs a
//! configuration through the crash, dissemination and steady-state scenarios (and, under
//! loss, a long steady run counting false suspicions) and sets each measured figure next to
//! the [`memberlist_advisor`] prediction for it.
//!
//! ```
//! use memberlist_core::machine::ProtocolConfig;
//! use memberlist_sim::compare::compare;
//!
//! let c = compare(&ProtocolConfig::local("a"), 10, 0.0, 1)?;
//! let first = c.rows.iter().find(|r| r.figure == "first suspicion").unwrap();
//! assert!(first.measured.is_some());
//! println!("{c}");
//! # Ok::<(), memberlist_sim::compare::CompareError>(())
//! ```

use std::fmt;

use memberlist_advisor::{Assumptions, PredictError, Prediction, predict_with};
use memberlist_core::machine::ProtocolConfig;
use serde::Serialize;

use crate::engine::{SimError, node_name};
use crate::report::{CpuClock, Report};
use crate::scenarios::{self, Options, Scenario};

/// Crashes simulated (one per seed, from the given seed on): the first suspicion is a
/// geometric wait, so one sample says little.
pub const CRASH_RUNS: u64 = 40;

/// Updates disseminated (one per seed).
pub const UPDATE_RUNS: u64 = 40;

/// Relative tolerance of the rows that are estimates: ±20 %.
pub const TOLERANCE: f64 = 0.2;

/// Node-seconds the loss run may simulate at most (it aims at 100 expected suspicions).
pub const LOSS_BUDGET_NODE_SECONDS: f64 = 4.0e6;

/// How a row is checked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Check {
    /// The measured value is within `tolerance` (relative) of the predicted one.
    Within {
        /// Relative tolerance (0.2 for ±20 %).
        tolerance: f64,
    },
    /// The model gives only a range: the measured value must fall inside it.
    Bound {
        /// Lower end.
        low: f64,
        /// Upper end.
        high: f64,
    },
}

/// One figure, predicted and measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// What is compared (`"first suspicion"`, `"rounds to all"`…).
    pub figure: &'static str,
    /// Unit of `predicted`, `measured` and the bound: `"s"`, `"rounds"`, `"B/s"`,
    /// `"per node-hour"`, `"per cluster-hour"`.
    pub unit: &'static str,
    /// The prediction (`None` for a row checked against a [`Check::Bound`]).
    pub predicted: Option<f64>,
    /// What the simulator measured (`None`: the scenario did not get that far).
    pub measured: Option<f64>,
    /// measured / predicted, for the rows with a predicted value.
    pub ratio: Option<f64>,
    /// How the row is checked.
    pub check: Check,
    /// Whether the check passed (`None` when nothing was measured).
    pub ok: Option<bool>,
    /// How the figure was measured, and anything the reader should know.
    pub note: String,
}

impl Row {
    pub(crate) fn within(
        figure: &'static str,
        unit: &'static str,
        predicted: f64,
        measured: Option<f64>,
    ) -> Self {
        let ratio = measured.map(|m| {
            if predicted == 0.0 {
                f64::NAN
            } else {
                m / predicted
            }
        });
        Self {
            figure,
            unit,
            predicted: Some(predicted),
            measured,
            ratio,
            check: Check::Within {
                tolerance: TOLERANCE,
            },
            ok: ratio.map(|r| (r - 1.0).abs() <= TOLERANCE),
            note: String::new(),
        }
    }

    pub(crate) fn bound(
        figure: &'static str,
        unit: &'static str,
        low: f64,
        high: f64,
        measured: Option<f64>,
    ) -> Self {
        Self {
            figure,
            unit,
            predicted: None,
            measured,
            ratio: None,
            check: Check::Bound { low, high },
            ok: measured.map(|m| low <= m && m <= high),
            note: String::new(),
        }
    }

    pub(crate) fn note(mut self, note: impl Into<String>) -> Self {
        self.note = note.into();
        self
    }
}

/// The rows for one configuration, cluster size, loss and seed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Cluster size.
    pub nodes: usize,
    /// Datagram loss on every link.
    pub loss: f64,
    /// First seed (crash run k and update run k use `seed + k`).
    pub seed: u64,
    /// Predicted against measured, one row per figure.
    pub rows: Vec<Row>,
    /// Virtual time all runs simulated, in seconds.
    pub virtual_seconds: f64,
    /// Processor time all runs took, in seconds.
    pub cpu_seconds: f64,
}

impl Comparison {
    /// The rows whose check failed.
    pub fn outside(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.ok == Some(false))
    }
}

/// Why no comparison could be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompareError {
    /// The advisor refused the inputs.
    #[error(transparent)]
    Predict(#[from] PredictError),
    /// The simulator could not build the cluster.
    #[error("simulator: {0}")]
    Sim(String),
}

impl From<SimError> for CompareError {
    fn from(e: SimError) -> Self {
        Self::Sim(e.0)
    }
}

/// Runs `cfg` in the simulator at `nodes` nodes and `loss` (from `seed`) and compares what
/// it measures with [`predict_with`]. Every run starts from a converged cluster, so that
/// large clusters stay cheap; the result depends only on the inputs.
pub fn compare(
    cfg: &ProtocolConfig,
    nodes: usize,
    loss: f64,
    seed: u64,
) -> Result<Comparison, CompareError> {
    // The simulator's nodes are named `node-0`, `node-1`…: the sizes assume their mean length.
    let name_len = (0..nodes).map(|i| node_name(i).len()).sum::<usize>() / nodes.max(1);
    let assumptions = Assumptions {
        name_len,
        ..Assumptions::default()
    };
    let p = predict_with(cfg, nodes, loss, &assumptions)?;
    let clock = CpuClock::start();
    let mut opts = Options::new(nodes, seed);
    opts.loss = loss;
    opts.preconverged = true;
    opts.protocol = Some(cfg.clone());
    let mut virtual_time = 0.0;
    let mut rows = Vec::new();
    rows.extend(crash_rows(&p, &opts, &mut virtual_time)?);
    rows.extend(spread_rows(&p, cfg, &opts, &mut virtual_time)?);
    rows.extend(steady_rows(&p, &opts, &mut virtual_time)?);
    if loss > 0.0 {
        rows.extend(crate::compare_loss::loss_rows(
            &p,
            cfg,
            &opts,
            &mut virtual_time,
        )?);
    }
    let (cpu, _) = clock.elapsed();
    tracing::debug!(
        nodes,
        loss,
        seed,
        cpu = cpu.as_secs_f64(),
        "comparison done"
    );
    Ok(Comparison {
        nodes,
        loss,
        seed,
        rows,
        virtual_seconds: virtual_time,
        cpu_seconds: cpu.as_secs_f64(),
    })
}

/// Runs `scenario` once per seed from `opts.seed` on.
fn runs(
    scenario: Scenario,
    opts: &Options,
    count: u64,
    virtual_time: &mut f64,
) -> Result<Vec<Report>, SimError> {
    (0..count)
        .map(|k| {
            let mut o = opts.clone();
            o.seed = opts.seed.wrapping_add(k);
            let r = scenarios::run(scenario, &o)?;
            *virtual_time += r.virtual_seconds;
            Ok(r)
        })
        .collect()
}

fn figure(r: &Report, key: &str) -> Option<f64> {
    r.measured.get(key).and_then(serde_json::Value::as_f64)
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Mean of `values` and how many lie outside `[low, high]`, for a bound row's note.
fn bound_row(figure: &'static str, low: f64, high: f64, values: &[f64], what: &str) -> Row {
    let outside = values.iter().filter(|&&v| v < low || v > high).count();
    let (min, max) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    // The model's ends are expected values (its time to dead adds the mean first
    // suspicion), so the mean is what is checked; single crashes may fall outside.
    let row = Row::bound(figure, "s", low, high, mean(values));
    let range = if values.is_empty() {
        String::new()
    } else {
        format!(" (range {min:.2}–{max:.2} s)")
    };
    row.note(format!(
        "mean of {} crashes{range}, {outside} of them outside; {what}",
        values.len()
    ))
}

/// A row checking the mean of `values` against an expected value (±20 %).
fn expected_row(figure: &'static str, predicted: f64, values: &[f64], what: &str) -> Row {
    let row = Row::within(figure, "s", predicted, mean(values));
    row.note(format!("mean of {} crashes; {what}", values.len()))
}

fn crash_rows(
    p: &Prediction,
    opts: &Options,
    virtual_time: &mut f64,
) -> Result<Vec<Row>, SimError> {
    let reports = runs(Scenario::Crash, opts, CRASH_RUNS, virtual_time)?;
    let col = |key: &str| -> Vec<f64> { reports.iter().filter_map(|r| figure(r, key)).collect() };
    let first = col("first_suspicion_s");
    let timeouts: Vec<f64> = reports
        .iter()
        .filter_map(|r| Some(figure(r, "first_dead_s")? - figure(r, "first_suspicion_s")?))
        .collect();
    let s = p.suspicion_timeout.value;
    let dead = p.time_to_dead.value;
    let (low, high) = (s.low.as_secs_f64(), s.high.as_secs_f64());
    Ok(vec![
        Row::within(
            "first suspicion",
            "s",
            p.first_suspicion.value.as_secs_f64(),
            mean(&first),
        )
        .note(format!(
            "mean of {} crashes, measured from the crash",
            first.len()
        )),
        // The timer runs on the machine's clock in whole milliseconds: 1 % of slack.
        bound_row(
            "suspicion timeout",
            low * 0.99,
            high * 1.01,
            &timeouts,
            "first death − first suspicion; model: k confirmations .. none (±1 %)",
        ),
        expected_row(
            "dead at first",
            p.first_suspicion.value.as_secs_f64() + low,
            &col("first_dead_s"),
            "model: first suspicion + the shortest suspicion timeout (the confirmations \
             arrive in time)",
        ),
        expected_row(
            "dead at all",
            dead.low.as_secs_f64(),
            &col("all_dead_s"),
            "model: the low end of the time to dead (first suspicion + shortest timeout + \
             dissemination); sampled every 250 ms",
        ),
    ])
}

fn spread_rows(
    p: &Prediction,
    cfg: &ProtocolConfig,
    opts: &Options,
    virtual_time: &mut f64,
) -> Result<Vec<Row>, SimError> {
    let reports = runs(Scenario::Disseminate, opts, UPDATE_RUNS, virtual_time)?;
    let round = cfg.gossip_interval.as_secs_f64();
    let predicted = p.dissemination_time.value.as_secs_f64();
    // A member later than this was missed by gossip and caught up by push/pull (or a probe).
    let straggler = 3.0 * predicted + 2.0 * round;
    let everyone = (opts.nodes - 1) as f64;
    // The last member's delay of each update that gossip brought to everyone.
    let by_gossip: Vec<f64> = reports
        .iter()
        .filter(|r| figure(r, "reached") == Some(everyone))
        .filter_map(|r| r.series.last().copied())
        .filter(|&last| last <= straggler)
        .collect();
    let missed = reports.len() - by_gossip.len();
    let seconds = mean(&by_gossip);
    let how = format!(
        "mean over the {} of {} updates from node 0 that gossip brought to everyone within \
         {straggler:.2} s, last member's delay",
        by_gossip.len(),
        reports.len()
    );
    let runs = reports.len() as u64;
    let (low, high) = binomial_range(runs, p.gossip_miss.value);
    Ok(vec![
        Row::within(
            "rounds to all",
            "rounds",
            p.dissemination_rounds.value,
            seconds.map(|s| s / round),
        )
        .note(format!("{how}, in gossip intervals of {round} s")),
        Row::within("seconds to all", "s", predicted, seconds).note(how),
        Row::bound(
            "updates missing a node",
            "fraction",
            low as f64 / runs as f64,
            high as f64 / runs as f64,
            Some(missed as f64 / runs as f64),
        )
        .note(format!(
            "{missed} of {runs} updates left a member later than {straggler:.2} s (or \
             unreached after 120 s); model: {:.4}, checked against the binomial 99 % range \
             {low}..={high}",
            p.gossip_miss.value
        )),
    ])
}

/// The central 99 % range of Binomial(`n`, `q`): the counts outside it have at most 0.5 %
/// probability on either side.
fn binomial_range(n: u64, q: f64) -> (u64, u64) {
    let q = q.clamp(0.0, 1.0);
    let mut pmf = Vec::with_capacity(n as usize + 1);
    // P(k) by the ratio P(k)/P(k−1) = (n − k + 1)/k × q/(1 − q), from P(0) = (1 − q)^n.
    if q >= 1.0 {
        return (n, n);
    }
    let mut pk = (1.0 - q).powf(n as f64);
    for k in 0..=n {
        if k > 0 {
            pk *= (n - k + 1) as f64 / k as f64 * q / (1.0 - q);
        }
        pmf.push(pk);
    }
    let mut below = 0.0;
    let mut low = 0;
    for (k, &pk) in pmf.iter().enumerate() {
        if below + pk > 0.005 {
            low = k as u64;
            break;
        }
        below += pk;
    }
    let mut above = 0.0;
    let mut high = n;
    for (k, &pk) in pmf.iter().enumerate().rev() {
        if above + pk > 0.005 {
            high = k as u64;
            break;
        }
        above += pk;
    }
    (low, high)
}

fn steady_rows(
    p: &Prediction,
    opts: &Options,
    virtual_time: &mut f64,
) -> Result<Vec<Row>, SimError> {
    let r = scenarios::run(Scenario::Steady, opts)?;
    *virtual_time += r.virtual_seconds;
    let bytes = |key: &str| figure(&r, key).map(|kib| kib * 1024.0);
    let window = figure(&r, "window_s").unwrap_or(0.0);
    let how = format!("bytes sent per node-second over {window:.0} s of a quiet cluster");
    let b = &p.bandwidth;
    Ok(vec![
        Row::within(
            "probes",
            "B/s",
            b.probes.value + b.gossip_quiet.value,
            bytes("udp_kib_per_node_s"),
        )
        .note(format!("{how}: datagrams")),
        Row::within(
            "push/pull",
            "B/s",
            b.push_pull.value,
            bytes("stream_kib_per_node_s"),
        )
        .note(format!(
            "{how}: streams (requests dialed plus replies written)"
        )),
        Row::within(
            "bandwidth total",
            "B/s",
            b.quiet_total.value,
            bytes("kib_per_node_s"),
        )
        .note(how),
    ])
}

fn value(v: f64, unit: &str) -> String {
    let digits = if v == 0.0 || v.abs() >= 100.0 {
        0
    } else if v.abs() >= 10.0 {
        1
    } else if v.abs() >= 0.1 {
        2
    } else {
        4
    };
    let unit = match unit {
        "rounds" | "fraction" => "",
        u => u,
    };
    format!("{v:.digits$} {unit}").trim_end().to_owned()
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "simulated: {} nodes, {}% datagram loss, seeds from {} ({:.0} virtual s in {:.2} CPU s)",
            self.nodes,
            self.loss * 100.0,
            self.seed,
            self.virtual_seconds,
            self.cpu_seconds
        )?;
        writeln!(
            f,
            "  {:<26} {:>17} {:>14} {:>6}  check",
            "figure", "predicted", "measured", "ratio"
        )?;
        for r in &self.rows {
            let (predicted, check) = match r.check {
                Check::Within { tolerance } => (
                    r.predicted.map(|v| value(v, r.unit)).unwrap_or_default(),
                    format!("±{:.0} %", tolerance * 100.0),
                ),
                Check::Bound { low, high } => (
                    format!("{}–{}", value(low, ""), value(high, r.unit)),
                    "bound".to_owned(),
                ),
            };
            let measured = r
                .measured
                .map_or_else(|| "—".to_owned(), |v| value(v, r.unit));
            let ratio = r
                .ratio
                .filter(|x| x.is_finite())
                .map_or_else(|| "".to_owned(), |x| format!("{x:.2}"));
            let verdict = match r.ok {
                Some(true) => "ok",
                Some(false) => "OUTSIDE",
                None => "not measured",
            };
            writeln!(
                f,
                "  {:<26} {predicted:>17} {measured:>14} {ratio:>6}  {verdict} {check}",
                r.figure
            )?;
            if !r.note.is_empty() {
                writeln!(f, "  {:<26} {}", "", r.note)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::binomial_range;

    #[test]
    fn binomial_range_holds_the_central_ninety_nine_percent() {
        // Never happens: only 0 is in range.
        assert_eq!(binomial_range(40, 0.0), (0, 0));
        // Always happens.
        assert_eq!(binomial_range(40, 1.0), (40, 40));
        // Rare: P(k ≥ 1) = 1 − (1 − 0.0005)^40 = 2 % > 0.5 %, P(k ≥ 2) < 0.5 %.
        assert_eq!(binomial_range(40, 0.0005), (0, 1));
        // Binomial(40, 0.21): mean 8.4, sd 2.6; the range leaves under 0.5 % on each side.
        assert_eq!(binomial_range(40, 0.21), (2, 15));
        // Symmetric around one half.
        let (low, high) = binomial_range(100, 0.5);
        assert_eq!(low + high, 100);
        assert!(low > 30 && low < 40, "{low}");
    }
}
