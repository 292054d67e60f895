//! Every series of the catalog, and a plugin's declared counter, appears in both exporters
//! (Prometheus and OpenTelemetry) under the catalog's names, with the same value.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use memberlist_core::metrics::{
    Counter, DeclaredCounter, Descriptor, Gauge, Histogram, Kind, Metrics, Origin, Unit,
};
use memberlist_opentelemetry::OtelMetrics;
use memberlist_prometheus::PrometheusMetrics;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

static PLUGIN: DeclaredCounter = DeclaredCounter {
    descriptor: Descriptor {
        name: "memberlist.test.plugin",
        prometheus_name: "memberlist_test_plugin_total",
        otel_name: "memberlist.test.plugin",
        kind: Kind::Counter,
        unit: Unit::Count,
        help: "A plugin's counter.",
        buckets: &[],
        label: Some("why"),
        origin: Origin::Rust,
    },
    label_values: &["this", "that"],
    otel_unit: "{thing}",
};

/// `(name, label value)` → value, for every series a Prometheus text page holds.
fn prometheus_series(text: &str) -> BTreeMap<(String, Option<String>), f64> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, label) = match series.split_once('{') {
            Some((name, labels)) => {
                let value = labels
                    .trim_end_matches('}')
                    .split_once("=\"")
                    .map(|(_, v)| v);
                (name, value.map(|v| v.trim_end_matches('"').to_owned()))
            }
            None => (series, None),
        };
        out.insert((name.to_owned(), label), value.parse().unwrap());
    }
    out
}

/// `(name, label value)` → value for every counter and gauge data point exported, and
/// `name` → count for every histogram.
fn otel_series(exporter: &InMemoryMetricExporter) -> BTreeMap<(String, Option<String>), f64> {
    let mut out = BTreeMap::new();
    let all = exporter.get_finished_metrics().unwrap();
    for scope in all.last().unwrap().scope_metrics() {
        for m in scope.metrics() {
            let name = m.name().to_owned();
            let label = |attrs: &mut dyn Iterator<Item = &opentelemetry::KeyValue>| {
                attrs.next().map(|kv| kv.value.as_str().into_owned())
            };
            match m.data() {
                AggregatedMetrics::U64(MetricData::Sum(sum)) => {
                    for p in sum.data_points() {
                        out.insert((name.clone(), label(&mut p.attributes())), p.value() as f64);
                    }
                }
                AggregatedMetrics::F64(MetricData::Gauge(gauge)) => {
                    for p in gauge.data_points() {
                        out.insert((name.clone(), label(&mut p.attributes())), p.value());
                    }
                }
                AggregatedMetrics::F64(MetricData::Histogram(hist)) => {
                    for p in hist.data_points() {
                        out.insert((name.clone(), None), p.count() as f64);
                    }
                }
                _ => panic!("{name}: an unexpected kind of data"),
            }
        }
    }
    out
}

#[test]
fn every_catalog_entry_and_a_declared_counter_appear_in_both_exporters() {
    let prometheus = PrometheusMetrics::new().unwrap();
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    let otel = OtelMetrics::new(&provider);
    let both = (prometheus.clone(), otel);
    both.declare(&PLUGIN);
    for c in Counter::all() {
        both.increment(c, c.index() as u64 + 1);
    }
    for g in Gauge::all() {
        both.set(g, g.index() as f64 + 1.0);
    }
    for h in Histogram::all() {
        both.record(h, 0.5);
    }
    both.increment_declared(&PLUGIN, 1, 7);
    provider.force_flush().unwrap();
    let prom = prometheus_series(&prometheus.render().unwrap());
    let otel = otel_series(&exporter);

    let label = |v: Option<&str>| v.map(str::to_owned);
    let mut want: Vec<(&Descriptor, Option<String>, f64)> = Vec::new();
    want.extend(Counter::all().map(|c| {
        (
            c.descriptor(),
            label(c.label_value()),
            c.index() as f64 + 1.0,
        )
    }));
    want.extend(Gauge::all().map(|g| {
        (
            g.descriptor(),
            label(g.label_value()),
            g.index() as f64 + 1.0,
        )
    }));
    want.push((&PLUGIN.descriptor, label(Some("that")), 7.0));
    want.push((&PLUGIN.descriptor, label(Some("this")), 0.0));
    for (d, label, value) in want {
        let p = prom.get(&(d.prometheus_name.to_owned(), label.clone()));
        assert_eq!(
            p,
            Some(&value),
            "Prometheus {} {label:?}",
            d.prometheus_name
        );
        if value > 0.0 {
            let o = otel.get(&(d.otel_name.to_owned(), label.clone()));
            assert_eq!(o, Some(&value), "OpenTelemetry {} {label:?}", d.otel_name);
        }
    }
    for h in Histogram::all() {
        let d = h.descriptor();
        let count = format!("{}_count", d.prometheus_name);
        assert_eq!(
            prom.get(&(count, None)),
            Some(&1.0),
            "Prometheus {}",
            d.prometheus_name
        );
        assert_eq!(
            otel.get(&(d.otel_name.to_owned(), None)),
            Some(&1.0),
            "OpenTelemetry {}",
            d.otel_name
        );
    }
}
