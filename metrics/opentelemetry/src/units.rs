//! Units (UCUM) for the catalog's metrics (bucket boundaries are the catalog's own,
//! [`Descriptor::buckets`](memberlist_core::metrics::Descriptor::buckets)).
//!
//! Sizes are in bytes (`By`) and durations in seconds (`s`), as the OpenTelemetry semantic
//! conventions ask. Plain counts carry a curly-brace annotation naming what is counted
//! (`{message}`, `{packet}`, `{member}`, …) rather than the dimensionless `1`: annotations
//! are dropped by unit-aware back ends, while `1` makes the collector's Prometheus exporter
//! append `_ratio` to a gauge's name, which none of these are.

use memberlist_core::metrics::{Counter, Gauge, Histogram, Unit};

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
        Counter::GossipRounds => "{round}",
        Counter::GossipTicksIdle => "{tick}",
        Counter::PushPulls | Counter::PushPullsSameView | Counter::JoinFollowUps => "{exchange}",
        Counter::StreamFailures => "{stream}",
        Counter::SendErrors => "{packet}",
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
