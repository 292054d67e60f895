//! Metrics: the [`Metrics`] trait a sink implements, and the [catalog] of everything
//! the library emits.
//!
//! Metric identifiers are small `Copy` enums with a dense index, so an exporter keeps its
//! instruments in arrays and an update allocates nothing. [`NoopMetrics`] is the default
//! sink; [`InMemoryMetrics`] keeps the values; exporters (`memberlist-prometheus`,
//! `memberlist-opentelemetry`) translate the catalog's names into their conventions.
//!
//! ```
//! use memberlist_core::metrics::{Counter, Gauge, InMemoryMetrics, Metrics};
//! use memberlist_core::machine::State;
//!
//! let sink = InMemoryMetrics::new();
//! sink.increment(Counter::MsgSuspect, 1);
//! sink.set(Gauge::Members(State::Alive), 3.0);
//! assert_eq!(sink.counter(Counter::MsgSuspect), 1);
//! assert_eq!(sink.gauge(Gauge::Members(State::Alive)), 3.0);
//! assert_eq!(Counter::MsgSuspect.descriptor().prometheus_name, "memberlist_msg_suspect_total");
//! ```

pub mod catalog;
mod declared;
mod memory;
mod table;

pub use catalog::{
    BYTES_BUCKETS, Counter, Descriptor, DropReason, Gauge, Histogram, Kind, Origin,
    SECONDS_BUCKETS, Unit,
};
pub use declared::DeclaredCounter;
pub use memory::{HistogramSummary, InMemoryMetrics};
pub use table::LabelValue;

/// A metrics sink. Implementations must be cheap: they are called on the hot path (every
/// datagram, every state change) and must not block or allocate per call.
pub trait Metrics: Send + Sync + 'static {
    /// Adds `by` to a counter.
    fn increment(&self, counter: Counter, by: u64);
    /// Sets a gauge.
    fn set(&self, gauge: Gauge, value: f64);
    /// Observes one value of a histogram, in the unit its descriptor names (seconds or bytes).
    fn record(&self, histogram: Histogram, value: f64);
    /// Makes a plugin's counter known (an exporter registers its series, at zero). Called
    /// once per counter before it is incremented; calling it again is harmless. The default
    /// ignores plugin counters.
    fn declare(&self, counter: &'static DeclaredCounter) {
        let _ = counter;
    }
    /// Adds `by` to series `label` (an index into its
    /// [`label_values`](DeclaredCounter::label_values)) of a declared plugin counter. An
    /// undeclared counter or an index out of range is ignored.
    fn increment_declared(&self, counter: &'static DeclaredCounter, label: usize, by: u64) {
        let _ = (counter, label, by);
    }
}

/// The default sink: every call is a no-op.
///
/// ```
/// use memberlist_core::metrics::{Counter, Metrics, NoopMetrics};
/// NoopMetrics.increment(Counter::MsgAlive, 1);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopMetrics;

impl Metrics for NoopMetrics {
    #[inline(always)]
    fn increment(&self, _counter: Counter, _by: u64) {}
    #[inline(always)]
    fn set(&self, _gauge: Gauge, _value: f64) {}
    #[inline(always)]
    fn record(&self, _histogram: Histogram, _value: f64) {}
}

impl<M: Metrics + ?Sized> Metrics for std::sync::Arc<M> {
    fn increment(&self, counter: Counter, by: u64) {
        (**self).increment(counter, by);
    }
    fn set(&self, gauge: Gauge, value: f64) {
        (**self).set(gauge, value);
    }
    fn record(&self, histogram: Histogram, value: f64) {
        (**self).record(histogram, value);
    }
    fn declare(&self, counter: &'static DeclaredCounter) {
        (**self).declare(counter);
    }
    fn increment_declared(&self, counter: &'static DeclaredCounter, label: usize, by: u64) {
        (**self).increment_declared(counter, label, by);
    }
}

/// Two sinks at once: every update goes to both (e.g. Prometheus for scraping and
/// OpenTelemetry for push). Nest pairs for more.
///
/// ```
/// use memberlist_core::metrics::{Counter, InMemoryMetrics, Metrics};
/// let both = (InMemoryMetrics::new(), InMemoryMetrics::new());
/// both.increment(Counter::TcpAccept, 1);
/// assert_eq!((both.0.counter(Counter::TcpAccept), both.1.counter(Counter::TcpAccept)), (1, 1));
/// ```
impl<A: Metrics, B: Metrics> Metrics for (A, B) {
    fn increment(&self, counter: Counter, by: u64) {
        self.0.increment(counter, by);
        self.1.increment(counter, by);
    }
    fn set(&self, gauge: Gauge, value: f64) {
        self.0.set(gauge, value);
        self.1.set(gauge, value);
    }
    fn record(&self, histogram: Histogram, value: f64) {
        self.0.record(histogram, value);
        self.1.record(histogram, value);
    }
    fn declare(&self, counter: &'static DeclaredCounter) {
        self.0.declare(counter);
        self.1.declare(counter);
    }
    fn increment_declared(&self, counter: &'static DeclaredCounter, label: usize, by: u64) {
        self.0.increment_declared(counter, label, by);
        self.1.increment_declared(counter, label, by);
    }
}

impl From<&crate::wire::WireError> for DropReason {
    /// The reason to count when a datagram or stream fails to decode with this error.
    ///
    /// ```
    /// use memberlist_core::metrics::DropReason;
    /// use memberlist_core::wire::WireError;
    /// assert_eq!(DropReason::from(&WireError::NotEncrypted), DropReason::Decrypt);
    /// assert_eq!(DropReason::from(&WireError::EmptyFrame), DropReason::Decode);
    /// assert_eq!(DropReason::from(&WireError::NestingTooDeep(4)), DropReason::Limit);
    /// ```
    fn from(error: &crate::wire::WireError) -> Self {
        use crate::wire::WireError;
        if error.limit().is_some() {
            return DropReason::Limit;
        }
        match error {
            WireError::Label(_) => DropReason::Label,
            WireError::Encryption(_)
            | WireError::NotEncrypted
            | WireError::EncryptionNotConfigured => DropReason::Decrypt,
            _ => DropReason::Decode,
        }
    }
}

/// Counts a datagram (`stream == false`) or an inbound stream dropped because of `error`:
/// the drop by reason, and which limit tripped when it was one. Returns the reason.
pub fn count_wire_drop(
    metrics: &dyn Metrics,
    error: &crate::wire::WireError,
    stream: bool,
) -> DropReason {
    let reason = DropReason::from(error);
    count_drop(metrics, reason, error.limit(), stream);
    reason
}

/// Counts a datagram or inbound stream dropped for `reason`, and `limit` if one tripped.
pub fn count_drop(
    metrics: &dyn Metrics,
    reason: DropReason,
    limit: Option<crate::wire::Limit>,
    stream: bool,
) {
    let drop = if stream {
        Counter::StreamsDropped(reason)
    } else {
        Counter::PacketsDropped(reason)
    };
    metrics.increment(drop, 1);
    if let Some(limit) = limit {
        metrics.increment(Counter::LimitExceeded(limit), 1);
    }
}

#[cfg(test)]
mod tests;
