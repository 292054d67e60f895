use memberlist_core::machine::State;
use memberlist_core::metrics::{
    BYTES_BUCKETS, Counter, DropReason, Gauge, Histogram, Metrics, SECONDS_BUCKETS, Unit,
};
use memberlist_core::wire::Limit;
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

use crate::units::{counter_unit, gauge_unit, histogram_unit};
use crate::{OtelMetrics, SCOPE_NAME};

/// A provider whose exports land in memory, and the exporter to read them back.
fn in_memory() -> (SdkMeterProvider, InMemoryMetricExporter) {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    (provider, exporter)
}

/// Exports now, and returns everything exported so far.
fn flush(provider: &SdkMeterProvider, exporter: &InMemoryMetricExporter) -> Vec<ResourceMetrics> {
    provider.force_flush().expect("flush");
    exporter.get_finished_metrics().expect("exported")
}

/// The last export's metrics of the `memberlist` scope.
fn scope_metrics(all: &[ResourceMetrics]) -> Vec<&Metric> {
    let last = all.last().expect("one export");
    let scope = last
        .scope_metrics()
        .find(|s| s.scope().name() == SCOPE_NAME)
        .expect("the memberlist scope");
    assert_eq!(scope.scope().version(), Some(env!("CARGO_PKG_VERSION")));
    scope.metrics().collect()
}

fn find<'a>(metrics: &[&'a Metric], name: &str) -> &'a Metric {
    metrics
        .iter()
        .copied()
        .find(|m| m.name() == name)
        .unwrap_or_else(|| panic!("{name} not exported"))
}

fn attrs(it: impl Iterator<Item = impl std::borrow::Borrow<KeyValue>>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = it
        .map(|kv| {
            let kv = kv.borrow();
            (kv.key.to_string(), kv.value.as_str().into_owned())
        })
        .collect();
    out.sort();
    out
}

/// The attributes a series should carry: `node=a` and its label.
fn expected(label: Option<&str>, value: Option<&str>) -> Vec<(String, String)> {
    let mut out = vec![("node".to_owned(), "a".to_owned())];
    if let (Some(k), Some(v)) = (label, value) {
        out.push((k.to_owned(), v.to_owned()));
    }
    out.sort();
    out
}

#[test]
fn every_catalog_series_is_exported_under_its_name_with_its_attributes() {
    let (provider, exporter) = in_memory();
    let metrics = OtelMetrics::builder()
        .provider(&provider)
        .const_attribute("node", "a")
        .build();
    // Distinct values per series so that a series landing on another's attributes shows.
    for c in Counter::all() {
        metrics.increment(c, c.index() as u64 + 1);
    }
    for g in Gauge::all() {
        metrics.set(g, g.index() as f64 + 0.5);
    }
    for h in Histogram::all() {
        metrics.record(h, h.index() as f64 + 1.0);
    }
    let all = flush(&provider, &exporter);
    let exported = scope_metrics(&all);

    for c in Counter::all() {
        let d = c.descriptor();
        let m = find(&exported, d.otel_name);
        assert_eq!(m.description(), d.help);
        assert_eq!(m.unit(), counter_unit(c));
        let AggregatedMetrics::U64(MetricData::Sum(sum)) = m.data() else {
            panic!("{} is not a u64 sum", d.otel_name)
        };
        assert!(sum.is_monotonic(), "{}", d.otel_name);
        let want = expected(d.label, c.label_value());
        let point = sum
            .data_points()
            .find(|p| attrs(p.attributes()) == want)
            .unwrap_or_else(|| panic!("{} has no series {want:?}", d.otel_name));
        assert_eq!(point.value(), c.index() as u64 + 1, "{want:?}");
    }
    for g in Gauge::all() {
        let d = g.descriptor();
        let m = find(&exported, d.otel_name);
        assert_eq!(m.description(), d.help);
        assert_eq!(m.unit(), gauge_unit(g));
        let AggregatedMetrics::F64(MetricData::Gauge(gauge)) = m.data() else {
            panic!("{} is not an f64 gauge", d.otel_name)
        };
        let want = expected(d.label, g.label_value());
        let point = gauge
            .data_points()
            .find(|p| attrs(p.attributes()) == want)
            .unwrap_or_else(|| panic!("{} has no series {want:?}", d.otel_name));
        assert_eq!(point.value(), g.index() as f64 + 0.5);
    }
    for h in Histogram::all() {
        let d = h.descriptor();
        let m = find(&exported, d.otel_name);
        assert_eq!(m.description(), d.help);
        assert_eq!(m.unit(), histogram_unit(h));
        let AggregatedMetrics::F64(MetricData::Histogram(hist)) = m.data() else {
            panic!("{} is not an f64 histogram", d.otel_name)
        };
        let point = hist.data_points().next().expect("one series");
        assert_eq!(attrs(point.attributes()), expected(None, None));
        assert_eq!(point.count(), 1);
        assert_eq!(point.sum(), h.index() as f64 + 1.0);
        let bounds: Vec<f64> = point.bounds().collect();
        let want = match d.unit {
            Unit::Bytes => BYTES_BUCKETS,
            _ => SECONDS_BUCKETS,
        };
        assert_eq!(bounds, want, "{}", d.otel_name);
    }

    // One instrument per name: labelled series share theirs.
    let mut names: Vec<&str> = Counter::all()
        .map(|c| c.descriptor().otel_name)
        .chain(Gauge::all().map(|g| g.descriptor().otel_name))
        .chain(Histogram::all().map(|h| h.descriptor().otel_name))
        .collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(exported.len(), names.len());
}

#[test]
fn counters_add_and_gauges_keep_the_last_value() {
    let (provider, exporter) = in_memory();
    let metrics = OtelMetrics::new(&provider);
    for _ in 0..5 {
        metrics.increment(Counter::PacketsDropped(DropReason::Cidr), 1);
    }
    metrics.increment(Counter::UdpSentBytes, 1400);
    metrics.increment(Counter::UdpSentBytes, 600);
    metrics.increment(Counter::LimitExceeded(Limit::RemoteMeta), 3);
    metrics.set(Gauge::Members(State::Suspect), 4.0);
    metrics.set(Gauge::Members(State::Suspect), 2.0);
    metrics.record(Histogram::ProbeRtt, 0.0007);
    metrics.record(Histogram::ProbeRtt, 0.003);
    let all = flush(&provider, &exporter);
    let exported = scope_metrics(&all);

    let AggregatedMetrics::U64(MetricData::Sum(dropped)) =
        find(&exported, "memberlist.udp.dropped").data()
    else {
        panic!("a sum")
    };
    let points: Vec<_> = dropped.data_points().collect();
    let cidr = vec![("reason".to_owned(), "cidr".to_owned())];
    if cfg!(feature = "experimental-bound-instruments") {
        // Bound series exist from the start: every reason is exported, untouched ones at 0.
        assert_eq!(points.len(), DropReason::ALL.len());
        for p in &points {
            let want = if attrs(p.attributes()) == cidr { 5 } else { 0 };
            assert_eq!(p.value(), want);
        }
    } else {
        // Only the series touched is exported, with its reason.
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].value(), 5);
        assert_eq!(attrs(points[0].attributes()), cidr);
    }

    let AggregatedMetrics::U64(MetricData::Sum(limits)) =
        find(&exported, "memberlist.limit_exceeded").data()
    else {
        panic!("a sum")
    };
    let meta = vec![("limit".to_owned(), "remote_meta".to_owned())];
    let point = limits
        .data_points()
        .find(|p| attrs(p.attributes()) == meta)
        .expect("the remote_meta series");
    assert_eq!(point.value(), 3);

    let AggregatedMetrics::U64(MetricData::Sum(sent)) =
        find(&exported, "memberlist.udp.sent").data()
    else {
        panic!("a sum")
    };
    let point = sent.data_points().next().expect("one point");
    assert_eq!(point.value(), 2000);
    assert_eq!(point.attributes().count(), 0);

    let AggregatedMetrics::F64(MetricData::Gauge(members)) =
        find(&exported, "memberlist.members").data()
    else {
        panic!("a gauge")
    };
    let suspect = vec![("state".to_owned(), "suspect".to_owned())];
    let point = members
        .data_points()
        .find(|p| attrs(p.attributes()) == suspect)
        .expect("the suspect series");
    assert_eq!(point.value(), 2.0);

    let AggregatedMetrics::F64(MetricData::Histogram(rtt)) =
        find(&exported, "memberlist.probe.rtt").data()
    else {
        panic!("a histogram")
    };
    let point = rtt.data_points().next().expect("one point");
    assert_eq!(point.count(), 2);
    assert!((point.sum() - 0.0037).abs() < 1e-12, "{}", point.sum());
    // 0.0007 in (0.0005, 0.001], 0.003 in (0.0025, 0.005].
    let counts: Vec<u64> = point.bucket_counts().collect();
    assert_eq!(counts.len(), SECONDS_BUCKETS.len() + 1);
    assert_eq!(&counts[..5], &[0, 1, 0, 1, 0]);
    assert_eq!(point.min(), Some(0.0007));
    assert_eq!(point.max(), Some(0.003));
}

#[test]
fn a_constant_attribute_named_like_the_label_yields_to_it() {
    let (provider, _exporter) = in_memory();
    let metrics = OtelMetrics::builder()
        .provider(&provider)
        .const_attribute("state", "ignored")
        .const_attribute("node", "x")
        .const_attribute("node", "a")
        .build();
    assert_eq!(
        attrs(metrics.gauge_attributes(Gauge::Members(State::Left)).iter()),
        vec![
            ("node".to_owned(), "a".to_owned()),
            ("state".to_owned(), "left".to_owned())
        ]
    );
    assert_eq!(
        attrs(metrics.gauge_attributes(Gauge::HealthScore).iter()),
        vec![
            ("node".to_owned(), "a".to_owned()),
            ("state".to_owned(), "ignored".to_owned())
        ]
    );
    assert_eq!(
        attrs(metrics.histogram_attributes(Histogram::Gossip).iter()).len(),
        2
    );
}

#[test]
fn units_agree_with_the_catalog() {
    for c in Counter::all() {
        let unit = counter_unit(c);
        match c.descriptor().unit {
            Unit::Bytes => assert_eq!(unit, "By"),
            Unit::Seconds => assert_eq!(unit, "s"),
            Unit::Count => assert!(unit.starts_with('{') && unit.ends_with('}'), "{unit}"),
        }
    }
    for g in Gauge::all() {
        let unit = gauge_unit(g);
        assert!(
            g.descriptor().unit != Unit::Count || unit.starts_with('{'),
            "{unit}"
        );
    }
    for h in Histogram::all() {
        assert!(matches!(histogram_unit(h), "s" | "By"));
    }
}

#[test]
fn a_caller_meter_keeps_its_scope_and_the_global_provider_is_the_fallback() {
    use opentelemetry::metrics::MeterProvider;

    // The caller's own meter and scope.
    let (provider, exporter) = in_memory();
    let meter = provider.meter("my-app");
    let metrics = OtelMetrics::builder().meter(&meter).build();
    metrics.increment(Counter::TcpAccept, 4);
    let all = flush(&provider, &exporter);
    let last = all.last().expect("one export");
    let scope = last
        .scope_metrics()
        .find(|s| s.scope().name() == "my-app")
        .expect("the caller's scope");
    assert!(scope.metrics().any(|m| m.name() == "memberlist.tcp.accept"));

    // No meter given: the global provider, scope `memberlist`. Only this test sets it.
    let (global, global_exporter) = in_memory();
    opentelemetry::global::set_meter_provider(global.clone());
    let metrics = OtelMetrics::builder().build();
    metrics.increment(Counter::TcpConnect, 6);
    let all = flush(&global, &global_exporter);
    let exported = scope_metrics(&all);
    let AggregatedMetrics::U64(MetricData::Sum(sum)) =
        find(&exported, "memberlist.tcp.connect").data()
    else {
        panic!("a sum")
    };
    assert_eq!(sum.data_points().next().map(|p| p.value()), Some(6));
}
