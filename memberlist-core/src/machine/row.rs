//! The member table's entries, compactly (a many-node simulator holds every member in every
//! machine's table): a [`Row`] keeps only what differs between tables, the incarnation, the
//! state and when it changed (8 bytes from the table's epoch); who the member is, the same
//! everywhere, is a shareable [`MemberIdentity`] behind one pointer.

use std::fmt;
use std::hash::Hash;
use std::net::SocketAddr;
use std::ops::Deref;

use super::interned::Interned;
use std::time::{Duration, Instant};

use bytes::Bytes;
use smol_str::SmolStr;

use super::members::{Member, State};
use crate::wire::{IpBytes, PushNodeStateRef, Vsn};

/// Who a member is: its name and what an alive message advertises about it besides the
/// incarnation (address, port, metadata, protocol and delegate versions), behind one
/// reference-counted pointer.
///
/// Equal identities can be one allocation, shared through a
/// [`ViewInterner`](super::ViewInterner). Equality and hashing look at the contents, not at
/// the pointer.
///
/// ```
/// use bytes::Bytes;
/// use memberlist_core::machine::MemberIdentity;
/// use memberlist_core::wire::{IpBytes, Vsn};
///
/// let make = || {
///     let addr = IpBytes::from([10, 0, 0, 1]);
///     MemberIdentity::new("n1".into(), addr, 7946, Bytes::new(), Vsn::default_advertised())
/// };
/// let (a, b) = (make(), make());
/// assert_eq!(a, b);
/// assert!(!a.ptr_eq(&b));
/// assert_eq!(a.name(), "n1");
/// assert_eq!(a.holders(), 1);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MemberIdentity(Interned<Identity>);

/// The contents of a [`MemberIdentity`].
#[derive(PartialEq, Eq, Hash)]
pub(crate) struct Identity {
    /// Unique name.
    pub(crate) name: SmolStr,
    /// Advertised IP, raw bytes as advertised.
    pub(crate) addr: IpBytes,
    /// Advertised port.
    pub(crate) port: u16,
    /// Delegate metadata.
    pub(crate) meta: Bytes,
    /// Protocol and delegate versions.
    pub(crate) vsn: Vsn,
}

impl MemberIdentity {
    /// An identity of its parts.
    #[must_use]
    pub fn new(name: SmolStr, addr: IpBytes, port: u16, meta: Bytes, vsn: Vsn) -> Self {
        Self(Interned::new(Identity {
            name,
            addr,
            port,
            meta,
            vsn,
        }))
    }

    /// The identity `member` has.
    pub(crate) fn of(member: &Member) -> Self {
        Self::new(
            member.name.clone(),
            member.addr,
            member.port,
            member.meta.clone(),
            member.vsn,
        )
    }

    /// Unique name.
    #[must_use]
    pub fn name(&self) -> &SmolStr {
        &self.0.name
    }

    /// Advertised IP, raw bytes as advertised.
    #[must_use]
    pub fn addr(&self) -> IpBytes {
        self.0.addr
    }

    /// Advertised port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.0.port
    }

    /// Delegate metadata.
    #[must_use]
    pub fn meta(&self) -> &Bytes {
        &self.0.meta
    }

    /// Protocol and delegate versions.
    #[must_use]
    pub fn vsn(&self) -> Vsn {
        self.0.vsn
    }

    /// How many handles share this allocation (an interner holding the only one may
    /// drop it).
    #[must_use]
    pub fn holders(&self) -> usize {
        self.0.holders()
    }

    /// Whether `self` and `other` are one allocation.
    #[must_use]
    pub fn ptr_eq(&self, other: &Self) -> bool {
        self.0.ptr_eq(&other.0)
    }
}

impl fmt::Debug for MemberIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemberIdentity")
            .field("name", &self.0.name)
            .field("addr", &self.0.addr)
            .field("port", &self.0.port)
            .field("meta", &self.0.meta)
            .field("vsn", &self.0.vsn)
            .finish()
    }
}

/// An instant as a table keeps it: signed nanoseconds from the table's [`Epoch`]. Exact
/// within 292 years of the epoch (beyond, it saturates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp(i64);

impl Stamp {
    /// The time from `earlier` to `self`, zero if `earlier` is later (like
    /// `Instant::saturating_duration_since`, and as exact).
    pub(crate) fn saturating_since(self, earlier: Stamp) -> Duration {
        let nanos = i128::from(self.0) - i128::from(earlier.0);
        Duration::from_nanos(u64::try_from(nanos.max(0)).unwrap_or(u64::MAX))
    }
}

/// The instant a table's [`Stamp`]s count from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Epoch(pub(crate) Instant);

impl Epoch {
    /// `t` as a stamp.
    pub(crate) fn stamp(self, t: Instant) -> Stamp {
        let nanos = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        match t.checked_duration_since(self.0) {
            Some(after) => Stamp(nanos(after)),
            None => Stamp(-nanos(self.0.duration_since(t))),
        }
    }

    /// The instant `stamp` stands for.
    pub(crate) fn at(self, stamp: Stamp) -> Instant {
        let d = Duration::from_nanos(stamp.0.unsigned_abs());
        let t = if stamp.0 >= 0 {
            self.0.checked_add(d)
        } else {
            self.0.checked_sub(d)
        };
        t.unwrap_or(self.0)
    }
}

/// One entry of the member table: the member's identity (read through `Deref`: `row.name`,
/// `row.addr`, …) and this table's view of its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    /// Name, address, port, metadata and versions.
    pub(crate) id: MemberIdentity,
    /// When `state` last changed.
    pub(crate) changed: Stamp,
    /// Incarnation number.
    pub(crate) incarnation: u32,
    /// Current state.
    pub(crate) state: State,
}

impl Deref for Row {
    type Target = Identity;

    fn deref(&self) -> &Identity {
        &self.id.0
    }
}

impl Row {
    /// The entry a push/pull carries for this member, borrowed.
    pub(crate) fn as_push_state(&self) -> PushNodeStateRef<'_> {
        PushNodeStateRef {
            name: &self.name,
            addr: self.addr,
            port: self.port,
            meta: &self.meta,
            incarnation: self.incarnation,
            state: self.state.to_wire(),
            vsn: self.vsn,
        }
    }

    /// The node's address, if its IP bytes form one.
    pub(crate) fn socket_addr(&self) -> Option<SocketAddr> {
        self.addr.to_ip().map(|ip| SocketAddr::new(ip, self.port))
    }

    /// Highest protocol version the node understands (0 when unknown).
    pub(crate) fn protocol_max(&self) -> u8 {
        self.vsn.protocol_max().unwrap_or(0)
    }

    /// The member as the public [`Member`] type, its state change read against `epoch`.
    pub(crate) fn to_member(&self, epoch: Epoch) -> Member {
        Member {
            name: self.name.clone(),
            addr: self.addr,
            port: self.port,
            meta: self.meta.clone(),
            incarnation: self.incarnation,
            state: self.state,
            state_change: epoch.at(self.changed),
            vsn: self.vsn,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_small_and_stamps_exact() {
        assert_eq!(std::mem::size_of::<Row>(), 24);
        let t0 = Instant::now();
        let epoch = Epoch(t0 + Duration::from_secs(5));
        for t in [
            t0,
            t0 + Duration::from_nanos(1),
            t0 + Duration::from_secs(5),
            t0 + Duration::new(86_400 * 365, 123_456_789),
        ] {
            assert_eq!(epoch.at(epoch.stamp(t)), t);
        }
    }
}
