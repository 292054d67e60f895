//! `memberlist config tune --nodes N [--detect-within D] [--disseminate-within D]
//! [--max-bandwidth B] [--loss P] [--out FILE]`: searches the timing knobs for the cheapest
//! configuration that meets the targets (`memberlist::advisor::tune`), runs it in the
//! simulator, and writes it as a config file that `memberlist agent --config` and
//! `ConfigFile` load.

use std::path::PathBuf;
use std::time::Duration;

use memberlist::advisor::{Goal, Targets, Tuned, tune};
use memberlist::runtime::{Config, ConfigFile};
use memberlist_sim::compare::{Comparison, compare};

use crate::agent::Preset;
use crate::config_cli::parse_loss_percent;
use crate::members::print_out;
use crate::settings::read_config_file;

/// Options of `memberlist config tune`.
#[derive(Debug, clap::Args)]
pub(crate) struct TuneArgs {
    /// Cluster size (at least 2).
    #[arg(long, value_name = "N")]
    nodes: usize,
    /// A crash is declared dead by every member within this time (e.g. `2s`).
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    detect_within: Option<Duration>,
    /// An update reaches every node within this time [default: the base's].
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    disseminate_within: Option<Duration>,
    /// A node that gossip missed catches up by push/pull within this time (the scaled
    /// push/pull interval) [default: the base's].
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    catch_up_within: Option<Duration>,
    /// Bytes per second per node in a quiet cluster: `10240`, `10KiB`, `10 KiB/s`, `2MB/s`.
    /// With a budget the tuner looks for the fastest detection that fits it.
    #[arg(long, value_name = "B", value_parser = parse_bandwidth)]
    max_bandwidth: Option<f64>,
    /// Datagram loss in percent, each way: `2`, `2%` or `0.5`.
    #[arg(long, value_name = "P", default_value = "0", value_parser = parse_loss_percent)]
    loss: f64,
    /// False deaths from loss alone allowed per cluster-hour (the advisor's upper bound).
    #[arg(long, value_name = "X", default_value_t = 0.001)]
    max_false_deaths: f64,
    /// The shortest ProbeTimeout to consider: it must exceed your network's round trip.
    #[arg(long, value_name = "D", default_value = "100ms", value_parser = parse_duration)]
    min_probe_timeout: Duration,
    /// The configuration to start from and keep for everything not tuned [default: lan].
    #[arg(long, value_enum, conflicts_with = "config")]
    preset: Option<Preset>,
    /// A config file to start from (its other keys are kept in the output).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Write the tuned configuration here (TOML) instead of printing it.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Also draw detection time and bandwidth against cluster size, base and tuned side by
    /// side, into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// Do not run the tuned configuration in the simulator.
    #[arg(long)]
    no_verify: bool,
    /// Seed of the first simulated run.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
}

/// The fields the tuner sets, their Go names, and a remark for the operator.
const KNOBS: [(&str, &str, &str); 8] = [
    ("probe_interval", "ProbeInterval", ""),
    (
        "probe_timeout",
        "ProbeTimeout",
        "must exceed the network's round trip",
    ),
    ("suspicion_mult", "SuspicionMult", ""),
    ("indirect_checks", "IndirectChecks", ""),
    ("gossip_interval", "GossipInterval", ""),
    ("gossip_nodes", "GossipNodes", ""),
    ("retransmit_mult", "RetransmitMult", ""),
    ("push_pull_interval", "PushPullInterval", ""),
];

/// Runs `memberlist config tune`.
pub(crate) fn run(args: TuneArgs) -> Result<(), String> {
    let (mut file, source) = match (&args.config, args.preset) {
        (Some(path), _) => (
            read_config_file(path)?,
            format!("config file {}", path.display()),
        ),
        (None, preset) => {
            let preset = preset.unwrap_or(Preset::Lan);
            let mut file = ConfigFile::default();
            file.preset = Some(preset.into());
            (file, format!("preset {}", preset_name(preset)))
        }
    };
    let name = std::mem::take(&mut file.name);
    let base = base_config(&file)?;
    let targets = Targets {
        detect_within: args.detect_within,
        disseminate_within: args.disseminate_within,
        catch_up_within: args.catch_up_within,
        max_bandwidth: args.max_bandwidth,
        max_false_deaths: args.max_false_deaths,
        min_probe_timeout: args.min_probe_timeout,
        ..Targets::default()
    };
    let tuned = tune(&base.protocol, args.nodes, args.loss, &targets)
        .map_err(|e| format!("cannot tune: {e}"))?;
    print_out(&summary(&args, &source, &base, &tuned));
    if let Some(path) = &args.plot {
        let lines = [
            crate::plot::Line {
                label: source.clone(),
                config: &base.protocol,
            },
            crate::plot::Line {
                label: "tuned".to_owned(),
                config: &tuned.config,
            },
        ];
        crate::plot::plot(path, &lines, args.nodes, args.loss)?;
        print_out(&format!("\ndrew {}", path.display()));
    }
    if !args.no_verify {
        tracing::info!(nodes = args.nodes, seed = args.seed, "simulating");
        let c = compare(&tuned.config, args.nodes, args.loss, args.seed)
            .map_err(|e| format!("cannot simulate: {e}"))?;
        print_out(verification(&tuned, &c).trim_end());
    }
    print_out(MIXED);
    file.name = name;
    let toml = tuned_file(file, &tuned, &source, &args)?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, &toml)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            print_out(&format!("\nwrote {}", path.display()));
        }
        None => print_out(&format!("\n{toml}")),
    }
    if tuned.feasible {
        Ok(())
    } else {
        Err("no configuration meets every target; the nearest one is above".into())
    }
}

const MIXED: &str = "\nMixed clusters: none of these knobs travels on the wire, so nodes with \
different values still work together, Go nodes included. Each node times its own probes and \
suspicions, though: a crash is declared as fast as the fastest member decides, and false \
deaths are as likely as the most aggressive member makes them. Set the same values on every \
node (Go: Config.ProbeInterval, ProbeTimeout, SuspicionMult, IndirectChecks, GossipInterval, \
GossipNodes, RetransmitMult, PushPullInterval) for the figures above to hold.";

fn preset_name(p: Preset) -> &'static str {
    match p {
        Preset::Lan => "lan",
        Preset::Wan => "wan",
        Preset::Local => "local",
    }
}

/// The configuration the file describes (named, so that it validates).
fn base_config(file: &ConfigFile) -> Result<Config, String> {
    let mut named = file.clone();
    named.name = "tune".into();
    named
        .into_config()
        .map_err(|e| format!("base configuration: {e}"))
}

fn summary(args: &TuneArgs, source: &str, base: &Config, t: &Tuned) -> String {
    let p = &t.prediction;
    let mut out = format!(
        "tuned for {} nodes, {}% datagram loss, from {source} ({} configurations predicted)\n",
        args.nodes,
        args.loss * 100.0,
        t.searched
    );
    out.push_str(if t.feasible {
        "every target is met:\n"
    } else {
        "NOT every target can be met; the nearest configuration gives:\n"
    });
    for g in &t.goals {
        out.push_str(&goal_line(g));
    }
    out.push_str("\nchanged from the base:\n");
    let (b, c) = (&base.protocol, &t.config);
    let mut changed = 0;
    for (key, go, remark) in KNOBS {
        let (from, to) = (knob(b, key), knob(c, key));
        if from != to {
            changed += 1;
            let remark = if remark.is_empty() {
                String::new()
            } else {
                format!("; {remark}")
            };
            out.push_str(&format!(
                "  {key:<20} {from:>8} → {to:<8} (Go: {go}{remark})\n"
            ));
        }
    }
    if changed == 0 {
        out.push_str("  nothing: the base already is the cheapest that meets the targets\n");
    }
    out.push_str(&format!(
        "\npredicted: dead everywhere {:.2} s after a crash ({:.2} s if no other member \
         confirms), updates everywhere in {:.2} s, {:.0} B/s per node in a quiet cluster, \
         up to {:.0} B/s of gossip when every round is full; `memberlist config explain \
         --config FILE --nodes {}` shows every figure with its formula",
        p.time_to_dead.value.low.as_secs_f64(),
        p.time_to_dead.value.high.as_secs_f64(),
        p.dissemination_time.value.as_secs_f64(),
        p.bandwidth.quiet_total.value,
        p.bandwidth.gossip_ceiling.value,
        args.nodes
    ));
    out
}

fn goal_line(g: &Goal) -> String {
    let verdict = if g.met() { "ok" } else { "NOT MET" };
    let whence = if g.from_base { " (the base's)" } else { "" };
    format!(
        "  {:<20} {:>12} {:>12}  {verdict}{whence}\n",
        g.what,
        format!("≤ {}", value(g.target, g.unit)),
        value(g.predicted, g.unit)
    )
}

fn value(v: f64, unit: &str) -> String {
    match unit {
        "s" => format!("{v:.2} s"),
        "B/s" => format!("{v:.0} B/s"),
        "fraction" => format!("{:.2} %", v * 100.0),
        _ if v == 0.0 => "0/h".to_owned(),
        _ => format!("{v:.1e}/h"),
    }
}

/// The knob's value as the file writes it.
fn knob(c: &memberlist::machine::ProtocolConfig, key: &str) -> String {
    let ms = |d: Duration| humantime::format_duration(d).to_string();
    match key {
        "probe_interval" => ms(c.probe_interval),
        "probe_timeout" => ms(c.probe_timeout),
        "suspicion_mult" => c.suspicion_mult.to_string(),
        "indirect_checks" => c.indirect_checks.to_string(),
        "gossip_interval" => ms(c.gossip_interval),
        "gossip_nodes" => c.gossip_nodes.to_string(),
        "retransmit_mult" => c.retransmit_mult.to_string(),
        _ => ms(c.push_pull_interval),
    }
}

/// The simulator's figures for the tuned configuration, and each time and bandwidth target
/// against what was measured.
fn verification(t: &Tuned, c: &Comparison) -> String {
    let mut out = format!("\nverified in the simulator:\n{c}");
    if out.ends_with('\n') {
        out.pop();
    }
    out.push_str("\n\ntargets against the simulator:\n");
    let measured = |figure: &str| {
        c.rows
            .iter()
            .find(|r| r.figure == figure)
            .and_then(|r| r.measured)
    };
    for g in &t.goals {
        let figure = match g.what {
            "detect within" => "dead at all",
            "disseminate within" => "seconds to all",
            "bandwidth" => "bandwidth total",
            _ => continue,
        };
        let Some(m) = measured(figure) else {
            out.push_str(&format!("  {:<20} not measured\n", g.what));
            continue;
        };
        let verdict = if m <= g.target {
            "met".to_owned()
        } else {
            format!(
                "over by {:.0} % (the model's figures are expected values, ±20 %)",
                (m / g.target - 1.0) * 100.0
            )
        };
        out.push_str(&format!(
            "  {:<20} {:>12} measured {:>10}  {verdict}\n",
            g.what,
            format!("≤ {}", value(g.target, g.unit)),
            value(m, g.unit)
        ));
    }
    out
}

/// The base file with the tuned knobs set, as TOML with a header saying where it came from.
fn tuned_file(
    mut file: ConfigFile,
    t: &Tuned,
    source: &str,
    args: &TuneArgs,
) -> Result<String, String> {
    let c = &t.config;
    file.probe_interval = Some(c.probe_interval);
    file.probe_timeout = Some(c.probe_timeout);
    file.suspicion_mult = Some(c.suspicion_mult);
    file.indirect_checks = Some(c.indirect_checks);
    file.gossip_interval = Some(c.gossip_interval);
    file.gossip_nodes = Some(c.gossip_nodes);
    file.retransmit_mult = Some(c.retransmit_mult);
    file.push_pull_interval = Some(c.push_pull_interval);
    let body = toml::to_string(&file).map_err(|e| format!("cannot write TOML: {e}"))?;
    // An empty name is left for `--name` to fill.
    let body: String = body
        .lines()
        .filter(|l| *l != "name = \"\"")
        .map(|l| format!("{l}\n"))
        .collect();
    let p = &t.prediction;
    Ok(format!(
        "# Tuned by `memberlist config tune` from {source} for {} nodes at {}% loss{}.\n\
         # Predicted: dead everywhere {:.2} s after a crash, updates everywhere in {:.2} s,\n\
         # {:.0} B/s per node in a quiet cluster. Set the same values on every node.\n{body}",
        args.nodes,
        args.loss * 100.0,
        if t.feasible {
            ""
        } else {
            " (NOT every target met)"
        },
        p.time_to_dead.value.low.as_secs_f64(),
        p.dissemination_time.value.as_secs_f64(),
        p.bandwidth.quiet_total.value,
    ))
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration like 2s or 500ms: {e}"))?;
    if d.is_zero() {
        return Err(format!("{text:?}: a duration target must be above zero"));
    }
    Ok(d)
}

/// `10240`, `10KiB`, `10 KiB/s`, `2MB/s`, `1.5 kB` → bytes per second.
fn parse_bandwidth(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let t = t.strip_suffix("/s").unwrap_or(t).trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a bandwidth like 10240, 10KiB or 2MB/s"))?;
    let scale = match unit.trim() {
        "" | "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "kB" | "KB" => 1000.0,
        "MB" => 1_000_000.0,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (B, KiB, MiB, kB or MB, optionally /s)"
            ));
        }
    };
    let v = number * scale;
    if !(v.is_finite() && v > 0.0) {
        return Err(format!("{text:?}: a bandwidth must be above zero"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bandwidths_read_with_units() {
        assert_eq!(parse_bandwidth("10240"), Ok(10240.0));
        assert_eq!(parse_bandwidth("10KiB"), Ok(10240.0));
        assert_eq!(parse_bandwidth(" 10 KiB/s "), Ok(10240.0));
        assert_eq!(parse_bandwidth("2MB/s"), Ok(2e6));
        assert_eq!(parse_bandwidth("1.5kB"), Ok(1500.0));
        for bad in ["", "KiB", "10 parsecs", "0", "-5", "1e400"] {
            assert!(parse_bandwidth(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_must_be_positive() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
