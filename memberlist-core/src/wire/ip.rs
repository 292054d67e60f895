//! [`IpBytes`]: an IP address exactly as Go carries it on the wire — the raw 4- or 16-byte
//! slice of a `net.IP`, kept without a heap allocation.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::error::DecodeError;

/// Longest address accepted (an IPv6 address).
pub const IP_BYTES_MAX: usize = 16;

/// The raw bytes of an address field (`Addr`, `Target`, `SourceAddr`).
///
/// Go compares these bytes verbatim, so an IPv4 address sent as 4 bytes differs from the
/// same address as 16 (`::ffff:a.b.c.d`): the form received is kept, to be relayed
/// unchanged. Empty means "no address" (written as msgpack nil).
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use memberlist_core::wire::IpBytes;
///
/// let v4 = IpBytes::from(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
/// assert_eq!(v4.as_bytes(), &[10, 0, 0, 1]);
/// let mapped = IpBytes::ipv4_mapped(Ipv4Addr::new(10, 0, 0, 1));
/// assert_eq!(mapped.len(), 16);
/// assert_ne!(v4, mapped);
/// assert_eq!(mapped.to_ip(), v4.to_ip());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct IpBytes {
    len: u8,
    bytes: [u8; IP_BYTES_MAX],
}

impl IpBytes {
    /// No address.
    pub const EMPTY: Self = Self {
        len: 0,
        bytes: [0; IP_BYTES_MAX],
    };

    /// Copies raw bytes (at most 16).
    pub fn new(raw: &[u8]) -> Result<Self, DecodeError> {
        if let Ok(v4) = <[u8; 4]>::try_from(raw) {
            return Ok(Self::from(v4));
        }
        if let Ok(v6) = <[u8; 16]>::try_from(raw) {
            return Ok(Self { len: 16, bytes: v6 });
        }
        if raw.len() > IP_BYTES_MAX {
            return Err(DecodeError::AddressTooLong(raw.len()));
        }
        let mut bytes = [0u8; IP_BYTES_MAX];
        bytes[..raw.len()].copy_from_slice(raw);
        Ok(Self {
            len: raw.len() as u8,
            bytes,
        })
    }

    /// The 16-byte IPv4-mapped form Go produces for IPv4 addresses parsed from text
    /// (`::ffff:a.b.c.d`).
    pub fn ipv4_mapped(ip: Ipv4Addr) -> Self {
        Self::from(IpAddr::V6(ip.to_ipv6_mapped()))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Number of raw bytes (0, 4 or 16 in practice).
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether no address is set.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The address, if the bytes form one (4 bytes: IPv4; 16 bytes: IPv6, with IPv4-mapped
    /// addresses turned into IPv4 as Go's `net.IP` does).
    pub fn to_ip(&self) -> Option<IpAddr> {
        match self.len {
            4 => {
                let b = &self.bytes;
                Some(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])))
            }
            16 => {
                let v6 = Ipv6Addr::from(self.bytes);
                Some(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4))
            }
            _ => None,
        }
    }
}

impl AsRef<[u8]> for IpBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl From<IpAddr> for IpBytes {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::from(v4),
            IpAddr::V6(v6) => Self {
                len: 16,
                bytes: v6.octets(),
            },
        }
    }
}

impl From<Ipv4Addr> for IpBytes {
    fn from(ip: Ipv4Addr) -> Self {
        Self::from(ip.octets())
    }
}

impl From<[u8; 4]> for IpBytes {
    fn from(b: [u8; 4]) -> Self {
        let [a, b, c, d] = b;
        Self {
            len: 4,
            bytes: [a, b, c, d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        }
    }
}

impl fmt::Debug for IpBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_ip() {
            Some(ip) if self.len == 16 && ip.is_ipv4() => write!(f, "IpBytes(::ffff:{ip})"),
            Some(ip) => write!(f, "IpBytes({ip})"),
            None => write!(f, "IpBytes({:02x?})", self.as_bytes()),
        }
    }
}

impl fmt::Display for IpBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_ip() {
            Some(ip) => write!(f, "{ip}"),
            None if self.is_empty() => f.write_str("<none>"),
            None => write!(f, "?{:02x?}", self.as_bytes()),
        }
    }
}
