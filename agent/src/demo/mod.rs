//! `memberlist demo`: a small cluster on this machine joins, detects a crash and sees a node
//! leave, with the measured times printed next to what Go's formulas predict.
//!
//! ```text
//! cargo run --release -p memberlist-agent -- demo            # 5 nodes
//! cargo run --release -p memberlist-agent -- demo --nodes 50
//! cargo run --release -p memberlist-agent -- demo --transport quic
//! ```
//!
//! What it does, in order (the acts of [`phases`]): `--nodes N` nodes start in this process,
//! each on its own 127.0.0.1 port ([`node`]: UDP + TCP, or QUIC with mutual TLS and
//! certificates from a CA generated in memory), with the [`preset`], and all join through the
//! first; the last node crashes (shut down without leaving, so the others must notice by
//! probing); the second-to-last one leaves (skipped with 2 nodes); then the measured times are
//! printed next to what Go's formulas expect ([`Model`](model::Model), the advisor's
//! prediction), with the membership events the nodes delivered. The exit status is 0; it is
//! 1, with an `error:` line, when something did not happen within one of the model's
//! generous deadlines.
//!
//! ## Output
//!
//! On a terminal, a table of every node's view ([`table`]) is redrawn in place below the
//! narrative; elsewhere only plain lines are written, with the table printed whole at each
//! milestone (see [`screen`]). The library's logs go to stderr at `warn` unless
//! `--log-level` or `RUST_LOG` say otherwise, so that they do not interleave with the demo.

mod cluster;
mod model;
mod node;
mod phases;
mod report;
mod screen;
mod table;

use std::io::IsTerminal;

use memberlist::prelude::Config;

use self::cluster::Cluster;
use self::model::Model;
use self::node::Factory;
use self::phases::Demo;
use self::screen::Screen;
use crate::agent::TransportKind;

/// Fewest nodes the demo runs (a crash needs someone to notice it).
const MIN_NODES: u16 = 2;
/// Most nodes the demo runs (one process on one machine, done within a minute).
const MAX_NODES: u16 = 50;

/// Options of `memberlist demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// How many nodes to start (2 to 50).
    #[arg(long, short = 'n', default_value_t = 5,
          value_parser = clap::value_parser!(u16).range(i64::from(MIN_NODES)..=i64::from(MAX_NODES)))]
    nodes: u16,
    /// Transport of the nodes: UDP + TCP (`net`) or QUIC with TLS (`quic`, certificates from
    /// an in-memory development CA).
    #[arg(long, value_enum, default_value_t = TransportKind::Net)]
    transport: TransportKind,
}

/// The retransmit multiplier the demo uses instead of the local preset's 2 (Go's LAN value).
const RETRANSMIT_MULT: u32 = 4;

/// The preset the demo runs: Go's `DefaultLocalConfig` with LAN's retransmit multiplier.
///
/// With the local preset's multiplier of 2, a message is sent on only
/// `2 · ceil(log10(N + 1))` times by each node that has it — 4 times at 50 nodes — so now
/// and then one node of 50 misses a join or a leave and only learns it at its next push/pull
/// (every 30 s at 50 nodes). LAN's 4 makes such a miss rare enough for a demo that must end
/// within a minute; the failure detector's timers are untouched.
fn preset(name: &str) -> Config {
    let mut config = Config::local(name);
    config.protocol.retransmit_mult = RETRANSMIT_MULT;
    config
}

/// Runs `memberlist demo`. `log_level` is the `--log-level` the user gave, if any; the
/// demo logs at `warn` otherwise.
pub(crate) async fn run(args: DemoArgs, log_level: Option<&str>) -> Result<(), String> {
    crate::init_logging(log_level.unwrap_or("warn"))?;
    let n = usize::from(args.nodes);
    let protocol = preset("demo").protocol;
    let model = Model::new(&protocol, n)?;
    let factory = Factory::new(args.transport)?;
    let live = std::io::stdout().is_terminal();
    let mut screen = Screen::new(std::io::stdout(), live);
    for line in report::header(n, factory.describe(), &protocol, &model) {
        report::write(&mut screen, &line)?;
    }
    let cluster = Cluster::start(n, &factory, preset).await?;
    let mut demo = Demo::new(cluster, screen, model);
    let outcome = demo.play().await;
    demo.shutdown().await;
    let summary = outcome?;
    demo.print_summary(&summary)
}
