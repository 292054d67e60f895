//! `memberlist config explain` as an operator runs it: the text, the JSON, a config file,
//! and refusals of nonsense.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

use serde_json::Value;

fn explain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memberlist"))
        .args(["config", "explain"])
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn text_names_every_figure_with_its_formula() {
    let text = stdout(&explain(&[
        "--preset", "lan", "--nodes", "100", "--loss", "2",
    ]));
    for needle in [
        "preset lan: 100 nodes, 2% datagram loss, Lifeguard on",
        "first suspicion                    2 s",
        "suspicion timeout                  8 s to 48 s",
        "SuspicionMult × max(1, log10 N) × T",
        "push/pull every                    90 s",
        "retransmits per update             12",
        "probes                             145.4 B/s",
        "member table",
        "per cluster-hour",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn json_carries_values_units_and_formulas() {
    let out = stdout(&explain(&[
        "--preset", "wan", "--nodes", "1000", "--loss", "0.5%", "--json",
    ]));
    let v: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["nodes"], 1000);
    assert_eq!(v["loss"], 0.005);
    assert_eq!(v["probe_interval"], 5.0);
    // WAN: 6 × log10(1000) × 5 s = 90 s, six times that without confirmations.
    assert_eq!(v["suspicion_timeout"]["value"]["low"], 90.0);
    assert_eq!(v["suspicion_timeout"]["value"]["high"], 540.0);
    assert_eq!(v["suspicion_timeout"]["unit"], "s");
    assert!(
        v["time_to_dead"]["formula"]
            .as_str()
            .unwrap()
            .contains("first suspicion")
    );
    assert_eq!(v["bandwidth"]["probes"]["unit"], "B/s");
}

#[test]
fn a_config_file_is_explained_with_its_own_knobs() {
    let dir = std::env::temp_dir().join(format!("ml-explain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cluster.toml");
    std::fs::write(
        &path,
        "preset = \"local\"\nprobe_interval = \"2s\"\nlabel = \"prod\"\n",
    )
    .unwrap();
    let out = stdout(&explain(&[
        "--config",
        path.to_str().unwrap(),
        "--nodes",
        "50",
        "--json",
    ]));
    let v: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["probe_interval"], 2.0);
    // Local: SuspicionMult 3 × 1.698 (log10 50, truncated) × 2 s.
    assert_eq!(v["suspicion_timeout"]["value"]["low"], 10.188);
    assert_eq!(v["assumptions"]["label_len"], 4);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn nonsense_is_refused_with_a_reason() {
    let cases: [(&[&str], &str); 5] = [
        (&["--nodes", "100", "--loss", "100"], "out of range"),
        (&["--nodes", "100", "--loss", "two"], "not a percentage"),
        (&["--nodes", "1"], "at least 2 nodes"),
        (&["--nodes", "-5"], "--nodes"),
        (
            &["--nodes", "10", "--preset", "lan", "--config", "x.toml"],
            "cannot be used with",
        ),
    ];
    for (args, reason) in cases {
        let out = explain(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(reason), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn simulate_prints_measured_next_to_predicted() {
    let args = ["--preset", "local", "--nodes", "10", "--simulate"];
    let text = stdout(&explain(&args));
    for needle in [
        "simulated: 10 nodes, 0% datagram loss, seeds from 1",
        "predicted",
        "measured",
        "first suspicion",
        "suspicion timeout",
        "rounds to all",
        "push/pull",
        "bound",
        "±20 %",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    let mut json_args = args.to_vec();
    json_args.extend(["--seed", "3", "--json"]);
    let v: Value = serde_json::from_str(&stdout(&explain(&json_args))).expect("JSON");
    assert_eq!(v["nodes"], 10);
    let sim = &v["simulation"];
    assert_eq!(sim["seed"], 3);
    let rows = sim["rows"].as_array().expect("rows");
    assert!(rows.len() >= 9, "{sim}");
    let first = rows
        .iter()
        .find(|r| r["figure"] == "first suspicion")
        .expect("first suspicion row");
    assert!(first["predicted"].as_f64().unwrap() > 0.0);
    assert!(first["measured"].as_f64().unwrap() > 0.0);
    assert_eq!(first["check"]["kind"], "within");
    let timeout = rows
        .iter()
        .find(|r| r["figure"] == "suspicion timeout")
        .expect("suspicion timeout row");
    assert_eq!(timeout["check"]["kind"], "bound");
    assert_eq!(timeout["ok"], true, "{timeout}");
}

#[test]
fn seed_needs_simulate() {
    let out = explain(&["--nodes", "10", "--seed", "2"]);
    assert!(!out.status.success());
}

#[test]
fn plot_draws_the_configuration_against_cluster_size() {
    let dir = std::env::temp_dir().join(format!("memberlist-explain-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("explain.svg");
    let out = explain(&[
        "--preset",
        "wan",
        "--nodes",
        "300",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    stdout(&out);
    let picture = std::fs::read_to_string(&svg).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    for needle in ["<svg", "Bandwidth per node", "preset wan", "N = 300"] {
        assert!(picture.contains(needle), "no {needle:?} in the plot");
    }
}
