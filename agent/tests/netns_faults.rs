//! Faults on real hosts: five `memberlist agent` processes, each in its own network namespace
//! with its own address, linked by a bridge (see `netns_support`), with Go's LAN preset
//! (probe 1 s, probe timeout 500 ms, suspicion multiplier 4 — 4 s to 24 s for five nodes —,
//! push/pull every 30 s, reconnect pings every 1 s, gossip to the dead for 30 s).
//!
//! - a partition longer than the longest suspicion timeout heals by itself within seconds
//!   (`MEMBERLIST_HEAL_PRESET=lan|local|wan` and `MEMBERLIST_HEAL_RUNS=N` choose the preset
//!   and the number of runs, for the figures in docs/fault-tests.md);
//! - a node killed and restarted under its name at a new address is seen there (with the
//!   LAN default, and with `dead_node_reclaim_time` set);
//! - a node frozen (SIGSTOP) for 20 s gets no healthy node declared dead, and comes back;
//! - 5 % of the datagrams lost on every link (the agent's hidden `--test-drop-rate`: this
//!   kernel has no netem) for 10 minutes without a false death (`MEMBERLIST_LOSS_TEST_SECS`
//!   and `MEMBERLIST_LOSS_TEST_RATE` change the duration and the rate, for local runs).
//!
//! They need root and iproute2, so they are `#[ignore]`d: run them with
//! `cargo test -p memberlist-agent --test netns_faults -- --include-ignored --nocapture`.
//! Each prints its figures on lines starting with `RESULT`. False suspicions are counted from
//! the agents' logs (the probe's debug line "probe failed; suspecting") and from `/members`
//! polled during the test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod agent_support;
mod netns_support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use agent_support::wait_until;
use netns_support::{Event, Kind, Lab, NsAgent};

/// Nodes per test.
const N: usize = 5;
/// The LAN preset's longest suspicion timeout for five nodes: 6 × 4 × max(1, log10 5) × 1 s.
const MAX_SUSPICION_TIMEOUT: Duration = Duration::from_secs(24);

fn name(i: usize) -> String {
    format!("n{i}")
}

/// Starts node `i` bound to `bind` with `preset`, joining every other node's first address.
fn start(lab: &Lab, i: usize, bind: SocketAddr, preset: &str, extra: &[&str]) -> NsAgent {
    let joins: Vec<String> = (0..N)
        .filter(|&j| j != i)
        .map(|j| lab.gossip_addr(j).to_string())
        .collect();
    let mut args = vec!["--preset", preset];
    for j in &joins {
        args.extend(["--join", j]);
    }
    args.extend_from_slice(extra);
    lab.spawn(i, &name(i), bind, &args)
}

/// Five agents with `preset`, one per namespace, converged: each lists all five alive.
fn cluster(lab: &Lab, preset: &str, extra: &[&str]) -> Vec<NsAgent> {
    let agents: Vec<NsAgent> = (0..N)
        .map(|i| start(lab, i, lab.gossip_addr(i), preset, extra))
        .collect();
    let all: Vec<usize> = (0..N).collect();
    assert!(
        wait_until(Duration::from_secs(40), || sees_alive(&agents, &all, &all)),
        "the cluster did not converge in 40 s; views: {:?}\nlogs of n0:\n{}",
        agents.iter().map(NsAgent::view).collect::<Vec<_>>(),
        agents[0].logs()
    );
    agents
}

/// Whether every agent in `observers` lists every node in `nodes` alive.
fn sees_alive(agents: &[NsAgent], observers: &[usize], nodes: &[usize]) -> bool {
    observers.iter().all(|&o| {
        agents[o].view().is_some_and(|view| {
            nodes.iter().all(|&n| {
                view.iter()
                    .any(|(name_, state, _)| *name_ == name(n) && state == "alive")
            })
        })
    })
}

/// Whether no agent in `observers` lists any node in `nodes` alive.
fn sees_none_alive(agents: &[NsAgent], observers: &[usize], nodes: &[usize]) -> bool {
    observers.iter().all(|&o| {
        agents[o].view().is_some_and(|view| {
            !view
                .iter()
                .any(|(n, state, _)| nodes.iter().any(|&x| *n == name(x)) && state == "alive")
        })
    })
}

/// Every agent's log events between `from` and `to`.
fn events(agents: &[NsAgent], from: Instant, to: Instant) -> Vec<Event> {
    agents
        .iter()
        .flat_map(NsAgent::events)
        .filter(|e| e.at >= from && e.at <= to)
        .collect()
}

/// Events of `kind` about one of `nodes`.
fn about<'a>(events: &'a [Event], kind: Kind, nodes: &[usize]) -> Vec<&'a Event> {
    let names: Vec<String> = nodes.iter().map(|&i| name(i)).collect();
    events
        .iter()
        .filter(|e| e.kind == kind && names.contains(&e.about))
        .collect()
}

/// The `(observer, member, state)` triples seen in `/members` with a state other than alive,
/// over polls of some observers' views about some members.
struct Watch {
    not_alive: BTreeSet<(String, String, String)>,
    polls: u64,
}

impl Watch {
    fn new() -> Self {
        Self {
            not_alive: BTreeSet::new(),
            polls: 0,
        }
    }

    fn poll(&mut self, agents: &[NsAgent], observers: &[usize], nodes: &[usize]) {
        self.polls += 1;
        for &o in observers {
            let Some(view) = agents[o].view() else {
                continue;
            };
            for (n, state, _) in view {
                if state != "alive" && nodes.iter().any(|&x| n == name(x)) {
                    self.not_alive.insert((name(o), n, state));
                }
            }
        }
    }

    /// Polls every `every` until `until`.
    fn watch(
        &mut self,
        agents: &[NsAgent],
        observers: &[usize],
        nodes: &[usize],
        until: Instant,
        every: Duration,
    ) {
        while Instant::now() < until {
            self.poll(agents, observers, nodes);
            std::thread::sleep(every.min(until.saturating_duration_since(Instant::now())));
        }
    }

    fn seen(&self, state: &str) -> Vec<&(String, String, String)> {
        self.not_alive
            .iter()
            .filter(|(_, _, s)| s == state)
            .collect()
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64())
}

/// What a partition test needs of a preset: the longest suspicion timeout for five nodes
/// (6 × suspicion multiplier × probe interval) and the heal bounds (median, worst).
fn heal_preset(preset: &str) -> (Duration, Duration, Duration) {
    let s = Duration::from_secs;
    match preset {
        "lan" => (MAX_SUSPICION_TIMEOUT, s(5), s(10)),
        "local" => (s(18), s(5), s(10)),
        "wan" => (s(180), s(15), s(30)),
        other => panic!("MEMBERLIST_HEAL_PRESET: unknown preset {other}"),
    }
}

#[test]
#[ignore = "needs root (network namespaces); run with --include-ignored"]
fn netns_partition_longer_than_the_suspicion_timeout_heals_by_itself() {
    let preset = std::env::var("MEMBERLIST_HEAL_PRESET").unwrap_or_else(|_| "lan".into());
    let runs: usize = std::env::var("MEMBERLIST_HEAL_RUNS")
        .map_or(1, |v| v.parse().expect("MEMBERLIST_HEAL_RUNS: a number"));
    let (_, median_bound, worst_bound) = heal_preset(&preset);
    let mut times: Vec<Duration> = (1..=runs)
        .map(|run| partition_and_heal(&preset, run))
        .collect();
    times.sort();
    let median = times[times.len() / 2];
    let worst = times[times.len() - 1];
    eprintln!(
        "RESULT partition heal, {preset} preset, {runs} runs: median {} s, worst {} s \
         (bounds {} s / {} s); all: {}",
        secs(median),
        secs(worst),
        secs(median_bound),
        secs(worst_bound),
        times
            .iter()
            .map(|&t| secs(t))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert!(worst <= worst_bound, "worst heal {} s", secs(worst));
    assert!(median <= median_bound, "median heal {} s", secs(median));
}

/// One run: five agents, split 3|2 past the longest suspicion timeout, then healed; returns
/// how long after the links came back every node listed every node alive.
fn partition_and_heal(preset: &str, run: usize) -> Duration {
    let (max_suspicion, _, worst_bound) = heal_preset(preset);
    let lab = Lab::new(N);
    let agents = cluster(&lab, preset, &[]);
    let (big, small) = ([0, 1, 2], [3, 4]);

    let split = Instant::now();
    lab.partition(&small);
    assert!(
        wait_until(max_suspicion * 2, || sees_none_alive(&agents, &big, &small)
            && sees_none_alive(&agents, &small, &big)),
        "the sides did not see each other fail: {:?}",
        agents.iter().map(NsAgent::view).collect::<Vec<_>>()
    );
    let detected = split.elapsed();
    // Hold the partition well past the longest suspicion timeout; watch each side's view of
    // its own side meanwhile.
    let hold = max_suspicion + Duration::from_secs(16);
    let mut watch = Watch::new();
    let until = split + hold;
    while Instant::now() < until {
        watch.poll(&agents, &big, &big);
        watch.poll(&agents, &small, &small);
        std::thread::sleep(Duration::from_millis(500));
    }
    let healing = Instant::now();
    lab.heal();
    let all: Vec<usize> = (0..N).collect();
    let healed = wait_until(Duration::from_secs(120), || sees_alive(&agents, &all, &all));
    let heal_time = healing.elapsed();
    let done = Instant::now();

    let during = events(&agents, split, healing);
    let same_side = |e: &&Event| {
        let side = |n: &str| small.iter().any(|&i| name(i) == n);
        side(&e.observer) == side(&e.about)
    };
    let false_suspicions = about(&during, Kind::Suspect, &all)
        .into_iter()
        .filter(same_side)
        .count();
    let false_deaths = about(&during, Kind::Dead, &all)
        .into_iter()
        .filter(same_side)
        .count();
    let after = events(&agents, healing, done);
    eprintln!(
        "RESULT partition run {run}: 5 nodes ({preset} preset), split 3|2 for {} s (max \
         suspicion timeout {} s); failures seen on both sides after {} s; healed (all see all \
         alive, no rejoin) in {} s; same-side false suspicions {false_suspicions}, false \
         deaths {false_deaths}, same-side non-alive states polled {}; during the merge: {} \
         suspicions, {} refutations",
        secs(hold),
        secs(max_suspicion),
        secs(detected),
        if healed {
            secs(heal_time)
        } else {
            "NOT within 120".into()
        },
        watch.not_alive.len(),
        about(&after, Kind::Suspect, &all).len(),
        about(&after, Kind::Refute, &all).len(),
    );
    assert!(
        healed,
        "not healed 120 s after the links came back: {:?}\nlogs of n0:\n{}",
        agents.iter().map(NsAgent::view).collect::<Vec<_>>(),
        agents[0].logs()
    );
    assert!(
        heal_time <= worst_bound,
        "run {run}: healing took {} s, more than {} s",
        secs(heal_time),
        secs(worst_bound)
    );
    assert_eq!(false_deaths, 0, "a node was declared dead by its own side");
    assert!(watch.seen("dead").is_empty(), "{:?}", watch.not_alive);
    heal_time
}

/// Kills n4 with SIGKILL, restarts it at once under its name at a second address of its
/// namespace, and checks that every other node lists it alive there. `config` is a config
/// file given to every node (over the LAN preset), `what` names the variant in the result.
fn restart_at_a_new_address(what: &str, config: Option<&str>) {
    let extra: Vec<&str> = config.map(|c| vec!["--config", c]).unwrap_or_default();
    let lab = Lab::new(N);
    let mut agents = cluster(&lab, "lan", &extra);
    let others = [0, 1, 2, 3];
    let old = agents[4].bind;

    let killed = Instant::now();
    agents[4].kill();
    lab.add_alt_ip(4);
    let new = SocketAddr::from((lab.alt_ip(4), netns_support::GOSSIP_PORT));
    agents[4] = start(&lab, 4, new, "lan", &extra);
    let restarted = killed.elapsed();
    let wanted = new.to_string();
    let seen_there = wait_until(Duration::from_secs(180), || {
        others.iter().all(|&o| {
            agents[o].view().is_some_and(|view| {
                view.iter()
                    .any(|(n, state, addr)| n == "n4" && state == "alive" && *addr == wanted)
            })
        })
    });
    let took = killed.elapsed();
    let all: Vec<usize> = (0..N).collect();
    let full = wait_until(Duration::from_secs(30), || sees_alive(&agents, &all, &all));
    let log = events(&agents, killed, Instant::now());
    let conflicts = log.iter().filter(|e| e.kind == Kind::Conflict).count();
    let healthy_dead = about(&log, Kind::Dead, &others).len();
    let healthy_suspected = about(&log, Kind::Suspect, &others).len();
    eprintln!(
        "RESULT restart ({what}): 5 nodes, n4 SIGKILLed at {old} and restarted {} s later \
         at {new}; all others list it alive at {new} {} s after the kill; address conflicts \
         logged {conflicts}; n4 declared dead by {} observers; healthy nodes: {healthy_dead} \
         deaths, {healthy_suspected} suspicions",
        secs(restarted),
        if seen_there {
            secs(took)
        } else {
            "NOT within 180".into()
        },
        about(&log, Kind::Dead, &[4]).len(),
    );
    assert!(
        seen_there,
        "n4 not seen alive at {new}: {:?}\nlogs of n0:\n{}",
        agents.iter().map(NsAgent::view).collect::<Vec<_>>(),
        agents[0].logs()
    );
    assert!(full, "no full view after the restart");
    assert_eq!(healthy_dead, 0, "a healthy node was declared dead");
}

#[test]
#[ignore = "needs root (network namespaces); run with --include-ignored"]
fn netns_node_killed_and_restarted_at_a_new_address_is_seen_there() {
    // Go's LAN default: DeadNodeReclaimTime 0, so the new address is only taken once the
    // dead entry at the old one is reaped (GossipToTheDeadTime, 30 s).
    restart_at_a_new_address("LAN preset", None);
}

#[test]
#[ignore = "needs root (network namespaces); run with --include-ignored"]
fn netns_restarted_node_is_reclaimed_at_its_new_address_with_dead_node_reclaim_time() {
    let dir = agent_support::TempDir::new("netns-reclaim");
    let file = dir.file("reclaim.toml");
    std::fs::write(&file, "dead_node_reclaim_time = \"1s\"\n").unwrap();
    restart_at_a_new_address("LAN preset + dead_node_reclaim_time 1 s", Some(&file));
}

#[test]
#[ignore = "needs root (network namespaces); run with --include-ignored"]
fn netns_frozen_node_gets_no_healthy_node_declared_dead() {
    let lab = Lab::new(N);
    let agents = cluster(&lab, "lan", &[]);
    let healthy = [0, 1, 2, 3];
    let all: Vec<usize> = (0..N).collect();
    std::thread::sleep(Duration::from_secs(5));

    let stopped = Instant::now();
    agents[4].signal("STOP");
    let mut watch = Watch::new();
    let freeze = Duration::from_secs(20);
    watch.watch(
        &agents,
        &healthy,
        &healthy,
        stopped + freeze,
        Duration::from_millis(300),
    );
    let frozen_seen_dead = healthy
        .iter()
        .filter(|&&o| agents[o].state_of("n4").as_deref() == Some("dead"))
        .count();
    let resumed = Instant::now();
    agents[4].signal("CONT");
    // Watch every view, the resumed node's included, while it catches up.
    let mut back_after = None;
    let until = resumed + Duration::from_secs(40);
    while Instant::now() < until {
        watch.poll(&agents, &all, &healthy);
        if back_after.is_none() && sees_alive(&agents, &all, &all) {
            back_after = Some(resumed.elapsed());
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let log = events(&agents, stopped, Instant::now());
    let frozen_degraded = agents[4].metric("memberlist_degraded_probe_total");
    let frozen_health = agents[4].metric("memberlist_health_score");
    let by_frozen = about(&log, Kind::Suspect, &healthy)
        .into_iter()
        .filter(|e| e.observer == "n4")
        .count();
    let by_healthy = about(&log, Kind::Suspect, &healthy)
        .into_iter()
        .filter(|e| e.observer != "n4")
        .count();
    let healthy_dead = about(&log, Kind::Dead, &healthy);
    let frozen_suspected = about(&log, Kind::Suspect, &[4]).len();
    eprintln!(
        "RESULT freeze: 5 nodes (LAN preset), n4 SIGSTOPped for {} s; n4 seen dead by \
         {frozen_seen_dead}/4 at resume (suspicions of n4 raised: {frozen_suspected}); all \
         alive everywhere {} after SIGCONT; false suspicions of healthy nodes: {by_frozen} \
         raised by the frozen node, {by_healthy} by healthy nodes; healthy (observer, \
         member) pairs seen non-alive in /members: {} \
         ({:?}); false deaths: {}; n4's degraded probes {frozen_degraded:?}, health score \
         40 s after resume {frozen_health:?}",
        secs(freeze),
        back_after.map_or_else(
            || "NOT within 40 s".into(),
            |d| format!("{} ms", d.as_millis())
        ),
        watch.not_alive.len(),
        watch.not_alive,
        healthy_dead.len() + watch.seen("dead").len(),
    );
    assert!(
        healthy_dead.is_empty() && watch.seen("dead").is_empty(),
        "a healthy node was declared dead: {healthy_dead:?} {:?}",
        watch.not_alive
    );
    assert!(
        back_after.is_some(),
        "n4 not alive everywhere 40 s after SIGCONT: {:?}\nlogs of n4:\n{}",
        agents.iter().map(NsAgent::view).collect::<Vec<_>>(),
        agents[4].logs()
    );
}

/// How long the loss test runs: `MEMBERLIST_LOSS_TEST_SECS`, 600 s by default.
fn loss_test_duration() -> Duration {
    let secs = std::env::var("MEMBERLIST_LOSS_TEST_SECS")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(600);
    Duration::from_secs(secs)
}

/// The fraction of datagrams the loss test drops: `MEMBERLIST_LOSS_TEST_RATE`, 0.05 by default.
fn loss_test_rate() -> f64 {
    std::env::var("MEMBERLIST_LOSS_TEST_RATE")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|r| (0.0..=1.0).contains(r))
        .unwrap_or(0.05)
}

#[test]
#[ignore = "needs root (network namespaces); runs 10 minutes; run with --include-ignored"]
fn netns_five_percent_datagram_loss_causes_no_false_death() {
    let duration = loss_test_duration();
    let lab = Lab::new(N);
    let rate = loss_test_rate();
    let rate_arg = rate.to_string();
    let mut agents = cluster(&lab, "lan", &["--test-drop-rate", &rate_arg]);
    let all: Vec<usize> = (0..N).collect();

    let start = Instant::now();
    let mut watch = Watch::new();
    watch.watch(
        &agents,
        &all,
        &all,
        start + duration,
        Duration::from_secs(1),
    );
    let end = Instant::now();
    let log = events(&agents, start, end);
    let suspicions = about(&log, Kind::Suspect, &all).len();
    let refutations = about(&log, Kind::Refute, &all).len();
    let rescued = about(&log, Kind::TcpRescue, &all).len();
    let deaths = about(&log, Kind::Dead, &all);
    let metric = |name: &str| -> f64 { agents.iter().filter_map(|a| a.metric(name)).sum() };
    let suspect_msgs = metric("memberlist_msg_suspect_total");
    let dead_msgs = metric("memberlist_msg_dead_total");
    // Probes that missed an ack (Lifeguard raised the health score) and TCP connections
    // (push/pull and the TCP fallback pings that saved the probes the loss broke).
    let degraded = metric("memberlist_degraded_probe_total");
    let tcp_connects = metric("memberlist_tcp_connect_total");
    let still_alive = sees_alive(&agents, &all, &all);

    // The hook's own count, logged at shutdown: the loss really was the rate asked for.
    let (mut sent, mut dropped) = (0u64, 0u64);
    for agent in &mut agents {
        assert!(agent.terminate(), "{} did not stop", agent.name);
        let line = agent
            .lines_with("test hook: outgoing datagrams dropped")
            .pop()
            .unwrap_or_else(|| panic!("{} logged no drop count:\n{}", agent.name, agent.logs()));
        let count = |key: &str| -> u64 {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
                .unwrap_or(0)
        };
        sent += count("sent");
        dropped += count("dropped");
    }
    #[allow(clippy::cast_precision_loss)]
    let ratio = dropped as f64 / sent.max(1) as f64;
    eprintln!(
        "RESULT loss: 5 nodes (LAN preset), rate {rate}: {:.1} % of {sent} datagrams dropped \
         ({dropped}) over {} s; false suspicions raised (probe failed) {suspicions}, \
         refutations {refutations}, suspect messages applied (memberlist_msg_suspect_total, \
         all nodes) {suspect_msgs}, dead messages applied {dead_msgs}; degraded probes \
         {degraded}, probes saved by the TCP fallback ping {rescued}, TCP connections \
         {tcp_connects}; (observer, member) \
         pairs seen non-alive in /members polled every 1 s: {} {:?}; false deaths {}",
        ratio * 100.0,
        secs(end - start),
        watch.not_alive.len(),
        watch.not_alive,
        deaths.len(),
    );
    assert!(deaths.is_empty(), "false deaths: {deaths:?}");
    assert!(watch.seen("dead").is_empty(), "{:?}", watch.not_alive);
    assert!(dead_msgs == 0.0, "{dead_msgs} dead messages applied");
    assert!(still_alive, "not all alive at the end");
    // Binomial: within 4 standard deviations of the rate (5 %: ±0.9 % over 10 minutes).
    #[allow(clippy::cast_precision_loss)]
    let sigma = (sent as f64 * rate * (1.0 - rate)).sqrt();
    #[allow(clippy::cast_precision_loss)]
    let off = (dropped as f64 - sent as f64 * rate).abs();
    assert!(
        sent > 100 && off <= 4.0 * sigma,
        "the hook dropped {dropped} of {sent} datagrams, not about {rate}"
    );
}

#[test]
fn the_drop_hook_is_hidden_from_help_and_checked() {
    let help = agent_support::run(&["agent", "--help"]);
    assert!(help.status.success(), "{}", help.stderr);
    assert!(help.stdout.contains("--bind"), "{}", help.stdout);
    assert!(!help.stdout.contains("test-drop"), "{}", help.stdout);
    let err = agent_support::agent_fails(&[
        "--name",
        "a",
        "--bind",
        "127.0.0.1:0",
        "--test-drop-rate",
        "1.5",
    ]);
    assert!(err.contains("must be between 0 and 1"), "{err}");
}
