//! [`NetTransport`]: UDP datagrams and TCP streams on one port.

use std::fmt;
use std::future::Future;
use std::net::{SocketAddr, SocketAddrV6};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use bytes::Bytes;
use memberlist_core::transport::{IoOp, Transport, TransportError};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::advertise::advertise_addr;
use crate::options::NetTransportOptions;
use crate::socket;

/// Size of the buffer one datagram is received into: 65,536 bytes, Go's `udpPacketBufSize`,
/// more than any UDP payload (65,527 bytes at most), so no datagram is ever truncated.
pub const UDP_PACKET_BUF_SIZE: usize = 65_536;

/// Largest UDP payload over IPv4: 65,535 minus the 20-byte IP and 8-byte UDP headers.
pub const MAX_DATAGRAM_SIZE_V4: usize = 65_507;

/// Largest UDP payload over IPv6 (without jumbograms): 65,535 minus the 8-byte UDP header.
pub const MAX_DATAGRAM_SIZE_V6: usize = 65_527;

/// Delay after the first repeated receive or accept error; it doubles up to [`MAX_BACKOFF`]
/// (Go's `tcpListen` uses the same bounds).
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The sockets, taken out (and so closed) on shutdown. Pending calls hold clones of the `Arc`s
/// until they notice the shutdown, which they do at once.
struct Sockets {
    udp: Arc<UdpSocket>,
    tcp: Arc<TcpListener>,
}

/// The default memberlist transport: UDP for datagrams and TCP for streams, on the same port,
/// interoperable with Go memberlist's `NetTransport`.
///
/// - **Binding.** TCP binds first; UDP then binds the same IP and the TCP listener's port. With
///   port 0, if that UDP port is taken, both are bound again on a new port (up to
///   [`NetTransportOptions::bind_attempts`] times), as Go does.
/// - **Receiving.** Each datagram is received into a 65,536-byte buffer
///   ([`UDP_PACKET_BUF_SIZE`]), so every datagram arrives whole, and copied out at its own size.
///   Empty datagrams are dropped, as Go drops them. The UDP receive buffer (`SO_RCVBUF`) is set
///   as large as the system allows, up to [`NetTransportOptions::udp_recv_buffer`] (2 MiB).
/// - **Streams** are TCP connections with `TCP_NODELAY` set on both ends.
/// - **Addresses.** IPv4 and IPv6 both work. Bound to `::`, the sockets also serve IPv4 where
///   the system allows it (dual-stack); IPv4 peers are then reported as IPv4 addresses, never as
///   `::ffff:a.b.c.d`, and datagrams to IPv4 addresses are sent as IPv4-mapped.
///
/// # The advertise address
///
/// [`advertise_addr`](Transport::advertise_addr) is, in this order:
///
/// 1. [`NetTransportOptions::advertise`] when set (a port of 0 there means the bound port);
/// 2. the bound address when the bind IP is specific (`127.0.0.1`, `10.0.0.5`, `::1`, ...);
/// 3. when bound to an unspecified IP (`0.0.0.0`, `::`), the host's first "private" address,
///    chosen as Go chooses it with `sockaddr.GetPrivateIP`: among the addresses of interfaces
///    that are up (not loopback, not link-local), those in RFC 6890's special-purpose blocks
///    (10/8, 172.16/12, 192.168/16, 100.64/10, the documentation and benchmarking ranges, and
///    for IPv6 fc00::/7 and the like), ordered with the interface of the default IPv4 route
///    first (read from `/proc/net/route` on Linux; no such preference on other systems), then
///    IPv4 before IPv6, then the larger network. Bound to `0.0.0.0`, only IPv4 addresses
///    qualify; bound to `::`, IPv6 ones too (IPv4 ones only if the sockets are dual-stack).
///    With no such address (a host with only public addresses, say), building the transport
///    fails with [`TransportError::Advertise`], which asks for an explicit address. On hosts
///    with several private networks, set the advertise address yourself.
///
/// # Example
///
/// ```
/// use memberlist_net::{NetTransport, Transport};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// use std::time::{Duration, Instant};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let a = NetTransport::bind("127.0.0.1:0".parse()?).await?;
/// let b = NetTransport::bind("127.0.0.1:0".parse()?).await?;
///
/// a.send_to(b.advertise_addr(), b"hello").await?;
/// let (data, from) = b.recv_from().await?;
/// assert_eq!((&data[..], from), (&b"hello"[..], a.advertise_addr()));
///
/// let deadline = Instant::now() + Duration::from_secs(5);
/// let mut stream = a.connect(b.advertise_addr(), deadline).await?;
/// stream.write_all(b"push/pull").await?;
/// let (mut accepted, _from) = b.accept().await?;
/// let mut buf = [0; 9];
/// accepted.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"push/pull");
///
/// a.shutdown().await?;
/// b.shutdown().await?;
/// # Ok(())
/// # }
/// ```
pub struct NetTransport {
    local: SocketAddr,
    advertise: SocketAddr,
    dual_stack: bool,
    max_datagram: usize,
    udp_recv_buffer: Option<usize>,
    sockets: RwLock<Option<Sockets>>,
    closed: watch::Sender<bool>,
    /// Scratch space for one datagram; locked only while copying a datagram out of the socket.
    packet_buf: Mutex<Vec<u8>>,
}

impl NetTransport {
    /// Binds UDP and TCP on `addr` with default options; see
    /// [`with_options`](NetTransport::with_options).
    ///
    /// ```
    /// use memberlist_net::{NetTransport, Transport};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let transport = NetTransport::bind("127.0.0.1:0".parse()?).await?;
    /// assert_ne!(transport.local_addr().port(), 0);
    /// assert_eq!(transport.advertise_addr(), transport.local_addr());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn bind(addr: SocketAddr) -> Result<Self, TransportError> {
        Self::with_options(NetTransportOptions::new(addr)).await
    }

    /// Binds UDP and TCP as `options` say and works out the advertise address (see
    /// [the rules](NetTransport#the-advertise-address)).
    ///
    /// Must run inside a Tokio runtime with I/O enabled. Fails with [`TransportError::Io`] if a
    /// socket cannot be bound (the port is taken, the address is not local, ...) and with
    /// [`TransportError::Advertise`] if no advertise address can be chosen.
    ///
    /// ```
    /// use memberlist_net::{NetTransport, NetTransportOptions, Transport};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let options = NetTransportOptions::new("127.0.0.1:0".parse()?)
    ///     .with_advertise("192.0.2.7:7946".parse()?);
    /// let transport = NetTransport::with_options(options).await?;
    /// assert_eq!(transport.advertise_addr(), "192.0.2.7:7946".parse()?);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn with_options(options: NetTransportOptions) -> Result<Self, TransportError> {
        let bound = socket::bind(&options)?;
        let tcp =
            TcpListener::from_std(bound.tcp).map_err(|e| TransportError::io(IoOp::Register, e))?;
        let udp =
            UdpSocket::from_std(bound.udp).map_err(|e| TransportError::io(IoOp::Register, e))?;
        let local = tcp
            .local_addr()
            .map_err(|e| TransportError::io(IoOp::LocalAddr, e))?;
        let advertise = advertise_addr(options.advertise, local, bound.dual_stack)?;
        // A dual-stack socket also sends IPv4 datagrams, whose limit is the lower one.
        let max_datagram = if local.is_ipv4() || bound.dual_stack {
            MAX_DATAGRAM_SIZE_V4
        } else {
            MAX_DATAGRAM_SIZE_V6
        };
        tracing::info!(
            %local,
            %advertise,
            udp_recv_buffer = bound.udp_recv_buffer,
            "memberlist transport listening on UDP and TCP"
        );
        Ok(Self {
            local,
            advertise,
            dual_stack: bound.dual_stack,
            max_datagram,
            udp_recv_buffer: bound.udp_recv_buffer,
            sockets: RwLock::new(Some(Sockets {
                udp: Arc::new(udp),
                tcp: Arc::new(tcp),
            })),
            closed: watch::Sender::new(false),
            packet_buf: Mutex::new(vec![0; UDP_PACKET_BUF_SIZE]),
        })
    }

    /// The UDP receive buffer size (`SO_RCVBUF`) the system reports, if it does. Linux reports
    /// twice the size it accepted (the rest is its bookkeeping) and caps requests at
    /// `net.core.rmem_max`.
    ///
    /// ```
    /// use memberlist_net::NetTransport;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let transport = NetTransport::bind("127.0.0.1:0".parse()?).await?;
    /// if let Some(size) = transport.udp_recv_buffer_size() {
    ///     assert!(size > 0);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn udp_recv_buffer_size(&self) -> Option<usize> {
        self.udp_recv_buffer
    }

    fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// One of the sockets, unless they were closed.
    fn socket<S>(&self, which: fn(&Sockets) -> &Arc<S>) -> Result<Arc<S>, TransportError> {
        let sockets = self.sockets.read().unwrap_or_else(PoisonError::into_inner);
        let socket = sockets.as_ref().map(|s| Arc::clone(which(s)));
        socket.ok_or(TransportError::Shutdown)
    }

    /// `work`'s output, or [`TransportError::Shutdown`] once the transport is shut down.
    async fn unless_closed<T>(&self, work: impl Future<Output = T>) -> Result<T, TransportError> {
        let mut closed = self.closed.subscribe();
        tokio::select! {
            biased;
            _ = closed.wait_for(|closed| *closed) => Err(TransportError::Shutdown),
            out = work => Ok(out),
        }
    }

    fn udp_destination(&self, to: SocketAddr) -> Result<SocketAddr, TransportError> {
        udp_destination(self.local, self.dual_stack, to).ok_or(TransportError::AddressFamily {
            local: self.local,
            remote: to,
        })
    }

    /// Receives the next non-empty datagram, absorbing per-datagram errors. Cancel-safe: the
    /// datagram leaves the socket in the same poll that returns it.
    async fn receive(&self, udp: &UdpSocket) -> (Bytes, SocketAddr) {
        let mut backoff = Backoff::default();
        loop {
            if let Err(e) = udp.readable().await {
                tracing::warn!(error = %e, "waiting for UDP data failed; retrying");
                backoff.wait().await;
                continue;
            }
            let received = {
                let mut buf = self
                    .packet_buf
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                udp.try_recv_from(&mut buf)
                    .map(|(len, from)| (Bytes::copy_from_slice(&buf[..len]), from))
            };
            match received {
                Ok((data, from)) if data.is_empty() => {
                    tracing::debug!(%from, "dropping an empty UDP datagram");
                }
                Ok((data, from)) => {
                    tracing::debug!(len = data.len(), %from, "received a datagram");
                    return (data, canonical(from));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    // ICMP errors from earlier sends surface here on some systems.
                    tracing::debug!(error = %e, "receiving a UDP datagram failed; continuing");
                    backoff.wait().await;
                }
            }
        }
    }

    /// Accepts the next connection, absorbing per-connection errors with a backoff, as Go's
    /// `tcpListen`. Cancel-safe, as `TcpListener::accept` is.
    async fn accept_next(listener: &TcpListener) -> (TcpStream, SocketAddr) {
        let mut backoff = Backoff::default();
        loop {
            match listener.accept().await {
                Ok((stream, from)) => {
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!(%from, error = %e, "cannot set TCP_NODELAY");
                    }
                    tracing::debug!(%from, "accepted a stream");
                    return (stream, canonical(from));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a TCP connection failed; retrying");
                    backoff.wait().await;
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl Transport for NetTransport {
    type Stream = TcpStream;

    fn advertise_addr(&self) -> SocketAddr {
        self.advertise
    }

    fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn max_datagram_size(&self) -> usize {
        self.max_datagram
    }

    async fn send_to(&self, to: SocketAddr, data: &[u8]) -> Result<(), TransportError> {
        if data.len() > self.max_datagram {
            return Err(TransportError::DatagramTooLarge {
                len: data.len(),
                max: self.max_datagram,
            });
        }
        let udp = self.socket(|s| &s.udp)?;
        let dest = self.udp_destination(to)?;
        udp.send_to(data, dest).await.map_err(|e| {
            TransportError::io(
                IoOp::Send {
                    to,
                    len: data.len(),
                },
                e,
            )
        })?;
        tracing::debug!(len = data.len(), %to, "sent a datagram");
        Ok(())
    }

    async fn recv_from(&self) -> Result<(Bytes, SocketAddr), TransportError> {
        let udp = self.socket(|s| &s.udp)?;
        self.unless_closed(self.receive(&udp)).await
    }

    async fn connect(
        &self,
        to: SocketAddr,
        deadline: std::time::Instant,
    ) -> Result<TcpStream, TransportError> {
        let deadline = Instant::from_std(deadline);
        if self.is_closed() {
            return Err(TransportError::Shutdown);
        }
        // `timeout_at` would still try once with a past deadline; the contract says Timeout.
        if deadline <= Instant::now() {
            return Err(TransportError::Timeout);
        }
        let stream = match tokio::time::timeout_at(deadline, TcpStream::connect(to)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(TransportError::io(IoOp::Connect(to), e)),
            Err(_elapsed) => return Err(TransportError::Timeout),
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(%to, error = %e, "cannot set TCP_NODELAY");
        }
        tracing::debug!(%to, "opened a stream");
        Ok(stream)
    }

    async fn accept(&self) -> Result<(TcpStream, SocketAddr), TransportError> {
        let listener = self.socket(|s| &s.tcp)?;
        self.unless_closed(Self::accept_next(&listener)).await
    }

    async fn shutdown(&self) -> Result<(), TransportError> {
        self.closed.send_replace(true);
        let sockets = self
            .sockets
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if sockets.is_some() {
            tracing::debug!(local = %self.local, "memberlist transport shut down");
        }
        Ok(())
    }
}

impl fmt::Debug for NetTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetTransport")
            .field("local", &self.local)
            .field("advertise", &self.advertise)
            .field("dual_stack", &self.dual_stack)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// The address to hand a UDP socket bound to `local` for a datagram to `to`: IPv4 destinations
/// are mapped into IPv6 on a dual-stack socket, IPv4-mapped destinations unmapped on an IPv4
/// socket. `None` when the socket cannot reach `to`'s family.
fn udp_destination(local: SocketAddr, dual_stack: bool, to: SocketAddr) -> Option<SocketAddr> {
    match (local, to) {
        (SocketAddr::V4(_), SocketAddr::V4(_)) | (SocketAddr::V6(_), SocketAddr::V6(_)) => Some(to),
        (SocketAddr::V4(_), SocketAddr::V6(v6)) => v6
            .ip()
            .to_ipv4_mapped()
            .map(|ip| SocketAddr::new(ip.into(), v6.port())),
        (SocketAddr::V6(_), SocketAddr::V4(v4)) if dual_stack => Some(SocketAddr::V6(
            SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0),
        )),
        (SocketAddr::V6(_), SocketAddr::V4(_)) => None,
    }
}

/// An IPv4-mapped IPv6 address (what a dual-stack socket reports for IPv4 peers) as IPv4.
fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr.ip().to_canonical() {
        ip if ip == addr.ip() => addr,
        ip => SocketAddr::new(ip, addr.port()),
    }
}

/// No delay after a first error, then 5 ms doubling to 1 s while errors repeat.
#[derive(Default)]
struct Backoff {
    next: Option<Duration>,
}

impl Backoff {
    async fn wait(&mut self) {
        match self.next {
            None => self.next = Some(FIRST_BACKOFF),
            Some(delay) => {
                tokio::time::sleep(delay).await;
                self.next = Some((delay * 2).min(MAX_BACKOFF));
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn udp_destinations_by_family() {
        let v4 = addr("0.0.0.0:7946");
        let v6 = addr("[::]:7946");
        let (to4, to6) = (addr("10.1.2.3:7000"), addr("[fd00::1]:7000"));
        let mapped = addr("[::ffff:10.1.2.3]:7000");
        assert_eq!(udp_destination(v4, false, to4), Some(to4));
        assert_eq!(udp_destination(v4, false, mapped), Some(to4));
        assert_eq!(udp_destination(v4, false, to6), None);
        assert_eq!(udp_destination(v6, true, to6), Some(to6));
        assert_eq!(udp_destination(v6, true, to4), Some(mapped));
        assert_eq!(udp_destination(v6, false, to4), None);
    }

    #[test]
    fn canonical_unmaps_ipv4() {
        let mapped: SocketAddr = "[::ffff:10.1.2.3]:7946".parse().unwrap();
        assert_eq!(canonical(mapped), "10.1.2.3:7946".parse().unwrap());
        let v6: SocketAddr = "[fd00::1]:7946".parse().unwrap();
        assert_eq!(canonical(v6), v6);
    }
}
