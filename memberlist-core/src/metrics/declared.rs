//! Counters declared by plugin crates: a transport's own metrics (QUIC's refused TLS
//! handshakes, say) travel through the same [`Metrics`](super::Metrics) sink as the
//! catalog's, without the core knowing every transport.

use super::Descriptor;

/// A counter a plugin crate declares as a `static`, hands once to
/// [`Metrics::declare`](super::Metrics::declare), then counts with
/// [`Metrics::increment_declared`](super::Metrics::increment_declared).
///
/// ```
/// use memberlist_core::metrics::{
///     DeclaredCounter, Descriptor, InMemoryMetrics, Kind, Metrics, Origin, Unit,
/// };
///
/// static RETRIES: DeclaredCounter = DeclaredCounter {
///     descriptor: Descriptor {
///         name: "memberlist.mytransport.retries",
///         prometheus_name: "memberlist_mytransport_retries_total",
///         otel_name: "memberlist.mytransport.retries",
///         kind: Kind::Counter,
///         unit: Unit::Count,
///         help: "Sends retried, by cause.",
///         buckets: &[],
///         label: Some("cause"),
///         origin: Origin::Rust,
///     },
///     label_values: &["timeout", "reset"],
///     otel_unit: "{retry}",
/// };
///
/// let sink = InMemoryMetrics::new();
/// sink.declare(&RETRIES);
/// sink.increment_declared(&RETRIES, 1, 2); // cause="reset"
/// assert_eq!(sink.declared_counter(&RETRIES, 1), 2);
/// assert_eq!(sink.declared_counter(&RETRIES, 0), 0);
/// ```
#[derive(Debug)]
pub struct DeclaredCounter {
    /// Names, help and label key, as for the catalog's metrics (`kind` is
    /// [`Kind::Counter`](super::Kind::Counter)).
    pub descriptor: Descriptor,
    /// The values of the descriptor's label, in index order; one series per value. A
    /// metric without a label has one value, ignored.
    pub label_values: &'static [&'static str],
    /// The OpenTelemetry unit annotation (`{handshake}`, `By`).
    pub otel_unit: &'static str,
}

impl DeclaredCounter {
    /// The label value of series `label`, if the metric has a label and the index is in range.
    pub fn label_value(&self, label: usize) -> Option<&'static str> {
        self.descriptor
            .label
            .and(self.label_values.get(label).copied())
    }

    /// How many series the counter has (at least one).
    pub fn series(&self) -> usize {
        self.label_values.len().max(1)
    }
}
