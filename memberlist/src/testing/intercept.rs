//! [`Intercept`]: a counting, fault-injecting transport wrapper, and its [`Policy`].

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use memberlist_core::transport::{IoOp, Transport, TransportError};
use tokio::time::Instant;
use tracing::debug;

use super::traffic::{CountedStream, Counters, Traffic, add};

/// What to do with one outgoing datagram or one dial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Forward it now.
    Deliver,
    /// Lose it: a datagram is reported sent and never leaves; a dial is refused
    /// (`ConnectionRefused`).
    Drop,
    /// Forward it after this long: a datagram is reported sent at once and handed on later
    /// (from a task of its own, so the sender never waits); a dial waits first (a
    /// [`TransportError::Timeout`] if its deadline comes sooner).
    Delay(Duration),
    /// Refuse it with an error, as a local firewall's reject would: a datagram's send fails
    /// (`PermissionDenied`, what `sendto` returns under an nftables reject rule); a dial is
    /// refused (`ConnectionRefused`). Counted as dropped.
    Fail,
}

/// Decides the fate of what an [`Intercept`] forwards. Called from many tasks at once, so
/// keep state in atomics or behind a lock held briefly.
///
/// A closure `Fn(SocketAddr, &[u8]) -> Verdict` is a policy for datagrams (dials pass):
///
/// ```
/// use std::net::SocketAddr;
/// use std::time::Duration;
/// use memberlist::testing::{Policy, Verdict};
///
/// let gossip_is_slow = |_to: SocketAddr, data: &[u8]| {
///     if data.len() > 500 { Verdict::Delay(Duration::from_millis(50)) } else { Verdict::Deliver }
/// };
/// let to: SocketAddr = "127.0.0.1:7946".parse().unwrap();
/// assert_eq!(gossip_is_slow.outgoing(to, &[0; 600]), Verdict::Delay(Duration::from_millis(50)));
/// assert_eq!(gossip_is_slow.connect(to), Verdict::Deliver);
/// ```
pub trait Policy: Send + Sync + 'static {
    /// The fate of one datagram about to be sent to `to`. Datagrams larger than the inner
    /// transport's maximum are not asked about: the inner transport refuses them.
    fn outgoing(&self, to: SocketAddr, data: &[u8]) -> Verdict;

    /// The fate of one dial to `to`. Delivers by default.
    fn connect(&self, to: SocketAddr) -> Verdict {
        let _ = to;
        Verdict::Deliver
    }
}

impl<F> Policy for F
where
    F: Fn(SocketAddr, &[u8]) -> Verdict + Send + Sync + 'static,
{
    fn outgoing(&self, to: SocketAddr, data: &[u8]) -> Verdict {
        self(to, data)
    }
}

/// The policy that forwards everything: an [`Intercept`] with it only counts.
#[derive(Debug, Clone, Copy, Default)]
pub struct PassThrough;

impl Policy for PassThrough {
    fn outgoing(&self, _to: SocketAddr, _data: &[u8]) -> Verdict {
        Verdict::Deliver
    }
}

/// Wraps a transport: forwards every method to it, counts the traffic ([`traffic`]), and
/// asks its [`Policy`] about each outgoing datagram and each dial. Streams are wrapped in
/// [`CountedStream`] to count their bytes.
///
/// It keeps the [`Transport`] guarantees of the transport inside: counting happens after the
/// inner call returns, so `recv_from` and `accept` stay cancel-safe.
///
/// [`traffic`]: Intercept::traffic
///
/// ```
/// use memberlist::prelude::*;
/// use memberlist::testing::{DropRate, Intercept, MemoryNetwork};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let network = MemoryNetwork::new();
/// // Count only...
/// let counted = Intercept::new(network.bind());
/// // ...or also lose every outgoing datagram (seed 1).
/// let lossy = Intercept::with_policy(network.bind(), DropRate::new(1.0, 1));
///
/// lossy.send_to(counted.advertise_addr(), b"lost").await?;
/// counted.send_to(lossy.advertise_addr(), b"ping").await?;
/// let (data, _) = lossy.recv_from().await?;
/// assert_eq!(&data[..], b"ping");
/// assert_eq!((counted.traffic().datagrams_sent, counted.traffic().datagram_bytes_sent), (1, 4));
/// assert_eq!((lossy.traffic().datagrams_dropped, lossy.traffic().datagrams_received), (1, 1));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Intercept<T, P = PassThrough> {
    inner: Arc<T>,
    policy: P,
    counters: Arc<Counters>,
}

impl<T: Transport> Intercept<T> {
    /// Wraps `inner`, forwarding everything and counting it.
    pub fn new(inner: T) -> Self {
        Self::with_policy(inner, PassThrough)
    }
}

impl<T: Transport, P: Policy> Intercept<T, P> {
    /// Wraps `inner`, asking `policy` about each outgoing datagram and each dial.
    pub fn with_policy(inner: T, policy: P) -> Self {
        Self {
            inner: Arc::new(inner),
            policy,
            counters: Arc::default(),
        }
    }
}

impl<T, P> Intercept<T, P> {
    /// What went through so far.
    pub fn traffic(&self) -> Traffic {
        self.counters.snapshot()
    }

    /// The transport inside (for its own statistics, say).
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The policy.
    pub fn policy(&self) -> &P {
        &self.policy
    }

    fn counted<S>(&self, stream: S) -> CountedStream<S> {
        CountedStream::new(stream, Arc::clone(&self.counters))
    }
}

#[async_trait::async_trait]
impl<T: Transport, P: Policy> Transport for Intercept<T, P> {
    type Stream = CountedStream<T::Stream>;

    fn advertise_addr(&self) -> SocketAddr {
        self.inner.advertise_addr()
    }

    fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr()
    }

    fn max_datagram_size(&self) -> usize {
        self.inner.max_datagram_size()
    }

    async fn send_to(&self, to: SocketAddr, data: &[u8]) -> Result<(), TransportError> {
        let c = &self.counters;
        // An oversized datagram is refused whatever the policy would say.
        if data.len() > self.inner.max_datagram_size() {
            return self.inner.send_to(to, data).await;
        }
        match self.policy.outgoing(to, data) {
            Verdict::Deliver => {
                self.inner.send_to(to, data).await?;
            }
            Verdict::Drop => {
                add(&c.datagrams_dropped, 1);
                return Ok(());
            }
            Verdict::Fail => {
                add(&c.datagrams_dropped, 1);
                let denied = io::Error::from(io::ErrorKind::PermissionDenied);
                let op = IoOp::Send {
                    to,
                    len: data.len(),
                };
                return Err(TransportError::io(op, denied));
            }
            Verdict::Delay(delay) => {
                let inner = Arc::clone(&self.inner);
                let data = Bytes::copy_from_slice(data);
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    if let Err(e) = inner.send_to(to, &data).await {
                        debug!(%to, error = %e, "delayed datagram not sent");
                    }
                });
                add(&c.datagrams_delayed, 1);
            }
        }
        add(&c.datagrams_sent, 1);
        add(&c.datagram_bytes_sent, data.len());
        Ok(())
    }

    async fn recv_from(&self) -> Result<(Bytes, SocketAddr), TransportError> {
        // Cancel-safe: nothing awaits between taking the datagram and returning it.
        let (data, from) = self.inner.recv_from().await?;
        add(&self.counters.datagrams_received, 1);
        add(&self.counters.datagram_bytes_received, data.len());
        Ok((data, from))
    }

    async fn connect(
        &self,
        to: SocketAddr,
        deadline: std::time::Instant,
    ) -> Result<Self::Stream, TransportError> {
        match self.policy.connect(to) {
            Verdict::Deliver => {}
            Verdict::Drop | Verdict::Fail => {
                add(&self.counters.streams_refused, 1);
                let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
                return Err(TransportError::io(IoOp::Connect(to), refused));
            }
            Verdict::Delay(delay) => {
                // The deadline is on tokio's clock (see `Transport::connect`).
                let deadline = Instant::from_std(deadline);
                if Instant::now() + delay >= deadline {
                    tokio::time::sleep_until(deadline).await;
                    return Err(TransportError::Timeout);
                }
                tokio::time::sleep(delay).await;
            }
        }
        let stream = self.inner.connect(to, deadline).await?;
        add(&self.counters.streams_opened, 1);
        Ok(self.counted(stream))
    }

    async fn accept(&self) -> Result<(Self::Stream, SocketAddr), TransportError> {
        let (stream, from) = self.inner.accept().await?;
        add(&self.counters.streams_accepted, 1);
        Ok((self.counted(stream), from))
    }

    async fn shutdown(&self) -> Result<(), TransportError> {
        self.inner.shutdown().await
    }
}
