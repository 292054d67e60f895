//! The advisor's predictions against the simulator at a small N: every row is produced and
//! every check holds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use memberlist_core::machine::ProtocolConfig;
use memberlist_sim::compare::{Check, compare};

#[test]
fn rows_are_produced_and_detection_matches_the_model() {
    let c = compare(&ProtocolConfig::lan("a"), 20, 0.0, 1).unwrap();
    eprintln!("{c}");
    let names: Vec<&str> = c.rows.iter().map(|r| r.figure).collect();
    for name in [
        "first suspicion",
        "suspicion timeout",
        "dead at first",
        "dead at all",
        "rounds to all",
        "seconds to all",
        "updates missing a node",
        "probes",
        "push/pull",
        "bandwidth total",
    ] {
        assert!(names.contains(&name), "no {name:?} row in {names:?}");
    }
    assert!(c.rows.iter().all(|r| r.measured.is_some()), "{c}");
    let row = |name: &str| c.rows.iter().find(|r| r.figure == name).unwrap();
    assert!(matches!(row("first suspicion").check, Check::Within { .. }));
    // Every row holds at this size (the wider sweep is tests/compare_sweep.rs).
    assert_eq!(c.outside().count(), 0, "{c}");
    assert!(matches!(
        row("suspicion timeout").check,
        Check::Bound { .. }
    ));
    assert_eq!(row("suspicion timeout").ok, Some(true), "{c}");
    assert_eq!(row("dead at first").ok, Some(true), "{c}");
    // Deterministic from the seed.
    let again = compare(&ProtocolConfig::lan("a"), 20, 0.0, 1).unwrap();
    assert_eq!(again.rows, c.rows);
}

#[test]
fn loss_adds_the_false_suspicion_rows() {
    let c = compare(&ProtocolConfig::local("a"), 10, 0.05, 2).unwrap();
    eprintln!("{c}");
    for name in ["false suspicions", "false deaths"] {
        assert!(
            c.rows.iter().any(|r| r.figure == name),
            "no {name:?} row\n{c}"
        );
    }
}
