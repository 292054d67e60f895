//! `memberlist config tune` as an operator runs it: a file the agent and `config explain`
//! load that meets the target, a refusal when no configuration can, bad targets refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agent_support;

use std::process::{Command, Output};

use agent_support::TempDir;
use serde_json::Value;

fn memberlist(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memberlist"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_tuned_file_meets_the_target_when_explained() {
    let dir = TempDir::new("tune");
    let file = dir.file("tuned.toml");
    let svg = dir.file("tuned.svg");
    let out = memberlist(&[
        "config",
        "tune",
        "--nodes",
        "50",
        "--detect-within",
        "2s",
        "--out",
        &file,
        "--plot",
        &svg,
    ]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    for needle in [
        "every target is met",
        "detect within",
        "changed from the base",
        "Go: ProbeInterval",
        "verified in the simulator",
        "targets against the simulator",
        "Mixed clusters",
    ] {
        assert!(said.contains(needle), "missing {needle:?} in\n{said}");
    }
    let toml = std::fs::read_to_string(&file).unwrap();
    assert!(
        toml.starts_with("# Tuned by `memberlist config tune`"),
        "{toml}"
    );
    assert!(toml.contains("preset = \"lan\""), "{toml}");
    assert!(!toml.contains("name ="), "{toml}");
    // The file loads as the agent loads it, and its prediction meets the target.
    let out = memberlist(&[
        "config", "explain", "--config", &file, "--nodes", "50", "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let dead = v["time_to_dead"]["value"]["low"].as_f64().unwrap();
    assert!(dead <= 2.0, "{dead}");
    assert!(v["probe_interval"].as_f64().unwrap() < 1.0);
}

#[test]
fn a_config_file_base_keeps_its_other_keys() {
    let dir = TempDir::new("tune-base");
    let base = dir.file("base.toml");
    std::fs::write(&base, "preset = \"wan\"\nlabel = \"prod\"\n").unwrap();
    let file = dir.file("tuned.toml");
    let out = memberlist(&[
        "config",
        "tune",
        "--config",
        &base,
        "--nodes",
        "200",
        "--no-verify",
        "--out",
        &file,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let toml = std::fs::read_to_string(&file).unwrap();
    assert!(toml.contains("preset = \"wan\""), "{toml}");
    assert!(toml.contains("label = \"prod\""), "{toml}");
    assert!(!text(&out).contains("verified in the simulator"));
}

#[test]
fn an_impossible_target_fails_with_the_nearest_configuration() {
    let out = memberlist(&[
        "config",
        "tune",
        "--nodes",
        "50",
        "--detect-within",
        "100ms",
        "--no-verify",
    ]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("NOT every target can be met"), "{said}");
    assert!(said.contains("NOT MET"), "{said}");
    assert!(
        said.contains("no configuration meets every target"),
        "{said}"
    );
    // The nearest configuration is still printed as a file.
    assert!(said.contains("probe_interval ="), "{said}");
}

#[test]
fn bad_targets_are_refused() {
    for args in [
        &["--nodes", "50", "--detect-within", "soon"][..],
        &["--nodes", "50", "--detect-within", "0s"],
        &["--nodes", "50", "--max-bandwidth", "10 parsecs"],
        &["--nodes", "1"],
        &["--nodes", "50", "--loss", "100"],
    ] {
        let mut all = vec!["config", "tune", "--no-verify"];
        all.extend_from_slice(args);
        let out = memberlist(&all);
        assert!(!out.status.success(), "{args:?} accepted: {}", text(&out));
    }
}
