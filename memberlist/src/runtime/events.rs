//! Membership events: [`MemberEvent`], and how the driver turns one step of the machine into
//! the numbered events subscribers receive ([`step_events`]).

use std::collections::HashMap;

use smol_str::SmolStr;
use tokio::sync::broadcast;

use crate::machine::{Event, Member, State};

use super::member_info::{MemberInfo, WallClock};

/// A membership change, as delivered by a [`Subscription`](super::Subscription) (Go's
/// `EventDelegate` and `ConflictDelegate`, plus what Go does not report).
///
/// Applying events in order to a map from name to member — insert the member of `Join`,
/// `Update` and `Changed`, remove the one of `Left` and `Failed`, ignore `Conflict` — keeps
/// the map equal to [`members`](super::Memberlist::members).
///
/// With the `serde` feature the event is tagged by kind:
/// `{"event":"join","name":"node-b","addr":"10.0.0.2:7946",…}`.
///
/// ```
/// use memberlist::runtime::MemberEvent;
///
/// fn describe(event: &MemberEvent) -> String {
///     match event {
///         MemberEvent::Join(m) => format!("{} joined from {}", m.name, m.addr),
///         MemberEvent::Left(m) => format!("{} left", m.name),
///         MemberEvent::Failed(m) => format!("{} failed", m.name),
///         MemberEvent::Update(m) => format!("{} changed its metadata", m.name),
///         MemberEvent::Changed(m) => format!("{} is {} (incarnation {})", m.name, m.state, m.incarnation),
///         MemberEvent::Conflict { existing, other } => {
///             format!("{} claimed by {} and {}", existing.name, existing.addr, other.addr)
///         }
///         _ => String::new(),
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(tag = "event", rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum MemberEvent {
    /// A node joined, or came back after having failed or left (Go's `NotifyJoin`).
    Join(MemberInfo),
    /// A node left the cluster gracefully (`state` is [`State::Left`]; Go's `NotifyLeave`).
    Left(MemberInfo),
    /// A node was declared dead (`state` is [`State::Dead`]; Go's `NotifyLeave`).
    Failed(MemberInfo),
    /// A node's metadata changed (Go's `NotifyUpdate`).
    Update(MemberInfo),
    /// Something else about a member changed while it stayed a member, which Go does not
    /// report: it became suspect, refuted a suspicion, took a new incarnation or new versions.
    /// `state` says whether it is alive or suspect.
    Changed(MemberInfo),
    /// Another node claims the name of a known node from a different address (Go's
    /// `NotifyConflict`). The member list does not change.
    Conflict {
        /// What we know.
        existing: Box<MemberInfo>,
        /// What the other node claims.
        other: Box<MemberInfo>,
    },
}

impl MemberEvent {
    /// The member the event is about (for a conflict, the one we know).
    ///
    /// ```
    /// # use memberlist::runtime::{MemberEvent, MemberInfo};
    /// let m = MemberInfo::new("a", "10.0.0.1:7946".parse().unwrap());
    /// assert_eq!(MemberEvent::Join(m.clone()).member(), &m);
    /// ```
    pub fn member(&self) -> &MemberInfo {
        match self {
            Self::Join(m)
            | Self::Left(m)
            | Self::Failed(m)
            | Self::Update(m)
            | Self::Changed(m) => m,
            Self::Conflict { existing, .. } => existing,
        }
    }

    /// The event's kind by name, as serde tags it (`"join"`, `"left"`, `"failed"`,
    /// `"update"`, `"changed"`, `"conflict"`): for logs and counting by kind.
    ///
    /// ```
    /// # use memberlist::runtime::{MemberEvent, MemberInfo};
    /// let m = MemberInfo::new("a", "10.0.0.1:7946".parse().unwrap());
    /// assert_eq!(MemberEvent::Failed(m).kind(), "failed");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Join(_) => "join",
            Self::Left(_) => "left",
            Self::Failed(_) => "failed",
            Self::Update(_) => "update",
            Self::Changed(_) => "changed",
            Self::Conflict { .. } => "conflict",
        }
    }

    /// Whether the member is no longer one: `Left` or `Failed`.
    ///
    /// ```
    /// # use memberlist::runtime::{MemberEvent, MemberInfo};
    /// let m = MemberInfo::new("a", "10.0.0.1:7946".parse().unwrap());
    /// assert!(MemberEvent::Failed(m.clone()).is_departure());
    /// assert!(!MemberEvent::Join(m).is_departure());
    /// ```
    pub fn is_departure(&self) -> bool {
        matches!(self, Self::Left(_) | Self::Failed(_))
    }

    /// `Left` or `Failed`, as the member's state says.
    fn departure(m: MemberInfo) -> Self {
        if m.state == State::Left {
            Self::Left(m)
        } else {
            Self::Failed(m)
        }
    }

    /// The membership event among the machine's events, if it is one.
    fn from_machine(event: &Event, clock: &WallClock) -> Option<Self> {
        let info = |m: &Member| MemberInfo::from_member(m, clock);
        Some(match event {
            Event::Join(m) => Self::Join(info(m)),
            Event::Leave(m) => Self::departure(info(m)),
            Event::Update(m) => Self::Update(info(m)),
            Event::Conflict { existing, other } => Self::Conflict {
                existing: Box::new(info(existing)),
                other: Box::new(info(other)),
            },
            _ => return None,
        })
    }

    /// What a subscriber's map holds for the member after this event: `Some` member,
    /// `None` (removed), or no change (a conflict).
    fn effect(&self) -> Option<Option<&MemberInfo>> {
        match self {
            Self::Join(m) | Self::Update(m) | Self::Changed(m) => Some(Some(m)),
            Self::Left(_) | Self::Failed(_) => Some(None),
            Self::Conflict { .. } => None,
        }
    }
}

/// A numbered event as the channel carries it.
pub(crate) type Sequenced = (u64, MemberEvent);

/// The driver's end of the subscriptions: the last sequence number given out and the
/// channel (closed when the node stops).
#[derive(Debug)]
pub(crate) struct EventLog {
    seq: u64,
    sender: Option<broadcast::Sender<Sequenced>>,
}

impl EventLog {
    /// A log whose subscribers may fall `capacity` events behind.
    pub(crate) fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Self {
            seq: 0,
            sender: Some(sender),
        }
    }

    /// The number of the last event sent (0 before the first).
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// Whether anyone listens: events are worked out only then.
    pub(crate) fn has_subscribers(&self) -> bool {
        self.sender.as_ref().is_some_and(|s| s.receiver_count() > 0)
    }

    /// A receiver of the events after [`seq`](Self::seq), or `None` once closed.
    pub(crate) fn receiver(&self) -> Option<broadcast::Receiver<Sequenced>> {
        self.sender.as_ref().map(broadcast::Sender::subscribe)
    }

    /// Numbers and sends `events`.
    pub(crate) fn send(&mut self, events: Vec<MemberEvent>) {
        let Some(sender) = &self.sender else {
            return;
        };
        for event in events {
            self.seq += 1;
            // Every receiver may be gone by now; nobody to tell is not an error.
            let _ = sender.send((self.seq, event));
        }
    }

    /// Closes the channel: subscribers end after the events already sent.
    pub(crate) fn close(&mut self) {
        self.sender = None;
    }
}

/// The events subscribers receive for one driver step: the machine's `events` (Go's), then a
/// `Join`, `Update`, `Changed`, `Left` or `Failed` for every member whose row differs from
/// what those events told, so that a subscriber applying them ends up with exactly
/// [`members`](super::Memberlist::members). `previous` holds the row of each member the step
/// changed as it was before the step; `current` finds rows as they are now.
pub(crate) fn step_events<R: std::borrow::Borrow<Member>>(
    events: &[Event],
    previous: Vec<(SmolStr, Option<Member>)>,
    current: impl Fn(&str) -> Option<R>,
    clock: &WallClock,
) -> Vec<MemberEvent> {
    let live = |m: Option<&Member>| {
        m.filter(|m| !m.state.is_gone())
            .map(|m| MemberInfo::from_member(m, clock))
    };
    // What subscribers hold for each member touched, in the order first touched.
    let mut order: Vec<SmolStr> = Vec::with_capacity(previous.len());
    let mut told: HashMap<SmolStr, Option<MemberInfo>> = HashMap::with_capacity(previous.len());
    for (name, row) in previous {
        if !told.contains_key(&name) {
            told.insert(name.clone(), live(row.as_ref()));
            order.push(name);
        }
    }
    let mut out = Vec::with_capacity(events.len());
    for event in events {
        let Some(event) = MemberEvent::from_machine(event, clock) else {
            continue;
        };
        if event.effect().is_none() {
            out.push(event);
            continue;
        }
        let name = event.member().name.clone();
        let held = told.entry(name.clone()).or_insert_with(|| {
            // An event about a row the step did not change: its row is as it was.
            order.push(name.clone());
            live(current(&name).as_ref().map(R::borrow))
        });
        // The machine's events are Go's, relative to its table; subscribers hold what they
        // were told. A join of a member they hold, or an update of one they do not, is
        // told as what it is to them.
        let event = match (event, &*held) {
            (MemberEvent::Join(m), Some(old)) if *old == m => continue,
            (MemberEvent::Join(m) | MemberEvent::Update(m), Some(old)) if old.meta != m.meta => {
                MemberEvent::Update(m)
            }
            (MemberEvent::Join(m), Some(_)) => MemberEvent::Changed(m),
            (MemberEvent::Update(m), None) => MemberEvent::Join(m),
            (event, _) => event,
        };
        *held = event.effect().flatten().cloned();
        out.push(event);
    }
    for name in order {
        let now = live(current(&name).as_ref().map(R::borrow));
        let Some(held) = told.remove(&name) else {
            continue;
        };
        if held == now {
            continue;
        }
        out.push(match (held, now) {
            (None, Some(m)) => MemberEvent::Join(m),
            (Some(old), Some(m)) if old.meta != m.meta => MemberEvent::Update(m),
            (Some(_), Some(m)) => MemberEvent::Changed(m),
            (Some(old), None) => match current(&name) {
                Some(row) => MemberEvent::departure(MemberInfo::from_member(row.borrow(), clock)),
                // Gone from the table without a word: only the dead and the left are
                // removed, so say so with what we last knew.
                None => {
                    let mut m = old;
                    m.state = State::Dead;
                    MemberEvent::Failed(m)
                }
            },
            (None, None) => continue,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, SocketAddr};
    use std::time::Instant;

    use super::*;
    use crate::machine::Machine;
    use crate::runtime::member_info::tests::{alive, machine, suspect};
    use crate::runtime::snapshot::Previous;
    use crate::wire::{Dead, IpBytes, WireMessage};

    fn ip(i: u8) -> IpBytes {
        IpBytes::from(IpAddr::from([10, 0, 0, i]))
    }

    const FROM: SocketAddr =
        SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)), 7946);

    /// Feeds `datagram`, and returns the machine's events with the rows of `names` before.
    fn step<D: crate::delegate::Delegate>(
        m: &mut Machine<D>,
        now: Instant,
        datagram: &[u8],
        names: &[&str],
    ) -> (Vec<Event>, Previous) {
        let previous = names
            .iter()
            .map(|n| (SmolStr::from(*n), m.member(n)))
            .collect();
        m.handle_datagram(now, FROM, datagram);
        let mut events = Vec::new();
        while let Some(e) = m.poll_event() {
            events.push(e);
        }
        (events, previous)
    }

    #[test]
    fn machine_events_are_told_and_what_they_omit_is_added() {
        let now = Instant::now();
        let clock = WallClock::new(now);
        let mut m = machine(now);
        while m.poll_event().is_some() {}
        let kinds = |out: &[MemberEvent]| -> Vec<(&'static str, State)> {
            out.iter().map(|e| (e.kind(), e.member().state)).collect()
        };
        // A new node: the machine's join.
        let (ev, prev) = step(&mut m, now, &alive("a", ip(1), 1, b"x"), &["a"]);
        let out = step_events(&ev, prev, |n| m.member(n), &clock);
        assert_eq!(kinds(&out), [("join", State::Alive)]);
        // A suspicion: the machine says nothing, subscribers are told it changed.
        let (ev, prev) = step(&mut m, now, &suspect("a", 1), &["a"]);
        assert!(ev.is_empty());
        let out = step_events(&ev, prev, |n| m.member(n), &clock);
        assert_eq!(kinds(&out), [("changed", State::Suspect)]);
        // Refuted with new metadata: the machine's update (no extra event).
        let (ev, prev) = step(&mut m, now, &alive("a", ip(1), 2, b"y"), &["a"]);
        let out = step_events(&ev, prev, |n| m.member(n), &clock);
        assert_eq!(kinds(&out), [("update", State::Alive)]);
        // A graceful leave: Left, not Failed.
        let leave = Dead {
            incarnation: 2,
            node: "a".into(),
            from: "a".into(),
        };
        let (ev, prev) = step(&mut m, now, &leave.to_bytes(), &["a"]);
        let out = step_events(&ev, prev, |n| m.member(n), &clock);
        assert_eq!(kinds(&out), [("left", State::Left)]);
        // Back, then declared dead by someone: Join, Failed.
        let (ev, prev) = step(&mut m, now, &alive("a", ip(1), 3, b"y"), &["a"]);
        let out = step_events(&ev, prev, |n| m.member(n), &clock);
        assert_eq!(kinds(&out), [("join", State::Alive)]);
        let dead = Dead {
            incarnation: 3,
            node: "a".into(),
            from: "b".into(),
        };
        let (ev, prev) = step(&mut m, now, &dead.to_bytes(), &["a"]);
        let out = step_events(&ev, prev, |n| m.member(n), &clock);
        assert_eq!(kinds(&out), [("failed", State::Dead)]);
    }

    #[test]
    fn events_are_told_relative_to_what_subscribers_hold() {
        let now = Instant::now();
        let clock = WallClock::new(now);
        let mut m = machine(now);
        m.handle_datagram(now, FROM, &alive("a", ip(1), 1, b"x"));
        let row = m.member("a").expect("a");
        // A join of a member subscribers already hold, unchanged: nothing to tell.
        let out = step_events(&[Event::Join(row.clone())], vec![], |n| m.member(n), &clock);
        assert!(out.is_empty(), "{out:?}");
        // An update of a member they do not hold: a join.
        let prev = vec![(SmolStr::from("a"), None)];
        let out = step_events(&[Event::Update(row.clone())], prev, |n| m.member(n), &clock);
        assert!(
            matches!(&out[..], [MemberEvent::Join(x)] if x.name == "a"),
            "{out:?}"
        );
        // A conflict changes nothing they hold.
        let conflict = Event::Conflict {
            existing: Box::new(row.clone()),
            other: Box::new(row.clone()),
        };
        let out = step_events(&[conflict], vec![], |n| m.member(n), &clock);
        assert!(
            matches!(&out[..], [MemberEvent::Conflict { .. }]),
            "{out:?}"
        );
        // A member held but gone from the table: failed, as dead.
        let empty = machine(now);
        let prev = vec![(SmolStr::from("a"), Some(row))];
        let out = step_events(&[], prev, |n| empty.member(n), &clock);
        assert!(
            matches!(&out[..], [MemberEvent::Failed(x)] if x.name == "a" && x.state == State::Dead),
            "{out:?}"
        );
    }
}
