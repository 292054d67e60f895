//! The QUIC transport's own metric, declared to the node's metrics sink like the catalog's.

use memberlist_core::metrics::{DeclaredCounter, Descriptor, Kind, Origin, Unit};

/// TLS handshakes refused, by reason (`memberlist_quic_handshakes_refused_total{reason}`
/// in Prometheus): series `i` is the reason `HANDSHAKES_REFUSED.label_values[i]`, the
/// index [`HandshakeFailure::refusal`](crate::HandshakeFailure::refusal) gives.
///
/// ```
/// use memberlist_quic::{HANDSHAKES_REFUSED, HandshakeFailure};
/// let series = HandshakeFailure::UnknownCa.refusal().unwrap();
/// assert_eq!(HANDSHAKES_REFUSED.label_value(series), Some("unknown_ca"));
/// ```
pub static HANDSHAKES_REFUSED: DeclaredCounter = DeclaredCounter {
    descriptor: Descriptor {
        name: "memberlist.quic.handshake.refused",
        prometheus_name: "memberlist_quic_handshakes_refused_total",
        otel_name: "memberlist.quic.handshakes_refused",
        kind: Kind::Counter,
        unit: Unit::Count,
        help: "TLS handshakes refused, by reason (QUIC transport).",
        buckets: &[],
        label: Some("reason"),
        origin: Origin::Rust,
    },
    label_values: &[
        "unknown_ca",
        "bad_certificate",
        "no_client_certificate",
        "alpn",
    ],
    otel_unit: "{handshake}",
};
