//! [`Subscription`]: the members now, then every change in order, with a resynchronisation
//! instead of a silent gap when the subscriber falls behind. A snapshot knows exactly which
//! events it holds, as they are numbered and sent under its lock (see `snapshot.rs`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use tokio::sync::broadcast::{self, error::RecvError};

use super::events::{MemberEvent, Sequenced};
use super::member_info::MemberInfo;
use super::snapshot::Snapshot;

/// The members at one point of the event sequence: alive and suspect members sorted by
/// name, and the number of the last event they include (the next event is `seq + 1`).
///
/// ```
/// # use memberlist::runtime::{MembersSnapshot, Notification};
/// fn members_of(n: &Notification) -> Option<&MembersSnapshot> {
///     match n {
///         Notification::Snapshot(s) | Notification::Lagged { snapshot: s, .. } => Some(s),
///         _ => None,
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MembersSnapshot {
    /// The last event this snapshot includes (0: none yet).
    pub seq: u64,
    /// The members (alive or suspect), sorted by name.
    pub members: Vec<MemberInfo>,
}

impl MembersSnapshot {
    /// A snapshot of `members` as of event `seq`; the members are sorted by name.
    pub(crate) fn new(seq: u64, mut members: Vec<MemberInfo>) -> Self {
        members.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Self { seq, members }
    }
}

/// What a [`Subscription`] yields: first a [`Snapshot`](Self::Snapshot), then numbered
/// [`Event`](Self::Event)s with no gap; a subscriber that fell behind gets
/// [`Lagged`](Self::Lagged) with a fresh snapshot to start over from, never a silent gap.
///
/// ```
/// use std::collections::BTreeMap;
/// use memberlist::runtime::{MemberInfo, Notification};
///
/// /// Keeps `view` equal to the node's `members()`.
/// fn apply(view: &mut BTreeMap<String, MemberInfo>, n: Notification) {
///     match n {
///         Notification::Snapshot(s) | Notification::Lagged { snapshot: s, .. } => {
///             *view = s.members.into_iter().map(|m| (m.name.to_string(), m)).collect();
///         }
///         Notification::Event { event, .. } if event.is_departure() => {
///             view.remove(event.member().name.as_str());
///         }
///         Notification::Event { event: memberlist::MemberEvent::Conflict { .. }, .. } => {}
///         Notification::Event { event, .. } => {
///             let m = event.member().clone();
///             view.insert(m.name.to_string(), m);
///         }
///         _ => {}
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notification {
    /// The members when the subscription was made; always the first item.
    Snapshot(MembersSnapshot),
    /// The next change; `seq` is one more than the previous item's.
    Event {
        /// The event's number.
        seq: u64,
        /// What changed.
        event: MemberEvent,
    },
    /// The subscriber fell more than [`event_buffer`](super::Config::event_buffer) events
    /// behind: `missed` events were skipped, and `snapshot` holds the members with them
    /// applied. Replace your view with it; events go on from `snapshot.seq + 1`.
    Lagged {
        /// How many events were not delivered one by one.
        missed: u64,
        /// The members now.
        snapshot: MembersSnapshot,
    },
}

impl Notification {
    /// The number of the last event this item includes.
    ///
    /// ```
    /// # use memberlist::runtime::{MemberEvent, MemberInfo, Notification};
    /// let m = MemberInfo::new("a", "10.0.0.1:7946".parse().unwrap());
    /// let n = Notification::Event { seq: 7, event: MemberEvent::Join(m) };
    /// assert_eq!(n.seq(), 7);
    /// ```
    pub fn seq(&self) -> u64 {
        match self {
            Self::Snapshot(s) | Self::Lagged { snapshot: s, .. } => s.seq,
            Self::Event { seq, .. } => *seq,
        }
    }
}

/// A subscription to membership changes, from [`Memberlist::subscribe`](super::Memberlist::subscribe):
/// a [`Stream`] of [`Notification`]s (also read with [`recv`](Self::recv)).
///
/// A subscriber that falls behind is resynchronised with [`Notification::Lagged`]. The
/// stream ends after the node shuts down and the events already sent have been read.
///
/// ```no_run
/// use futures_util::StreamExt as _;
/// # use memberlist::runtime::{Memberlist, MemberEvent, Notification};
/// # use memberlist::Transport;
/// # async fn f<T: Transport>(ml: Memberlist<T>) {
/// let mut events = ml.subscribe();
/// while let Some(n) = events.next().await {
///     match n {
///         Notification::Snapshot(s) => println!("{} members", s.members.len()),
///         Notification::Event { event: MemberEvent::Failed(m), .. } => println!("{} failed", m.name),
///         Notification::Lagged { missed, .. } => println!("missed {missed} events; resynced"),
///         other => println!("{other:?}"),
///     }
/// }
/// # }
/// ```
pub struct Subscription {
    /// The state between two items; `None` while an item is being awaited or once ended.
    cursor: Option<Cursor>,
    /// The item being awaited, which holds the cursor until it is ready.
    pending: Option<Pending>,
}

/// The future of the next item, owning the cursor while it runs.
type Pending = Pin<Box<dyn Future<Output = (Option<Notification>, Cursor)> + Send>>;

/// Where a subscription stands.
struct Cursor {
    /// The first item, until it is delivered.
    first: Option<MembersSnapshot>,
    /// The events; `None` once the channel closed.
    rx: Option<broadcast::Receiver<Sequenced>>,
    /// Where fresh snapshots come from.
    source: Arc<Mutex<Snapshot>>,
    /// The number of the next event to deliver.
    next: u64,
}

impl Subscription {
    /// A subscription to the node whose snapshot is `source`.
    pub(crate) fn new(source: Arc<Mutex<Snapshot>>) -> Self {
        let (first, rx) = {
            let snap = source.lock().unwrap_or_else(PoisonError::into_inner);
            (snap.members_snapshot(), snap.events.receiver())
        };
        let next = first.seq + 1;
        Self {
            cursor: Some(Cursor {
                first: Some(first),
                rx,
                source,
                next,
            }),
            pending: None,
        }
    }

    /// The next item, or `None` once the node has stopped and every event was read.
    /// Cancel-safe: an item being awaited when the future is dropped is the next one
    /// returned.
    ///
    /// ```no_run
    /// # use memberlist::runtime::{Memberlist, Notification};
    /// # use memberlist::Transport;
    /// # async fn f<T: Transport>(ml: Memberlist<T>) {
    /// let mut events = ml.subscribe();
    /// while let Some(n) = events.recv().await {
    ///     if let Notification::Event { seq, event } = n {
    ///         println!("#{seq}: {} {:?}", event.member().name, event);
    ///     }
    /// }
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Option<Notification> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Cursor {
    /// The next item, and the cursor for the one after.
    async fn advance(mut self) -> (Option<Notification>, Self) {
        if let Some(first) = self.first.take() {
            return (Some(Notification::Snapshot(first)), self);
        }
        let item = loop {
            let Some(rx) = self.rx.as_mut() else {
                break None;
            };
            match rx.recv().await {
                // Already in the snapshot we started from.
                Ok((seq, _)) if seq < self.next => {}
                Ok((seq, event)) if seq == self.next => {
                    self.next += 1;
                    break Some(Notification::Event { seq, event });
                }
                // A gap (which the channel reports as a lag; a jump is handled the same way).
                Ok(_) | Err(RecvError::Lagged(_)) => break Some(self.resync()),
                Err(RecvError::Closed) => {
                    self.rx = None;
                    break None;
                }
            }
        };
        (item, self)
    }

    /// A fresh snapshot to start over from after a gap.
    fn resync(&mut self) -> Notification {
        let snapshot = self
            .source
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .members_snapshot();
        let missed = (snapshot.seq + 1).saturating_sub(self.next);
        tracing::debug!(
            missed,
            seq = snapshot.seq,
            "a membership subscriber fell behind; resynchronising it from a snapshot"
        );
        self.next = snapshot.seq + 1;
        Notification::Lagged { missed, snapshot }
    }
}

impl Stream for Subscription {
    type Item = Notification;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Notification>> {
        let this = self.get_mut();
        let pending = match &mut this.pending {
            Some(pending) => pending,
            None => match this.cursor.take() {
                Some(cursor) => this.pending.insert(Box::pin(cursor.advance())),
                None => return Poll::Ready(None),
            },
        };
        let (item, cursor) = std::task::ready!(pending.as_mut().poll(cx));
        this.pending = None;
        if item.is_some() {
            this.cursor = Some(cursor);
        }
        Poll::Ready(item)
    }
}

impl FusedStream for Subscription {
    fn is_terminated(&self) -> bool {
        self.cursor.is_none() && self.pending.is_none()
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let next = self.cursor.as_ref().map(|c| c.next);
        f.debug_struct("Subscription")
            .field("next_seq", &next)
            .field("waiting", &self.pending.is_some())
            .finish()
    }
}
