//! `memberlist config explain [--preset lan|wan|local | --config FILE] --nodes N [--loss P]
//! [--simulate [--seed S]] [--json]`: what a configuration will do for a cluster of N nodes
//! under P % datagram loss — detection times, dissemination, scaled timeouts, bandwidth,
//! memory and the false-suspicion risk, each with its formula (the `memberlist::advisor`
//! prediction); with `--simulate`, the same configuration run in the deterministic simulator
//! and its measured figures set next to the predicted ones (`memberlist_sim::compare`).

use std::path::PathBuf;

use memberlist::runtime::Config;

use crate::agent::Preset;
use crate::members::print_out;
use crate::settings::read_config_file;

/// Options of `memberlist config`.
#[derive(Debug, clap::Args)]
pub(crate) struct ConfigArgs {
    #[command(subcommand)]
    action: Action,
}

/// What to do with a configuration.
#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Predict what a configuration does for a cluster size and loss, with the formulas.
    Explain(ExplainArgs),
    /// Find the cheapest configuration that meets detection, dissemination and bandwidth
    /// targets, check it in the simulator, and write it as a config file.
    Tune(crate::tune_cli::TuneArgs),
}

/// Options of `memberlist config explain`.
#[derive(Debug, clap::Args)]
struct ExplainArgs {
    /// Go's preset to explain [default: lan].
    #[arg(long, value_enum, conflicts_with = "config")]
    preset: Option<Preset>,
    /// A TOML config file, as `memberlist agent --config` reads it (a `name` is optional
    /// here).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Cluster size (at least 2).
    #[arg(long, value_name = "N")]
    nodes: usize,
    /// Datagram loss in percent, each way: `2`, `2%` or `0.5` (0 ≤ P < 100).
    #[arg(long, value_name = "P", default_value = "0", value_parser = parse_loss_percent)]
    loss: f64,
    /// Also run the configuration in the simulator (crashes, updates, a quiet cluster and,
    /// under loss, a long lossy run) and print measured figures next to predicted ones.
    #[arg(long)]
    simulate: bool,
    /// Seed of the first simulated run (with --simulate).
    #[arg(long, value_name = "S", default_value_t = 1, requires = "simulate")]
    seed: u64,
    /// Print the prediction as JSON (durations in seconds; each figure with its unit and
    /// formula); with --simulate, the comparison is under `"simulation"`.
    #[arg(long)]
    json: bool,
    /// Also draw detection time and bandwidth against cluster size into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
}

/// Runs `memberlist config`.
pub(crate) fn run(args: ConfigArgs) -> Result<(), String> {
    match args.action {
        Action::Explain(args) => explain(args),
        Action::Tune(args) => crate::tune_cli::run(args),
    }
}

fn explain(args: ExplainArgs) -> Result<(), String> {
    let (config, source) = match (&args.config, args.preset) {
        (Some(path), _) => {
            let mut file = read_config_file(path)?;
            if file.name.is_empty() {
                file.name = "explain".into();
            }
            let config = file
                .into_config()
                .map_err(|e| format!("config file {}: {e}", path.display()))?;
            (config, format!("config file {}", path.display()))
        }
        (None, preset) => {
            let preset = preset.unwrap_or(Preset::Lan);
            let (config, name) = match preset {
                Preset::Lan => (Config::lan("explain"), "lan"),
                Preset::Wan => (Config::wan("explain"), "wan"),
                Preset::Local => (Config::local("explain"), "local"),
            };
            (config, format!("preset {name}"))
        }
    };
    let prediction = config
        .predict(args.nodes, args.loss)
        .map_err(|e| format!("cannot predict: {e}"))?;
    if let Some(path) = &args.plot {
        let line = crate::plot::Line {
            label: source.clone(),
            config: &config.protocol,
        };
        crate::plot::plot(path, &[line], args.nodes, args.loss)?;
        tracing::info!(path = %path.display(), "plot written");
    }
    let simulation = if args.simulate {
        tracing::info!(nodes = args.nodes, seed = args.seed, "simulating");
        let c =
            memberlist_sim::compare::compare(&config.protocol, args.nodes, args.loss, args.seed)
                .map_err(|e| format!("cannot simulate: {e}"))?;
        Some(c)
    } else {
        None
    };
    if args.json {
        let mut value =
            serde_json::to_value(&prediction).map_err(|e| format!("cannot write JSON: {e}"))?;
        if let (Some(c), Some(object)) = (&simulation, value.as_object_mut()) {
            let rows = serde_json::to_value(c).map_err(|e| format!("cannot write JSON: {e}"))?;
            object.insert("simulation".to_owned(), rows);
        }
        let text =
            serde_json::to_string_pretty(&value).map_err(|e| format!("cannot write JSON: {e}"))?;
        print_out(&text);
    } else {
        print_out(format!("{source}: {prediction}").trim_end());
        if let Some(c) = simulation {
            print_out(format!("\n{c}").trim_end());
        }
    }
    Ok(())
}

/// `2`, `2%`, `0.5` or ` 2.5 % ` → a fraction of datagrams in [0, 1).
pub(crate) fn parse_loss_percent(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%').trim();
    let percent: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a percentage (write 2 or 2% for 2 % loss)"))?;
    if !(0.0..100.0).contains(&percent) {
        return Err(format!(
            "{text:?} is out of range: loss is a percentage from 0 up to (not including) 100"
        ));
    }
    Ok(percent / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_is_read_as_percent() {
        assert_eq!(parse_loss_percent("2"), Ok(0.02));
        assert_eq!(parse_loss_percent("2%"), Ok(0.02));
        assert_eq!(parse_loss_percent(" 50 % "), Ok(0.5));
        assert_eq!(parse_loss_percent("0"), Ok(0.0));
        for bad in ["100", "-1", "abc", "NaN", "inf", "", "%"] {
            assert!(parse_loss_percent(bad).is_err(), "{bad:?}");
        }
    }
}
