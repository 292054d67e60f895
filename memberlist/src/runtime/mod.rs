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
//! [`Builder::start`] spawns the **driver**, the one task that owns the machine (and so the
//! delegate), and a **sender** that hands datagrams to the transport in order, dropping (and
//! counting) those beyond [`Config::transmit_queue`]. Each stream gets a task of its own, under
//! the TCP timeout, [`Config::stream_read_limit`], [`Config::max_inbound_streams`] and
//! [`Config::max_concurrent_push_pulls`] (refusals are counted in [`Stats`]); an undecodable
//! inbound stream gets Go's `errResp`, except for a wrong label, closed silently as Go does.
//! Time is tokio's clock, paused time included. ARCHITECTURE.md ("The runtime") describes
//! the loop. Logs go through [`tracing`] in a `memberlist` span carrying the node name;
//! nothing received from the network can panic the runtime.

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
