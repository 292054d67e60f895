//! # memberlist
//!
//! Cluster membership and failure detection by gossip, wire-compatible with HashiCorp's Go
//! memberlist. This facade re-exports the core and the plugins selected with Cargo features.
#![forbid(unsafe_code)]

pub use memberlist_core as core;
pub use memberlist_core::{codec, encryption, wire};

#[cfg(feature = "aes-gcm")]
pub use memberlist_aes_gcm as aes_gcm;
#[cfg(feature = "lz4")]
pub use memberlist_lz4 as lz4;
#[cfg(feature = "lzw")]
pub use memberlist_lzw as lzw;
