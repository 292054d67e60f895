//! The advisor's predictions against the simulator at a small N: every row is produced, and
//! the suspicion-timeout rows are within their bounds
//! and the first suspicion is where the model's known gap puts it.
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
        "probes",
        "push/pull",
        "bandwidth total",
    ] {
        assert!(names.contains(&name), "no {name:?} row in {names:?}");
    }
    assert!(c.rows.iter().all(|r| r.measured.is_some()), "{c}");
    let row = |name: &str| c.rows.iter().find(|r| r.figure == name).unwrap();
    assert!(matches!(row("first suspicion").check, Check::Within { .. }));
    // The model (T·e/(e−1), the SWIM paper's periods until a first probe) leaves out the
    // probe's own period: a probe that finds the node gone suspects it one protocol period
    // after it began, so the simulator measures about T more (≈ 2 T in all).
    let ratio = row("first suspicion").ratio.unwrap();
    assert!((1.0..1.5).contains(&ratio), "{c}");
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
