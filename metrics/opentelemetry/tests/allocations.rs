//! Updates allocate nothing once every series exists: counted with a global allocator
//! (the only test in this binary, so no other test allocates meanwhile).

use std::alloc::System;

use cap::Cap;
use memberlist_core::metrics::{Counter, Gauge, Histogram, Metrics};
use memberlist_opentelemetry::OtelMetrics;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

#[test]
fn updates_do_not_allocate_after_the_first_of_each_series() {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        // The default interval (60 s) does not tick during the test.
        .with_reader(PeriodicReader::builder(exporter).build())
        .build();
    let metrics = OtelMetrics::builder()
        .provider(&provider)
        // Keys out of order, so the SDK's sorted-lookup path would show if taken.
        .const_attribute("zone", "z1")
        .const_attribute("cluster", "blue")
        .build();
    let touch_all = |round: u64| {
        for c in Counter::all() {
            metrics.increment(c, round);
        }
        for g in Gauge::all() {
            metrics.set(g, round as f64);
        }
        for h in Histogram::all() {
            metrics.record(h, 0.001 * round as f64);
        }
    };
    // The SDK creates each series' tracker on its first measurement.
    touch_all(1);
    // Round-trips through the reader's thread: it has started (thread start-up allocates)
    // and is idle again, and its first export is done.
    provider.force_flush().expect("flush");

    // Several windows: another thread (the test harness, the reader's thread finishing its
    // loop) may allocate once in a while, but an allocation per update would show in every
    // window, so the quietest window must show none.
    let updates = 1000 * (Counter::COUNT + Gauge::COUNT + Histogram::COUNT);
    let windows: Vec<usize> = (0..5)
        .map(|_| {
            let before = ALLOCATOR.total_allocated();
            for round in 0..1000 {
                touch_all(round);
            }
            ALLOCATOR.total_allocated() - before
        })
        .collect();
    assert_eq!(
        windows.iter().min().copied(),
        Some(0),
        "bytes allocated per window of {updates} updates: {windows:?}"
    );
    provider.shutdown().expect("shutdown");
}
