//! # memberlist-prometheus
//!
//! Exports memberlist-rs metrics to Prometheus: every metric of the core's
//! [catalog](memberlist_core::metrics::catalog) is registered in a
//! [`prometheus::Registry`] under its Prometheus name (`memberlist_msg_alive_total`,
//! `memberlist_udp_sent_bytes_total`, `memberlist_probe_node_seconds`,
//! `memberlist_members{state="alive"}`, …), with the constant labels you choose (Go's
//! `MetricLabels`). Every time series is resolved once at registration, so an update is one
//! atomic operation: no lookup, no allocation.
//!
//! ```
//! use memberlist_core::machine::State;
//! use memberlist_core::metrics::{Counter, Gauge, Metrics};
//! use memberlist_prometheus::PrometheusMetrics;
//!
//! let metrics = PrometheusMetrics::builder()
//!     .const_label("cluster", "blue")
//!     .build()?;
//! metrics.increment(Counter::MsgAlive, 1);
//! metrics.set(Gauge::Members(State::Alive), 3.0);
//! let text = metrics.render()?;
//! assert!(text.contains(r#"memberlist_members{cluster="blue",state="alive"} 3"#));
//! assert!(text.contains(r#"memberlist_msg_alive_total{cluster="blue"} 1"#));
//! # Ok::<(), memberlist_prometheus::Error>(())
//! ```
//!
//! Pass the sink to the runtime as any other [`Metrics`] implementation, and serve
//! [`PrometheusMetrics::render`] (or your own registry's output) on `/metrics`.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use memberlist_core::metrics::{Counter, DeclaredCounter, Descriptor, Gauge, Histogram, Metrics};
use prometheus::core::{MetricVec, MetricVecBuilder};
use prometheus::{GaugeVec, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};

/// Registering or rendering failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The registry refused a metric (e.g. a name already registered by someone else, or an
    /// invalid constant label).
    #[error("prometheus: {0}")]
    Prometheus(#[from] prometheus::Error),
}

/// Options for [`PrometheusMetrics`]: the registry and constant labels.
#[derive(Debug, Default)]
pub struct Builder {
    registry: Option<Registry>,
    const_labels: HashMap<String, String>,
}

impl Builder {
    /// Registers into `registry` (a clone of the handle; Prometheus registries are shared)
    /// instead of a new one.
    pub fn registry(mut self, registry: &Registry) -> Self {
        self.registry = Some(registry.clone());
        self
    }

    /// Adds a label carried by every metric (e.g. `cluster`, `node`).
    pub fn const_label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.const_labels.insert(name.into(), value.into());
        self
    }

    /// Registers every metric of the catalog.
    pub fn build(self) -> Result<PrometheusMetrics, Error> {
        let registry = self.registry.unwrap_or_default();
        let labels = &self.const_labels;
        let counters = Counter::all().map(|c| (c.descriptor(), c.label_value()));
        let counters = series(&registry, labels, IntCounterVec::new, counters)?;
        let gauges = Gauge::all().map(|g| (g.descriptor(), g.label_value()));
        let gauges = series(&registry, labels, GaugeVec::new, gauges)?;

        let mut histograms = Vec::with_capacity(Histogram::COUNT);
        for h in Histogram::all() {
            let d = h.descriptor();
            let hopts = HistogramOpts::from(opts(d, labels)).buckets(d.buckets.to_vec());
            let histogram = prometheus::Histogram::with_opts(hopts)?;
            registry.register(Box::new(histogram.clone()))?;
            histograms.push(histogram);
        }

        Ok(PrometheusMetrics {
            registry,
            const_labels: Arc::new(self.const_labels),
            counters,
            gauges,
            histograms,
            declared: Arc::default(),
        })
    }
}

/// A metric's options: its name and help, and the constant labels.
fn opts(d: &Descriptor, const_labels: &HashMap<String, String>) -> Opts {
    Opts::new(d.prometheus_name, d.help).const_labels(const_labels.clone())
}

/// Registers a vector (made by `new`) per Prometheus name of `metrics`, shared by the series
/// of a labelled metric, and resolves each metric's series (its descriptor and label value).
fn series<B: MetricVecBuilder + 'static>(
    registry: &Registry,
    const_labels: &HashMap<String, String>,
    new: fn(Opts, &[&str]) -> prometheus::Result<MetricVec<B>>,
    metrics: impl Iterator<Item = (&'static Descriptor, Option<&'static str>)>,
) -> prometheus::Result<Vec<B::M>> {
    let mut vecs: HashMap<&'static str, MetricVec<B>> = HashMap::new();
    metrics
        .map(|(d, value)| {
            let vec = match vecs.get(d.prometheus_name) {
                Some(v) => v.clone(),
                None => {
                    let keys: Vec<&str> = d.label.into_iter().collect();
                    let v = new(opts(d, const_labels), &keys)?;
                    registry.register(Box::new(v.clone()))?;
                    vecs.insert(d.prometheus_name, v.clone());
                    v
                }
            };
            vec.get_metric_with_label_values(&value.into_iter().collect::<Vec<_>>())
        })
        .collect()
}

/// A declared plugin counter and its series (none when its name was taken).
type DeclaredSeries = (&'static DeclaredCounter, Vec<IntCounter>);

/// A [`Metrics`] sink backed by Prometheus instruments.
#[derive(Clone)]
pub struct PrometheusMetrics {
    registry: Registry,
    const_labels: Arc<HashMap<String, String>>,
    counters: Vec<IntCounter>,
    gauges: Vec<prometheus::Gauge>,
    histograms: Vec<prometheus::Histogram>,
    /// Counters declared by plugins (a transport's own), registered when declared.
    declared: Arc<Mutex<Vec<DeclaredSeries>>>,
}

impl std::fmt::Debug for PrometheusMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusMetrics")
            .field(
                "series",
                &(self.counters.len() + self.gauges.len() + self.histograms.len()),
            )
            .finish_non_exhaustive()
    }
}

impl PrometheusMetrics {
    /// Options: registry and constant labels.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Every metric in a new registry, without constant labels.
    ///
    /// ```
    /// let metrics = memberlist_prometheus::PrometheusMetrics::new()?;
    /// assert!(metrics.render()?.contains("memberlist_health_score 0"));
    /// # Ok::<(), memberlist_prometheus::Error>(())
    /// ```
    pub fn new() -> Result<Self, Error> {
        Builder::default().build()
    }

    /// The registry the metrics live in.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The registry's metrics in Prometheus's text exposition format (what `/metrics`
    /// serves, with content type [`TEXT_CONTENT_TYPE`]).
    pub fn render(&self) -> Result<String, Error> {
        Ok(TextEncoder::new().encode_to_string(&self.registry.gather())?)
    }
}

/// The content type of [`PrometheusMetrics::render`]'s output.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

impl Metrics for PrometheusMetrics {
    #[inline]
    fn increment(&self, counter: Counter, by: u64) {
        self.counters[counter.index()].inc_by(by);
    }

    #[inline]
    fn set(&self, gauge: Gauge, value: f64) {
        self.gauges[gauge.index()].set(value);
    }

    #[inline]
    fn record(&self, histogram: Histogram, value: f64) {
        self.histograms[histogram.index()].observe(value);
    }

    fn declare(&self, counter: &'static DeclaredCounter) {
        let mut declared = self.declared.lock().unwrap_or_else(PoisonError::into_inner);
        if declared.iter().any(|(c, _)| std::ptr::eq(*c, counter)) {
            return;
        }
        let metrics = (0..counter.series()).map(|i| (&counter.descriptor, counter.label_value(i)));
        match series(
            &self.registry,
            &self.const_labels,
            IntCounterVec::new,
            metrics,
        ) {
            Ok(series) => declared.push((counter, series)),
            // A name taken by someone else in a shared registry: the counter stays unexported.
            Err(_) => declared.push((counter, Vec::new())),
        }
    }

    fn increment_declared(&self, counter: &'static DeclaredCounter, label: usize, by: u64) {
        let declared = self.declared.lock().unwrap_or_else(PoisonError::into_inner);
        let series = declared
            .iter()
            .find(|(c, _)| std::ptr::eq(*c, counter))
            .and_then(|(_, series)| series.get(label));
        if let Some(series) = series {
            series.inc_by(by);
        }
    }
}

#[cfg(test)]
mod tests;
