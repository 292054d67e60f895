//! Simulator tests: failure detection bounds, long lossy runs, determinism and invariants.
//! Small clusters and fixed seeds keep them fast and reproducible.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use memberlist_core::machine::State;
use memberlist_core::machine::timing::suspicion_timeout;
use memberlist_sim::scenarios::{self, Options, Scenario};
use memberlist_sim::{NetConfig, Observation, Sim, SimConfig};

fn cluster(n: usize, seed: u64, loss: f64) -> Sim {
    let mut cfg = SimConfig::lan(n, seed);
    cfg.net = NetConfig {
        loss,
        ..NetConfig::default()
    };
    let mut sim = Sim::new(cfg).unwrap();
    sim.join_random_earlier();
    let t = sim.run_until_true(
        Duration::from_secs(60),
        Duration::from_millis(500),
        Sim::converged,
    );
    assert!(t.is_some(), "seed {seed}: cluster of {n} did not converge");
    sim
}

/// Asserts [`Sim::converged`], naming up to five nodes that see a wrong member count.
fn check_converged(sim: &Sim) {
    let up = (0..sim.len()).filter(|&i| sim.is_up(i)).count();
    let bad: Vec<String> = (0..sim.len())
        .filter(|&i| sim.is_up(i) && sim.machine(i).num_members() != up)
        .take(5)
        .map(|i| format!("node {i} sees {}", sim.machine(i).num_members()))
        .collect();
    assert!(
        sim.converged(),
        "not converged at t={:.1}s ({up} nodes up): {}",
        sim.elapsed().as_secs_f64(),
        bad.join(", ")
    );
}

#[test]
fn crash_in_ten_nodes_is_seen_dead_by_all_never_before_the_minimum_timeout() {
    let mut sim = cluster(10, 7, 0.0);
    sim.run_for(Duration::from_secs(5));
    let victim = 9;
    sim.watch(victim);
    sim.crash(victim);
    let crash_at = sim.elapsed();
    sim.run_for(Duration::from_secs(40));
    let min = suspicion_timeout(4, 10, Duration::from_secs(1));
    let deaths: Vec<_> = sim
        .log()
        .iter()
        .filter(|e| e.what == Observation::Dead && e.subject == victim)
        .collect();
    assert_eq!(deaths.len(), 9, "every survivor declares the victim dead");
    let first_suspicion = sim
        .log()
        .iter()
        .filter(|e| e.what == Observation::Suspected)
        .map(|e| e.at)
        .min()
        .expect("someone suspected the victim");
    assert!(first_suspicion >= crash_at);
    for d in &deaths {
        assert!(
            d.at >= first_suspicion + min,
            "observer {} declared death at {:?}, suspicion at {first_suspicion:?}",
            d.observer,
            d.at
        );
        // Dead, or already reaped after GossipToTheDeadTime.
        let state = sim.machine(d.observer).member("node-9").map(|m| m.state);
        assert!(matches!(state, Some(State::Dead) | None), "{state:?}");
    }
    sim.check().unwrap();
    check_converged(&sim);
}

#[test]
fn seventeen_members_survive_thirty_minutes_at_ten_percent_loss() {
    let mut sim = cluster(17, 17, 0.10);
    sim.run_for(Duration::from_secs(30 * 60));
    let deaths: u64 = (0..17).map(|i| sim.stats(i).dead).sum();
    assert_eq!(deaths, 0, "false deaths under 10% loss");
    sim.check().unwrap();
    check_converged(&sim);
}

fn trace_of(seed: u64) -> (u64, u64) {
    let mut cfg = SimConfig::lan(12, seed);
    cfg.net.loss = 0.05;
    cfg.net.duplicate = 0.02;
    let mut sim = Sim::new(cfg).unwrap();
    sim.join_random_earlier();
    sim.run_until(Duration::from_secs(20));
    sim.crash(3);
    sim.net_mut().set_slow(5, Duration::from_millis(300));
    sim.run_until(Duration::from_secs(60));
    sim.restart(3, 0).unwrap();
    sim.run_until(Duration::from_secs(90));
    sim.check().unwrap();
    (sim.trace_hash(), sim.steps())
}

#[test]
fn same_seed_gives_an_identical_trace() {
    let a = trace_of(42);
    assert_eq!(a, trace_of(42));
    assert_ne!(a.0, trace_of(43).0);
}

#[test]
fn invariants_hold_for_joins_through_one_seed_and_random_peers() {
    for (seed, via_seed) in [(1, true), (2, false)] {
        let mut opts = Options::new(24, seed);
        opts.via_seed = via_seed;
        let r = scenarios::run(Scenario::Join, &opts).unwrap();
        assert!(r.ok(), "{:?}", r.violations);
        assert_eq!(r.measured["converged"], true, "{}", r.summary());
    }
}

#[test]
fn invariants_hold_for_crash_and_restart_under_loss() {
    let mut sim = cluster(16, 5, 0.05);
    sim.crash(4);
    sim.crash(11);
    sim.run_for(Duration::from_secs(40));
    for o in (0..16).filter(|&o| o != 4 && o != 11) {
        let m = sim.machine(o).member("node-4");
        assert!(
            m.as_ref().is_none_or(|m| m.state.is_gone()),
            "observer {o}: {m:?}"
        );
    }
    sim.restart(4, 0).unwrap();
    sim.restart(11, 7).unwrap();
    let back = sim.run_until_true(
        sim.elapsed() + Duration::from_secs(60),
        Duration::from_millis(500),
        Sim::converged,
    );
    assert!(back.is_some(), "restarted nodes were not re-admitted");
    sim.check().unwrap();
}

#[test]
fn crash_scenario_report_matches_the_model_roughly() {
    let r = scenarios::run(Scenario::Crash, &Options::new(10, 3)).unwrap();
    assert!(r.ok(), "{:?}", r.violations);
    let all_dead = r.measured["all_dead_s"].as_f64().unwrap();
    assert!((4.0..=24.0 + 5.0).contains(&all_dead), "{}", r.summary());
    assert_eq!(r.measured["false_deaths"], 0);
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(json["scenario"], "crash");
}

#[test]
fn crash_and_dissemination_reports_carry_every_members_time_for_plots() {
    for scenario in [Scenario::Crash, Scenario::Disseminate] {
        let r = scenarios::run(scenario, &Options::new(12, 4)).unwrap();
        assert!(r.ok(), "{:?}", r.violations);
        assert_eq!(r.series.len(), 11, "{}", scenario.name());
        assert!(r.series.windows(2).all(|w| w[0] <= w[1]));
        assert!(r.series.iter().all(|&t| t >= 0.0));
    }
}

#[test]
fn partition_heals_and_invariants_hold() {
    let r = scenarios::run(Scenario::Partition, &Options::new(12, 9)).unwrap();
    assert!(r.ok(), "{:?}", r.violations);
    assert_eq!(r.measured["sides_split_cleanly"], true, "{}", r.summary());
}

#[test]
fn lifeguard_gives_fewer_false_deaths_with_slow_members() {
    use memberlist_sim::scenarios::false_deaths;
    let opts = Options::new(32, 5);
    let on = false_deaths(&opts, true)
        .unwrap()
        .expect("converged with Lifeguard");
    let off = false_deaths(&opts, false)
        .unwrap()
        .expect("converged without Lifeguard");
    // Without Lifeguard the slow members' own suspicions mature before refutations reach
    // them; with it their probe timeouts stretch and their suspicions wait for confirmations.
    assert!(
        off.healthy >= 10 * on.healthy.max(1),
        "healthy false deaths: on {on:?}, off {off:?}"
    );
}

#[test]
fn a_preconverged_cluster_is_converged_and_detects_a_crash() {
    let mut sim = Sim::new(SimConfig::lan(40, 21)).unwrap();
    sim.bootstrap_converged();
    assert!(sim.converged(), "bootstrap must give everyone every member");
    sim.run_for(Duration::from_secs(20));
    check_converged(&sim);
    sim.crash(7);
    let seen = sim.run_until_true(
        sim.elapsed() + Duration::from_secs(60),
        Duration::from_millis(500),
        Sim::converged,
    );
    assert!(seen.is_some(), "the crash was not seen by everyone");
    sim.check().unwrap();
}

/// Joins `n` nodes through node 0 with `follow_ups` follow-up push/pulls per joiner; returns
/// the sim after 20 s and when everyone first saw all `n` members.
fn mass_join(n: usize, seed: u64, follow_ups: u32) -> (Sim, Option<Duration>) {
    let mut cfg = SimConfig::lan(n, seed);
    cfg.protocol.join_push_pulls = follow_ups;
    let mut sim = Sim::new(cfg).unwrap();
    sim.join_all_through(0);
    let all_see = sim.run_until_true(Duration::from_secs(20), Duration::from_millis(200), |s| {
        (0..n).all(|i| s.machine(i).num_members() == n)
    });
    sim.run_until(Duration::from_secs(20));
    sim.check().unwrap();
    (sim, all_see)
}

#[test]
fn joiners_run_their_follow_up_push_pulls() {
    let n = 150;
    let (sim, all_see) = mass_join(n, 5, 3);
    // Every joiner ran exactly three (delays of 2-4 s each: all done within 12 s); the seed,
    // which joined nobody, none.
    assert_eq!(sim.stats(0).join_follow_ups, 0);
    for i in 1..n {
        assert_eq!(sim.stats(i).join_follow_ups, 3, "node {i}");
    }
    let t = all_see.expect("everyone sees everyone within 20 s");
    assert!(t < Duration::from_secs(10), "full membership after {t:?}");
    assert!(sim.converged());
}

#[test]
fn join_follow_ups_can_be_switched_off() {
    let n = 150;
    let (sim, _) = mass_join(n, 5, 0);
    for i in 0..n {
        assert_eq!(sim.stats(i).join_follow_ups, 0, "node {i}");
    }
    // Without them the join still completes, by gossip and the periodic push/pulls.
    assert!(sim.converged());
}

#[test]
fn node_addresses_map_back_to_their_nodes() {
    use memberlist_sim::{node_addr, node_at};
    let n = 70_000;
    for i in (0..n).step_by(7).chain([n - 1]) {
        assert_eq!(node_at(&node_addr(i), n), Some(i));
    }
    assert_eq!(node_at(&node_addr(n), n), None);
    assert_eq!(node_at(&"10.0.0.1:7947".parse().unwrap(), n), None);
    assert_eq!(node_at(&"11.0.0.1:7946".parse().unwrap(), n), None);
    assert_eq!(node_at(&"[::1]:7946".parse().unwrap(), n), None);
}
