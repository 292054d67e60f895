//! The tokio runtime: the [`Memberlist`] handle and the task that drives the protocol
//! [`Machine`](crate::machine::Machine) over a [`Transport`](crate::transport::Transport).
//!
//! ```no_run
//! use std::time::Duration;
//! use memberlist::runtime::{Config, Memberlist, MemberEvent, Notification};
//! use memberlist_core::transport::Transport;
//!
//! async fn node<T: Transport>(transport: T) -> Result<(), Box<dyn std::error::Error>> {
//!     let ml = Memberlist::builder(Config::lan("node-a"))
//!         .transport(transport) // memberlist_net::NetTransport::bind(addr).await?
//!         .start()
//!         .await?;
//!     ml.join(["10.0.0.2:7946"]).await?;
//!     let mut events = ml.subscribe();
//!     while let Some(item) = events.recv().await {
//!         match item {
//!             Notification::Event { event: MemberEvent::Left(m), .. } => println!("{} left", m.name),
//!             Notification::Event { event: MemberEvent::Failed(m), .. } => println!("{} failed", m.name),
//!             _ => {}
//!         }
//!     }
//!     ml.leave(Duration::from_secs(5)).await?;
//!     ml.shutdown().await;
//!     Ok(())
//! }
//! ```
//!
//! # How it runs
//!
//! [`Builder::start`] spawns two tasks on the current tokio runtime:
//!
//! - the **driver**, which owns the machine (and so the delegate): every call into the
//!   machine happens there. It waits in one `select!` for a datagram, an inbound stream, a
//!   message read by a stream task, a stream's outcome, an API command, or the machine's
//!   next deadline ([`poll_timeout`](crate::machine::Machine::poll_timeout)), and after each
//!   input drains the machine's outputs: datagrams, stream requests, events;
//! - the **sender**, which hands datagrams to the transport in order, so that the driver never
//!   waits on the network; beyond [`Config::transmit_queue`] they are dropped and counted.
//!
//! Each stream gets a task, so a slow or malicious peer holds up only its own stream. An
//! **inbound stream** is read under the TCP timeout and [`Config::stream_read_limit`], its
//! message handed to [`handle_stream`](crate::machine::Machine::handle_stream) and the reply
//! written under a re-armed timeout; an undecodable stream gets Go's `errResp`
//! ([`stream_error_reply`](crate::machine::Machine::stream_error_reply)), except for a wrong
//! label, closed silently as Go does. Streams beyond [`Config::max_inbound_streams`], or
//! push/pulls beyond [`Config::max_concurrent_push_pulls`], are closed and counted in
//! [`Stats`]. An **outbound stream**
//! ([`poll_stream_request`](crate::machine::Machine::poll_stream_request)) dials, writes,
//! reads the reply if one is expected and reports a
//! [`StreamOutcome`](crate::machine::StreamOutcome); as in Go each phase of a push/pull or
//! reliable message gets the full TCP timeout, while the TCP fallback ping stays within the
//! probe's deadline.
//!
//! The machine's `std::time::Instant`s are read from and converted back to tokio's clock, so
//! everything follows it, paused time included.
//!
//! Logging goes through [`tracing`] in a `memberlist` span carrying the node name; nothing
//! received from the network can panic the runtime.

mod address;
mod builder;
mod config;
mod driver;
mod error;
mod events;
#[cfg(feature = "serde")]
mod file;
mod handle;
mod keys;
mod member_info;
#[cfg(feature = "serde")]
mod member_serde;
mod operations;
mod seeds;
mod snapshot;
mod stats;
mod stream;
mod subscription;

pub use address::AddressError;
pub use address::DEFAULT_JOIN_PORT;
pub use builder::{Builder, NoTransport};
pub use config::{Config, ConfigError};
pub use error::{Error, JoinError, JoinFailure, JoinFailureReason};
pub use events::MemberEvent;
#[cfg(feature = "serde")]
pub use file::{ConfigFile, Preset};
pub use handle::Memberlist;
pub use keys::{GossipVerify, KeyError};
pub use member_info::{MemberInfo, VersionRange};
pub use seeds::{JoinRetry, Seed};
pub use stats::Stats;
pub use subscription::{MembersSnapshot, Notification, Subscription};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_events;
#[cfg(test)]
mod tests_key_config;
#[cfg(test)]
mod tests_keys;
#[cfg(test)]
mod tests_limits;
#[cfg(test)]
mod tests_metrics;
#[cfg(test)]
mod tests_seeds;
