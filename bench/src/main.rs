//! `memberlist-bench`: real-socket benchmarks of memberlist-rs and Go memberlist.
//!
//! ```text
//! memberlist-bench rust --nodes 1000 --seconds 30 --runs 3        # all nodes in this process
//! memberlist-bench rust --procs --nodes 100 --runs 5              # one process per node
//! memberlist-bench go --nodes 100 --runs 5                        # Go peers, one per process
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use memberlist_bench::procs::{Program, run_once};
use memberlist_bench::report::{RunReport, Summary, human, raise_fd_limit};
use memberlist_bench::{BenchCodec, BenchError, Scenario, inproc, node};

#[derive(Parser)]
#[command(
    name = "memberlist-bench",
    about = "Real-socket benchmarks of memberlist-rs and Go memberlist"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Rust nodes: all in this process (2 tokio workers), or one process each with --procs.
    Rust {
        #[command(flatten)]
        common: Common,
        /// One process per node (this binary's `node` subcommand), for the side by side.
        #[arg(long)]
        procs: bool,
    },
    /// Go memberlist nodes (the interop peer in -bench mode), one process each.
    Go {
        #[command(flatten)]
        common: Common,
        /// The Go peer binary (default: MEMBERLIST_GO_PEER, else built by interop/build.sh).
        #[arg(long)]
        peer: Option<PathBuf>,
    },
    /// One Rust node driven over stdin/stdout (used by `rust --procs`).
    Node {
        /// Node name.
        #[arg(long)]
        name: String,
    },
}

#[derive(Args)]
struct Common {
    /// Cluster size.
    #[arg(long, default_value_t = 100)]
    nodes: usize,
    /// Steady-state window, seconds.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Pause between full join and the window, seconds.
    #[arg(long, default_value_t = 5)]
    settle: u64,
    /// In-process: seconds to wait for a full join before measuring anyway.
    #[arg(long, default_value_t = 60)]
    join_timeout: u64,
    /// In-process: nodes joining per second, a rolling start (default: all at once).
    #[arg(long)]
    join_rate: Option<f64>,
    /// In-process: compression of the nodes (`lzw` is Go's LAN default).
    #[arg(long, value_enum, default_value_t = BenchCodec::Lzw)]
    codec: BenchCodec,
    /// Runs; the summary gives median [min – max].
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Print JSON (every run and the summary) instead of text.
    #[arg(long)]
    json: bool,
}

impl Common {
    fn scenario(&self) -> Scenario {
        let mut s = Scenario::new(self.nodes, Duration::from_secs(self.seconds));
        s.settle = Duration::from_secs(self.settle);
        s.join_timeout = Duration::from_secs(self.join_timeout);
        s.join_rate = self.join_rate.filter(|r| *r > 0.0);
        s.codec = self.codec;
        s
    }
}

fn repeat(
    common: &Common,
    mut once: impl FnMut(&Scenario) -> Result<RunReport, BenchError>,
) -> Result<(), BenchError> {
    let scenario = common.scenario();
    let mut runs = Vec::with_capacity(common.runs);
    for i in 0..common.runs.max(1) {
        let r = once(&scenario)?;
        if !common.json {
            println!(
                "run {}: join {:.2} s ({} retries), CPU {:.3} ms/node-s ({:.1} % of a core), sent {:.0} B/node-s, peak RSS {:.0} KiB/node, crash→dead {:.2} s, {:.2} dials/node-min, worst alive {}/{}",
                i + 1,
                r.join_s,
                r.join_retries,
                r.cpu_ms_per_node_s,
                r.cpu_pct_of_core,
                r.bytes_per_node_s,
                r.rss_kib_per_node,
                r.crash_to_dead_s,
                r.dials_per_node_min,
                r.worst_alive,
                r.nodes
            );
            if let Some(c) = r.churn {
                println!(
                    "       per node-minute: {:.2} suspect messages, {:.2} refutations, {:.2} datagrams dropped (send queue full)",
                    c.suspect_msgs, c.refutations, c.transmits_dropped
                );
            }
        } else {
            eprintln!("run {} done", i + 1);
        }
        runs.push(r);
    }
    let summary = Summary::of(&runs);
    if common.json {
        println!("{}", serde_json::json!({"runs": runs, "summary": summary}));
    } else {
        println!("{}", human(&summary));
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    raise_fd_limit();
    let result: Result<(), BenchError> = match cli.command {
        Cmd::Node { name } => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(BenchError::from)
            .and_then(|rt| rt.block_on(node::run(&name))),
        Cmd::Rust {
            common,
            procs: true,
        } => std::env::current_exe()
            .map_err(BenchError::from)
            .and_then(|exe| repeat(&common, |s| run_once(&Program::Rust(exe.clone()), s))),
        Cmd::Rust {
            common,
            procs: false,
        } => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(BenchError::from)
            .and_then(|rt| repeat(&common, |s| rt.block_on(inproc::run_once(s)))),
        Cmd::Go { common, peer } => peer
            .map_or_else(
                || memberlist_interop::build_peer().map_err(BenchError::from),
                Ok,
            )
            .and_then(|peer| repeat(&common, |s| run_once(&Program::Go(peer.clone()), s))),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("memberlist-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
