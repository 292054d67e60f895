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
//! are applied by the runtime before [`Transport::send_to`] and removed after
//! [`Transport::recv_from`], so a transport never looks inside what it carries.
//!
//! The default transport is `memberlist-net` (UDP and TCP on the same port, wire-compatible with
//! Go). Write your own to run memberlist over something else (QUIC, an in-memory network for
//! tests, a tunnel) or to wrap another transport (to count, delay or drop traffic).
//!
//! # What each method must guarantee
//!
//! Each method's documentation states its contract. Datagrams and streams are addressed by
//! the same [`SocketAddr`]: a node reachable by datagrams at `A` must accept streams at `A`
//! too (Go peers dial the UDP address they know for TCP).
//!
//! # Concurrency
//!
//! The runtime calls [`recv_from`](Transport::recv_from) from one task and
//! [`accept`](Transport::accept) from one (other) task, each in a loop. It calls
//! [`send_to`](Transport::send_to) and [`connect`](Transport::connect) from many tasks
//! concurrently, and [`shutdown`](Transport::shutdown) at any moment, possibly while all of the
//! others are pending. Hence the `Send + Sync` bound and `&self` receivers: keep mutable state
//! behind locks or atomics, and never hold a blocking lock across an `.await`.
//!
//! # Cancellation safety
//!
//! The runtime awaits [`recv_from`](Transport::recv_from) and [`accept`](Transport::accept) inside
//! `tokio::select!`, racing them against timers and commands, and drops the losing future. Both
//! must therefore be **cancel-safe**: dropping the future before it completes must not lose a
//! datagram or a connection. The usual way to achieve this is to take the item off its queue (the
//! socket, the listener, a channel) in the same poll that returns it, with no `.await` in
//! between. `tokio::net::UdpSocket::recv_from`, `tokio::net::TcpListener::accept` and
//! `tokio::sync::mpsc::Receiver::recv` are cancel-safe; reading a length prefix and then a body
//! with two awaits is not.
//!
//! [`send_to`](Transport::send_to) and [`connect`](Transport::connect) need not be cancel-safe
//! (a dropped `send_to` may or may not have sent its datagram; a dropped `connect` must simply
//! not leak the half-open connection).
//!
//! # Errors
//!
//! All methods report [`TransportError`]. From [`recv_from`](Transport::recv_from) and
//! [`accept`](Transport::accept), [`TransportError::Shutdown`] is final: the runtime stops its
//! loop. Any other error is treated as transient: the runtime logs it and calls again, so an
//! implementation should absorb errors that concern one datagram or one connection itself (log
//! and continue, backing off if the error repeats) and return only errors the runtime should
//! hear about, never the same error in a tight loop.
//!
//! # Design notes
//!
//! The trait uses [`async_trait`]: one small allocation per call, negligible next to the
//! system call, and futures that are `Send`, which `tokio::spawn` needs when the runtime is
//! generic over the transport. The associated [`Transport::Stream`] type spares the runtime
//! dynamic dispatch on streams.
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

/// Moves datagrams and reliable byte streams between nodes. See the [module
/// documentation](self) for the guarantees each method must give, the concurrency model and
/// cancellation safety.
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
