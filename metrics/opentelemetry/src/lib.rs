//! # memberlist-opentelemetry
//!
//! Exports memberlist-rs metrics through OpenTelemetry: every metric of the core's
//! [catalog](memberlist_core::metrics::catalog) becomes an instrument named by its
//! [`otel_name`](memberlist_core::metrics::Descriptor::otel_name) (`memberlist.msg.alive`,
//! `memberlist.udp.sent`, `memberlist.probe_node`, `memberlist.members` with attribute
//! `state`, …): counters are `u64` counters, gauges synchronous `f64` gauges, histograms
//! `f64` histograms with bucket boundaries suited to their [unit](units). Descriptions are
//! the catalog's help lines; units are UCUM (`s`, `By`, or an annotation such as
//! `{message}`, see [`units`]). Constant attributes you choose (Go's `MetricLabels`) are
//! carried by every data point.
//!
//! [`OtelMetrics`] is the [`Metrics`](memberlist_core::metrics::Metrics) sink; give it your
//! own `Meter` or `MeterProvider`:
//!
//! ```
//! use memberlist_core::machine::State;
//! use memberlist_core::metrics::{Counter, Gauge, Metrics};
//! use memberlist_opentelemetry::OtelMetrics;
//! use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
//! use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
//!
//! let exporter = InMemoryMetricExporter::default();
//! let provider = SdkMeterProvider::builder()
//!     .with_reader(PeriodicReader::builder(exporter.clone()).build())
//!     .build();
//! let metrics = OtelMetrics::builder()
//!     .provider(&provider)
//!     .const_attribute("cluster", "blue")
//!     .build();
//! metrics.increment(Counter::MsgAlive, 2);
//! metrics.set(Gauge::Members(State::Alive), 3.0);
//! provider.force_flush()?;
//!
//! let exported = exporter.get_finished_metrics()?;
//! let scope = exported[0].scope_metrics().next().expect("the memberlist scope");
//! assert_eq!(scope.scope().name(), "memberlist");
//! let alive = scope.metrics().find(|m| m.name() == "memberlist.msg.alive").expect("exported");
//! assert_eq!(alive.unit(), "{message}");
//! let AggregatedMetrics::U64(MetricData::Sum(sum)) = alive.data() else { panic!("a u64 sum") };
//! let point = sum.data_points().next().expect("one series");
//! assert_eq!(point.value(), 2);
//! assert_eq!(point.attributes().next().expect("cluster").value.as_str(), "blue");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Or let [`Otlp`] set up the whole OTLP pipeline (exporter, periodic reader, resource with
//! `service.name`) and hand back the provider and the sink:
//!
//! ```no_run
//! # #[cfg(feature = "http-proto")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use memberlist_opentelemetry::Otlp;
//!
//! let (provider, metrics) = Otlp::new("http://127.0.0.1:4318")
//!     .interval(Duration::from_secs(15))
//!     .service_name("node-a")
//!     .install()?;
//! // … pass `metrics` to the runtime; at exit:
//! provider.shutdown()?;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "http-proto"))]
//! # fn main() {}
//! ```
//!
//! ## Cargo features
//!
//! - `http-proto` (default): OTLP over HTTP with protobuf bodies, through
//!   `opentelemetry-otlp`'s blocking reqwest client (no TLS). The export runs on the
//!   periodic reader's own thread, so no async runtime is needed.
//! - `grpc-tonic`: OTLP over gRPC through tonic (no TLS). [`Otlp::install`] must then be
//!   called inside a Tokio runtime, which must keep running while metrics are exported; with
//!   a current-thread runtime, call `force_flush` and `shutdown` from outside it (e.g.
//!   `spawn_blocking`), since the export waits on a task of that runtime.
//! - `experimental-bound-instruments` (default): binds each series' instrument to its attributes
//!   (OpenTelemetry's experimental bound instruments), so the SDK skips its per-update
//!   attribute lookup. Every series then exists from the start and is exported at zero
//!   until updated (as with the Prometheus exporter); without the feature, a series appears
//!   at its first update. The API behind it may change in a later OpenTelemetry release.
//!
//! With neither transport feature, only the sink is built (no `opentelemetry-otlp` dependency):
//! bring your own exporter and meter provider.
//!
//! Caveat: if another crate of your build enables `opentelemetry-otlp`'s `reqwest-client`
//! (async) feature, Cargo unifies it in and the HTTP exporter switches to the async client,
//! which needs a Tokio runtime on the reader's thread; keep to the blocking client or
//! build your own exporter and pass its provider to [`OtelMetrics::builder`].
#![forbid(unsafe_code)]

#[cfg(any(feature = "http-proto", feature = "grpc-tonic"))]
mod otlp;
mod series;
mod sink;
pub mod units;

#[cfg(any(feature = "http-proto", feature = "grpc-tonic"))]
pub use otlp::{DEFAULT_INTERVAL, DEFAULT_TIMEOUT, Error, Otlp, Protocol};
pub use sink::{Builder, OtelMetrics, SCOPE_NAME, scope};

#[cfg(test)]
mod tests;
