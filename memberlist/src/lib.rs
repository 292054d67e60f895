//! # memberlist
//!
//! Cluster membership and failure detection by gossip (SWIM with HashiCorp's Lifeguard
//! extensions), wire-compatible with HashiCorp's Go memberlist. This facade re-exports the
//! core (protocol machine, runtime, traits) and the plugins selected with Cargo features; the
//! defaults are what a node needs to join a Go cluster:
//!
//! | feature | default | brings |
//! |---|---|---|
//! | `net` | yes | [`net::NetTransport`]: UDP + TCP on one port, what Go nodes speak |
//! | `serde` | yes | `Serialize`/`Deserialize` for [`MemberInfo`], [`State`](machine::State), [`MemberEvent`], [`Config`] and `ConfigFile` |
//! | `lzw` | yes | [`lzw::Lzw`]: Go's LZW compression (algorithm 0) |
//! | `aes-gcm` | yes | [`aes_gcm::AesGcm`]: Go's AES-GCM encryption, envelope v0/v1 |
//! | `lz4` | no | `lz4::Lz4`: lz4 compression, Rust-only (Go nodes cannot read it) |
//! | `prometheus` | no | `prometheus::PrometheusMetrics`: every metric in a Prometheus registry |
//! | `opentelemetry` | no | `opentelemetry::OtelMetrics` and `opentelemetry::Otlp` (OTLP export over HTTP) |
//! | `testing` | no | `testing`: an in-memory network with loss, latency and partitions, a counting and fault-injecting transport wrapper, and cluster test helpers |
//! | `advisor` | no | `advisor`: predictions for a configuration and cluster size (detection times, dissemination, bandwidth, memory, false-suspicion risk, each with its formula), also as `Config::predict` |
//! | `quic` | no | `quic::QuicTransport`: QUIC (quinn) with TLS 1.3 from a cluster CA, mutual TLS, `quic::DevCa` development certificates; Rust-only (Go nodes cannot join) |
//!
//! ## Quick start
//!
//! ```no_run
//! use memberlist::prelude::*;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let transport = NetTransport::bind("0.0.0.0:7946".parse()?).await?;
//! let ml = Memberlist::builder(Config::lan("node-a")).transport(transport).start().await?;
//! ml.join(["10.0.0.2:7946"]).await?;
//! for m in ml.members() { println!("{} {} {}", m.name, m.addr, m.state); }
//! ml.leave(std::time::Duration::from_secs(5)).await?;
//! # Ok(()) }
//! ```
//!
//! The [`runtime`] module documents the tasks, limits and timeouts; [`delegate`] the
//! application hooks; [`transport`] how to write a transport of your own.
#![forbid(unsafe_code)]

pub use memberlist_core as core;
pub use memberlist_core::{
    Transport, TransportError, codec, delegate, encryption, machine, metrics, transport, wire,
};

pub mod runtime;
// The runtime's own unit tests run on the kit's memory network, with or without the feature.
#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(feature = "serde")]
pub use runtime::ConfigFile;
pub use runtime::{
    Config, Error, JoinError, MemberEvent, MemberInfo, Memberlist, Notification, Subscription,
};

#[cfg(feature = "advisor")]
pub use memberlist_advisor as advisor;
#[cfg(feature = "aes-gcm")]
pub use memberlist_aes_gcm as aes_gcm;
#[cfg(feature = "lz4")]
pub use memberlist_lz4 as lz4;
#[cfg(feature = "lzw")]
pub use memberlist_lzw as lzw;
#[cfg(feature = "net")]
pub use memberlist_net as net;
#[cfg(feature = "opentelemetry")]
pub use memberlist_opentelemetry as opentelemetry;
#[cfg(feature = "prometheus")]
pub use memberlist_prometheus as prometheus;
#[cfg(feature = "quic")]
pub use memberlist_quic as quic;

/// The common imports: the handle and its configuration, errors, events, the delegate trait,
/// member types, what a custom [`Transport`] needs (with the [`async_trait`](macro@async_trait)
/// attribute it is written with), keys, and the default plugins that are enabled.
///
/// ```
/// use memberlist::prelude::*;
///
/// struct Quiet;
/// impl Delegate for Quiet {
///     fn notify_alive(&mut self, peer: &Member) -> Result<(), Veto> {
///         if peer.name.starts_with("test-") { Err(Veto::because("no test nodes")) } else { Ok(()) }
///     }
/// }
/// fn reason(e: &JoinError) -> String { e.to_string() }
/// fn address(m: &MemberInfo) -> std::net::SocketAddr { m.addr }
/// ```
pub mod prelude {
    pub use async_trait::async_trait;
    pub use memberlist_core::delegate::{Delegate, NoopDelegate};
    pub use memberlist_core::encryption::{Keyring, SecretKey};
    pub use memberlist_core::machine::broadcast::BroadcastKey;
    pub use memberlist_core::machine::{Member, State, Veto};
    pub use memberlist_core::transport::{IoOp, Transport, TransportError};

    pub use crate::runtime::{
        Config, Error, JoinError, JoinRetry, MemberEvent, MemberInfo, Memberlist, Notification,
        Seed, Subscription,
    };

    #[cfg(feature = "aes-gcm")]
    pub use memberlist_aes_gcm::AesGcm;
    #[cfg(feature = "lzw")]
    pub use memberlist_lzw::Lzw;
    #[cfg(feature = "net")]
    pub use memberlist_net::NetTransport;
}

/// The attribute a [`Transport`] implementation is written with (`#[async_trait]`),
/// re-exported so that implementing one needs no dependency of its own.
pub use async_trait::async_trait;

/// The README's Rust examples, compiled as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
