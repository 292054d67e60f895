//! # memberlist-quic
//!
//! A [`Transport`] for memberlist-rs over QUIC ([quinn](https://docs.rs/quinn) on tokio,
//! TLS 1.3 by [rustls](https://docs.rs/rustls)): every byte between nodes is encrypted and
//! authenticated, and only nodes holding a certificate from the cluster CA take part.
//!
//! ## Mapping
//!
//! - One quinn endpoint on one UDP port both accepts and dials, so a node's connections come
//!   from the port it listens on: the address a peer reports for us is the one others dial.
//!   Connections are pooled, one per peer address, shared by both directions (a connection
//!   accepted from a peer is reused to answer it), dialled on first use, closed when idle.
//! - Packets ([`Transport::send_to`]) travel as **QUIC datagrams** (RFC 9221): unreliable,
//!   unordered, never merged nor split, like UDP. A datagram carries at most
//!   [`DATAGRAM_PAYLOAD_BUDGET`] bytes on a 1,500-byte MTU path; the runtime's gossip budget
//!   (`udp_buffer_size`, 1,400 by default) fits. A rarer larger packet (a big best-effort user
//!   message) travels alone on a unidirectional stream instead of being refused, up to
//!   [`MAX_PACKET_SIZE`] as with UDP.
//! - Streams ([`Transport::connect`], [`Transport::accept`]) are bidirectional QUIC streams on
//!   the pooled connection ([`QuicStream`]): push/pull, the TCP-fallback ping and reliable user
//!   messages.
//! - While a peer's connection is being dialled, its packets wait in a small queue, so
//!   [`send_to`](Transport::send_to) never waits on the network.
//!
//! ## Security
//!
//! See [`TlsConfig`]: a cluster CA, one certificate per node carrying the cluster server name
//! [`DEFAULT_SERVER_NAME`], ALPN [`ALPN`], mutual TLS on by default. QUIC already encrypts and
//! authenticates everything, so **do not configure memberlist's own encryption keys** with this
//! transport: they would only add overhead.
//!
//! ## Example
//!
//! ```
//! # #[cfg(feature = "dev-certs")] {
//! use memberlist_quic::{DevCa, QuicConfig, QuicTransport, Transport};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Development certificates; in production load PEM files with TlsConfig::from_pem_files.
//! let ca = DevCa::new("my cluster")?;
//! let config = QuicConfig::new("127.0.0.1:0".parse()?, ca.node_tls("node-1")?);
//! let transport = QuicTransport::bind(config).await?;
//! assert_ne!(transport.advertise_addr().port(), 0);
//! assert_eq!(transport.stats().connections_open, 0);
//! # Ok(())
//! # }
//! # }
//! ```
#![forbid(unsafe_code)]

mod config;
mod conn;
#[cfg(feature = "dev-certs")]
mod dev_certs;
mod metrics;
mod pool;
mod stats;
mod stream;
mod tls;
mod transport;
mod wire;

pub use config::{
    DATAGRAM_PAYLOAD_BUDGET, DEFAULT_ACCEPT_QUEUE, DEFAULT_DATAGRAM_QUEUE,
    DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_STREAMS,
    DEFAULT_MAX_STREAMS_PER_CONNECTION, DEFAULT_PENDING_PER_PEER, INITIAL_MTU, MAX_PACKET_SIZE,
    QuicConfig,
};
#[cfg(feature = "dev-certs")]
pub use dev_certs::{DevCa, NodeCert};
pub use memberlist_core::transport::{Transport, TransportError};
pub use metrics::HANDSHAKES_REFUSED;
pub use stats::{HandshakeFailure, HandshakeFailures, QuicStats};
pub use stream::QuicStream;
pub use tls::{ALPN, DEFAULT_SERVER_NAME, TlsConfig, TlsError, quic_client};
pub use transport::{IdleTimeoutTooLong, QuicTransport};
pub use wire::WireStats;
/// The quinn and rustls versions this crate is built on, for raw clients and custom configs.
pub use {quinn, rustls};
