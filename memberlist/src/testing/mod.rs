//! A kit for testing memberlist and the applications built on it (feature `testing`).
//!
//! - [`MemoryNetwork`]: a network in memory whose endpoints ([`MemoryTransport`]) implement
//!   [`Transport`](crate::Transport). Loss and latency per directed link, partitions, one-way
//!   cuts, all changeable while the nodes run; seeded loss; tokio's clock, so tests in paused
//!   time run minutes of protocol in milliseconds.
//! - [`Intercept`]: a wrapper around any transport (the network's, UDP/TCP, QUIC) that counts
//!   what goes through it ([`Traffic`]) and lets a [`Policy`] deliver, drop or delay each
//!   outgoing datagram and each dial: [`DropRate`] for seeded loss, or a closure.
//! - Cluster helpers: [`fast_config`] (timers that detect a failure in seconds),
//!   [`eventually`], [`wait_event`], [`recv_within`], [`all_alive`],
//!   [`wait_until_converged`], and [`RecordingDelegate`], a delegate that forwards what it
//!   receives into channels.
//!
//! # Example: a partition and its heal
//!
//! Four nodes on a memory network, in paused time (tokio's `test-util` feature; in a test,
//! `#[tokio::test(start_paused = true)]`). A partition splits them in two; each side declares
//! the other failed; the heal brings everyone back alive.
//!
//! ```
//! use memberlist::prelude::*;
//! use memberlist::testing::{MemoryNetwork, addr_of, eventually, fast_config, wait_until_converged};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let network = MemoryNetwork::with_seed(1);
//! let mut nodes = Vec::new();
//! for i in 0..4 {
//!     let node = Memberlist::builder(fast_config(&format!("node-{i}")))
//!         .transport(network.bind())
//!         .start()
//!         .await?;
//!     nodes.push(node);
//! }
//! for node in &nodes[1..] {
//!     node.join([addr_of(&nodes[0])]).await?;
//! }
//! let all: Vec<_> = nodes.iter().collect();
//! wait_until_converged(&all).await;
//!
//! let (left, right) = nodes.split_at(2);
//! let addrs = |side: &[Memberlist<_>]| side.iter().map(|n| n.advertise_addr()).collect::<Vec<_>>();
//! network.partition(&addrs(left), &addrs(right));
//! eventually("each side sees the other failed", || {
//!     nodes.iter().all(|n| n.count_in_state(State::Alive) == 2)
//! })
//! .await;
//!
//! network.heal();
//! wait_until_converged(&all).await;
//! for node in &nodes {
//!     node.shutdown().await;
//! }
//! # Ok(()) }
//! ```
//!
//! The example `testing_partition` (in the repository's `examples/`) tests a small
//! application the same way.

mod cluster;
mod delegate;
mod endpoint;
mod intercept;
mod loss;
mod network;
mod traffic;

pub use cluster::{
    PATIENCE, addr_of, all_alive, eventually, fast_config, recv_within, state_of, wait_event,
    wait_until_converged,
};
pub use delegate::RecordingDelegate;
pub use endpoint::MemoryTransport;
pub use intercept::{Intercept, PassThrough, Policy, Verdict};
pub use loss::DropRate;
pub use network::{Link, MemoryNetwork, NetworkStats};
pub use traffic::{CountedStream, Traffic};
