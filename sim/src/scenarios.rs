//! Scenarios: a cluster is built, a fault or change is applied, and the figures of interest
//! are measured and set next to the performance model's.

use std::time::Duration;

use bytes::Bytes;
use memberlist_core::machine::ProtocolConfig;
use memberlist_core::machine::timing::{push_pull_scale, suspicion_timeout};

use crate::engine::{Observation, Sim, SimConfig, SimError};
use crate::preset::Preset;
use crate::report::{CpuClock, Report};

/// The scenarios the simulator knows (also its command-line names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// One node crashes: time to first suspicion, first death, death seen by all.
    Crash,
    /// One metadata update: time and gossip rounds until everyone has it.
    Disseminate,
    /// N nodes join: time until everyone sees N members and queues drain.
    Join,
    /// Bytes sent per node per second once converged.
    Steady,
    /// Split in halves past the maximum suspicion timeout, heal, watch for re-convergence.
    Partition,
    /// Slow members (inbound messages late by seconds): false deaths, Lifeguard on vs off.
    Lifeguard,
    /// A random fault schedule drawn from the seed, with invariants checked throughout
    /// ([`chaos`](crate::chaos)); `--nodes` and `--loss` are ignored (the seed draws them).
    Chaos,
}

impl Scenario {
    /// Lower-case name, as on the command line.
    pub fn name(self) -> String {
        let value = clap::ValueEnum::to_possible_value(&self);
        value.map(|v| v.get_name().to_owned()).unwrap_or_default()
    }
}

/// Scenario inputs (also the command line's options).
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Cluster size.
    #[arg(long, default_value_t = 100)]
    pub nodes: usize,
    /// Seed of the run.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Datagram loss probability on every link (0..1).
    #[arg(long, default_value_t = 0.0)]
    pub loss: f64,
    /// `join`: every node joins through node 0 (default: a random earlier node).
    #[arg(long)]
    pub via_seed: bool,
    /// Lifeguard extensions on (the default) or plain SWIM.
    #[arg(long = "no-lifeguard", action = clap::ArgAction::SetFalse,
          help = "Turn the Lifeguard extensions off (plain SWIM), for comparison")]
    pub lifeguard: bool,
    /// Start from a converged cluster instead of simulating the join (for large N).
    #[arg(long)]
    pub preconverged: bool,
    /// Follow-up push/pulls after a join (default: the LAN preset's; 0 turns them off).
    #[arg(long)]
    pub join_push_pulls: Option<u32>,
    /// Base wait before each follow-up push/pull of a join; `None` keeps the preset's.
    #[arg(long = "join-push-pull-delay-ms", value_name = "JOIN_PUSH_PULL_DELAY_MS",
          value_parser = millis,
          help = "Base wait before each follow-up push/pull of a join, in milliseconds")]
    pub join_push_pull_delay: Option<Duration>,
    /// Go's timing preset of every node (default: lan); the scenarios' model figures are
    /// the LAN preset's and are only printed for it.
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// Protocol settings of every node (the name is replaced per node); overrides
    /// `preset`. Not on the command line.
    #[arg(skip)]
    pub protocol: Option<ProtocolConfig>,
}

/// Parses `--join-push-pull-delay-ms`.
fn millis(text: &str) -> Result<Duration, std::num::ParseIntError> {
    text.parse().map(Duration::from_millis)
}

impl Options {
    /// `nodes` nodes, `seed`, no loss, joining through random earlier nodes.
    pub fn new(nodes: usize, seed: u64) -> Self {
        Self {
            nodes,
            seed,
            loss: 0.0,
            via_seed: false,
            lifeguard: true,
            preconverged: false,
            join_push_pulls: None,
            join_push_pull_delay: None,
            preset: None,
            protocol: None,
        }
    }
}

/// Runs a scenario; `Err` only when the cluster could not be built.
pub fn run(scenario: Scenario, opts: &Options) -> Result<Report, SimError> {
    let clock = CpuClock::start();
    if scenario == Scenario::Chaos {
        return crate::chaos::run(opts.seed);
    }
    let mut report = Report::new(&scenario.name(), opts.nodes, opts.seed, opts.loss);
    if scenario == Scenario::Lifeguard {
        // Two clusters of its own (Lifeguard on and off); their virtual time is added up.
        let (virtual_time, steps, trace) = lifeguard(opts, &mut report)?;
        report.finish(&clock, virtual_time, steps, trace);
        return Ok(report);
    }
    let mut sim = build(opts)?;
    match scenario {
        Scenario::Crash => crash(&mut sim, opts, &mut report),
        Scenario::Disseminate => disseminate(&mut sim, opts, &mut report),
        Scenario::Join => join(&mut sim, opts, &mut report),
        Scenario::Steady => steady(&mut sim, opts, &mut report),
        Scenario::Partition => partition(&mut sim, opts, &mut report),
        Scenario::Lifeguard | Scenario::Chaos => {}
    }
    if !opts.lifeguard {
        report.note("Lifeguard off (plain SWIM)");
    }
    if let Err(e) = sim.check() {
        report.violations = e.0.lines().map(str::to_owned).collect();
    }
    report.finish(&clock, sim.elapsed(), sim.steps(), sim.trace_hash());
    Ok(report)
}

/// A cluster with the options' protocol settings (LAN by default) and loss, not yet joined.
pub fn build(opts: &Options) -> Result<Sim, SimError> {
    let mut cfg = SimConfig::lan(opts.nodes, opts.seed);
    cfg.net.loss = opts.loss;
    if let Some(protocol) = opts.protocol_config() {
        cfg.protocol = protocol;
    }
    cfg.protocol.lifeguard &= opts.lifeguard;
    if let Some(n) = opts.join_push_pulls {
        cfg.protocol.join_push_pulls = n;
    }
    if let Some(d) = opts.join_push_pull_delay {
        cfg.protocol.join_push_pull_delay = d;
    }
    Sim::new(cfg)
}

/// Generous bound on how long joining and converging may take.
fn join_limit(n: usize) -> Duration {
    Duration::from_secs(60 + (n as u64) / 10)
}

/// Joins everyone (through random earlier nodes) and runs until converged; returns the time
/// it took, if it converged.
pub fn join_and_converge(sim: &mut Sim) -> Option<Duration> {
    sim.join_random_earlier();
    let limit = sim.elapsed() + join_limit(sim.len());
    sim.run_until_true(limit, Duration::from_millis(500), Sim::converged)
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// Piecewise-linear interpolation in log10(n) between (n, value) points.
fn interpolate_log(points: &[(f64, f64)], n: usize) -> f64 {
    let x = (n.max(1) as f64).log10();
    let pts: Vec<(f64, f64)> = points.iter().map(|&(n, v)| (n.log10(), v)).collect();
    let pair = pts
        .windows(2)
        .find(|w| x <= w[1].0)
        .unwrap_or(&pts[pts.len() - 2..]);
    let (x0, y0) = pair[0];
    let (x1, y1) = pair[1];
    let y = y0 + (y1 - y0) * (x - x0) / (x1 - x0);
    (y * 100.0).round() / 100.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn converge_or_note(sim: &mut Sim, opts: &Options, report: &mut Report) -> bool {
    if opts.preconverged {
        sim.bootstrap_converged();
        // Let the nodes' own announcements drain before measuring anything.
        sim.run_for(Duration::from_secs(10));
        report.note("started from a converged cluster (--preconverged)");
        return true;
    }
    match join_and_converge(sim) {
        Some(t) => {
            report.measure("join_converged_s", secs(t));
            true
        }
        None => {
            report.note(format!(
                "cluster did not converge within {:?}",
                join_limit(sim.len())
            ));
            false
        }
    }
}

fn crash(sim: &mut Sim, opts: &Options, report: &mut Report) {
    if !converge_or_note(sim, opts, report) {
        return;
    }
    sim.run_for(Duration::from_secs(5));
    let victim = sim.len() - 1;
    sim.watch(victim);
    let dead_before: u64 = (0..sim.len()).map(|i| sim.stats(i).dead).sum();
    sim.crash(victim);
    let t0 = sim.elapsed();
    let observers = sim.len() - 1;
    let all_dead = |s: &Sim| {
        s.log()
            .iter()
            .filter(|e| e.what == Observation::Dead && e.subject == victim)
            .count()
            >= observers
    };
    let limit = t0 + Duration::from_secs(180);
    let done = sim.run_until_true(limit, Duration::from_millis(250), all_dead);
    let first = |what: Observation| {
        sim.log()
            .iter()
            .filter(|e| e.what == what && e.subject == victim)
            .map(|e| e.at)
            .min()
            .map(|t| secs(t.saturating_sub(t0)))
    };
    // When each observer first declared it dead (the log is in time order).
    let mut observers_seen = vec![false; sim.len()];
    report.series = sim
        .log()
        .iter()
        .filter(|e| e.what == Observation::Dead && e.subject == victim)
        .filter(|e| !std::mem::replace(&mut observers_seen[e.observer], true))
        .map(|e| secs(e.at.saturating_sub(t0)))
        .collect();
    report.series.sort_by(f64::total_cmp);
    report.measure("first_suspicion_s", first(Observation::Suspected));
    report.measure("first_dead_s", first(Observation::Dead));
    report.measure("all_dead_s", done.map(|t| secs(t - t0)));
    let dead_after: u64 = (0..sim.len())
        .filter(|&i| i != victim)
        .map(|i| sim.stats(i).dead)
        .sum();
    let false_deaths = dead_after.saturating_sub(dead_before + observers as u64);
    report.measure("false_deaths", false_deaths);
    if opts.lan_model() {
        // ≈ T until a probe + T (the advisor; SWIM's 1.58 T assumes periods in step).
        report.expect("first_suspicion_s", 2.0);
        report.expect(
            "all_dead_s",
            interpolate_log(
                &[(10.0, 6.2), (100.0, 10.8), (1000.0, 15.2), (10000.0, 19.6)],
                sim.len(),
            ),
        );
    }
    report.note("times are measured from the crash; detection is sampled every 250 ms");
}

fn disseminate(sim: &mut Sim, opts: &Options, report: &mut Report) {
    if !converge_or_note(sim, opts, report) {
        return;
    }
    sim.run_for(Duration::from_secs(5));
    let origin = 0;
    sim.watch(origin);
    let meta = Bytes::from_static(b"version=2");
    let t0 = sim.elapsed();
    sim.update_meta(origin, meta.clone());
    let others = sim.len() - 1;
    let is_update = |e: &&crate::engine::LogEntry| {
        e.what == Observation::Updated
            && e.subject == origin
            && e.observer != origin
            && e.meta == meta
    };
    let seen = |s: &Sim| s.log().iter().filter(is_update).count();
    let limit = t0 + Duration::from_secs(120);
    let done = sim.run_until_true(limit, Duration::from_millis(100), |s| seen(s) >= others);
    let mut delays: Vec<f64> = sim
        .log()
        .iter()
        .filter(is_update)
        .map(|e| (e.at - t0).as_secs_f64())
        .collect();
    delays.sort_by(f64::total_cmp);
    let round = sim.machine(origin).config().gossip_interval.as_secs_f64();
    let rounds = |s: f64| (s / round * 10.0).round() / 10.0;
    let median = percentile(&delays, 0.5);
    let p99 = percentile(&delays, 0.99);
    report.series.clone_from(&delays);
    report.measure("reached", delays.len());
    report.measure("all_reached_s", done.map(|t| secs(t - t0)));
    report.measure("median_s", secs(Duration::from_secs_f64(median.max(0.0))));
    report.measure("median_rounds", rounds(median));
    report.measure("p99_rounds", rounds(p99));
    report.measure("rounds_to_all", delays.last().copied().map(rounds));
    // The model's figure is the rounds until every member has the update.
    if opts.lan_model() {
        report.expect(
            "rounds_to_all",
            interpolate_log(&[(100.0, 6.0), (1000.0, 8.0), (10000.0, 10.0)], sim.len()),
        );
    }
}

fn join(sim: &mut Sim, opts: &Options, report: &mut Report) {
    if opts.via_seed {
        sim.join_all_through(0);
        report.note("all nodes joined through node 0");
    } else {
        sim.join_random_earlier();
        report.note("node i joined through a random earlier node");
    }
    let n = sim.len();
    let limit = join_limit(n) * 5;
    let step = Duration::from_millis(200);
    let all_see = sim.run_until_true(limit, step, |s| {
        (0..n).all(|i| s.machine(i).num_members() == n)
    });
    report.measure("all_see_n_s", all_see.map(secs));
    let limit = sim.elapsed() + Duration::from_secs(600);
    let quiet = sim.run_until_true(limit, Duration::from_secs(1), |s| {
        (0..n).all(|i| s.machine(i).queued_broadcasts() == 0)
    });
    report.measure("queues_empty_s", quiet.map(secs));
    report.measure("converged", sim.converged());
    let follow_ups: u64 = (0..n).map(|i| sim.stats(i).join_follow_ups).sum();
    report.measure("join_follow_up_push_pulls", follow_ups);
}

fn steady(sim: &mut Sim, opts: &Options, report: &mut Report) {
    if !converge_or_note(sim, opts, report) {
        return;
    }
    let n = sim.len();
    let limit = sim.elapsed() + Duration::from_secs(600);
    sim.run_until_true(limit, Duration::from_secs(1), |s| {
        (0..n).all(|i| s.machine(i).queued_broadcasts() == 0)
    });
    // A started cluster does its first push/pulls within one base interval; the window
    // begins after that wave, so it sees the scaled steady rate.
    let base = sim.machine(0).config().push_pull_interval;
    sim.run_for(base + Duration::from_secs(5));
    let udp = |s: &Sim| (0..n).map(|i| s.stats(i).bytes_sent).sum::<u64>();
    let tcp = |s: &Sim| (0..n).map(|i| s.stream_bytes(i)).sum::<u64>();
    let (u0, t0) = (udp(sim), tcp(sim));
    // Whole scaled push/pull intervals, at least 120 s: every node's periodic push/pull
    // (phase-locked by the common start) falls inside the window as often as the steady rate
    // says. (A 120 s window over a 90 s interval saw each node's once, not 1.33 times.)
    let scaled = push_pull_scale(base, n);
    let window = if scaled.is_zero() {
        Duration::from_secs(120)
    } else {
        scaled * 120u32.div_ceil(scaled.as_secs().max(1) as u32)
    };
    let clock = CpuClock::start();
    sim.run_for(window);
    let (cpu, _) = clock.elapsed();
    report.measure(
        "window_node_seconds_per_cpu_second",
        (n as f64 * window.as_secs_f64() / cpu.as_secs_f64().max(1e-9)).round(),
    );
    report.expect("window_node_seconds_per_cpu_second", 200_000);
    let per_node = |bytes: u64| {
        let v = bytes as f64 / n as f64 / window.as_secs_f64() / 1024.0;
        (v * 1000.0).round() / 1000.0
    };
    let (udp_rate, tcp_rate) = (per_node(udp(sim) - u0), per_node(tcp(sim) - t0));
    report.measure("window_s", window.as_secs());
    report.measure("udp_kib_per_node_s", udp_rate);
    report.measure("stream_kib_per_node_s", tcp_rate);
    report.measure(
        "kib_per_node_s",
        ((udp_rate + tcp_rate) * 1000.0).round() / 1000.0,
    );
    if opts.lan_model() {
        report.expect(
            "kib_per_node_s",
            interpolate_log(&[(100.0, 0.35), (1000.0, 1.0), (10000.0, 5.3)], n),
        );
    }
    report.note("stream bytes are push/pull requests dialed plus replies written");
}

fn partition(sim: &mut Sim, opts: &Options, report: &mut Report) {
    if !converge_or_note(sim, opts, report) {
        return;
    }
    let n = sim.len();
    let half = n / 2;
    let cfg = sim.machine(0).config().clone();
    let min = suspicion_timeout(cfg.suspicion_mult, n, cfg.probe_interval);
    let max = min * cfg.suspicion_max_timeout_mult;
    sim.net_mut().partition(|i| u32::from(i >= half));
    let t0 = sim.elapsed();
    sim.run_for(max + Duration::from_secs(30));
    let sides_split = (0..n).all(|i| {
        let side = if i < half { half } else { n - half };
        sim.machine(i).num_members() == side
    });
    report.measure("partition_s", secs(sim.elapsed() - t0));
    report.measure("sides_split_cleanly", sides_split);
    sim.net_mut().heal();
    let t1 = sim.elapsed();
    let bound = Duration::from_secs(300);
    let healed = sim.run_until_true(t1 + bound, Duration::from_secs(1), Sim::converged);
    report.measure("reconverged", healed.is_some());
    report.measure("reconverge_s", healed.map(|t| secs(t - t1)));
    if healed.is_none() {
        let sizes: Vec<usize> = (0..n).map(|i| sim.machine(i).num_members()).collect();
        let (lo, hi) = (
            sizes.iter().min().copied().unwrap_or(0),
            sizes.iter().max().copied().unwrap_or(0),
        );
        report.measure("member_counts_min_max", vec![lo, hi]);
        report.note(format!(
            "no re-merge within {}s of healing: like Go memberlist, the machine does not contact dead members by itself",
            bound.as_secs()
        ));
    }
}

/// How many members are made slow in the `lifeguard` scenario: 1 per 16, at least 1.
pub fn slow_members(n: usize) -> usize {
    (n / 16).max(1)
}

/// Delay applied to every datagram a slow member receives (as under CPU starvation). Longer
/// than the minimum suspicion timeout at 100 nodes (8 s), so that without Lifeguard a slow
/// member's own suspicions mature before the refutations reach it.
pub const SLOW_DELAY: Duration = Duration::from_secs(10);

/// Simulated time the slow members run for in the `lifeguard` scenario.
pub const LIFEGUARD_WINDOW: Duration = Duration::from_secs(300);

/// False death declarations in one run (nobody crashed), split by whom they were about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FalseDeaths {
    /// Declarations about healthy (not slow) members.
    pub healthy: u64,
    /// Declarations about the slow members themselves.
    pub slow: u64,
    /// Virtual time the run simulated (join included).
    pub virtual_time: Duration,
    /// Simulation steps taken.
    pub steps: u64,
    /// The run's trace hash.
    pub trace: u64,
}

/// Runs one cluster with the given Lifeguard setting and slow members, and counts every
/// observer's death declarations; `None` when the cluster did not converge first.
pub fn false_deaths(opts: &Options, lifeguard: bool) -> Result<Option<FalseDeaths>, SimError> {
    let mut o = opts.clone();
    o.lifeguard = lifeguard;
    let mut sim = build(&o)?;
    if join_and_converge(&mut sim).is_none() {
        return Ok(None);
    }
    let n = sim.len();
    let slow: Vec<usize> = (0..slow_members(n))
        .map(|i| i * n / slow_members(n))
        .collect();
    for i in 0..n {
        sim.watch(i);
    }
    let start = sim.log().len();
    for &i in &slow {
        sim.net_mut().set_slow(i, SLOW_DELAY);
    }
    sim.run_for(LIFEGUARD_WINDOW);
    let mut counts = FalseDeaths {
        healthy: 0,
        slow: 0,
        virtual_time: sim.elapsed(),
        steps: sim.steps(),
        trace: sim.trace_hash(),
    };
    for e in &sim.log()[start..] {
        if e.what == Observation::Dead {
            if slow.contains(&e.subject) {
                counts.slow += 1;
            } else {
                counts.healthy += 1;
            }
        }
    }
    Ok(Some(counts))
}

fn lifeguard(opts: &Options, report: &mut Report) -> Result<(Duration, u64, u64), SimError> {
    let n = opts.nodes;
    report.measure("slow_members", slow_members(n) as u64);
    report.measure("slow_delay_s", SLOW_DELAY.as_secs_f64());
    report.measure("window_s", LIFEGUARD_WINDOW.as_secs());
    let on = false_deaths(opts, true)?;
    let off = false_deaths(opts, false)?;
    report.measure("false_deaths_healthy_lifeguard_on", on.map(|c| c.healthy));
    report.measure("false_deaths_healthy_lifeguard_off", off.map(|c| c.healthy));
    report.measure("false_deaths_slow_lifeguard_on", on.map(|c| c.slow));
    report.measure("false_deaths_slow_lifeguard_off", off.map(|c| c.slow));
    if let (Some(on), Some(off)) = (on, off) {
        let ratio = off.healthy as f64 / (on.healthy.max(1)) as f64;
        report.measure("reduction_factor_healthy", (ratio * 10.0).round() / 10.0);
    }
    if opts.lan_model() {
        report.expect("reduction_factor_healthy", 50.0);
    }
    report.note("false deaths = death declarations by any observer (nobody crashed)");
    report.note("reduction_factor_healthy divides by max(1, on)");
    let runs = [on, off];
    let virtual_time = runs.iter().flatten().map(|c| c.virtual_time).sum();
    let steps = runs.iter().flatten().map(|c| c.steps).sum();
    let trace = runs
        .iter()
        .flatten()
        .fold(0u64, |h, c| h.rotate_left(17) ^ c.trace);
    Ok((virtual_time, steps, trace))
}
