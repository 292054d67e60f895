//! [`OtelMetrics`]: the [`Metrics`] sink over OpenTelemetry instruments, and its
//! [`Builder`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use memberlist_core::metrics::{Counter, DeclaredCounter, Descriptor, Gauge, Histogram, Metrics};
use opentelemetry::metrics::{Meter, MeterProvider};
use opentelemetry::{InstrumentationScope, Key, KeyValue, Value};

use crate::series::{CounterSeries, GaugeSeries, HistogramSeries};
use crate::units::{counter_unit, gauge_unit, histogram_unit};

/// The instrumentation scope name under which [`Builder::provider`] and [`Builder::build`]
/// create the instruments.
pub const SCOPE_NAME: &str = "memberlist";

/// The instrumentation scope `memberlist`, versioned with this crate.
///
/// ```
/// let scope = memberlist_opentelemetry::scope();
/// assert_eq!(scope.name(), "memberlist");
/// ```
pub fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(SCOPE_NAME)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

/// Options for [`OtelMetrics`]: where the instruments come from and the constant attributes.
#[derive(Debug, Default)]
pub struct Builder {
    meter: Option<Meter>,
    const_attributes: Vec<KeyValue>,
}

impl Builder {
    /// Creates the instruments from `meter` (any scope the caller chose).
    pub fn meter(mut self, meter: &Meter) -> Self {
        self.meter = Some(meter.clone());
        self
    }

    /// Creates the instruments from `provider`'s meter for the [`scope`] `memberlist`.
    pub fn provider(mut self, provider: &impl MeterProvider) -> Self {
        self.meter = Some(provider.meter_with_scope(scope()));
        self
    }

    /// Adds an attribute carried by every data point (like Go's `MetricLabels`: `cluster`,
    /// `node`, …). Adding a key twice keeps the last value. A key equal to a metric's own
    /// label key (`reason`, `state`) is ignored on that metric: the series' label wins.
    pub fn const_attribute(mut self, key: impl Into<Key>, value: impl Into<Value>) -> Self {
        let key = key.into();
        self.const_attributes.retain(|kv| kv.key != key);
        self.const_attributes.push(KeyValue::new(key, value));
        self
    }

    /// Creates every instrument of the catalog and the attribute set of every series.
    ///
    /// Without [`meter`](Self::meter) or [`provider`](Self::provider), the instruments come
    /// from the global meter provider (`opentelemetry::global`) for the [`scope`]
    /// `memberlist`; it must be installed before this call, as instruments created from
    /// the default no-op provider stay no-ops.
    pub fn build(self) -> OtelMetrics {
        let meter = self
            .meter
            .unwrap_or_else(|| opentelemetry::global::meter_with_scope(scope()));
        let consts = &self.const_attributes;

        let mut counter_instruments = HashMap::new();
        let counters = Counter::all()
            .map(|c| {
                let d = c.descriptor();
                let instrument = counter_instruments.entry(d.otel_name).or_insert_with(|| {
                    meter
                        .u64_counter(d.otel_name)
                        .with_description(d.help)
                        .with_unit(counter_unit(c))
                        .build()
                });
                CounterSeries::new(instrument, attributes(consts, d, c.label_value()))
            })
            .collect();

        let mut gauge_instruments = HashMap::new();
        let gauges = Gauge::all()
            .map(|g| {
                let d = g.descriptor();
                let instrument = gauge_instruments.entry(d.otel_name).or_insert_with(|| {
                    meter
                        .f64_gauge(d.otel_name)
                        .with_description(d.help)
                        .with_unit(gauge_unit(g))
                        .build()
                });
                GaugeSeries::new(instrument, attributes(consts, d, g.label_value()))
            })
            .collect();

        let histograms = Histogram::all()
            .map(|h| {
                let d = h.descriptor();
                let instrument = meter
                    .f64_histogram(d.otel_name)
                    .with_description(d.help)
                    .with_unit(histogram_unit(h))
                    .with_boundaries(h.descriptor().buckets.to_vec())
                    .build();
                HistogramSeries::new(&instrument, attributes(consts, d, h.label_value()))
            })
            .collect();

        OtelMetrics {
            counters,
            gauges,
            histograms,
            declared: Arc::new(Declared {
                meter,
                const_attributes: self.const_attributes,
                counters: Mutex::default(),
            }),
        }
    }
}

/// The attributes of one series: the constant ones, then the series' label if it has one.
fn attributes(consts: &[KeyValue], d: &Descriptor, label: Option<&'static str>) -> Box<[KeyValue]> {
    let mut out: Vec<KeyValue> = consts
        .iter()
        .filter(|kv| d.label != Some(kv.key.as_str()))
        .cloned()
        .collect();
    if let (Some(key), Some(value)) = (d.label, label) {
        out.push(KeyValue::new(key, value));
    }
    out.into_boxed_slice()
}

/// A [`Metrics`] sink that records into OpenTelemetry instruments: `u64` counters, `f64`
/// gauges and `f64` histograms named by the catalog's
/// [`otel_name`](memberlist_core::metrics::Descriptor::otel_name).
///
/// Every series' instrument and attribute slice is resolved when the sink is built, indexed
/// by the catalog's dense index, so an update is an array access and one call into the SDK,
/// with no allocation (and, with the default feature `experimental-bound-instruments`, no
/// attribute lookup). Cloning copies every series' handles; share one sink behind an `Arc`
/// where many owners need it.
///
/// ```
/// use memberlist_core::metrics::{Counter, Metrics};
/// use memberlist_opentelemetry::OtelMetrics;
/// use opentelemetry_sdk::metrics::SdkMeterProvider;
///
/// let provider = SdkMeterProvider::builder().build();
/// let metrics = OtelMetrics::builder()
///     .provider(&provider)
///     .const_attribute("cluster", "blue")
///     .build();
/// metrics.increment(Counter::MsgAlive, 1);
/// ```
#[derive(Clone)]
pub struct OtelMetrics {
    counters: Vec<CounterSeries>,
    gauges: Vec<GaugeSeries>,
    histograms: Vec<HistogramSeries>,
    declared: Arc<Declared>,
}

/// Counters declared by plugins (a transport's own), created when declared, and what it
/// takes to create them.
struct Declared {
    meter: Meter,
    const_attributes: Vec<KeyValue>,
    counters: Mutex<Vec<(&'static DeclaredCounter, Vec<CounterSeries>)>>,
}

impl std::fmt::Debug for OtelMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtelMetrics")
            .field(
                "series",
                &(self.counters.len() + self.gauges.len() + self.histograms.len()),
            )
            .finish_non_exhaustive()
    }
}

impl OtelMetrics {
    /// Options: meter or meter provider, constant attributes.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Every instrument from `provider`'s meter for the scope `memberlist`, without
    /// constant attributes.
    ///
    /// ```
    /// use opentelemetry_sdk::metrics::SdkMeterProvider;
    /// let provider = SdkMeterProvider::builder().build();
    /// let metrics = memberlist_opentelemetry::OtelMetrics::new(&provider);
    /// # drop(metrics);
    /// ```
    pub fn new(provider: &impl MeterProvider) -> Self {
        Builder::default().provider(provider).build()
    }

    /// The attributes a counter's data points carry (constant attributes, then the label).
    ///
    /// ```
    /// use memberlist_core::metrics::{Counter, DropReason};
    /// use opentelemetry_sdk::metrics::SdkMeterProvider;
    ///
    /// let provider = SdkMeterProvider::builder().build();
    /// let metrics = memberlist_opentelemetry::OtelMetrics::builder()
    ///     .provider(&provider)
    ///     .const_attribute("node", "a")
    ///     .build();
    /// let attrs = metrics.counter_attributes(Counter::PacketsDropped(DropReason::Cidr));
    /// assert_eq!(attrs.len(), 2);
    /// assert_eq!(attrs[1].key.as_str(), "reason");
    /// assert_eq!(attrs[1].value.as_str(), "cidr");
    /// ```
    pub fn counter_attributes(&self, counter: Counter) -> &[KeyValue] {
        self.counters[counter.index()].attributes()
    }

    /// The attributes a gauge's data points carry.
    pub fn gauge_attributes(&self, gauge: Gauge) -> &[KeyValue] {
        self.gauges[gauge.index()].attributes()
    }

    /// The attributes a histogram's data points carry.
    pub fn histogram_attributes(&self, histogram: Histogram) -> &[KeyValue] {
        self.histograms[histogram.index()].attributes()
    }
}

impl Metrics for OtelMetrics {
    #[inline]
    fn increment(&self, counter: Counter, by: u64) {
        self.counters[counter.index()].add(by);
    }

    #[inline]
    fn set(&self, gauge: Gauge, value: f64) {
        self.gauges[gauge.index()].record(value);
    }

    #[inline]
    fn record(&self, histogram: Histogram, value: f64) {
        self.histograms[histogram.index()].record(value);
    }

    fn declare(&self, counter: &'static DeclaredCounter) {
        let declared = &*self.declared;
        let mut counters = declared
            .counters
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if counters.iter().any(|(c, _)| std::ptr::eq(*c, counter)) {
            return;
        }
        let d = &counter.descriptor;
        let instrument = declared
            .meter
            .u64_counter(d.otel_name)
            .with_description(d.help)
            .with_unit(counter.otel_unit)
            .build();
        let series = (0..counter.series())
            .map(|i| {
                let attrs = attributes(&declared.const_attributes, d, counter.label_value(i));
                CounterSeries::new(&instrument, attrs)
            })
            .collect();
        counters.push((counter, series));
    }

    fn increment_declared(&self, counter: &'static DeclaredCounter, label: usize, by: u64) {
        let counters = self
            .declared
            .counters
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let series = counters
            .iter()
            .find(|(c, _)| std::ptr::eq(*c, counter))
            .and_then(|(_, series)| series.get(label));
        if let Some(series) = series {
            series.add(by);
        }
    }
}
