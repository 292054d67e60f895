//! # memberlist-core
//!
//! The sans-I/O core of memberlist-rs, a Rust implementation of HashiCorp's memberlist (SWIM
//! gossip with the Lifeguard extensions) that is wire-compatible with the Go implementation.
//!
//! This crate holds:
//! - [`wire`]: the Go-compatible message formats and framing (msgpack bodies, compound, CRC,
//!   labels, compression and encryption wrappers, stream framing);
//! - [`codec`]: the [`Codec`](codec::Codec) trait implemented by compression plugins;
//! - [`encryption`]: the [`Encryption`](encryption::Encryption) trait and the
//!   [`Keyring`](encryption::Keyring);
//! - [`machine`]: the sans-I/O protocol state machine;
//! - [`metrics`]: the [`Metrics`](metrics::Metrics) trait and the catalog of metrics;
//! - [`transport`]: the [`Transport`] trait;
//! - [`runtime`]: the tokio driver and the public [`Memberlist`] API.
//!
//! Everything but [`runtime`] is free of I/O.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod codec;
pub mod delegate;
pub mod encryption;
pub mod machine;
pub mod metrics;
pub mod runtime;
pub mod transport;
pub mod wire;

pub use runtime::{Config, ConfigFile, Error, JoinError, MemberEvent, Memberlist};
pub use transport::{Transport, TransportError};
