//! Exact replay across processes: the same scenario and seed, run as separate processes
//! (each with its own randomly keyed hash maps), prints the same report and trace hash.
//!
//! The scenarios are ones where many timers expire at one instant: slow members make many
//! observers suspect and declare deaths together (lifeguard), and a split makes every node
//! suspect half the cluster at once (partition). When the machine handled simultaneous
//! expirations in a hash map's order, these runs diverged between processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use serde_json::Value;

/// The report without the fields that measure the host (CPU time and throughput).
fn report(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_memberlist-sim"))
        .args(args)
        .arg("--json")
        .output()
        .expect("run memberlist-sim");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let obj = v.as_object_mut().unwrap();
    for volatile in [
        "cpu_seconds",
        "cpu_time_source",
        "node_seconds_per_cpu_second",
        "peak_rss_mib",
    ] {
        obj.remove(volatile);
    }
    if let Some(measured) = obj.get_mut("measured").and_then(Value::as_object_mut) {
        measured.retain(|k, _| !k.contains("per_cpu_second") && !k.contains("rss"));
    }
    v
}

fn replays(args: &[&str]) {
    let first = report(args);
    assert_eq!(first["trace_hash"].as_str().map(str::len), Some(16));
    for run in 1..3 {
        assert_eq!(
            report(args),
            first,
            "{args:?}: process {run} differs from process 0"
        );
    }
}

#[test]
fn simultaneous_suspicions_of_slow_members_replay_in_separate_processes() {
    replays(&["lifeguard", "--nodes", "40", "--seed", "5"]);
}

#[test]
fn a_split_cluster_replays_in_separate_processes() {
    replays(&["partition", "--nodes", "50", "--seed", "1"]);
}

#[test]
fn a_random_fault_schedule_replays_in_separate_processes() {
    replays(&["chaos", "--seed", "3"]);
}
