//! Real-socket benchmarks of memberlist-rs (issue 8), alone and side by side with Go
//! memberlist. See `bench/README.md` for the commands and `BENCHMARKS.md` for the figures.
//!
//! Every run has the same phases: start N nodes on 127.0.0.1 (port 0, LAN preset, default
//! compression); all but the first join through the first at once (**join** time until
//! every node sees N alive); after a settling pause, a steady-state **window** over which
//! CPU time (user + system) and bytes sent are read; peak RSS (`VmHWM`); then one node
//! crashes (no leave) and the **crash→dead** time runs until every survivor sees it dead.
//!
//! - [`inproc`]: all Rust nodes in this process (the `rust` subcommand).
//! - [`procs`]: one process per node, Go or Rust (the `go` and `rust --procs` subcommands).

pub mod inproc;
pub mod node;
pub mod procs;
pub mod report;

use std::time::Duration;

/// Errors of the harness.
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;

/// What one run does.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Cluster size (at least 3).
    pub nodes: usize,
    /// Pause between the full join and the steady-state window.
    pub settle: Duration,
    /// Length of the steady-state window.
    pub window: Duration,
    /// Give-up time of the crash detection (and of the join, one process per node).
    pub timeout: Duration,
    /// In-process runs: after this long without every node seeing N alive, the run goes on
    /// with the measurement and reports the join as not converged (`join_s` NaN, `null` in
    /// JSON).
    pub join_timeout: Duration,
    /// In-process runs: nodes joining per second (a rolling start); `None` joins everyone
    /// at once.
    pub join_rate: Option<f64>,
    /// In-process runs: what compresses outgoing messages.
    pub codec: BenchCodec,
}

/// Compression of the in-process nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BenchCodec {
    /// Go's LZW, as Go's LAN default (`EnableCompression`).
    #[default]
    Lzw,
    /// lz4 (not understood by Go nodes; for Rust-only clusters).
    Lz4,
    /// No compression.
    None,
}

impl Scenario {
    /// `nodes` nodes, a 5 s settle, a `window` steady-state window, 180 s timeouts.
    pub fn new(nodes: usize, window: Duration) -> Scenario {
        Scenario {
            nodes,
            settle: Duration::from_secs(5),
            window,
            timeout: Duration::from_secs(180),
            join_timeout: Duration::from_secs(60),
            join_rate: None,
            codec: BenchCodec::Lzw,
        }
    }
}
