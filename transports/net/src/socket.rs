//! Creating the TCP listener and the UDP socket on one port, as Go's `NewNetTransport` does.

use std::io;
use std::net::{IpAddr, SocketAddr};

use memberlist_core::transport::{IoOp, TransportError};
use socket2::{Domain, Protocol, Socket, Type};

use crate::options::NetTransportOptions;

/// The smallest UDP receive buffer worth asking for: one datagram of the largest size.
pub(crate) const MIN_UDP_RECV_BUFFER: usize = 64 * 1024;

/// Pending-connection queue length for the TCP listener (tokio's default).
const LISTEN_BACKLOG: i32 = 1024;

/// The standard sockets, bound and non-blocking, ready for tokio's `from_std`.
#[derive(Debug)]
pub(crate) struct BoundSockets {
    pub(crate) tcp: std::net::TcpListener,
    pub(crate) udp: std::net::UdpSocket,
    /// Bound to `::` with IPv4 accepted too (IPV6_V6ONLY off on both sockets).
    pub(crate) dual_stack: bool,
    /// The UDP receive buffer size the system reports after our request, if it tells.
    pub(crate) udp_recv_buffer: Option<usize>,
}

/// Binds TCP first, then UDP on the TCP listener's port. With port 0, a UDP port already taken
/// makes it start over with a new TCP port, up to `bind_attempts` times.
pub(crate) fn bind(options: &NetTransportOptions) -> Result<BoundSockets, TransportError> {
    let fixed_port = options.bind.port() != 0;
    let attempts = if fixed_port {
        1
    } else {
        options.bind_attempts.max(1)
    };
    let mut attempt = 1;
    loop {
        let (tcp, tcp_dual) = bind_tcp(options.bind)
            .map_err(|e| TransportError::io(IoOp::BindTcp(options.bind), e))?;
        let port = tcp
            .local_addr()
            .map_err(|e| TransportError::io(IoOp::LocalAddr, e))?
            .port();
        let udp_addr = SocketAddr::new(options.bind.ip(), port);
        match bind_udp(udp_addr, options.udp_recv_buffer) {
            Ok((udp, udp_dual, udp_recv_buffer)) => {
                return Ok(BoundSockets {
                    tcp,
                    udp,
                    dual_stack: tcp_dual && udp_dual,
                    udp_recv_buffer,
                });
            }
            Err(e) if !fixed_port && e.kind() == io::ErrorKind::AddrInUse && attempt < attempts => {
                tracing::debug!(
                    port,
                    attempt,
                    "UDP port matching the TCP port is taken; trying another port"
                );
                attempt += 1;
            }
            Err(e) => {
                return Err(TransportError::io(IoOp::BindUdp(udp_addr), e));
            }
        }
    }
}

fn bind_tcp(addr: SocketAddr) -> io::Result<(std::net::TcpListener, bool)> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    let dual_stack = allow_ipv4_on_wildcard(&socket, addr);
    // Go sets SO_REUSEADDR on listeners on Unix, so a restarted node can take its port back
    // while old connections sit in TIME_WAIT. On Windows the option means something else.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok((socket.into(), dual_stack))
}

fn bind_udp(
    addr: SocketAddr,
    recv_buffer: usize,
) -> io::Result<(std::net::UdpSocket, bool, Option<usize>)> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    let dual_stack = allow_ipv4_on_wildcard(&socket, addr);
    let recv_buffer = set_recv_buffer(&socket, recv_buffer);
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    Ok((socket.into(), dual_stack, recv_buffer))
}

/// On `::`, turns IPV6_V6ONLY off so IPv4 peers reach us too, as Go's listeners do. Returns
/// whether the socket is dual-stack.
fn allow_ipv4_on_wildcard(socket: &Socket, addr: SocketAddr) -> bool {
    match addr.ip() {
        IpAddr::V6(ip) if ip.is_unspecified() => match socket.set_only_v6(false) {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(error = %e, "cannot accept IPv4 on an IPv6 socket; IPv6 only");
                false
            }
        },
        _ => false,
    }
}

/// Asks for a `wanted`-byte receive buffer, halving on refusal down to [`MIN_UDP_RECV_BUFFER`]
/// (Go halves from 2 MiB too). Returns what the system reports afterwards.
fn set_recv_buffer(socket: &Socket, wanted: usize) -> Option<usize> {
    if wanted > 0 {
        let mut size = wanted;
        loop {
            match socket.set_recv_buffer_size(size) {
                Ok(()) => {
                    if size < wanted {
                        tracing::warn!(
                            requested = wanted,
                            accepted = size,
                            "the system refused the UDP receive buffer size asked for; using a smaller one"
                        );
                    }
                    break;
                }
                Err(e) if size / 2 >= MIN_UDP_RECV_BUFFER => {
                    tracing::debug!(size, error = %e, "UDP receive buffer size refused; halving");
                    size /= 2;
                }
                Err(e) => {
                    tracing::warn!(
                        requested = wanted,
                        error = %e,
                        "cannot enlarge the UDP receive buffer; keeping the system default"
                    );
                    break;
                }
            }
        }
    }
    let actual = socket.recv_buffer_size().ok();
    if let Some(actual) = actual.filter(|&actual| actual < wanted) {
        // Linux caps SO_RCVBUF at net.core.rmem_max without an error (and reports twice the
        // accepted size, for its own bookkeeping).
        tracing::info!(
            requested = wanted,
            actual,
            "the system capped the UDP receive buffer; raise its limit (Linux: net.core.rmem_max) \
             if packets are dropped under load"
        );
    }
    actual
}
