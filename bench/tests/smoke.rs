//! Smoke tests of the harness: tiny clusters complete every phase and report sane fields.
//! No figure is checked against a time budget (the machine may be busy).

use std::time::Duration;

use memberlist_bench::procs::{Program, run_once};
use memberlist_bench::report::RunReport;
use memberlist_bench::{Scenario, inproc};

fn tiny(nodes: usize) -> Scenario {
    let mut s = Scenario::new(nodes, Duration::from_secs(3));
    s.settle = Duration::from_secs(1);
    s.timeout = Duration::from_secs(90);
    s
}

fn assert_sane(r: &RunReport, nodes: usize) {
    assert_eq!(r.nodes, nodes);
    assert_eq!(r.worst_alive, nodes, "{r:?}");
    assert!(r.join_s > 0.0 && r.join_s.is_finite(), "{r:?}");
    assert!(r.window_s > 0.0, "{r:?}");
    assert!(
        r.cpu_ms_per_node_s >= 0.0 && r.cpu_ms_per_node_s.is_finite(),
        "{r:?}"
    );
    assert!(r.bytes_per_node_s > 0.0, "probes send bytes: {r:?}");
    assert!(r.rss_kib_per_node > 0.0, "{r:?}");
    assert!(
        r.crash_to_dead_s > 0.0 && r.crash_to_dead_s.is_finite(),
        "{r:?}"
    );
    let json = serde_json::to_value(r).expect("json");
    assert!(json.get("crash_to_dead_s").is_some());
}

#[test]
fn rust_in_process_5_nodes() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let r = rt.block_on(inproc::run_once(&tiny(5))).expect("run");
    assert_eq!(r.implementation, "rust");
    assert_sane(&r, 5);
}

#[test]
fn rust_one_process_per_node_3_nodes() {
    let exe = env!("CARGO_BIN_EXE_memberlist-bench").into();
    let r = run_once(&Program::Rust(exe), &tiny(3)).expect("run");
    assert_eq!(r.implementation, "rust-procs");
    assert_sane(&r, 3);
}

#[test]
#[ignore = "needs the Go toolchain and Debian's Go memberlist (interop/build.sh)"]
fn go_3_nodes() {
    let peer = memberlist_interop::build_peer().expect("Go peer");
    let r = run_once(&Program::Go(peer), &tiny(3)).expect("run");
    assert_eq!(r.implementation, "go");
    assert_sane(&r, 3);
}
