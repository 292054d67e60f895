//! A sink that keeps every value in memory, for tests and direct reading.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::{Counter, DeclaredCounter, Gauge, Histogram, Metrics};

/// Count, sum, minimum and maximum of a histogram's observations.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HistogramSummary {
    /// How many values were observed.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// The smallest (0 when none).
    pub min: f64,
    /// The largest (0 when none).
    pub max: f64,
    /// The latest (0 when none).
    pub last: f64,
}

/// A [`Metrics`] sink holding counters, gauges and histogram summaries in atomics, indexed
/// by the catalog's dense indexes (no locks, no allocation per update).
///
/// ```
/// use memberlist_core::metrics::{Histogram, InMemoryMetrics, Metrics};
/// let sink = InMemoryMetrics::new();
/// sink.record(Histogram::ProbeRtt, 0.002);
/// sink.record(Histogram::ProbeRtt, 0.004);
/// let s = sink.histogram(Histogram::ProbeRtt);
/// assert_eq!((s.count, s.min, s.max), (2, 0.002, 0.004));
/// ```
#[derive(Debug)]
pub struct InMemoryMetrics {
    counters: Vec<AtomicU64>,
    gauges: Vec<AtomicU64>,
    histograms: Vec<[AtomicU64; 5]>,
    /// Declared plugin counters and their series, found by the declaration's address.
    declared: Mutex<Vec<(&'static DeclaredCounter, Vec<u64>)>>,
}

impl Default for InMemoryMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryMetrics {
    /// A sink with every counter, gauge and histogram at zero.
    pub fn new() -> Self {
        let zeros = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect();
        InMemoryMetrics {
            counters: zeros(Counter::COUNT),
            gauges: zeros(Gauge::COUNT),
            histograms: (0..Histogram::COUNT)
                .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                .collect(),
            declared: Mutex::default(),
        }
    }

    /// A counter's value.
    pub fn counter(&self, counter: Counter) -> u64 {
        self.counters[counter.index()].load(Ordering::Relaxed)
    }

    /// A gauge's last value.
    pub fn gauge(&self, gauge: Gauge) -> f64 {
        f64::from_bits(self.gauges[gauge.index()].load(Ordering::Relaxed))
    }

    /// A histogram's summary.
    pub fn histogram(&self, histogram: Histogram) -> HistogramSummary {
        let [count, sum, min, max, last] = &self.histograms[histogram.index()];
        let f = |a: &AtomicU64| f64::from_bits(a.load(Ordering::Relaxed));
        HistogramSummary {
            count: count.load(Ordering::Relaxed),
            sum: f(sum),
            min: f(min),
            max: f(max),
            last: f(last),
        }
    }

    /// Series `label` of a declared plugin counter (0 when undeclared or out of range).
    pub fn declared_counter(&self, counter: &'static DeclaredCounter, label: usize) -> u64 {
        let declared = self.declared.lock().unwrap_or_else(PoisonError::into_inner);
        declared
            .iter()
            .find(|(c, _)| std::ptr::eq(*c, counter))
            .and_then(|(_, series)| series.get(label).copied())
            .unwrap_or(0)
    }
}

fn update_f64(cell: &AtomicU64, f: impl Fn(f64) -> f64) {
    let _ = cell.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
        Some(f(f64::from_bits(bits)).to_bits())
    });
}

impl Metrics for InMemoryMetrics {
    fn increment(&self, counter: Counter, by: u64) {
        self.counters[counter.index()].fetch_add(by, Ordering::Relaxed);
    }

    fn set(&self, gauge: Gauge, value: f64) {
        self.gauges[gauge.index()].store(value.to_bits(), Ordering::Relaxed);
    }

    fn record(&self, histogram: Histogram, value: f64) {
        let [count, sum, min, max, last] = &self.histograms[histogram.index()];
        let first = count.fetch_add(1, Ordering::Relaxed) == 0;
        last.store(value.to_bits(), Ordering::Relaxed);
        update_f64(sum, |s| s + value);
        update_f64(min, |m| if first || value < m { value } else { m });
        update_f64(max, |m| if first || value > m { value } else { m });
    }

    fn declare(&self, counter: &'static DeclaredCounter) {
        let mut declared = self.declared.lock().unwrap_or_else(PoisonError::into_inner);
        if !declared.iter().any(|(c, _)| std::ptr::eq(*c, counter)) {
            declared.push((counter, vec![0; counter.series()]));
        }
    }

    fn increment_declared(&self, counter: &'static DeclaredCounter, label: usize, by: u64) {
        let mut declared = self.declared.lock().unwrap_or_else(PoisonError::into_inner);
        let series = declared
            .iter_mut()
            .find(|(c, _)| std::ptr::eq(*c, counter))
            .and_then(|(_, series)| series.get_mut(label));
        if let Some(value) = series {
            *value += by;
        }
    }
}
