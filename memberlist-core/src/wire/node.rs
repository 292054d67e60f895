//! Small value types shared by several messages: protocol version ranges ([`Vsn`]) and node
//! states ([`NodeState`]).

use std::fmt;

/// Lowest protocol version this implementation speaks (Go's `ProtocolVersionMin`).
pub const PROTOCOL_VERSION_MIN: u8 = 1;
/// Highest protocol version this implementation speaks (Go's `ProtocolVersionMax`).
pub const PROTOCOL_VERSION_MAX: u8 = 5;
/// The protocol version Go uses by default (`ProtocolVersion2Compatible`).
pub const PROTOCOL_VERSION_DEFAULT: u8 = 2;

/// The `Vsn` field of `alive` and push/pull node states: `[pmin, pmax, pcur, dmin, dmax, dcur]`.
///
/// Go writes six bytes; shorter received values (very old peers) keep their length, for Go's
/// rules on short version arrays, and bytes beyond the sixth are ignored.
///
/// ```
/// use memberlist_core::wire::Vsn;
/// let v = Vsn::new(1, 5, 2, 0, 0, 0);
/// assert_eq!(v.as_bytes(), &[1, 5, 2, 0, 0, 0]);
/// assert_eq!(v.protocol_current(), Some(2));
/// assert!(Vsn::from_slice(&[1, 5]).protocol_current().is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Vsn {
    bytes: [u8; 6],
    len: u8,
}

impl Vsn {
    /// A complete six-byte version array.
    pub const fn new(pmin: u8, pmax: u8, pcur: u8, dmin: u8, dmax: u8, dcur: u8) -> Self {
        Self {
            bytes: [pmin, pmax, pcur, dmin, dmax, dcur],
            len: 6,
        }
    }

    /// What this implementation advertises by default: `[1, 5, 2, 0, 0, 0]`.
    pub const fn default_advertised() -> Self {
        Self::new(
            PROTOCOL_VERSION_MIN,
            PROTOCOL_VERSION_MAX,
            PROTOCOL_VERSION_DEFAULT,
            0,
            0,
            0,
        )
    }

    /// Builds from received bytes, keeping at most six.
    pub fn from_slice(raw: &[u8]) -> Self {
        let len = raw.len().min(6);
        let mut bytes = [0u8; 6];
        bytes[..len].copy_from_slice(&raw[..len]);
        Self {
            bytes,
            len: len as u8,
        }
    }

    /// The bytes as received (at most six).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Number of bytes present.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether all six bytes are present.
    pub fn is_complete(&self) -> bool {
        self.len == 6
    }

    fn get(&self, i: usize) -> Option<u8> {
        (i < usize::from(self.len)).then(|| self.bytes[i])
    }

    /// Minimum protocol version understood.
    pub fn protocol_min(&self) -> Option<u8> {
        self.get(0)
    }
    /// Maximum protocol version understood.
    pub fn protocol_max(&self) -> Option<u8> {
        self.get(1)
    }
    /// Protocol version spoken.
    pub fn protocol_current(&self) -> Option<u8> {
        self.get(2)
    }
    /// Minimum delegate protocol version understood.
    pub fn delegate_min(&self) -> Option<u8> {
        self.get(3)
    }
    /// Maximum delegate protocol version understood.
    pub fn delegate_max(&self) -> Option<u8> {
        self.get(4)
    }
    /// Delegate protocol version spoken.
    pub fn delegate_current(&self) -> Option<u8> {
        self.get(5)
    }
}

impl AsRef<[u8]> for Vsn {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for Vsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Vsn{:?}", self.as_bytes())
    }
}

/// A node's state as carried in push/pull (`State` field, Go's `NodeStateType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NodeState {
    /// Alive (0).
    #[default]
    Alive,
    /// Suspected of having failed (1).
    Suspect,
    /// Declared dead (2).
    Dead,
    /// Left gracefully (3).
    Left,
    /// A value this implementation does not know; Go ignores such entries when merging.
    Unknown(i64),
}

impl NodeState {
    /// The integer written on the wire.
    pub fn as_i64(self) -> i64 {
        match self {
            Self::Alive => 0,
            Self::Suspect => 1,
            Self::Dead => 2,
            Self::Left => 3,
            Self::Unknown(v) => v,
        }
    }

    /// Parses the wire integer.
    ///
    /// ```
    /// use memberlist_core::wire::NodeState;
    /// assert_eq!(NodeState::from_i64(3), NodeState::Left);
    /// assert_eq!(NodeState::from_i64(9), NodeState::Unknown(9));
    /// ```
    pub fn from_i64(v: i64) -> Self {
        match v {
            0 => Self::Alive,
            1 => Self::Suspect,
            2 => Self::Dead,
            3 => Self::Left,
            v => Self::Unknown(v),
        }
    }

    /// Lower-case name ("alive", "suspect", "dead", "left", "unknown").
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alive => "alive",
            Self::Suspect => "suspect",
            Self::Dead => "dead",
            Self::Left => "left",
            Self::Unknown(_) => "unknown",
        }
    }
}

impl fmt::Display for NodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
