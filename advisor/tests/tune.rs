//! The tuner: targets met, the base kept where no target asks for more, budgets respected,
//! and an unreachable target reported with the nearest configuration.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use memberlist_advisor::{Targets, predict, tune};
use memberlist_core::machine::ProtocolConfig;

fn goal(t: &memberlist_advisor::Tuned, what: &str) -> (f64, f64, bool) {
    let g = t.goals.iter().find(|g| g.what == what).expect(what);
    (g.target, g.predicted, g.met())
}

#[test]
fn fifty_nodes_detected_within_two_seconds() {
    let base = ProtocolConfig::lan("a");
    let before = predict(&base, 50, 0.0).unwrap();
    assert!(before.time_to_dead.value.low > Duration::from_secs(2));
    let targets = Targets {
        detect_within: Some(Duration::from_secs(2)),
        ..Targets::default()
    };
    let t = tune(&base, 50, 0.0, &targets).unwrap();
    assert!(t.feasible, "{:?}", t.goals);
    assert!(t.goals.iter().all(|g| g.met()), "{:?}", t.goals);
    assert!(t.prediction.time_to_dead.value.low <= Duration::from_secs(2));
    // Faster probing is what it takes; the timeout stays above the floor.
    assert!(t.config.probe_interval < base.probe_interval);
    assert!(t.config.probe_timeout >= targets.min_probe_timeout);
    assert!(t.config.probe_timeout < t.config.probe_interval);
    // Lifeguard keeps at least one confirmation to wait for.
    assert!(t.config.suspicion_mult >= 3);
    // The dissemination and catch-up targets default to the base's and are kept.
    let (target, predicted, met) = goal(&t, "disseminate within");
    assert!(met && predicted <= target);
    assert!((target - before.dissemination_time.value.as_secs_f64()).abs() < 1e-9);
    let (target, _, met) = goal(&t, "catch up within");
    assert!(met);
    assert!((target - before.push_pull_interval.value.as_secs_f64()).abs() < 1e-9);
}

#[test]
fn a_bandwidth_budget_buys_the_fastest_detection_that_fits() {
    let base = ProtocolConfig::lan("a");
    let budget = 10.0 * 1024.0;
    let targets = Targets {
        max_bandwidth: Some(budget),
        ..Targets::default()
    };
    let t = tune(&base, 2_000, 0.0, &targets).unwrap();
    assert!(t.feasible, "{:?}", t.goals);
    let b = &t.prediction.bandwidth;
    assert!(b.quiet_total.value <= budget);
    assert!(
        b.gossip_ceiling.value <= budget,
        "busy gossip within the budget too"
    );
    let before = predict(&base, 2_000, 0.0).unwrap();
    assert!(t.prediction.time_to_dead.value.low < before.time_to_dead.value.low / 2);
    // A smaller budget cannot detect sooner.
    let tight = Targets {
        max_bandwidth: Some(budget / 4.0),
        ..Targets::default()
    };
    let slow = tune(&base, 2_000, 0.0, &tight).unwrap();
    assert!(slow.prediction.time_to_dead.value.low >= t.prediction.time_to_dead.value.low);
}

#[test]
fn loss_targets_keep_false_deaths_below_the_limit() {
    let base = ProtocolConfig::lan("a");
    let t = tune(&base, 500, 0.02, &Targets::default()).unwrap();
    assert!(t.feasible, "{:?}", t.goals);
    let (target, predicted, met) = goal(&t, "false deaths");
    assert!(met && predicted <= target && target == 0.001);
    // Not slower than the preset at detecting.
    let before = predict(&base, 500, 0.02).unwrap();
    assert!(t.prediction.time_to_dead.value.low <= before.time_to_dead.value.low);
}

#[test]
fn an_unreachable_target_gives_the_nearest_configuration() {
    let base = ProtocolConfig::lan("a");
    let targets = Targets {
        detect_within: Some(Duration::from_millis(300)),
        ..Targets::default()
    };
    let t = tune(&base, 50, 0.0, &targets).unwrap();
    assert!(!t.feasible);
    let (target, predicted, met) = goal(&t, "detect within");
    assert!(!met && predicted > target);
    // The nearest is far faster than the preset.
    let before = predict(&base, 50, 0.0).unwrap();
    assert!(t.prediction.time_to_dead.value.low < before.time_to_dead.value.low / 2);
}
