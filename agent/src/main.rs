//! `memberlist`: run a memberlist node (`agent`), look at a running cluster (`members`), rotate
//! its keys (`keys`), watch a small cluster on this machine join, detect a failure and see a
//! node leave (`demo`), write development certificates for the QUIC transport (`tls-dev`), or
//! predict what a configuration does for a cluster size (`config explain`).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod admin;
mod agent;
mod config_cli;
mod demo;
mod events_cli;
mod faults;
mod http;
mod keys_cli;
mod members;
mod meta;
mod plot;
mod settings;
mod signals;
mod tls_dev;
mod tune_cli;
mod view;

/// Cluster membership and failure detection by gossip, wire-compatible with HashiCorp's Go
/// memberlist.
#[derive(Debug, Parser)]
#[command(name = "memberlist", version, about, long_about = None)]
struct Cli {
    /// Log level when `RUST_LOG` is not set (error, warn, info, debug, trace) [default: info;
    /// warn for demo].
    #[arg(long, global = true)]
    log_level: Option<String>,

    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run a node: bind, join a cluster, serve /members, /health and /metrics.
    Agent(agent::AgentArgs),
    /// Print the members an agent sees, through its HTTP address.
    Members(members::MembersArgs),
    /// Follow an agent's membership changes as they happen (its HTTP `GET /events`).
    Events(events_cli::EventsArgs),
    /// Rotate a running agent's encryption keys through its admin API (--admin-http).
    Keys(keys_cli::KeysArgs),
    /// Start a few nodes on 127.0.0.1 and watch them join, detect a crash and see a leave.
    Demo(demo::DemoArgs),
    /// Write a development CA and node certificates (PEM) for `agent --transport quic`.
    TlsDev(tls_dev::TlsDevArgs),
    /// Explain a configuration (detection times, bandwidth, memory and false-suspicion risk
    /// for a cluster size and loss, with the formulas) or tune one for targets.
    Config(config_cli::ConfigArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            report_error(&format!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Agent(args) => agent::run(args, cli.log_level.as_deref()).await,
            Command::Members(args) => members::run(args).await,
            Command::Events(args) => events_cli::run(args).await,
            Command::Keys(args) => keys_cli::run(args).await,
            Command::Demo(args) => demo::run(args, cli.log_level.as_deref()).await,
            Command::TlsDev(args) => tls_dev::run(args),
            Command::Config(args) => config_cli::run(args),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report_error(&e);
            ExitCode::FAILURE
        }
    }
}

/// Writes a fatal error for the operator.
#[allow(clippy::print_stderr)]
fn report_error(message: &str) {
    eprintln!("error: {message}");
}

/// Sends `tracing` output to stderr; `RUST_LOG` wins over `default_level` when set.
pub(crate) fn init_logging(default_level: &str) -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => EnvFilter::try_new(spec),
        _ => EnvFilter::try_new(default_level),
    }
    .map_err(|e| format!("bad log level: {e}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init()
        .map_err(|e| format!("cannot install the log subscriber: {e}"))
}
