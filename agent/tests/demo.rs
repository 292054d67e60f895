//! `memberlist demo` run as a user would: the built binary, stdout piped (so not a
//! terminal), nodes on 127.0.0.1 with system-chosen ports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

fn demo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memberlist"))
        .arg("demo")
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("the memberlist binary runs")
}

/// The number of seconds right after `label` on the first line that has it, e.g. `1.52` in
/// "first suspect 1.52 s after the crash".
fn seconds_after(text: &str, label: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("no line with {label:?} in:\n{text}"));
    let rest = &line[line.find(label).unwrap() + label.len()..];
    let mut words = rest.split_whitespace();
    let number = words.next().unwrap_or_default();
    assert_eq!(
        words.next(),
        Some("s"),
        "no seconds after {label:?}: {line}"
    );
    number
        .parse()
        .unwrap_or_else(|e| panic!("{number:?} after {label:?} is not seconds: {e}"))
}

#[test]
fn four_node_demo_detects_the_crash_and_the_leave_in_plain_output() {
    let out = demo(&["--nodes", "4"]);
    let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "demo failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(
        !stdout.contains('\x1b'),
        "control codes in piped output:\n{stdout}"
    );
    assert!(
        !stdout.contains('\r'),
        "carriage returns in piped output:\n{stdout}"
    );

    assert!(stdout.contains("preset: Config::local"), "{stdout}");
    assert!(stdout.contains("summary (4 nodes"), "{stdout}");
    assert!(stdout.contains("all 3 survivors"), "{stdout}");
    assert!(stdout.contains("all 2 remaining nodes"), "{stdout}");
    let summary = &stdout[stdout.find("summary (").unwrap()..];
    let suspect = seconds_after(summary, "first suspect");
    let dead = seconds_after(summary, "first dead");
    let all_dead = seconds_after(summary, "saw it dead");
    let left = seconds_after(summary, "saw it left");
    // Causality, not speed: a node is suspected before it is declared dead, and everyone
    // sees it dead no earlier than the first. The local preset's minimum suspicion timeout
    // is 3 s, so the first death comes at least that long after the first suspicion (the
    // 0.1 s margin is the rounding of the printed figures).
    assert!(suspect > 0.0, "{stdout}");
    assert!(dead >= suspect + 2.9, "{stdout}");
    assert!(all_dead >= dead, "{stdout}");
    assert!(left >= 0.0, "{stdout}");
    // The demo logs at warn unless asked otherwise.
    assert!(!stderr.contains("INFO"), "{stderr}");
}

#[test]
fn node_counts_outside_2_to_50_are_refused_with_a_clear_error() {
    for bad in ["1", "0", "500", "many"] {
        let out = demo(&["--nodes", bad]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "--nodes {bad} was accepted");
        assert!(
            stderr.contains("--nodes") && stderr.contains(&format!("'{bad}'")),
            "--nodes {bad}: unclear error: {stderr}"
        );
        if bad != "many" {
            assert!(stderr.contains("2..=50"), "--nodes {bad}: {stderr}");
        }
        assert!(out.stdout.is_empty(), "--nodes {bad} started anyway");
    }
}

#[test]
fn two_node_demo_detects_the_crash_and_skips_the_leave() {
    let out = demo(&["--nodes", "2"]);
    let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
    assert!(
        out.status.success(),
        "demo failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = &stdout[stdout.find("summary (2 nodes").unwrap()..];
    // With two nodes no confirmation is expected, so the timer runs for the minimum.
    assert!(summary.contains("no confirmation expected"), "{summary}");
    let suspect = seconds_after(summary, "first suspect");
    let dead = seconds_after(summary, "first dead");
    assert!(dead >= suspect + 2.9, "{summary}");
    assert!(summary.contains("leave:              skipped"), "{summary}");
}

#[test]
fn four_node_demo_over_quic_runs_and_names_its_transport() {
    let out = demo(&["--nodes", "4", "--transport", "quic"]);
    let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "demo failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let summary = &stdout[stdout.find("summary (4 nodes").expect("a summary")..];
    assert!(
        summary.contains("transport:          quic (QUIC + TLS 1.3"),
        "{stdout}"
    );
    assert!(summary.contains("all 3 survivors"), "{stdout}");
    assert!(summary.contains("all 2 remaining nodes"), "{stdout}");
    let dead = seconds_after(summary, "first dead");
    assert!(dead >= seconds_after(summary, "first suspect"), "{stdout}");
}
