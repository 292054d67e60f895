//! `memberlist-sim`: runs one simulator scenario and prints a summary or JSON.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::Parser;
use memberlist_sim::batch::Batch;
use memberlist_sim::scenarios::{self, Options, Scenario};

/// Thousands of machines allocate and free megabyte push/pull buffers; glibc's malloc hands
/// those back to the kernel each time (page faults were 15 % of a 3,000-node profile).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Deterministic memberlist cluster simulator.
#[derive(Debug, Parser)]
#[command(name = "memberlist-sim", version, about)]
struct Cli {
    /// Scenario to run.
    scenario: Scenario,
    #[command(flatten)]
    opts: Options,
    /// Repeat the scenario over this many consecutive seeds and print the distribution of
    /// every figure (min, median, p99, max) next to the model.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.opts.nodes < 2 {
        eprintln!("--nodes must be at least 2");
        return ExitCode::FAILURE;
    }
    let mut opts = cli.opts;
    opts.loss = opts.loss.clamp(0.0, 1.0);
    if cli.runs > 1 {
        return batch(cli.scenario, &opts, cli.runs, cli.json);
    }
    match scenarios::run(cli.scenario, &opts) {
        Ok(report) => {
            if cli.json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.summary());
            }
            if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn batch(scenario: Scenario, opts: &Options, runs: usize, json: bool) -> ExitCode {
    let mut reports = Vec::with_capacity(runs);
    for k in 0..runs as u64 {
        let mut o = opts.clone();
        o.seed = opts.seed + k;
        match scenarios::run(scenario, &o) {
            Ok(r) => {
                if !json {
                    eprintln!("seed {}: {:.1} CPU s", o.seed, r.cpu_seconds);
                }
                reports.push(r);
            }
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let b = Batch::from_reports(&reports);
    if json {
        println!("{}", b.to_json());
    } else {
        print!("{}", b.summary());
    }
    if b.failed_seeds.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
