//! Reading OTLP export requests in the receiver tests.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use memberlist_core::machine::State;
use memberlist_core::metrics::{
    BYTES_BUCKETS as BYTES_BOUNDARIES, SECONDS_BUCKETS as SECONDS_BOUNDARIES,
};
use memberlist_core::metrics::{Counter, DropReason, Gauge, Histogram, Metrics};
use memberlist_opentelemetry::OtelMetrics;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric, number_data_point};
use tokio::sync::mpsc;

/// How long a test waits for an export to reach the receiver.
pub const WAIT: Duration = Duration::from_secs(10);

/// Waits for the next export request the receiver got.
pub async fn next(
    rx: &mut mpsc::UnboundedReceiver<ExportMetricsServiceRequest>,
) -> ExportMetricsServiceRequest {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("an export within the wait")
        .expect("the receiver is running")
}

/// Attributes as sorted `(key, string value)` pairs.
pub fn attrs(kvs: &[KeyValue]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = kvs
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect();
    out.sort();
    out
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = list
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    out.sort();
    out
}

/// The resource's `service.name`.
pub fn service_name(req: &ExportMetricsServiceRequest) -> Option<String> {
    let resource = req.resource_metrics.first()?.resource.as_ref()?;
    attrs(&resource.attributes)
        .into_iter()
        .find(|(k, _)| k == "service.name")
        .map(|(_, v)| v)
}

/// Every metric of the `memberlist` scope in the request.
pub fn memberlist_metrics(req: &ExportMetricsServiceRequest) -> Vec<&Metric> {
    req.resource_metrics
        .iter()
        .flat_map(|rm| &rm.scope_metrics)
        .filter(|sm| sm.scope.as_ref().is_some_and(|s| s.name == "memberlist"))
        .flat_map(|sm| &sm.metrics)
        .collect()
}

pub fn find<'a>(metrics: &[&'a Metric], name: &str) -> &'a Metric {
    metrics
        .iter()
        .copied()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("{name} not exported"))
}

/// The recordings both receiver tests make, through any sink.
pub fn record_sample(metrics: &OtelMetrics) {
    for _ in 0..7 {
        metrics.increment(Counter::MsgAlive, 1);
    }
    for _ in 0..3 {
        metrics.increment(Counter::PacketsDropped(DropReason::Decrypt), 1);
    }
    metrics.increment(Counter::UdpSentBytes, 1400);
    metrics.set(Gauge::Members(State::Alive), 5.0);
    metrics.set(Gauge::Members(State::Alive), 3.0);
    metrics.record(Histogram::ProbeRtt, 0.002);
    metrics.record(Histogram::ProbeRtt, 0.02);
    metrics.record(Histogram::PushPullSizeLocal, 5000.0);
}

/// Checks a request carries what [`record_sample`] recorded, with constant attribute
/// `cluster=blue` on every data point.
pub fn check_sample(req: &ExportMetricsServiceRequest) {
    let metrics = memberlist_metrics(req);
    assert!(!metrics.is_empty(), "no memberlist scope in {req:?}");
    let blue = pairs(&[("cluster", "blue")]);

    let alive = find(&metrics, "memberlist.msg.alive");
    assert_eq!(alive.unit, "{message}");
    assert_eq!(
        alive.description,
        Counter::MsgAlive.descriptor().help,
        "description"
    );
    let Some(metric::Data::Sum(sum)) = &alive.data else {
        panic!("msg.alive is not a sum: {alive:?}")
    };
    assert!(sum.is_monotonic);
    assert_eq!(sum.data_points.len(), 1);
    assert_eq!(
        sum.data_points[0].value,
        Some(number_data_point::Value::AsInt(7))
    );
    assert_eq!(attrs(&sum.data_points[0].attributes), blue);

    let dropped = find(&metrics, "memberlist.udp.dropped");
    assert_eq!(dropped.unit, "{packet}");
    let Some(metric::Data::Sum(sum)) = &dropped.data else {
        panic!("udp.dropped is not a sum")
    };
    let decrypt = pairs(&[("cluster", "blue"), ("reason", "decrypt")]);
    if cfg!(feature = "experimental-bound-instruments") {
        // Bound series exist from the start: every reason is exported.
        assert_eq!(sum.data_points.len(), DropReason::ALL.len());
    } else {
        assert_eq!(sum.data_points.len(), 1, "only the touched series");
    }
    let point = sum
        .data_points
        .iter()
        .find(|p| attrs(&p.attributes) == decrypt)
        .expect("the decrypt series");
    assert_eq!(point.value, Some(number_data_point::Value::AsInt(3)));

    let sent = find(&metrics, "memberlist.udp.sent");
    assert_eq!(sent.unit, "By");

    let members = find(&metrics, "memberlist.members");
    assert_eq!(members.unit, "{member}");
    let Some(metric::Data::Gauge(gauge)) = &members.data else {
        panic!("members is not a gauge")
    };
    let alive = pairs(&[("cluster", "blue"), ("state", "alive")]);
    let point = gauge
        .data_points
        .iter()
        .find(|p| attrs(&p.attributes) == alive)
        .expect("the alive series");
    assert_eq!(point.value, Some(number_data_point::Value::AsDouble(3.0)));

    let rtt = find(&metrics, "memberlist.probe.rtt");
    assert_eq!(rtt.unit, "s");
    let Some(metric::Data::Histogram(hist)) = &rtt.data else {
        panic!("probe.rtt is not a histogram")
    };
    let point = &hist.data_points[0];
    assert_eq!(point.count, 2);
    let sum = point.sum.expect("a sum");
    assert!((sum - 0.022).abs() < 1e-12, "{sum}");
    assert_eq!(point.explicit_bounds, SECONDS_BOUNDARIES);
    assert_eq!(point.bucket_counts.len(), SECONDS_BOUNDARIES.len() + 1);
    assert_eq!(point.bucket_counts.iter().sum::<u64>(), 2);
    assert_eq!(attrs(&point.attributes), blue);

    let size = find(&metrics, "memberlist.push_pull.local_size");
    assert_eq!(size.unit, "By");
    let Some(metric::Data::Histogram(hist)) = &size.data else {
        panic!("push_pull.local_size is not a histogram")
    };
    let point = &hist.data_points[0];
    assert_eq!(point.count, 1);
    assert_eq!(point.sum, Some(5000.0));
    assert_eq!(point.explicit_bounds, BYTES_BOUNDARIES);
    // 5000 B is in (4096, 16384].
    assert_eq!(point.bucket_counts[3], 1);
}
