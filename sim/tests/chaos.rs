//! Randomized fault schedules: a few seeds hold every invariant and replay exactly; with the
//! `mutations` feature, each invariant is shown to fire on an injected bug.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use memberlist_sim::SimConfig;
use memberlist_sim::chaos::{Outcome, run_with};

fn run(seed: u64) -> Outcome {
    run_with(seed, SimConfig::lan(5, seed)).unwrap()
}

#[test]
fn random_fault_schedules_hold_every_invariant() {
    for seed in [1, 2, 3] {
        let out = run(seed);
        assert!(
            out.schedule.faults >= 20,
            "seed {seed}: {} faults",
            out.schedule.faults
        );
        assert!((5..=64).contains(&out.schedule.nodes));
        assert!(out.violations.is_empty(), "{:#?}", out.violations);
        assert!(out.converged_after.is_some_and(|t| t <= out.bound));
    }
}

/// Seeds that found protocol bugs, fixed since: a node that missed a refutation, and then
/// relayed a stale suspicion nobody answered, declared a healthy node dead (63 and 218: the
/// accused now gossips its current incarnation again; 85 and 261: whoever holds a newer
/// incarnation sends it to the relayer); and a checker bug (562: a death "17 ms before any
/// suspicion matured", the checker having sized the timeout with members that joined later
/// in the same packet); a node that could not hear suspected healthy nodes and its gossip
/// never reached them, so nobody refuted (4357, 1160: a failed probe now sends the
/// suspicion to the accused); and a checker bug (4503: a node restarted twice within the
/// grace lost its first life's matured suspicion).
#[test]
fn seeds_that_found_bugs_hold_every_invariant_now() {
    for seed in [63, 85, 218, 261, 562, 1160, 4357, 4503] {
        let out = run(seed);
        assert!(out.violations.is_empty(), "{:#?}", out.violations);
    }
}

#[test]
fn a_schedule_replays_exactly_from_its_seed() {
    let (a, b) = (run(7), run(7));
    assert_eq!(a.sim.trace_hash(), b.sim.trace_hash());
    assert_eq!(a.sim.steps(), b.sim.steps());
    assert_eq!(a.schedule.actions, b.schedule.actions);
    assert_ne!(a.sim.trace_hash(), run(8).sim.trace_hash());
}

/// Each invariant fires on a bug that breaks it (one of the first seeds suffices).
#[cfg(feature = "mutations")]
mod mutations {
    use memberlist_core::machine::Mutation;

    use super::*;

    /// The violations of the first of `seeds` that has any, with `mutation` injected.
    fn violations(mutation: Mutation, seeds: std::ops::Range<u64>) -> Vec<String> {
        for seed in seeds {
            let mut cfg = SimConfig::lan(5, seed);
            cfg.mutation = mutation;
            let out = run_with(seed, cfg).unwrap();
            if !out.violations.is_empty() {
                return out.violations;
            }
        }
        Vec::new()
    }

    fn fires(mutation: Mutation, needle: &str) {
        let found = violations(mutation, 1..40);
        assert!(
            found.iter().any(|v| v.contains(needle)),
            "{mutation:?}: no violation containing {needle:?} in {found:#?}"
        );
        assert!(
            found
                .iter()
                .all(|v| v.contains("replay: memberlist-sim chaos --seed")),
            "{found:#?}"
        );
    }

    #[test]
    fn own_incarnation_going_backwards_is_caught() {
        fires(Mutation::IncarnationBackwards, "own incarnation went from");
    }

    #[test]
    fn a_stale_rejoin_is_caught() {
        fires(Mutation::StaleRejoin, "without a higher incarnation");
    }

    #[test]
    fn a_healthy_node_declared_dead_is_caught() {
        fires(Mutation::NoRefute, "while both were in a clean majority");
    }

    #[test]
    fn a_cluster_that_never_reconverges_is_caught() {
        fires(
            Mutation::IgnorePushPullStates,
            "did not agree on membership",
        );
    }
}
