//! [`QuicTransport`]: the [`Transport`] implementation.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;

use bytes::Bytes;
use memberlist_core::transport::{AdvertiseError, IoOp, Transport, TransportError};
use quinn::{Connection, Endpoint, EndpointConfig, IdleTimeout, TransportConfig, VarInt};
use tokio::sync::{Mutex, Semaphore, mpsc, watch};
use tokio::time::Instant;
use tracing::debug;

use crate::config::{INITIAL_MTU, MAX_PACKET_SIZE, QuicConfig};
use crate::conn::{accept_loop, canonical, dial, send_on};
use crate::pool::{Pool, SendPlan, WaitPlan};
use crate::stats::{Counters, QuicStats, bump};
use crate::stream::QuicStream;
use crate::wire::{Wire, WireStats};

type Datagram = (Bytes, SocketAddr);

/// Bytes of datagrams quinn buffers per connection, each way.
const DATAGRAM_BUFFER: usize = 1 << 20;
/// How long [`QuicTransport::shutdown`] waits for queued datagrams (a leave message) to leave.
const FLUSH_GRACE: std::time::Duration = std::time::Duration::from_millis(250);
type Inbound = (QuicStream, SocketAddr);

/// State shared by the transport handle and its tasks.
pub(crate) struct Inner {
    pub(crate) endpoint: Endpoint,
    pub(crate) server_name: String,
    pub(crate) pool: Pool<Connection>,
    pub(crate) counters: Counters,
    pub(crate) wire: Wire,
    pub(crate) conn_slots: Arc<Semaphore>,
    pub(crate) stream_slots: Arc<Semaphore>,
    pub(crate) datagram_tx: mpsc::Sender<Datagram>,
    pub(crate) stream_tx: mpsc::Sender<Inbound>,
    pub(crate) closed: watch::Sender<bool>,
    pub(crate) handshake_timeout: std::time::Duration,
    pub(crate) metrics: Option<crate::config::MetricsSink>,
}

/// memberlist over QUIC and TLS 1.3: see the [crate docs](crate) for how packets and streams
/// map onto it, and [`QuicConfig`] for the limits.
///
/// ```
/// # #[cfg(feature = "dev-certs")] {
/// use memberlist_quic::{DevCa, QuicConfig, QuicTransport, Transport};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let ca = DevCa::new("docs")?;
/// let a = QuicTransport::bind(QuicConfig::new("127.0.0.1:0".parse()?, ca.node_tls("a")?)).await?;
/// let b = QuicTransport::bind(QuicConfig::new("127.0.0.1:0".parse()?, ca.node_tls("b")?)).await?;
/// a.send_to(b.advertise_addr(), b"ping").await?;
/// let (data, from) = b.recv_from().await?;
/// assert_eq!((&data[..], from), (&b"ping"[..], a.advertise_addr()));
/// a.shutdown().await?;
/// b.shutdown().await?;
/// # Ok(())
/// # }
/// # }
/// ```
pub struct QuicTransport {
    inner: Arc<Inner>,
    advertise: SocketAddr,
    local: SocketAddr,
    datagrams: Mutex<mpsc::Receiver<Datagram>>,
    streams: Mutex<mpsc::Receiver<Inbound>>,
}

impl std::fmt::Debug for QuicTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuicTransport")
            .field("advertise", &self.advertise)
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

/// The configured idle timeout is beyond what QUIC can express (2^62 ms).
#[derive(Debug, thiserror::Error)]
#[error("the idle timeout is too long for QUIC: {0}")]
pub struct IdleTimeoutTooLong(#[from] quinn::VarIntBoundsExceeded);

fn transport_config(config: &QuicConfig) -> Result<TransportConfig, TransportError> {
    let mut t = TransportConfig::default();
    let idle = IdleTimeout::try_from(config.idle_timeout)
        .map_err(|e| TransportError::other(IdleTimeoutTooLong(e)))?;
    t.max_idle_timeout(Some(idle))
        .keep_alive_interval(config.keep_alive)
        .max_concurrent_bidi_streams(VarInt::from_u32(config.max_streams_per_connection))
        .max_concurrent_uni_streams(VarInt::from_u32(config.max_streams_per_connection))
        .initial_mtu(INITIAL_MTU)
        .datagram_receive_buffer_size(Some(DATAGRAM_BUFFER))
        .datagram_send_buffer_size(DATAGRAM_BUFFER);
    Ok(t)
}

impl QuicTransport {
    /// Binds the UDP socket, starts the endpoint (server and client in one) and its accept
    /// task. Must be called inside a tokio runtime.
    ///
    /// Fails when the socket cannot be bound, the TLS material is unusable, or no advertise
    /// address can be worked out (an unspecified bind IP without
    /// [`QuicConfig::with_advertise`]).
    pub async fn bind(config: QuicConfig) -> Result<Self, TransportError> {
        let transport = Arc::new(transport_config(&config)?);
        let mut server = config
            .tls
            .quinn_server_config(config.mutual_tls)
            .map_err(TransportError::other)?;
        server.transport_config(transport.clone());
        // A node's address is its identity in memberlist: no migration.
        server.migration(false);
        let mut client = config
            .tls
            .quinn_client_config()
            .map_err(TransportError::other)?;
        client.transport_config(transport);

        let socket = UdpSocket::bind(config.bind)
            .map_err(|e| TransportError::io(IoOp::Bind(config.bind), e))?;
        let runtime = Arc::new(quinn::TokioRuntime);
        let mut endpoint = Endpoint::new(EndpointConfig::default(), Some(server), socket, runtime)
            .map_err(|e| TransportError::io(IoOp::Bind(config.bind), e))?;
        endpoint.set_default_client_config(client);
        let local = endpoint
            .local_addr()
            .map_err(|e| TransportError::io(IoOp::LocalAddr, e))?;
        let advertise = match config.advertise {
            Some(a) if a.port() == 0 => SocketAddr::new(a.ip(), local.port()),
            Some(a) => a,
            None => local,
        };
        if advertise.ip().is_unspecified() {
            endpoint.close(0u32.into(), b"no advertise address");
            return Err(AdvertiseError::UnspecifiedBind(local).into());
        }
        let advertise = canonical(advertise);

        let (datagram_tx, datagram_rx) = mpsc::channel(config.datagram_queue);
        let (stream_tx, stream_rx) = mpsc::channel(config.accept_queue);
        let inner = Arc::new(Inner {
            endpoint,
            server_name: config.tls.server_name().to_owned(),
            pool: Pool::new(config.pending_per_peer),
            counters: Counters::default(),
            wire: Wire::default(),
            conn_slots: Arc::new(Semaphore::new(config.max_connections)),
            stream_slots: Arc::new(Semaphore::new(config.max_streams)),
            datagram_tx,
            stream_tx,
            closed: watch::Sender::new(false),
            handshake_timeout: config.handshake_timeout,
            metrics: config.metrics.clone(),
        });
        tokio::spawn(accept_loop(inner.clone()));
        debug!(%local, %advertise, mutual_tls = config.mutual_tls, "QUIC transport bound");
        Ok(Self {
            inner,
            advertise,
            local,
            datagrams: Mutex::new(datagram_rx),
            streams: Mutex::new(stream_rx),
        })
    }

    /// A snapshot of the transport's counters.
    pub fn stats(&self) -> QuicStats {
        self.inner.counters.snapshot()
    }

    /// The UDP datagrams and bytes its QUIC connections sent and received so far, QUIC and
    /// TLS overhead included (for measuring the transport's cost on the wire).
    pub fn wire_stats(&self) -> WireStats {
        self.inner.wire.snapshot()
    }

    fn is_closed(&self) -> bool {
        *self.inner.closed.borrow()
    }

    fn check_family(&self, to: SocketAddr) -> Result<(), TransportError> {
        if self.local.is_ipv4() && to.is_ipv6() {
            return Err(TransportError::AddressFamily {
                local: self.local,
                remote: to,
            });
        }
        Ok(())
    }

    /// The next item of `queue` (received datagrams or accepted streams), or
    /// [`TransportError::Shutdown`] once the transport is closed.
    async fn next<T>(&self, queue: &Mutex<mpsc::Receiver<T>>) -> Result<T, TransportError> {
        let mut closed = self.inner.closed.subscribe();
        if *closed.borrow_and_update() {
            return Err(TransportError::Shutdown);
        }
        let mut queue = queue.lock().await;
        tokio::select! {
            _ = closed.wait_for(|c| *c) => Err(TransportError::Shutdown),
            item = queue.recv() => item.ok_or(TransportError::Shutdown),
        }
    }

    /// The pooled connection to `to`, dialling (once for all concurrent callers) if needed.
    async fn connection(
        &self,
        to: SocketAddr,
        deadline: Instant,
    ) -> Result<Connection, TransportError> {
        let rx = match self.inner.pool.get_or_wait(to) {
            WaitPlan::Ready(conn) => return Ok(conn),
            WaitPlan::Wait { rx, dial: start } => {
                if start {
                    tokio::spawn(dial(self.inner.clone(), to));
                }
                rx
            }
        };
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(Ok(conn))) => Ok(conn),
            Ok(Ok(Err(why))) => Err(TransportError::io(
                IoOp::Connect(to),
                io::Error::new(io::ErrorKind::ConnectionRefused, why),
            )),
            Ok(Err(_)) => Err(TransportError::Shutdown),
            Err(_) => Err(TransportError::Timeout),
        }
    }

    /// Waits (at most [`FLUSH_GRACE`]) until quinn has written out the datagrams queued on
    /// every pooled connection: closing a connection discards what it has not sent yet, which
    /// would lose a leave message sent just before the shutdown.
    async fn flush(&self) {
        let deadline = Instant::now() + FLUSH_GRACE;
        for conn in self.inner.pool.connections() {
            while conn.close_reason().is_none()
                && conn.datagram_send_buffer_space() < DATAGRAM_BUFFER
                && Instant::now() < deadline
            {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
    }

    fn close(&self) {
        if self.inner.closed.send_replace(true) {
            return;
        }
        self.inner.endpoint.close(0u32.into(), b"shutdown");
        for conn in self.inner.pool.drain() {
            conn.close(0u32.into(), b"shutdown");
        }
    }
}

impl Drop for QuicTransport {
    fn drop(&mut self) {
        self.close();
    }
}

#[async_trait::async_trait]
impl Transport for QuicTransport {
    type Stream = QuicStream;

    fn advertise_addr(&self) -> SocketAddr {
        self.advertise
    }

    fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// 65,507 bytes, as UDP over IPv4: packets that fit a QUIC datagram (1,414 bytes on a
    /// 1,500-byte MTU path, see [`DATAGRAM_PAYLOAD_BUDGET`](crate::DATAGRAM_PAYLOAD_BUDGET))
    /// go as one, larger ones alone on a unidirectional stream.
    fn max_datagram_size(&self) -> usize {
        MAX_PACKET_SIZE
    }

    async fn send_to(&self, to: SocketAddr, data: &[u8]) -> Result<(), TransportError> {
        if self.is_closed() {
            return Err(TransportError::Shutdown);
        }
        if data.len() > MAX_PACKET_SIZE {
            return Err(TransportError::DatagramTooLarge {
                len: data.len(),
                max: MAX_PACKET_SIZE,
            });
        }
        self.check_family(to)?;
        let to = canonical(to);
        match self.inner.pool.send_or_queue(to, data) {
            SendPlan::Ready(conn) => send_on(&self.inner, &conn, to, Bytes::copy_from_slice(data)),
            SendPlan::Queued => {}
            SendPlan::Dial => {
                tokio::spawn(dial(self.inner.clone(), to));
            }
            SendPlan::Full => bump(&self.inner.counters.datagrams_dropped),
        }
        Ok(())
    }

    async fn recv_from(&self) -> Result<(Bytes, SocketAddr), TransportError> {
        self.next(&self.datagrams).await
    }

    async fn connect(
        &self,
        to: SocketAddr,
        deadline: std::time::Instant,
    ) -> Result<QuicStream, TransportError> {
        let deadline = Instant::from_std(deadline);
        if self.is_closed() {
            return Err(TransportError::Shutdown);
        }
        if deadline <= Instant::now() {
            return Err(TransportError::Timeout);
        }
        self.check_family(to)?;
        let to = canonical(to);
        let slot =
            tokio::time::timeout_at(deadline, self.inner.stream_slots.clone().acquire_owned())
                .await
                .map_err(|_| TransportError::Timeout)?
                .map_err(|_| TransportError::Shutdown)?;
        // A pooled connection may close between the lookup and the open: one retry on a
        // fresh one.
        let mut last = None;
        for _ in 0..2 {
            let conn = self.connection(to, deadline).await?;
            match tokio::time::timeout_at(deadline, conn.open_bi()).await {
                Ok(Ok((send, recv))) => {
                    bump(&self.inner.counters.streams_opened);
                    return Ok(QuicStream::new(send, recv, Some(slot)));
                }
                Ok(Err(e)) => {
                    self.inner.pool.closed(to, &conn);
                    last = Some(e);
                }
                Err(_) => return Err(TransportError::Timeout),
            }
        }
        let e = last.map_or_else(|| "no connection".to_owned(), |e| e.to_string());
        Err(TransportError::io(
            IoOp::OpenStream(to),
            io::Error::new(io::ErrorKind::ConnectionReset, e),
        ))
    }

    async fn accept(&self) -> Result<(QuicStream, SocketAddr), TransportError> {
        self.next(&self.streams).await
    }

    /// Lets queued datagrams leave (a quarter of a second at most), then closes the endpoint
    /// and every connection (QUIC has no way to keep streams of a closed endpoint alive, so
    /// streams already handed out fail from here on; the runtime aborts its stream tasks at
    /// shutdown anyway), and wakes pending receives. Idempotent.
    async fn shutdown(&self) -> Result<(), TransportError> {
        if !self.is_closed() {
            self.flush().await;
        }
        self.close();
        Ok(())
    }
}
