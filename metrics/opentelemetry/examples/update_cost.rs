//! Measures what one update costs through `OtelMetrics` with the OpenTelemetry SDK behind
//! it (cumulative aggregation, a periodic reader that does not tick during the run).
//!
//! `cargo run --release -p memberlist-opentelemetry --example update_cost`
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::Instant;

use memberlist_core::machine::State;
use memberlist_core::metrics::{Counter, DropReason, Gauge, Histogram, Metrics, NoopMetrics};
use memberlist_opentelemetry::OtelMetrics;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

const N: u32 = 2_000_000;

fn per_update(name: &str, mut f: impl FnMut(u32)) {
    for i in 0..N / 10 {
        f(i);
    }
    let start = Instant::now();
    for i in 0..N {
        f(black_box(i));
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(N);
    println!("{name:<40} {ns:>7.1} ns/update");
}

fn main() {
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(InMemoryMetricExporter::default()).build())
        .build();
    let otel = OtelMetrics::builder()
        .provider(&provider)
        .const_attribute("cluster", "blue")
        .build();
    let noop = NoopMetrics;

    per_update("noop counter", |_| noop.increment(Counter::MsgAlive, 1));
    per_update("otel counter (1 attribute)", |_| {
        otel.increment(Counter::MsgAlive, 1)
    });
    per_update("otel labelled counter (2 attributes)", |_| {
        otel.increment(Counter::PacketsDropped(DropReason::Decode), 1)
    });
    per_update("otel gauge (2 attributes)", |i| {
        otel.set(Gauge::Members(State::Alive), f64::from(i))
    });
    per_update("otel histogram, seconds (1 attribute)", |i| {
        otel.record(Histogram::ProbeRtt, f64::from(i % 1000) * 1e-5)
    });
    per_update("otel histogram, bytes (1 attribute)", |i| {
        otel.record(Histogram::PushPullSizeLocal, f64::from(i % 100_000))
    });
    if let Err(e) = provider.shutdown() {
        println!("shutdown: {e}");
    }
}
