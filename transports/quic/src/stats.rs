//! Counters of a [`QuicTransport`](crate::QuicTransport) and their snapshot, [`QuicStats`].

use std::sync::atomic::{AtomicU64, Ordering};

use quinn::ConnectionError;

/// Why a QUIC handshake failed, as far as the TLS alert (ours or the peer's) tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HandshakeFailure {
    /// The certificate was not issued by the cluster CA (TLS alert `unknown_ca`).
    UnknownCa,
    /// The certificate was rejected otherwise: wrong name, expired, bad usage
    /// (`bad_certificate`, `certificate_unknown`, `certificate_expired`...).
    BadCertificate,
    /// Mutual TLS is on and the client presented no certificate (`certificate_required`).
    NoClientCertificate,
    /// No ALPN protocol in common (`no_application_protocol`).
    Alpn,
    /// The handshake did not complete in time.
    Timeout,
    /// Anything else (version mismatch, reset, a protocol violation).
    Other,
}

impl HandshakeFailure {
    /// Classifies a failed handshake by the TLS alert carried in the QUIC close code (QUIC
    /// sends TLS alert `n` as transport error `0x100 + n`), whichever side raised it.
    pub fn classify(error: &ConnectionError) -> Self {
        let code: u64 = match error {
            ConnectionError::TransportError(e) => e.code.into(),
            ConnectionError::ConnectionClosed(close) => close.error_code.into(),
            ConnectionError::TimedOut => return Self::Timeout,
            _ => return Self::Other,
        };
        match code.checked_sub(0x100) {
            Some(48) => Self::UnknownCa,
            // bad_certificate … certificate_unknown, and decrypt_error: a certificate that
            // claims the cluster CA's name but is not signed by its key.
            Some(42..=46 | 51) => Self::BadCertificate,
            Some(116) => Self::NoClientCertificate,
            Some(120) => Self::Alpn,
            _ => Self::Other,
        }
    }

    /// For a refusal, its series in [`HANDSHAKES_REFUSED`](crate::HANDSHAKES_REFUSED)
    /// (`None` for timeouts and other failures, which are not refusals).
    pub fn refusal(self) -> Option<usize> {
        // The refusals come first, in the order of the metric's label values.
        (!matches!(self, Self::Timeout | Self::Other)).then_some(self as usize)
    }

    /// A short name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownCa => "unknown CA",
            Self::BadCertificate => "bad certificate or signature",
            Self::NoClientCertificate => "no client certificate",
            Self::Alpn => "ALPN mismatch",
            Self::Timeout => "timeout",
            Self::Other => "other",
        }
    }
}

/// Handshake failures by reason, dialling and accepting together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HandshakeFailures {
    /// Certificates from another CA.
    pub unknown_ca: u64,
    /// Certificates rejected for another reason.
    pub bad_certificate: u64,
    /// Clients without a certificate while mutual TLS is on.
    pub no_client_certificate: u64,
    /// No common ALPN protocol.
    pub alpn: u64,
    /// Handshakes that took too long.
    pub timeout: u64,
    /// Anything else.
    pub other: u64,
}

impl HandshakeFailures {
    /// All failures together.
    pub fn total(&self) -> u64 {
        self.unknown_ca
            + self.bad_certificate
            + self.no_client_certificate
            + self.alpn
            + self.timeout
            + self.other
    }
}

/// A snapshot of a transport's counters (all monotonic except `connections_open`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuicStats {
    /// Connections currently established (inbound and outbound).
    pub connections_open: u64,
    /// Inbound connections whose handshake completed.
    pub connections_accepted: u64,
    /// Outbound connections whose handshake completed.
    pub connections_dialed: u64,
    /// Connections refused or not dialled because the connection cap was reached.
    pub connections_refused: u64,
    /// Failed handshakes by reason.
    pub handshake_failures: HandshakeFailures,
    /// Packets sent as QUIC datagrams.
    pub datagrams_sent: u64,
    /// Packets too large for a QUIC datagram, sent on a unidirectional stream instead.
    pub datagrams_via_stream: u64,
    /// Packets received (as datagrams or on unidirectional streams).
    pub datagrams_received: u64,
    /// Packets dropped: the receive queue was full, the dial failed, the pending queue of a
    /// peer being dialled was full, or the stream cap was reached.
    pub datagrams_dropped: u64,
    /// Streams opened by [`connect`](memberlist_core::transport::Transport::connect).
    pub streams_opened: u64,
    /// Inbound streams handed to the runtime.
    pub streams_accepted: u64,
    /// Inbound streams refused at the stream cap or a full accept queue.
    pub streams_refused: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) connections_open: AtomicU64,
    pub(crate) connections_accepted: AtomicU64,
    pub(crate) connections_dialed: AtomicU64,
    pub(crate) connections_refused: AtomicU64,
    /// Handshake failures, indexed by [`HandshakeFailure`] in declaration order.
    handshakes_failed: [AtomicU64; 6],
    pub(crate) datagrams_sent: AtomicU64,
    pub(crate) datagrams_via_stream: AtomicU64,
    pub(crate) datagrams_received: AtomicU64,
    pub(crate) datagrams_dropped: AtomicU64,
    pub(crate) streams_opened: AtomicU64,
    pub(crate) streams_accepted: AtomicU64,
    pub(crate) streams_refused: AtomicU64,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn handshake_failed(&self, reason: HandshakeFailure) {
        bump(&self.handshakes_failed[reason as usize]);
    }

    pub(crate) fn snapshot(&self) -> QuicStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let [
            unknown_ca,
            bad_certificate,
            no_client_certificate,
            alpn,
            timeout,
            other,
        ] = self.handshakes_failed.each_ref().map(get);
        QuicStats {
            connections_open: get(&self.connections_open),
            connections_accepted: get(&self.connections_accepted),
            connections_dialed: get(&self.connections_dialed),
            connections_refused: get(&self.connections_refused),
            handshake_failures: HandshakeFailures {
                unknown_ca,
                bad_certificate,
                no_client_certificate,
                alpn,
                timeout,
                other,
            },
            datagrams_sent: get(&self.datagrams_sent),
            datagrams_via_stream: get(&self.datagrams_via_stream),
            datagrams_received: get(&self.datagrams_received),
            datagrams_dropped: get(&self.datagrams_dropped),
            streams_opened: get(&self.streams_opened),
            streams_accepted: get(&self.streams_accepted),
            streams_refused: get(&self.streams_refused),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_map_to_reasons() {
        let local = |alert: u8| {
            ConnectionError::ConnectionClosed(quinn::ConnectionClose {
                error_code: quinn::TransportErrorCode::crypto(alert),
                frame_type: None,
                reason: bytes::Bytes::new(),
            })
        };
        assert_eq!(
            HandshakeFailure::classify(&local(48)),
            HandshakeFailure::UnknownCa
        );
        assert_eq!(
            HandshakeFailure::classify(&local(116)),
            HandshakeFailure::NoClientCertificate
        );
        assert_eq!(
            HandshakeFailure::classify(&local(120)),
            HandshakeFailure::Alpn
        );
        assert_eq!(
            HandshakeFailure::classify(&local(51)),
            HandshakeFailure::BadCertificate
        );
        assert_eq!(
            HandshakeFailure::classify(&local(42)),
            HandshakeFailure::BadCertificate
        );
        assert_eq!(
            HandshakeFailure::classify(&local(80)),
            HandshakeFailure::Other
        );
        assert_eq!(
            HandshakeFailure::classify(&ConnectionError::TimedOut),
            HandshakeFailure::Timeout
        );
        assert_eq!(
            HandshakeFailure::classify(&ConnectionError::Reset),
            HandshakeFailure::Other
        );
    }

    #[test]
    fn snapshot_counts_each_reason_once() {
        let c = Counters::default();
        c.handshake_failed(HandshakeFailure::UnknownCa);
        c.handshake_failed(HandshakeFailure::Alpn);
        c.handshake_failed(HandshakeFailure::Alpn);
        bump(&c.datagrams_sent);
        let s = c.snapshot();
        assert_eq!(s.handshake_failures.unknown_ca, 1);
        assert_eq!(s.handshake_failures.alpn, 2);
        assert_eq!(s.handshake_failures.total(), 3);
        assert_eq!(s.datagrams_sent, 1);
    }
}
