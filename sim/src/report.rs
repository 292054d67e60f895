//! Scenario reports: measured figures next to the performance model, as text or JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

/// The outcome of one scenario run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Cluster size.
    pub nodes: usize,
    /// Seed of the run.
    pub seed: u64,
    /// Datagram loss probability on every link.
    pub loss: f64,
    /// Virtual time simulated.
    pub virtual_seconds: f64,
    /// Processor time of the run (see `cpu_time_source`).
    pub cpu_seconds: f64,
    /// `thread_schedstat` (on-CPU time of the simulating thread) or `wall_clock` (fallback).
    pub cpu_time_source: &'static str,
    /// Simulated node-seconds per CPU second: nodes × virtual seconds / CPU seconds.
    pub node_seconds_per_cpu_second: f64,
    /// Peak resident memory of the process so far, in MiB (Linux's `VmHWM`; `None` where
    /// it cannot be read). Runs of a batch share one process, so theirs is the peak of
    /// every run up to this one.
    pub peak_rss_mib: Option<f64>,
    /// Inputs processed (datagram deliveries and timer wake-ups).
    pub steps: u64,
    /// Hash of everything the run's machines did, in order (hex; the lifeguard scenario
    /// mixes its two clusters'): equal across processes when a run replays from its seed.
    pub trace_hash: String,
    /// Measured figures.
    pub measured: BTreeMap<String, Value>,
    /// The performance model's figures for the same quantities, where it has one.
    pub expected: BTreeMap<String, Value>,
    /// Remarks (what was not measured, approximations).
    pub notes: Vec<String>,
    /// Broken invariants (empty when all held).
    pub violations: Vec<String>,
    /// Per-member times behind the headline figure, in seconds from the event, sorted:
    /// when each member declared the crashed node dead (`crash`) or received the update
    /// (`disseminate`); empty for other scenarios. Kept for plots, not serialized.
    #[serde(skip)]
    pub series: Vec<f64>,
}

impl Report {
    /// An empty report for a scenario.
    pub fn new(scenario: &str, nodes: usize, seed: u64, loss: f64) -> Self {
        Self {
            scenario: scenario.to_owned(),
            nodes,
            seed,
            loss,
            cpu_time_source: "wall_clock",
            ..Self::default()
        }
    }

    /// Records a measured figure.
    pub fn measure(&mut self, key: &str, value: impl Into<Value>) {
        self.measured.insert(key.to_owned(), value.into());
    }

    /// Records a model figure.
    pub fn expect(&mut self, key: &str, value: impl Into<Value>) {
        self.expected.insert(key.to_owned(), value.into());
    }

    /// Adds a remark.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Whether every invariant held.
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// Fills in the cost figures from a finished clock.
    pub fn finish(&mut self, clock: &CpuClock, virtual_time: Duration, steps: u64, trace: u64) {
        let (cpu, source) = clock.elapsed();
        self.trace_hash = format!("{trace:016x}");
        self.virtual_seconds = virtual_time.as_secs_f64();
        self.cpu_seconds = cpu.as_secs_f64();
        self.cpu_time_source = source;
        self.steps = steps;
        self.peak_rss_mib = peak_rss_mib();
        self.node_seconds_per_cpu_second = if self.cpu_seconds > 0.0 {
            self.nodes as f64 * self.virtual_seconds / self.cpu_seconds
        } else {
            0.0
        };
    }

    /// The report as one JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// A human-readable summary.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "scenario {} — {} nodes, seed {}, loss {}",
            self.scenario, self.nodes, self.seed, self.loss
        );
        let _ = writeln!(
            s,
            "  simulated {:.1} s in {:.2} CPU s ({}): {:.0} node-seconds per CPU second, {} steps",
            self.virtual_seconds,
            self.cpu_seconds,
            self.cpu_time_source,
            self.node_seconds_per_cpu_second,
            self.steps
        );
        if let Some(mib) = self.peak_rss_mib {
            let _ = writeln!(s, "  peak memory {mib:.0} MiB (resident)");
        }
        for (k, v) in &self.measured {
            let model = self.expected.get(k).map(|e| format!("   (model {e})"));
            let _ = writeln!(s, "  {k:<28} {v}{}", model.unwrap_or_default());
        }
        for (k, e) in self
            .expected
            .iter()
            .filter(|(k, _)| !self.measured.contains_key(*k))
        {
            let _ = writeln!(s, "  {k:<28} —   (model {e})");
        }
        for n in &self.notes {
            let _ = writeln!(s, "  note: {n}");
        }
        if self.violations.is_empty() {
            let _ = writeln!(s, "  invariants: all held");
        } else {
            let _ = writeln!(s, "  INVARIANT VIOLATIONS:");
            for v in &self.violations {
                let _ = writeln!(s, "    {v}");
            }
        }
        s
    }
}

/// Measures processor time of the current thread, falling back to wall time.
#[derive(Debug, Clone, Copy)]
pub struct CpuClock {
    wall: Instant,
    cpu: Option<Duration>,
}

impl CpuClock {
    /// Starts measuring.
    pub fn start() -> Self {
        Self {
            wall: Instant::now(),
            cpu: thread_cpu_time(),
        }
    }

    /// Time since [`start`](Self::start) and its source.
    pub fn elapsed(&self) -> (Duration, &'static str) {
        match (self.cpu, thread_cpu_time()) {
            (Some(a), Some(b)) if b >= a => (b - a, "thread_schedstat"),
            _ => (self.wall.elapsed(), "wall_clock"),
        }
    }
}

/// On-CPU time of this thread from Linux's `/proc/thread-self/schedstat` (nanoseconds).
fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// Peak resident set size of this process in MiB, from the `VmHWM` line of Linux's
/// `/proc/self/status` (kilobytes).
fn peak_rss_mib() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib as f64 / 1024.0)
}
