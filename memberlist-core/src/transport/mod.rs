//! The [`Transport`] plugin trait: how a node moves datagrams and byte streams.
//!
//! memberlist uses two kinds of communication, exactly as Go memberlist does:
//!
//! - **datagrams** (UDP in the default transport) carry probes (ping, indirect ping, ack, nack)
//!   and gossip (alive, suspect, dead, user broadcasts). They are small (the protocol budgets
//!   about 1400 bytes), frequent, and allowed to get lost;
//! - **streams** (TCP in the default transport) carry push/pull state exchanges, the TCP fallback
//!   ping and reliable user messages. Each stream carries one request and at most one reply, and
//!   is then closed.
//!
//! A transport moves bytes and nothing else: framing, compression, encryption, labels and CRCs
//! are the runtime's. The default transport is `memberlist-net` (UDP and TCP on one port,
//! wire-compatible with Go).
//!
//! # What each method must guarantee
//!
//! Each method's documentation states its contract. Datagrams and streams are addressed by
//! the same [`SocketAddr`]: a node reachable by datagrams at `A` must accept streams at `A`
//! too (Go peers dial the UDP address they know for TCP).
//!
//! # Concurrency
//!
//! The runtime loops on [`recv_from`](Transport::recv_from) in one task and on
//! [`accept`](Transport::accept) in another, calls [`send_to`](Transport::send_to) and
//! [`connect`](Transport::connect) from many tasks, and [`shutdown`](Transport::shutdown) at
//! any moment. Keep mutable state behind locks or atomics, and never hold a blocking lock
//! across an `.await`.
//!
//! # Cancellation safety
//!
//! The runtime races [`recv_from`](Transport::recv_from) and [`accept`](Transport::accept)
//! against timers in `tokio::select!` and drops the losing future, so both must be
//! **cancel-safe**: take the item off its queue in the same poll that returns it, with no
//! `.await` in between (as `UdpSocket::recv_from`, `TcpListener::accept` and
//! `mpsc::Receiver::recv` do; a length prefix then a body, with two awaits, is not).
//!
//! [`send_to`](Transport::send_to) and [`connect`](Transport::connect) need not be cancel-safe
//! (a dropped `send_to` may or may not have sent its datagram; a dropped `connect` must simply
//! not leak the half-open connection).
//!
//! # Errors
//!
//! From [`recv_from`](Transport::recv_from) and [`accept`](Transport::accept),
//! [`TransportError::Shutdown`] is final; any other error is logged and the call repeated, so
//! absorb errors that concern one datagram or connection (log, back off) rather than return
//! the same error in a tight loop.
//!
//! # Design notes
//!
//! The trait uses [`async_trait`]: one small allocation per call, negligible next to the
//! system call, for futures that `tokio::spawn` can take when the runtime is generic.
//!
//! # Example: a wrapper
//!
//! A wrapper forwards every method to the transport inside it, here refusing datagrams to
//! one address. Deciding before the inner call and returning its result as is keeps every
//! guarantee of the inner transport, cancel safety included.
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::Instant;
//!
//! use bytes::Bytes;
//! use memberlist_core::transport::{Transport, TransportError};
//!
//! /// Never sends a datagram to `muted` (as if it were lost); everything else passes.
//! pub struct Mute<T> {
//!     inner: T,
//!     muted: SocketAddr,
//! }
//!
//! #[async_trait::async_trait]
//! impl<T: Transport> Transport for Mute<T> {
//!     type Stream = T::Stream;
//!
//!     fn advertise_addr(&self) -> SocketAddr { self.inner.advertise_addr() }
//!     fn local_addr(&self) -> SocketAddr { self.inner.local_addr() }
//!     fn max_datagram_size(&self) -> usize { self.inner.max_datagram_size() }
//!     async fn send_to(&self, to: SocketAddr, data: &[u8]) -> Result<(), TransportError> {
//!         if to == self.muted && data.len() <= self.inner.max_datagram_size() {
//!             return Ok(()); // lost, as far as the sender can tell
//!         }
//!         self.inner.send_to(to, data).await
//!     }
//!     async fn recv_from(&self) -> Result<(Bytes, SocketAddr), TransportError> {
//!         self.inner.recv_from().await
//!     }
//!     async fn connect(&self, to: SocketAddr, deadline: Instant) -> Result<T::Stream, TransportError> {
//!         self.inner.connect(to, deadline).await
//!     }
//!     async fn accept(&self) -> Result<(T::Stream, SocketAddr), TransportError> {
//!         self.inner.accept().await
//!     }
//!     async fn shutdown(&self) -> Result<(), TransportError> {
//!         self.inner.shutdown().await
//!     }
//! }
//! ```
//!
//! For tests, the facade crate `memberlist` has a ready-made kit behind its `testing`
//! feature: `MemoryNetwork` (an in-memory transport with per-link loss, latency and
//! partitions) and `Intercept` (a wrapper that counts, drops or delays traffic).

use std::net::SocketAddr;

use bytes::Bytes;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite};

mod error;

pub use error::{AdvertiseError, IoOp, TransportError};

/// Moves datagrams and reliable byte streams between nodes (see the [module
/// documentation](self)).
#[async_trait::async_trait]
pub trait Transport: Send + Sync + 'static {
    /// A connected, reliable, ordered byte stream (a TCP connection, a QUIC stream pair, ...).
    /// Dropping it closes it.
    type Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static;

    /// The address other nodes use to reach this node, for datagrams and streams alike: never
    /// an unspecified IP nor port 0 (the transport resolves those when it is built). Constant for
    /// the transport's life: it goes into alive messages, which Go peers compare byte for byte.
    fn advertise_addr(&self) -> SocketAddr;

    /// The locally bound address (with the real port when port 0 was asked for; the IP may be
    /// unspecified).
    fn local_addr(&self) -> SocketAddr;

    /// The largest datagram [`send_to`](Transport::send_to) accepts, in bytes. The runtime sizes
    /// packets with it. For UDP: 65,507 over IPv4 (65,535 minus the IP and UDP headers), 65,527
    /// over IPv6.
    fn max_datagram_size(&self) -> usize;

    /// Sends one datagram. `Ok` means handed to the network, not delivered. A datagram may be
    /// lost, duplicated or reordered, but is never split or merged with another; refuses one larger than
    /// [`max_datagram_size`](Transport::max_datagram_size) with
    /// [`TransportError::DatagramTooLarge`]. Called from many tasks concurrently.
    async fn send_to(&self, to: SocketAddr, data: &[u8]) -> Result<(), TransportError>;

    /// Waits for the next datagram and returns it whole with its sender's address, one that
    /// `send_to` can answer to. Report IPv4 peers as IPv4 addresses, not as IPv4-mapped IPv6
    /// (`::ffff:a.b.c.d`), so each peer has one form.
    ///
    /// **Cancel-safe**: dropping the future must not lose a datagram. Returns
    /// [`TransportError::Shutdown`] once the transport is shut down, including for calls pending
    /// at that moment; other errors are transient.
    async fn recv_from(&self) -> Result<(Bytes, SocketAddr), TransportError>;

    /// Opens a stream to `to`: bytes arrive in order, without loss or duplication, or the stream
    /// fails with an I/O error. Fails with [`TransportError::Timeout`] if `deadline` passes
    /// first (also when it has already passed). Called from many tasks concurrently.
    ///
    /// The deadline is a `std` instant read from tokio's clock (the runtime converts with
    /// `tokio::time::Instant::into_std`), so under tokio's paused test time
    /// `tokio::time::Instant::from_std(deadline)` is the instant to wait for.
    async fn connect(
        &self,
        to: SocketAddr,
        deadline: Instant,
    ) -> Result<Self::Stream, TransportError>;

    /// Waits for the next inbound stream and returns it with the remote address.
    ///
    /// **Cancel-safe**: dropping the future must not lose a connection. Returns
    /// [`TransportError::Shutdown`] once the transport is shut down, including for calls pending
    /// at that moment; other errors are transient.
    async fn accept(&self) -> Result<(Self::Stream, SocketAddr), TransportError>;

    /// Stops receiving and accepting: pending and later [`recv_from`](Transport::recv_from) and
    /// [`accept`](Transport::accept) calls return [`TransportError::Shutdown`]. Releases the
    /// transport's resources (its ports). Idempotent. Streams already handed out keep working;
    /// the runtime closes them.
    async fn shutdown(&self) -> Result<(), TransportError>;
}
