//! Helpers for tests of clusters: a configuration with fast timers, waits that panic after
//! [`PATIENCE`] on tokio's clock (so paused time works too), and convergence checks.

use std::time::Duration;

use memberlist_core::delegate::Delegate;
use memberlist_core::machine::State;
use memberlist_core::transport::Transport;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::runtime::{Config, MemberEvent, Memberlist, Notification, Subscription};

/// The longest the waits of this module wait: 30 s.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// How often [`eventually`] checks.
const POLL: Duration = Duration::from_millis(50);

/// Go's local preset with timers shortened so that failures are detected in a few seconds:
/// probe every 300 ms (timeout 150 ms), gossip every 50 ms, push/pull every 3 s, TCP timeout
/// 2 s, dead nodes gossiped to for 60 s. Uncompressed, so that payload sizes are the sizes
/// given.
///
/// ```
/// use std::time::Duration;
/// use memberlist::testing::fast_config;
///
/// let config = fast_config("a");
/// assert_eq!(config.protocol.probe_interval, Duration::from_millis(300));
/// assert_eq!(config.tcp_timeout(), Duration::from_secs(2));
/// ```
pub fn fast_config(name: &str) -> Config {
    let mut c = Config::local(name)
        .with_tcp_timeout(Duration::from_secs(2))
        .with_compression(false);
    let p = &mut c.protocol;
    p.probe_interval = Duration::from_millis(300);
    p.probe_timeout = Duration::from_millis(150);
    p.gossip_interval = Duration::from_millis(50);
    p.push_pull_interval = Duration::from_secs(3);
    p.gossip_to_the_dead_time = Duration::from_secs(60);
    c
}

/// Polls `check` every 50 ms until it holds.
///
/// # Panics
///
/// After [`PATIENCE`], naming `what`.
///
/// ```
/// use memberlist::testing::eventually;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut polls = 0;
/// eventually("the third poll", || { polls += 1; polls == 3 }).await;
/// # }
/// ```
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(POLL).await;
    }
}

/// The first event of `events` that matches `pred`, skipping snapshots and other events.
///
/// # Panics
///
/// After [`PATIENCE`], or when the subscription ends, naming `what`.
pub async fn wait_event(
    events: &mut Subscription,
    what: &str,
    pred: impl Fn(&MemberEvent) -> bool,
) -> MemberEvent {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(Notification::Event { event, .. })) if pred(&event) => return event,
            // The snapshot, other events, a resync after falling behind.
            Ok(Some(_)) => {}
            Ok(None) => panic!("event stream ended waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

/// The next item of `rx`.
///
/// # Panics
///
/// After [`PATIENCE`], or when every sender is gone, naming `what`.
///
/// ```
/// use memberlist::testing::recv_within;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
/// tx.send(7).unwrap();
/// assert_eq!(recv_within(&mut rx, "a number").await, 7);
/// # }
/// ```
pub async fn recv_within<T>(rx: &mut mpsc::UnboundedReceiver<T>, what: &str) -> T {
    match tokio::time::timeout(PATIENCE, rx.recv()).await {
        Ok(Some(item)) => item,
        Ok(None) => panic!("channel closed waiting for {what}"),
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// Whether every node knows exactly `n` members, all alive.
pub fn all_alive<T: Transport, D: Delegate + 'static>(
    nodes: &[&Memberlist<T, D>],
    n: usize,
) -> bool {
    nodes
        .iter()
        .all(|node| node.count_in_state(State::Alive) == n && node.num_members() == n)
}

/// Waits until every node knows every node of `nodes` (and no other) as alive.
///
/// # Panics
///
/// After [`PATIENCE`].
pub async fn wait_until_converged<T: Transport, D: Delegate + 'static>(
    nodes: &[&Memberlist<T, D>],
) {
    let n = nodes.len();
    eventually(&format!("all {n} nodes see {n} alive"), || {
        all_alive(nodes, n)
    })
    .await;
}

/// The state in which `observer` sees the member called `name`, if it knows one.
pub fn state_of<T: Transport, D: Delegate + 'static>(
    observer: &Memberlist<T, D>,
    name: &str,
) -> Option<State> {
    observer.member(name).map(|m| m.state)
}

/// A node's advertise address as a string, the form [`Memberlist::join`] takes.
pub fn addr_of<T: Transport, D: Delegate + 'static>(node: &Memberlist<T, D>) -> String {
    node.advertise_addr().to_string()
}
