//! Units (UCUM) and histogram bucket boundaries for the catalog's metrics.
//!
//! Sizes are in bytes (`By`) and durations in seconds (`s`), as the OpenTelemetry semantic
//! conventions ask. Plain counts carry a curly-brace annotation naming what is counted
//! (`{message}`, `{packet}`, `{member}`, …) rather than the dimensionless `1`: annotations
//! are dropped by unit-aware back ends, while `1` makes the collector's Prometheus exporter
//! append `_ratio` to a gauge's name, which none of these are.

use memberlist_core::metrics::{Counter, Gauge, Histogram, Unit};

/// Histogram bucket boundaries for durations, in seconds: from 0.5 ms (a loopback round
/// trip) to 10 s (a WAN push/pull). The same as memberlist-prometheus's.
pub const SECONDS_BOUNDARIES: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Histogram bucket boundaries for sizes, in bytes: 256 B to 16 MiB, by factors of 4. The
/// same as memberlist-prometheus's.
pub const BYTES_BOUNDARIES: &[f64] = &[
    256.0,
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
];

/// The UCUM unit of a [`Unit`] that is not a plain count.
const fn ucum(unit: Unit) -> Option<&'static str> {
    match unit {
        Unit::Bytes => Some("By"),
        Unit::Seconds => Some("s"),
        Unit::Count => None,
    }
}

/// The unit string of a counter's instrument.
///
/// ```
/// use memberlist_core::metrics::{Counter, DropReason};
/// use memberlist_opentelemetry::units::counter_unit;
///
/// assert_eq!(counter_unit(Counter::UdpSentBytes), "By");
/// assert_eq!(counter_unit(Counter::MsgAlive), "{message}");
/// assert_eq!(counter_unit(Counter::PacketsDropped(DropReason::Cidr)), "{packet}");
/// ```
pub const fn counter_unit(counter: Counter) -> &'static str {
    if let Some(unit) = ucum(counter.descriptor().unit) {
        return unit;
    }
    // Exhaustive on purpose: a new counter in the catalog must say what it counts.
    match counter {
        Counter::MsgAlive | Counter::MsgSuspect | Counter::MsgDead => "{message}",
        Counter::UdpSentPackets | Counter::UdpReceivedPackets | Counter::PacketsDropped(_) => {
            "{packet}"
        }
        Counter::TcpAccept | Counter::TcpConnect | Counter::StreamsDropped(_) => "{stream}",
        Counter::DegradedProbe => "{probe}",
        Counter::DegradedTimeout => "{suspicion}",
        Counter::Refutations => "{refutation}",
        Counter::Conflicts => "{conflict}",
        Counter::HandshakesRefused(_) => "{handshake}",
        Counter::LimitExceeded(_) => "{input}",
        Counter::UdpSentBytes | Counter::UdpReceivedBytes | Counter::TcpSentBytes => "By",
    }
}

/// The unit string of a gauge's instrument.
///
/// ```
/// use memberlist_core::machine::State;
/// use memberlist_core::metrics::Gauge;
/// use memberlist_opentelemetry::units::gauge_unit;
///
/// assert_eq!(gauge_unit(Gauge::Members(State::Alive)), "{member}");
/// ```
pub const fn gauge_unit(gauge: Gauge) -> &'static str {
    if let Some(unit) = ucum(gauge.descriptor().unit) {
        return unit;
    }
    match gauge {
        Gauge::HealthScore => "{score}",
        Gauge::Members(_) => "{member}",
        Gauge::BroadcastQueue => "{message}",
        Gauge::PushPullInFlight => "{exchange}",
    }
}

/// The unit string of a histogram's instrument (`s` or `By`).
///
/// ```
/// use memberlist_core::metrics::Histogram;
/// use memberlist_opentelemetry::units::histogram_unit;
///
/// assert_eq!(histogram_unit(Histogram::ProbeRtt), "s");
/// assert_eq!(histogram_unit(Histogram::PushPullSizeLocal), "By");
/// ```
pub const fn histogram_unit(histogram: Histogram) -> &'static str {
    match ucum(histogram.descriptor().unit) {
        Some(unit) => unit,
        None => "1",
    }
}

/// The bucket boundaries of a histogram, chosen by its unit.
///
/// ```
/// use memberlist_core::metrics::Histogram;
/// use memberlist_opentelemetry::units::{histogram_boundaries, SECONDS_BOUNDARIES};
///
/// assert_eq!(histogram_boundaries(Histogram::ProbeNode), SECONDS_BOUNDARIES);
/// ```
pub const fn histogram_boundaries(histogram: Histogram) -> &'static [f64] {
    match histogram.descriptor().unit {
        Unit::Bytes => BYTES_BOUNDARIES,
        Unit::Seconds | Unit::Count => SECONDS_BOUNDARIES,
    }
}
