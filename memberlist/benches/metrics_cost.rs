//! What metrics cost on the hot path: packets processed per second by the protocol machine,
//! with the metric calls the runtime makes per packet, for each sink (no-op, Prometheus,
//! OpenTelemetry). Target (issue 6): exporters cost ≤ 5 % against the no-op sink.
//!
//! `cargo bench -p memberlist --bench metrics_cost --features prometheus,opentelemetry`
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group};
use memberlist::delegate::NoopDelegate;
use memberlist::machine::{Machine, ProtocolConfig};
use memberlist::metrics::{Counter, Metrics, NoopMetrics};
use memberlist::wire::*;

fn alive(i: u8) -> Alive {
    Alive {
        incarnation: 7,
        node: format!("node-{i:011}").into(),
        addr: IpBytes::from([10, 0, 0, i]),
        port: 7946,
        meta: Bytes::new(),
        vsn: Vsn::default_advertised(),
    }
}

/// A packet as gossip carries it: a ping for us and three alive messages we already hold.
fn packet() -> Vec<u8> {
    let ping = Ping {
        seq_no: 42,
        node: "me".into(),
        source_addr: IpBytes::from([10, 0, 0, 1]),
        source_port: 7946,
        source_node: "node-00000000001".into(),
    };
    let parts: Vec<Vec<u8>> = std::iter::once(ping.to_bytes().to_vec())
        .chain((1..=3).map(|i| alive(i).to_bytes().to_vec()))
        .collect();
    let mut out = Vec::new();
    encode_compound(&parts, &mut out).unwrap();
    out
}

fn machine(metrics: Arc<dyn Metrics>) -> Machine<NoopDelegate> {
    let addr: SocketAddr = "10.0.0.100:7946".parse().unwrap();
    let now = Instant::now();
    let mut m = Machine::new(
        ProtocolConfig::lan("me"),
        Pipeline::new(),
        addr,
        NoopDelegate,
        1,
        now,
    )
    .unwrap();
    m.set_metrics(metrics);
    // Learn the three members first, so that the benchmark's alive messages are known news.
    let from: SocketAddr = "10.0.0.1:7946".parse().unwrap();
    for i in 1..=3 {
        m.handle_datagram(now, from, &alive(i).to_bytes());
    }
    while m.poll_transmit().is_some() {}
    while m.poll_event().is_some() {}
    m
}

/// One packet in, its ack out, with the runtime's per-datagram metric calls.
fn process(m: &mut Machine<NoopDelegate>, metrics: &dyn Metrics, data: &[u8], now: Instant) {
    let from: SocketAddr = "10.0.0.1:7946".parse().unwrap();
    metrics.increment(Counter::UdpReceivedPackets, 1);
    metrics.increment(Counter::UdpReceivedBytes, data.len() as u64);
    m.handle_datagram(now, from, data);
    while let Some(t) = m.poll_transmit() {
        metrics.increment(Counter::UdpSentPackets, 1);
        metrics.increment(Counter::UdpSentBytes, t.data.len() as u64);
        black_box(t);
    }
}

fn sinks() -> Vec<(&'static str, Arc<dyn Metrics>)> {
    #[allow(unused_mut)]
    let mut sinks: Vec<(&'static str, Arc<dyn Metrics>)> = vec![("noop", Arc::new(NoopMetrics))];
    #[cfg(feature = "prometheus")]
    sinks.push((
        "prometheus",
        Arc::new(memberlist::prometheus::PrometheusMetrics::new().unwrap()),
    ));
    #[cfg(feature = "opentelemetry")]
    sinks.push(("opentelemetry", Arc::new(otel())));
    sinks
}

/// An OpenTelemetry sink on an SDK provider with a periodic reader (as the OTLP setup
/// builds it), exporting to memory rather than to a collector.
#[cfg(feature = "opentelemetry")]
fn otel() -> memberlist::opentelemetry::OtelMetrics {
    use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(InMemoryMetricExporter::default()).build())
        .build();
    let metrics = memberlist::opentelemetry::OtelMetrics::builder()
        .provider(&provider)
        .build();
    // The provider must outlive the benchmark.
    std::mem::forget(provider);
    metrics
}

fn bench(c: &mut Criterion) {
    let data = packet();
    let mut group = c.benchmark_group("metrics_cost/packet");
    group.throughput(Throughput::Elements(1));
    for (name, sink) in sinks() {
        let mut m = machine(Arc::clone(&sink));
        let now = Instant::now();
        group.bench_function(name, |b| {
            b.iter(|| process(&mut m, &*sink, black_box(&data), now));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);

/// `METRICS_COST_COUNT=SINK` processes a fixed number of packets with one sink and exits,
/// for instruction counts under callgrind (wall time on a shared machine is too noisy):
/// `METRICS_COST_COUNT=prometheus valgrind --tool=callgrind target/release/deps/metrics_cost-*`
fn count(name: &str) {
    const PACKETS: usize = 20_000;
    let Some((_, sink)) = sinks().into_iter().find(|(n, _)| *n == name) else {
        panic!("unknown sink {name}");
    };
    let data = packet();
    let mut m = machine(Arc::clone(&sink));
    let now = Instant::now();
    for _ in 0..PACKETS {
        process(&mut m, &*sink, black_box(&data), now);
    }
}

fn main() {
    if let Ok(name) = std::env::var("METRICS_COST_COUNT") {
        // A baseline run with no packets gives the set-up cost to subtract.
        if name.ends_with("-setup") {
            let name = name.trim_end_matches("-setup");
            let (_, sink) = sinks().into_iter().find(|(n, _)| *n == name).unwrap();
            black_box(machine(sink));
            return;
        }
        count(&name);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
