//! Repeating a scenario over consecutive seeds and summarising each measured figure as a
//! distribution (median, 99th percentile, spread), for the model comparisons that need more
//! than one run.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::report::Report;

/// The distribution of one numeric figure over the runs of a batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spread {
    /// Runs that produced the figure.
    pub runs: usize,
    /// Smallest value.
    pub min: f64,
    /// Median (nearest rank).
    pub p50: f64,
    /// 99th percentile (nearest rank; the maximum below 100 runs).
    pub p99: f64,
    /// Largest value.
    pub max: f64,
    /// The model's value, when the scenario reports one.
    pub model: Option<f64>,
}

/// Summary of several runs of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Batch {
    /// Scenario name.
    pub scenario: String,
    /// Cluster size.
    pub nodes: usize,
    /// First seed; the runs used `first_seed..first_seed + runs`.
    pub first_seed: u64,
    /// Number of runs.
    pub runs: usize,
    /// Runs with a broken invariant (their seeds).
    pub failed_seeds: Vec<u64>,
    /// Per measured figure, its distribution.
    pub figures: BTreeMap<String, Spread>,
    /// Peak resident memory of the process over all the runs, in MiB (see
    /// [`Report::peak_rss_mib`]).
    pub peak_rss_mib: Option<f64>,
}

/// Nearest-rank percentile of sorted values.
fn rank(sorted: &[f64], p: f64) -> f64 {
    let idx = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx]
}

impl Batch {
    /// Summarises the reports of one scenario run over consecutive seeds.
    ///
    /// ```
    /// use memberlist_sim::batch::Batch;
    /// use memberlist_sim::Report;
    /// let reports: Vec<Report> = (0..3)
    ///     .map(|s| {
    ///         let mut r = Report::new("crash", 10, s, 0.0);
    ///         r.measure("all_dead_s", 5.0 + s as f64);
    ///         r.expect("all_dead_s", 6.2);
    ///         r
    ///     })
    ///     .collect();
    /// let b = Batch::from_reports(&reports);
    /// let s = &b.figures["all_dead_s"];
    /// assert_eq!((s.min, s.p50, s.max, s.model), (5.0, 6.0, 7.0, Some(6.2)));
    /// ```
    pub fn from_reports(reports: &[Report]) -> Self {
        let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for r in reports {
            for (k, v) in &r.measured {
                let x = match v {
                    Value::Number(n) => n.as_f64(),
                    Value::Bool(b) => Some(f64::from(u8::from(*b))),
                    _ => None,
                };
                if let Some(x) = x {
                    values.entry(k.clone()).or_default().push(x);
                }
            }
        }
        let model = |k: &str| {
            reports
                .iter()
                .find_map(|r| r.expected.get(k).and_then(Value::as_f64))
        };
        let figures = values
            .into_iter()
            .map(|(k, mut v)| {
                v.sort_by(f64::total_cmp);
                let spread = Spread {
                    runs: v.len(),
                    min: v[0],
                    p50: rank(&v, 0.5),
                    p99: rank(&v, 0.99),
                    max: v[v.len() - 1],
                    model: model(&k),
                };
                (k, spread)
            })
            .collect();
        let first = reports.first();
        Self {
            scenario: first.map(|r| r.scenario.clone()).unwrap_or_default(),
            nodes: first.map_or(0, |r| r.nodes),
            first_seed: reports.iter().map(|r| r.seed).min().unwrap_or(0),
            runs: reports.len(),
            peak_rss_mib: reports
                .iter()
                .filter_map(|r| r.peak_rss_mib)
                .max_by(f64::total_cmp),
            failed_seeds: reports.iter().filter(|r| !r.ok()).map(|r| r.seed).collect(),
            figures,
        }
    }

    /// A human-readable table.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "batch {} — {} nodes, {} runs from seed {}",
            self.scenario, self.nodes, self.runs, self.first_seed
        );
        let _ = writeln!(
            s,
            "  {:<34} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "figure", "min", "p50", "p99", "max", "model"
        );
        for (k, f) in &self.figures {
            let model = f.model.map_or_else(|| "—".to_owned(), |m| format!("{m}"));
            let _ = writeln!(
                s,
                "  {k:<34} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9}",
                f.min, f.p50, f.p99, f.max, model
            );
        }
        if self.failed_seeds.is_empty() {
            let _ = writeln!(s, "  invariants: all held in every run");
        } else {
            let _ = writeln!(s, "  INVARIANTS BROKEN in seeds {:?}", self.failed_seeds);
        }
        s
    }

    /// The summary as one JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}
