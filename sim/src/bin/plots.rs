//! `memberlist-sim-plots`: runs the `disseminate` and `crash` scenarios at several cluster
//! sizes and draws, as SVG, the fraction of members informed over time and the distribution
//! of crash detection times.
//!
//! ```sh
//! cargo run --release -p memberlist-sim --bin memberlist-sim-plots -- --out docs/plots --sizes 100,1000,10000
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use memberlist_sim::scenarios::{self, Options, Scenario};
use plotters::prelude::*;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Draws dissemination and detection plots from simulator runs.
#[derive(Debug, Parser)]
#[command(name = "memberlist-sim-plots", version, about)]
struct Cli {
    /// Directory the SVG files are written to.
    #[arg(long, default_value = "docs/plots")]
    out: PathBuf,
    /// Cluster sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    sizes: Vec<usize>,
    /// Seed of the first run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Runs per size (seeds `seed..seed+runs`), pooled into one curve.
    #[arg(long, default_value_t = 1)]
    runs: usize,
}

/// One curve: the cluster size and the pooled, sorted per-member times in seconds.
struct Curve {
    nodes: usize,
    times: Vec<f64>,
    /// Members that could be informed, over all runs (the curve's 100 %).
    population: usize,
}

fn collect(scenario: Scenario, cli: &Cli) -> Result<Vec<Curve>, String> {
    let mut curves = Vec::new();
    for &n in &cli.sizes {
        let mut times = Vec::new();
        for k in 0..cli.runs.max(1) as u64 {
            let mut opts = Options::new(n, cli.seed + k);
            opts.preconverged = true;
            let report = scenarios::run(scenario, &opts).map_err(|e| e.to_string())?;
            if !report.ok() {
                return Err(format!(
                    "{} at {n} nodes, seed {}: {:?}",
                    scenario.name(),
                    opts.seed,
                    report.violations
                ));
            }
            eprintln!(
                "{} {n} nodes seed {}: {} members, {:.1} CPU s, {}",
                scenario.name(),
                opts.seed,
                report.series.len(),
                report.cpu_seconds,
                serde_json::to_string(&report.measured).unwrap_or_default()
            );
            times.extend_from_slice(&report.series);
        }
        times.sort_by(f64::total_cmp);
        curves.push(Curve {
            nodes: n,
            times,
            population: (n - 1) * cli.runs.max(1),
        });
    }
    Ok(curves)
}

/// Draws the empirical cumulative distribution of each curve (fraction of members vs time).
fn draw_cdf(path: &Path, title: &str, x_label: &str, curves: &[Curve]) -> Result<(), String> {
    let x_max = curves
        .iter()
        .filter_map(|c| c.times.last().copied())
        .fold(0.0_f64, f64::max)
        * 1.05;
    let x_min = curves
        .iter()
        .filter_map(|c| c.times.first().copied())
        .fold(x_max, f64::min)
        .min(x_max)
        * 0.95;
    let root = SVGBackend::new(path, (720, 450)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(x_min..x_max.max(x_min + 0.1), 0.0..1.0_f64)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc("fraction of members")
        .draw()
        .map_err(|e| e.to_string())?;
    let colors = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];
    for (i, c) in curves.iter().enumerate() {
        let color = colors[i % colors.len()];
        let total = c.population.max(1) as f64;
        // A step function: the fraction jumps at each member's time.
        let mut points = Vec::with_capacity(2 * c.times.len() + 1);
        points.push((x_min, 0.0));
        for (k, &t) in c.times.iter().enumerate() {
            points.push((t, k as f64 / total));
            points.push((t, (k + 1) as f64 / total));
        }
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(format!("N = {}", c.nodes))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.sizes.iter().any(|&n| n < 3) {
        eprintln!("--sizes must all be at least 3");
        return ExitCode::FAILURE;
    }
    let run = || -> Result<(), String> {
        std::fs::create_dir_all(&cli.out).map_err(|e| e.to_string())?;
        let spread = collect(Scenario::Disseminate, &cli)?;
        let path = cli.out.join("dissemination.svg");
        draw_cdf(
            &path,
            "One metadata update: members informed (gossip every 200 ms)",
            "seconds since the update",
            &spread,
        )?;
        println!("wrote {}", path.display());
        let detect = collect(Scenario::Crash, &cli)?;
        let path = cli.out.join("detection.svg");
        draw_cdf(
            &path,
            "One crash: members that have declared the node dead",
            "seconds since the crash",
            &detect,
        )?;
        println!("wrote {}", path.display());
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
