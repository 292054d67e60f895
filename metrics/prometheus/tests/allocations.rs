//! Updates allocate nothing: counted with a global allocator. The binary runs without the
//! test harness (`harness = false`), so no other thread allocates meanwhile — the exporter
//! itself starts none.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::alloc::System;

use cap::Cap;
use memberlist_core::metrics::{Counter, Gauge, Histogram, Metrics};
use memberlist_prometheus::PrometheusMetrics;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

fn main() {
    updates_do_not_allocate();
    println!("test updates_do_not_allocate ... ok");
}

fn updates_do_not_allocate() {
    let metrics = PrometheusMetrics::builder()
        .const_label("cluster", "blue")
        .build()
        .expect("register");
    let before = ALLOCATOR.total_allocated();
    for round in 0..1000u64 {
        for c in Counter::all() {
            metrics.increment(c, round);
        }
        for g in Gauge::all() {
            metrics.set(g, round as f64);
        }
        for h in Histogram::all() {
            metrics.record(h, 0.001 * round as f64);
        }
    }
    assert_eq!(ALLOCATOR.total_allocated() - before, 0, "updates allocated");
    // And the updates are there.
    assert!(
        metrics
            .render()
            .unwrap()
            .contains("memberlist_msg_alive_total{cluster=\"blue\"} 499500")
    );
}
