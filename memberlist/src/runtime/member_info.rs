//! [`MemberInfo`]: a member as the runtime shows it to applications, built from the machine's
//! row ([`Member`]) only by [`MemberInfo::from_member`] (ARCHITECTURE.md, "What applications
//! see").

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use smol_str::SmolStr;

use crate::machine::{Member, State};

/// One member of the cluster as this node sees it: the type of
/// [`members`](super::Memberlist::members), [`member`](super::Memberlist::member),
/// [`local_node`](super::Memberlist::local_node) and of every [`MemberEvent`](super::MemberEvent).
///
/// With the `serde` feature (on by default) it serialises as
///
/// ```json
/// {"name":"node-a","addr":"10.0.0.1:7946","meta":"cm9sZT13ZWI=","incarnation":3,
///  "state":"alive","state_changed_at":"2025-05-01T09:30:00.123456789Z",
///  "protocol":{"min":1,"max":5,"current":2},"delegate":{"min":0,"max":0,"current":0}}
/// ```
///
/// `meta` is base64 (standard alphabet, padded) in human-readable formats and raw bytes in
/// binary ones; `state_changed_at` is RFC 3339 in UTC.
///
/// ```
/// use memberlist::runtime::MemberInfo;
/// use memberlist::machine::State;
///
/// let mut m = MemberInfo::new("node-a", "10.0.0.1:7946".parse().unwrap());
/// m.meta = bytes::Bytes::from_static(b"role=web");
/// assert_eq!(m.addr.port(), 7946);
/// assert_eq!(m.state, State::Alive);
/// assert!(m.is_member());
/// assert!(m.since_state_change() < std::time::Duration::from_secs(60));
/// # #[cfg(feature = "serde")] {
/// let json = serde_json::to_value(&m).unwrap();
/// assert_eq!(json["addr"], "10.0.0.1:7946");
/// assert_eq!(json["meta"], "cm9sZT13ZWI=");
/// assert_eq!(json["state"], "alive");
/// assert_eq!(serde_json::from_value::<MemberInfo>(json).unwrap(), m);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct MemberInfo {
    /// The node's unique name.
    pub name: SmolStr,
    /// The address the node advertises. Should its advertised IP bytes form no address
    /// (neither 4 nor 16 bytes, which the protocol refuses from new nodes), the IP is
    /// `0.0.0.0`.
    pub addr: SocketAddr,
    /// The node's metadata (its delegate's [`node_meta`](crate::delegate::Delegate::node_meta)).
    #[cfg_attr(feature = "serde", serde(with = "super::member_serde::meta"))]
    pub meta: Bytes,
    /// The node's incarnation number: bumped by the node each time it refutes a suspicion or
    /// changes its metadata.
    pub incarnation: u32,
    /// Alive, suspect, dead or left.
    pub state: State,
    /// When `state` last changed, on the wall clock of this node (the change was seen here;
    /// it is not a time sent by the node).
    #[cfg_attr(feature = "serde", serde(with = "super::member_serde::rfc3339"))]
    pub state_changed_at: SystemTime,
    /// The memberlist protocol versions the node speaks.
    pub protocol: VersionRange,
    /// The versions of the node's delegate protocol (Go's `DelegateProtocol*`).
    pub delegate: VersionRange,
}

/// A range of protocol versions a node understands, and the one it speaks (Go's
/// `PMin`/`PMax`/`PCur` and `DMin`/`DMax`/`DCur`). All zero when the node sent none.
///
/// ```
/// use memberlist::runtime::VersionRange;
/// let v = VersionRange { min: 1, max: 5, current: 2 };
/// assert!(v.contains(4));
/// assert!(!v.contains(6));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct VersionRange {
    /// The lowest version understood.
    pub min: u8,
    /// The highest version understood.
    pub max: u8,
    /// The version spoken.
    pub current: u8,
}

impl VersionRange {
    /// Whether `version` lies in `min..=max`.
    pub fn contains(&self, version: u8) -> bool {
        (self.min..=self.max).contains(&version)
    }
}

impl MemberInfo {
    /// An alive member at `addr` with incarnation 0, no metadata, no versions, whose state
    /// changed now — for tests and for building values by hand; the runtime builds them from
    /// its member table.
    ///
    /// ```
    /// use memberlist::runtime::MemberInfo;
    /// let m = MemberInfo::new("a", "127.0.0.1:7946".parse().unwrap());
    /// assert_eq!(m.name, "a");
    /// assert_eq!(m.incarnation, 0);
    /// ```
    pub fn new(name: impl Into<SmolStr>, addr: SocketAddr) -> Self {
        Self {
            name: name.into(),
            addr,
            meta: Bytes::new(),
            incarnation: 0,
            state: State::Alive,
            state_changed_at: SystemTime::now(),
            protocol: VersionRange::default(),
            delegate: VersionRange::default(),
        }
    }

    /// The machine's row `m`, its state-change instant placed on the wall clock by `clock`.
    pub(crate) fn from_member(m: &Member, clock: &WallClock) -> Self {
        let ip = m.addr.to_ip().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let v = &m.vsn;
        let range = |min: Option<u8>, max: Option<u8>, current: Option<u8>| VersionRange {
            min: min.unwrap_or(0),
            max: max.unwrap_or(0),
            current: current.unwrap_or(0),
        };
        Self {
            name: m.name.clone(),
            addr: SocketAddr::new(ip, m.port),
            meta: m.meta.clone(),
            incarnation: m.incarnation,
            state: m.state,
            state_changed_at: clock.wall(m.state_change),
            protocol: range(v.protocol_min(), v.protocol_max(), v.protocol_current()),
            delegate: range(v.delegate_min(), v.delegate_max(), v.delegate_current()),
        }
    }

    /// Alive or suspect: a member of the cluster (not dead nor left) — the members
    /// [`members`](super::Memberlist::members) lists.
    pub fn is_member(&self) -> bool {
        !self.state.is_gone()
    }

    /// How long ago `state` changed (zero if the wall clock went back since).
    ///
    /// ```
    /// # use memberlist::runtime::MemberInfo;
    /// # let m = MemberInfo::new("a", "127.0.0.1:7946".parse().unwrap());
    /// println!("{} has been {} for {:?}", m.name, m.state, m.since_state_change());
    /// ```
    pub fn since_state_change(&self) -> Duration {
        SystemTime::now()
            .duration_since(self.state_changed_at)
            .unwrap_or_default()
    }
}

impl From<&Member> for MemberInfo {
    /// The machine's row as a `MemberInfo` (for a [`Delegate`](crate::delegate::Delegate),
    /// which receives rows): its state-change instant is placed on the wall clock relative to
    /// `Instant::now()`.
    ///
    /// ```
    /// use memberlist::prelude::*;
    /// use memberlist::runtime::MemberInfo;
    ///
    /// struct Log;
    /// impl Delegate for Log {
    ///     fn notify_alive(&mut self, peer: &Member) -> Result<(), Veto> {
    ///         let info = MemberInfo::from(peer);
    ///         tracing::debug!(name = %info.name, addr = %info.addr, "alive");
    ///         Ok(())
    ///     }
    /// }
    /// ```
    fn from(m: &Member) -> Self {
        Self::from_member(m, &WallClock::new(Instant::now()))
    }
}

/// Places monotonic instants on the wall clock: one (instant, wall time) pair read once, so
/// that the same instant always gives the same wall time (rows converted at different moments
/// compare equal when the member did not change).
#[derive(Debug, Clone, Copy)]
pub(crate) struct WallClock {
    instant: Instant,
    wall: SystemTime,
}

impl WallClock {
    /// A clock anchored at `now` (the caller's reading of its monotonic clock) and the
    /// system time read at once.
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            instant: now,
            wall: SystemTime::now(),
        }
    }

    /// The wall time of `t`.
    pub(crate) fn wall(&self, t: Instant) -> SystemTime {
        let shifted = if t >= self.instant {
            self.wall.checked_add(t - self.instant)
        } else {
            self.wall.checked_sub(self.instant - t)
        };
        shifted.unwrap_or(UNIX_EPOCH)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::delegate::Delegate;
    use crate::machine::{Machine, ProtocolConfig};
    use crate::wire::{Alive, IpBytes, Pipeline, Suspect, Vsn, WireMessage};

    pub(crate) struct Quiet;
    impl Delegate for Quiet {}

    /// A machine called `me` at 10.0.0.100:7946 (rows are taken from a machine, never built
    /// by hand: the row's layout is the machine's business).
    pub(crate) fn machine(start: Instant) -> Machine<Quiet> {
        let at = SocketAddr::from(([10, 0, 0, 100], 7946));
        Machine::new(
            ProtocolConfig::lan("me"),
            Pipeline::new(),
            at,
            Quiet,
            1,
            start,
        )
        .expect("machine")
    }

    /// An alive message for `name` at `ip`:7946.
    pub(crate) fn alive(
        name: &str,
        ip: IpBytes,
        incarnation: u32,
        meta: &'static [u8],
    ) -> bytes::Bytes {
        Alive {
            incarnation,
            node: name.into(),
            addr: ip,
            port: 7946,
            meta: Bytes::from_static(meta),
            vsn: Vsn::new(1, 5, 2, 3, 4, 3),
        }
        .to_bytes()
    }

    /// A suspect message about `name`.
    pub(crate) fn suspect(name: &str, incarnation: u32) -> bytes::Bytes {
        Suspect {
            incarnation,
            node: name.into(),
            from: "other".into(),
        }
        .to_bytes()
    }

    #[test]
    fn a_row_becomes_a_socket_address_wall_time_and_versions() {
        let start = Instant::now();
        let clock = WallClock::new(start);
        let mut m = machine(start);
        let from = SocketAddr::from(([10, 0, 0, 1], 7946));
        let later = start + Duration::from_secs(3);
        let ip = IpBytes::from(IpAddr::from([10, 0, 0, 1]));
        m.handle_datagram(later, from, &alive("n", ip, 4, b"m"));
        m.handle_datagram(later, from, &suspect("n", 4));
        let info = MemberInfo::from_member(&m.member("n").expect("n"), &clock);
        assert_eq!(info.addr, SocketAddr::from(([10, 0, 0, 1], 7946)));
        assert_eq!(info.state, State::Suspect);
        assert_eq!(info.incarnation, 4);
        assert_eq!(info.meta, "m");
        assert_eq!(
            info.protocol,
            VersionRange {
                min: 1,
                max: 5,
                current: 2
            }
        );
        assert_eq!(
            info.delegate,
            VersionRange {
                min: 3,
                max: 4,
                current: 3
            }
        );
        assert_eq!(
            info.state_changed_at
                .duration_since(clock.wall(start))
                .expect("after"),
            Duration::from_secs(3)
        );
        // The same row converted again is equal: the clock is read once.
        let again = MemberInfo::from_member(&m.member("n").expect("n"), &clock);
        assert_eq!(info, again);
        // IPv4-mapped IPv6 bytes read as IPv4, as Go's net.IP does.
        let mapped = IpBytes::ipv4_mapped(Ipv4Addr::new(10, 0, 0, 2));
        m.handle_datagram(later, from, &alive("v6", mapped, 1, b""));
        let info = MemberInfo::from(&m.member("v6").expect("v6"));
        assert_eq!(info.addr, SocketAddr::from(([10, 0, 0, 2], 7946)));
        assert!(info.is_member());
    }

    #[test]
    fn instants_before_the_anchor_are_placed_before_it() {
        let now = Instant::now();
        let clock = WallClock::new(now);
        if let Some(before) = now.checked_sub(Duration::from_millis(1500)) {
            let d = clock
                .wall(now)
                .duration_since(clock.wall(before))
                .expect("earlier");
            assert_eq!(d, Duration::from_millis(1500));
        }
    }
}
