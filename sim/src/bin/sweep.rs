//! `memberlist-sim-sweep`: the advisor's predictions against the simulator over presets,
//! cluster sizes and loss rates ([`memberlist_sim::compare`] for each), printed as one
//! Markdown table per preset (the figure's measured / predicted ratio, or whether it fell
//! inside the model's range). Exits with status 1 when a check fails.
//!
//! ```sh
//! cargo run --release -p memberlist-sim --bin memberlist-sim-sweep -- \
//!     --preset lan,wan,local --nodes 10,100,1000,5000 --loss 0,2 --out sweep.md
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use memberlist_sim::Preset;
use memberlist_sim::compare::{Check, Comparison, compare};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Compares the advisor's predictions with simulator runs over a grid of configurations.
#[derive(Debug, Parser)]
#[command(name = "memberlist-sim-sweep", version, about)]
struct Cli {
    /// Presets, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "lan,wan,local")]
    preset: Vec<Preset>,
    /// Cluster sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10,100")]
    nodes: Vec<usize>,
    /// Datagram loss rates in percent, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0,2")]
    loss: Vec<f64>,
    /// Seed of the first run of every cell.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also write the tables (and every cell's full comparison) to this Markdown file.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// One cell of the grid.
struct Cell {
    preset: Preset,
    nodes: usize,
    loss: f64,
    comparison: Comparison,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut cells = Vec::new();
    for &preset in &cli.preset {
        for &nodes in &cli.nodes {
            for &loss in &cli.loss {
                let cfg = preset.config("template");
                match compare(&cfg, nodes, loss / 100.0, cli.seed) {
                    Ok(comparison) => {
                        eprintln!(
                            "{} N = {nodes}, loss {loss} %: {} of {} rows outside ({:.1} CPU s)",
                            name(preset),
                            comparison.outside().count(),
                            comparison.rows.len(),
                            comparison.cpu_seconds
                        );
                        cells.push(Cell {
                            preset,
                            nodes,
                            loss,
                            comparison,
                        });
                    }
                    Err(e) => {
                        eprintln!("{} N = {nodes}, loss {loss} %: {e}", name(preset));
                        return ExitCode::FAILURE;
                    }
                }
            }
        }
    }
    let tables = tables(&cli, &cells);
    print!("{tables}");
    if let Some(path) = &cli.out {
        let mut text = tables.clone();
        text.push_str("\n## Every cell\n");
        for c in &cells {
            let _ = write!(
                text,
                "\n### {} N = {}, loss {} %\n\n```text\n{}```\n",
                name(c.preset),
                c.nodes,
                c.loss,
                c.comparison
            );
        }
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    let outside: usize = cells.iter().map(|c| c.comparison.outside().count()).sum();
    if outside > 0 {
        eprintln!("{outside} rows outside their check");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn name(p: Preset) -> &'static str {
    match p {
        Preset::Lan => "LAN",
        Preset::Wan => "WAN",
        Preset::Local => "local",
    }
}

/// One table per preset: a row per figure, a column per (N, loss), each cell the ratio
/// measured / predicted (or "in range" for a range check), marked when outside.
fn tables(cli: &Cli, cells: &[Cell]) -> String {
    let mut out = String::new();
    for &preset in &cli.preset {
        let mine: Vec<&Cell> = cells.iter().filter(|c| c.preset == preset).collect();
        let Some(first) = mine.first() else {
            continue;
        };
        let _ = writeln!(out, "\n### {} preset\n", name(preset));
        let mut header = "| figure |".to_owned();
        let mut rule = "|---|".to_owned();
        for c in &mine {
            let _ = write!(header, " N = {}, {} % |", c.nodes, c.loss);
            rule.push_str("---|");
        }
        let _ = writeln!(out, "{header}\n{rule}");
        // Figures in the order of the first cell, then any that only lossy cells have.
        let mut figures: Vec<&str> = first.comparison.rows.iter().map(|r| r.figure).collect();
        let seen: BTreeSet<&str> = figures.iter().copied().collect();
        for c in &mine {
            for r in &c.comparison.rows {
                if !seen.contains(r.figure) && !figures.contains(&r.figure) {
                    figures.push(r.figure);
                }
            }
        }
        for figure in figures {
            let _ = write!(out, "| {figure} |");
            for c in &mine {
                let cell = c
                    .comparison
                    .rows
                    .iter()
                    .find(|r| r.figure == figure)
                    .map_or_else(|| "—".to_owned(), cell_text);
                let _ = write!(out, " {cell} |");
            }
            out.push('\n');
        }
    }
    out
}

fn cell_text(r: &memberlist_sim::compare::Row) -> String {
    let mark = match r.ok {
        Some(true) => "",
        Some(false) => " **outside**",
        None => " not measured",
    };
    match r.check {
        Check::Within { .. } => match r.ratio.filter(|x| x.is_finite()) {
            Some(x) => format!("{x:.2}{mark}"),
            None if r.predicted == Some(0.0) && r.measured == Some(0.0) => "0 = 0".to_owned(),
            None => format!("—{mark}"),
        },
        Check::Bound { low, high } => match r.measured {
            Some(m) => format!("{} in {}–{}{mark}", short(m), short(low), short(high)),
            None => format!("—{mark}"),
        },
    }
}

/// A number in three significant digits at most.
fn short(x: f64) -> String {
    if x == 0.0 {
        "0".to_owned()
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}
