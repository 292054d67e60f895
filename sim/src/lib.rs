//! Deterministic many-node simulator for memberlist-rs.
//!
//! [`Sim`] runs many protocol [`Machine`](memberlist_core::machine::Machine)s on a virtual
//! clock over a virtual [network](net) with latency, loss, duplication, partitions, crashes,
//! restarts and slow nodes. One seed determines the whole run. [Invariants](invariants) are
//! checked as it runs, and [scenarios] measure failure detection, dissemination, joins,
//! steady-state traffic and partitions against the performance model.
//!
//! ```
//! use std::time::Duration;
//! use memberlist_sim::{Sim, SimConfig};
//!
//! let mut sim = Sim::new(SimConfig::lan(5, 1)).unwrap();
//! sim.join_random_earlier();
//! sim.run_until(Duration::from_secs(5));
//! assert!(sim.converged());
//! sim.check().unwrap();
//! ```

pub mod batch;
pub mod chaos;
pub mod compare;
mod compare_loss;
pub mod engine;
pub mod invariants;
pub mod net;
pub mod preset;
pub mod report;
pub mod scenarios;
pub mod trace;

pub use engine::{
    LogEntry, NodeEvent, Observation, Sent, Sim, SimConfig, SimDelegate, SimError, node_addr,
    node_at, node_name,
};
pub use net::NetConfig;
pub use preset::Preset;
pub use report::Report;
pub use scenarios::{Options, Scenario};
