//! [`NetTransportOptions`]: where to bind, what to advertise, socket sizes.

use std::net::{Ipv4Addr, SocketAddr};

/// The port Go memberlist uses by default for both UDP and TCP.
pub const DEFAULT_PORT: u16 = 7946;

/// The UDP receive buffer [`NetTransportOptions`] asks for by default: 2 MiB, as Go's
/// `udpRecvBufSize`.
pub const DEFAULT_UDP_RECV_BUFFER: usize = 2 * 1024 * 1024;

/// How many times a bind to port 0 is tried by default when the UDP port matching the TCP
/// listener's port is taken: 10, as Go memberlist's retry limit for an automatic port.
pub const DEFAULT_BIND_ATTEMPTS: u32 = 10;

/// Settings for [`NetTransport::with_options`](crate::NetTransport::with_options).
///
/// Build one with [`new`](NetTransportOptions::new) and the `with_` methods, or change the public
/// fields of a value. [`Default`] binds `0.0.0.0:7946`, Go memberlist's default.
///
/// ```
/// use memberlist_net::NetTransportOptions;
///
/// let options = NetTransportOptions::new("0.0.0.0:7946".parse()?)
///     .with_advertise("10.1.2.3:7946".parse()?)
///     .with_udp_recv_buffer(4 * 1024 * 1024);
/// assert_eq!(options.advertise, Some("10.1.2.3:7946".parse()?));
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NetTransportOptions {
    /// The address to bind, for UDP and TCP alike. Port 0 picks a free port: TCP binds first and
    /// UDP takes the same port number (retried up to `bind_attempts` times if that UDP port is
    /// taken). An unspecified IP (`0.0.0.0`, `::`) listens on every interface; `::` accepts IPv4
    /// too where the system allows dual-stack sockets.
    pub bind: SocketAddr,
    /// The address other nodes should use to reach this one. `None` derives it from `bind` (see
    /// [`NetTransport`](crate::NetTransport#the-advertise-address)). A port of 0 here means
    /// "the bound port".
    pub advertise: Option<SocketAddr>,
    /// The UDP receive buffer (`SO_RCVBUF`) to ask for, in bytes; default 2 MiB. If the system
    /// refuses the size, it is halved until accepted (down to 64 KiB, below which the system
    /// default is kept). Systems may also cap it silently (Linux: `net.core.rmem_max`); see
    /// [`NetTransport::udp_recv_buffer_size`](crate::NetTransport::udp_recv_buffer_size). 0
    /// keeps the system default.
    pub udp_recv_buffer: usize,
    /// How many port numbers to try when `bind` has port 0 and the UDP port matching the TCP
    /// port is taken; default 10. Ignored for a fixed port (one attempt).
    pub bind_attempts: u32,
}

impl NetTransportOptions {
    /// Options binding `bind`, with every other setting at its default.
    pub fn new(bind: SocketAddr) -> Self {
        Self {
            bind,
            advertise: None,
            udp_recv_buffer: DEFAULT_UDP_RECV_BUFFER,
            bind_attempts: DEFAULT_BIND_ATTEMPTS,
        }
    }

    /// Advertises `addr` instead of deriving the address from the bind address. Needed behind
    /// NAT, in containers, and on hosts with several private addresses.
    pub fn with_advertise(mut self, addr: SocketAddr) -> Self {
        self.advertise = Some(addr);
        self
    }

    /// Asks for a UDP receive buffer of `bytes` (0: keep the system default).
    pub fn with_udp_recv_buffer(mut self, bytes: usize) -> Self {
        self.udp_recv_buffer = bytes;
        self
    }

    /// Tries up to `attempts` port numbers when binding port 0 (at least one is always tried).
    pub fn with_bind_attempts(mut self, attempts: u32) -> Self {
        self.bind_attempts = attempts;
        self
    }
}

impl Default for NetTransportOptions {
    /// Binds `0.0.0.0:7946`, as Go memberlist does by default.
    fn default() -> Self {
        Self::new(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), DEFAULT_PORT))
    }
}
