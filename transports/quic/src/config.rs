//! [`QuicConfig`]: where a [`QuicTransport`](crate::QuicTransport) binds, what it advertises,
//! its TLS material and its limits.

use std::net::SocketAddr;
use std::time::Duration;

use crate::tls::TlsConfig;

/// Default cap on open QUIC connections (inbound and outbound together, handshakes included).
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Default cap on concurrent streams a peer may open on one connection (bidirectional and
/// unidirectional each), enforced by QUIC flow control.
pub const DEFAULT_MAX_STREAMS_PER_CONNECTION: u32 = 32;
/// Default cap on streams open at once across all connections (inbound and outbound).
pub const DEFAULT_MAX_STREAMS: usize = 256;
/// Default idle timeout: a connection with no traffic for this long is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time a QUIC handshake (dial or accept) may take.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default number of received datagrams queued for the runtime before new ones are dropped.
pub const DEFAULT_DATAGRAM_QUEUE: usize = 1024;
/// Default number of accepted streams queued for the runtime before new ones are refused.
pub const DEFAULT_ACCEPT_QUEUE: usize = 64;
/// Default number of datagrams held for a peer while its connection is being dialled.
pub const DEFAULT_PENDING_PER_PEER: usize = 32;
/// The largest packet [`send_to`](memberlist_core::transport::Transport::send_to) accepts: the
/// same as UDP over IPv4, so the runtime's limits are the ones it has with `memberlist-net`.
/// Packets that do not fit one QUIC datagram travel on a unidirectional stream (see the crate
/// docs).
pub const MAX_PACKET_SIZE: usize = 65_507;
/// The QUIC packet size assumed from the first packet on: 1,452 bytes of UDP payload fit a
/// 1,500-byte MTU over IPv6 and IPv4 alike. Path MTU discovery never goes above it.
pub const INITIAL_MTU: u16 = 1452;
/// The largest payload one QUIC datagram frame carries at [`INITIAL_MTU`] with quinn's 8-byte
/// connection IDs (1,452 minus a 1-byte header, 8-byte connection ID, 4-byte packet number,
/// 16-byte AEAD tag and 9 bytes of frame header). Keep the runtime's `udp_buffer_size` (1,400
/// by default) at or below it so gossip rides datagrams.
pub const DATAGRAM_PAYLOAD_BUDGET: usize = 1414;

/// Everything a [`QuicTransport`](crate::QuicTransport) needs to start.
///
/// ```
/// # #[cfg(feature = "dev-certs")] {
/// use std::time::Duration;
/// use memberlist_quic::{DevCa, QuicConfig};
///
/// let ca = DevCa::new("example cluster").expect("a CA");
/// let tls = ca.node_tls("node-1").expect("a node certificate");
/// let config = QuicConfig::new("127.0.0.1:0".parse().unwrap(), tls)
///     .with_mutual_tls(true)
///     .with_max_connections(64)
///     .with_idle_timeout(Duration::from_secs(10));
/// assert_eq!(config.max_connections(), 64);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct QuicConfig {
    pub(crate) bind: SocketAddr,
    pub(crate) advertise: Option<SocketAddr>,
    pub(crate) tls: TlsConfig,
    pub(crate) mutual_tls: bool,
    pub(crate) max_connections: usize,
    pub(crate) max_streams_per_connection: u32,
    pub(crate) max_streams: usize,
    pub(crate) idle_timeout: Duration,
    pub(crate) keep_alive: Option<Duration>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) datagram_queue: usize,
    pub(crate) accept_queue: usize,
    pub(crate) pending_per_peer: usize,
    pub(crate) metrics: Option<MetricsSink>,
}

/// The metrics sink a transport reports refused handshakes to.
#[derive(Clone)]
pub(crate) struct MetricsSink(pub(crate) std::sync::Arc<dyn memberlist_core::metrics::Metrics>);

impl std::fmt::Debug for MetricsSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsSink")
    }
}

impl QuicConfig {
    /// A configuration binding `bind` (port 0 picks a free port) with the given TLS material,
    /// mutual TLS on, and the default limits.
    pub fn new(bind: SocketAddr, tls: TlsConfig) -> Self {
        Self {
            bind,
            advertise: None,
            tls,
            mutual_tls: true,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_streams_per_connection: DEFAULT_MAX_STREAMS_PER_CONNECTION,
            max_streams: DEFAULT_MAX_STREAMS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            keep_alive: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            datagram_queue: DEFAULT_DATAGRAM_QUEUE,
            accept_queue: DEFAULT_ACCEPT_QUEUE,
            pending_per_peer: DEFAULT_PENDING_PER_PEER,
            metrics: None,
        }
    }

    /// The address other nodes reach this node at. Needed when binding an unspecified IP
    /// (`0.0.0.0`, `::`); a port of 0 means "the bound port".
    pub fn with_advertise(mut self, advertise: SocketAddr) -> Self {
        self.advertise = Some(advertise);
        self
    }

    /// Whether inbound connections must present a certificate from the cluster CA (on by
    /// default). Off, any client that trusts our certificate may connect.
    pub fn with_mutual_tls(mut self, on: bool) -> Self {
        self.mutual_tls = on;
        self
    }

    /// Cap on open connections, inbound and outbound together (at least 1).
    pub fn with_max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Cap on concurrent streams a peer may open on one connection (at least 1).
    pub fn with_max_streams_per_connection(mut self, n: u32) -> Self {
        self.max_streams_per_connection = n.max(1);
        self
    }

    /// Cap on streams open at once across all connections (at least 1).
    pub fn with_max_streams(mut self, n: usize) -> Self {
        self.max_streams = n.max(1);
        self
    }

    /// How long a connection may stay silent before it is closed.
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Send QUIC keep-alives this often so idle connections stay open (off by default: an idle
    /// connection is closed and dialled again when needed).
    pub fn with_keep_alive(mut self, interval: Option<Duration>) -> Self {
        self.keep_alive = interval;
        self
    }

    /// How long a handshake may take, dialling or accepting.
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Received datagrams queued for the runtime before new ones are dropped (at least 1).
    pub fn with_datagram_queue(mut self, n: usize) -> Self {
        self.datagram_queue = n.max(1);
        self
    }

    /// Accepted streams queued for the runtime before new ones are refused (at least 1).
    pub fn with_accept_queue(mut self, n: usize) -> Self {
        self.accept_queue = n.max(1);
        self
    }

    /// Reports refused TLS handshakes to `metrics` too
    /// (`memberlist_quic_handshakes_refused_total{reason}`); pass the sink given to the
    /// runtime's builder. They are counted in [`QuicTransport::stats`] either way.
    ///
    /// [`QuicTransport::stats`]: crate::QuicTransport::stats
    pub fn with_metrics(
        mut self,
        metrics: std::sync::Arc<dyn memberlist_core::metrics::Metrics>,
    ) -> Self {
        metrics.declare(&crate::HANDSHAKES_REFUSED);
        self.metrics = Some(MetricsSink(metrics));
        self
    }

    /// The connection cap.
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }
}
