//! The errors a [`Transport`](super::Transport) reports: typed, with the I/O error kept as
//! the source and the operation it interrupted named by an [`IoOp`].

use std::fmt;
use std::io;
use std::net::SocketAddr;

/// Errors reported by a [`Transport`](super::Transport).
///
/// ```
/// use std::io::ErrorKind;
/// use memberlist_core::transport::{IoOp, TransportError};
///
/// let to = "10.0.0.2:7946".parse().unwrap();
/// let err = TransportError::io(IoOp::Connect(to), ErrorKind::ConnectionRefused.into());
/// assert_eq!(err.io_kind(), Some(ErrorKind::ConnectionRefused));
/// assert!(err.to_string().starts_with("connecting to 10.0.0.2:7946: "));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// An I/O operation failed; `op` says which one (binding, sending to, connecting to...).
    #[error("{op}: {source}")]
    Io {
        /// What the transport was doing.
        op: IoOp,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The deadline passed before the operation completed.
    #[error("operation timed out")]
    Timeout,
    /// The transport has been shut down.
    #[error("transport is shut down")]
    Shutdown,
    /// The destination's address family cannot be reached from the local socket (an IPv6
    /// destination from an IPv4 socket, or an IPv4 destination from an IPv6-only socket).
    #[error("cannot reach {remote} from a socket bound to {local}: address families differ")]
    AddressFamily {
        /// The locally bound address.
        local: SocketAddr,
        /// The destination.
        remote: SocketAddr,
    },
    /// A datagram is larger than
    /// [`Transport::max_datagram_size`](super::Transport::max_datagram_size); nothing was
    /// sent.
    #[error("datagram of {len} bytes exceeds the transport's maximum of {max} bytes")]
    DatagramTooLarge {
        /// Size of the refused datagram.
        len: usize,
        /// The transport's maximum.
        max: usize,
    },
    /// The transport cannot work out the address to advertise to other nodes.
    #[error("no usable advertise address: {0}")]
    Advertise(#[from] AdvertiseError),
    /// A failure particular to one transport (a TLS setup error, say), kept whole as the
    /// source.
    #[error("{0}")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl TransportError {
    /// An [`Io`](TransportError::Io) error with the operation it interrupted.
    ///
    /// ```
    /// use memberlist_core::transport::{IoOp, TransportError};
    ///
    /// let err = std::io::Error::from(std::io::ErrorKind::AddrInUse);
    /// let err = TransportError::io(IoOp::Bind("127.0.0.1:7946".parse().unwrap()), err);
    /// assert!(err.to_string().starts_with("binding 127.0.0.1:7946: "));
    /// ```
    pub fn io(op: IoOp, source: io::Error) -> Self {
        Self::Io { op, source }
    }

    /// An [`Other`](TransportError::Other) error holding a transport's own error type.
    pub fn other(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Other(Box::new(source))
    }

    /// True for [`Shutdown`](TransportError::Shutdown): the transport will not produce anything
    /// again.
    pub fn is_shutdown(&self) -> bool {
        matches!(self, Self::Shutdown)
    }

    /// True for [`Timeout`](TransportError::Timeout) and for I/O errors of kind
    /// [`TimedOut`](io::ErrorKind::TimedOut).
    pub fn is_timeout(&self) -> bool {
        match self {
            Self::Timeout => true,
            Self::Io { source, .. } => source.kind() == io::ErrorKind::TimedOut,
            _ => false,
        }
    }

    /// The [`io::ErrorKind`] of an [`Io`](TransportError::Io) error, `None` for other variants.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            Self::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

/// The operation an I/O error interrupted, in [`TransportError::Io`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IoOp {
    /// Binding a socket (of either kind) to this address.
    Bind(SocketAddr),
    /// Binding the TCP listener to this address.
    BindTcp(SocketAddr),
    /// Binding the UDP socket to this address.
    BindUdp(SocketAddr),
    /// Reading a socket's bound address.
    LocalAddr,
    /// Handing a socket to the async runtime.
    Register,
    /// Listing the host's network interfaces (to choose an advertise address).
    ListInterfaces,
    /// Sending a datagram of `len` bytes.
    Send {
        /// The destination.
        to: SocketAddr,
        /// The datagram's size.
        len: usize,
    },
    /// Opening a connection.
    Connect(SocketAddr),
    /// Opening a stream on an existing connection.
    OpenStream(SocketAddr),
}

impl fmt::Display for IoOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bind(a) => write!(f, "binding {a}"),
            Self::BindTcp(a) => write!(f, "binding the TCP listener on {a}"),
            Self::BindUdp(a) => write!(f, "binding the UDP socket on {a}"),
            Self::LocalAddr => f.write_str("reading the bound address"),
            Self::Register => f.write_str("registering a socket with the async runtime"),
            Self::ListInterfaces => f.write_str("listing the host's network interfaces"),
            Self::Send { to, len } => write!(f, "sending a {len}-byte datagram to {to}"),
            Self::Connect(a) => write!(f, "connecting to {a}"),
            Self::OpenStream(a) => write!(f, "opening a stream to {a}"),
        }
    }
}

/// Why a transport cannot choose the address it advertises, in
/// [`TransportError::Advertise`]. Each says what to set instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdvertiseError {
    /// The configured advertise address has an unspecified IP (`0.0.0.0`, `::`).
    #[error("the advertise address {0} is unspecified; give an address other nodes can reach")]
    Unspecified(SocketAddr),
    /// The socket is bound to an unspecified IP and the transport does not look for an
    /// interface address.
    #[error("bound to {0}; set an advertise address or bind a specific IP")]
    UnspecifiedBind(SocketAddr),
    /// The socket is bound to an unspecified IP and no interface that is up has a private
    /// (RFC 6890) address of a family the socket can be reached at.
    #[error(
        "bound to {bound} and no private address (RFC 6890: 10/8, 172.16/12, 192.168/16, \
         100.64/10, ...{}) was found on an interface that is up; set the advertise address \
         explicitly", if *.ipv6 { ", fc00::/7" } else { "" }
    )]
    NoPrivateAddress {
        /// The bound address.
        bound: SocketAddr,
        /// Whether IPv6 addresses were acceptable.
        ipv6: bool,
    },
}
