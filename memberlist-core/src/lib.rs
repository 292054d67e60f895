//! # memberlist-core
//!
//! The sans-I/O core of memberlist-rs, a Rust implementation of HashiCorp's memberlist (SWIM
//! gossip with the Lifeguard extensions) that is wire-compatible with the Go implementation.
//!
//! Nothing here does I/O, reads a clock or needs an async runtime: time comes in as an
//! argument and randomness from a seed. The tokio runtime that drives the [`machine`] over a
//! [`Transport`] lives in the `memberlist` facade crate, as quinn drives quinn-proto.
//!
//! To drive machines yourself (a runtime of your own, a test harness), start from
//! `examples/machines_by_hand.rs` in this crate: three machines wired together in a loop
//! with virtual time, joining and detecting a crash
//! (`cargo run -p memberlist-core --example machines_by_hand`).
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod codec;
pub mod delegate;
pub mod encryption;
pub mod machine;
pub mod metrics;
pub mod transport;
pub mod wire;

pub use transport::{Transport, TransportError};
