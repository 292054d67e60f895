use std::collections::HashSet;

use super::*;

#[test]
fn indexes_are_dense_and_round_trip() {
    let counters: Vec<_> = Counter::all().collect();
    assert_eq!(counters.len(), Counter::COUNT);
    for (i, c) in counters.iter().enumerate() {
        assert_eq!(c.index(), i, "{c:?}");
        assert_eq!(Counter::from_index(i), Some(*c));
    }
    assert_eq!(Counter::from_index(Counter::COUNT), None);

    let gauges: Vec<_> = Gauge::all().collect();
    assert_eq!(gauges.len(), Gauge::COUNT);
    for (i, g) in gauges.iter().enumerate() {
        assert_eq!(g.index(), i, "{g:?}");
    }
    assert_eq!(Gauge::from_index(Gauge::COUNT), None);

    let hists: Vec<_> = Histogram::all().collect();
    assert_eq!(hists.len(), Histogram::COUNT);
    for (i, h) in hists.iter().enumerate() {
        assert_eq!(h.index(), i, "{h:?}");
    }
}

fn descriptors() -> Vec<(&'static Descriptor, Option<&'static str>)> {
    let mut all: Vec<_> = Counter::all()
        .map(|c| (c.descriptor(), c.label_value()))
        .collect();
    all.extend(Gauge::all().map(|g| (g.descriptor(), g.label_value())));
    all.extend(Histogram::all().map(|h| (h.descriptor(), h.label_value())));
    all
}

#[test]
fn series_are_unique_and_labels_match_descriptors() {
    let mut series = HashSet::new();
    for (d, label) in descriptors() {
        assert_eq!(d.label.is_some(), label.is_some(), "{}", d.name);
        assert!(
            series.insert((d.prometheus_name, label)),
            "{} twice",
            d.name
        );
    }
    // Distinct metrics have distinct names in every naming scheme.
    let mut metrics: Vec<_> = descriptors().into_iter().map(|(d, _)| *d).collect();
    metrics.dedup();
    let names =
        |f: fn(&Descriptor) -> &'static str| metrics.iter().map(f).collect::<HashSet<_>>().len();
    assert_eq!(names(|d| d.name), metrics.len());
    assert_eq!(names(|d| d.prometheus_name), metrics.len());
    assert_eq!(names(|d| d.otel_name), metrics.len());
}

#[test]
fn prometheus_names_follow_its_conventions() {
    for (d, _) in descriptors() {
        let p = d.prometheus_name;
        assert!(p.starts_with("memberlist_"), "{p}");
        assert!(p.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{p}");
        assert_eq!(d.kind == Kind::Counter, p.ends_with("_total"), "{p}");
        match d.unit {
            Unit::Seconds => assert!(p.ends_with("_seconds"), "{p}"),
            Unit::Bytes => assert!(p.contains("_bytes"), "{p}"),
            Unit::Count => assert!(!p.contains("_bytes") && !p.contains("_seconds"), "{p}"),
        }
        assert!(d.name.starts_with("memberlist."), "{}", d.name);
        assert!(!d.help.is_empty());
    }
}

#[test]
fn go_names_are_those_of_the_spec() {
    // spec/go-wire-protocol.md §11: the names Go's go-metrics emits.
    let go: HashSet<_> = descriptors()
        .into_iter()
        .filter(|(d, _)| d.origin != Origin::Rust)
        .map(|(d, _)| d.name)
        .collect();
    for name in [
        "memberlist.tcp.accept",
        "memberlist.tcp.connect",
        "memberlist.tcp.sent",
        "memberlist.udp.sent",
        "memberlist.udp.received",
        "memberlist.probeNode",
        "memberlist.gossip",
        "memberlist.pushPullNode",
        "memberlist.degraded.probe",
        "memberlist.degraded.timeout",
        "memberlist.msg.alive",
        "memberlist.msg.suspect",
        "memberlist.msg.dead",
        "memberlist.health.score",
        "memberlist.node.instances",
        "memberlist.size.local",
        "memberlist.size.remote",
        "memberlist.queue.broadcasts",
    ] {
        assert!(go.contains(name), "{name} missing from the catalog");
    }
    assert_eq!(go.len(), 18);
}

#[test]
fn in_memory_sink_accumulates() {
    let sink = InMemoryMetrics::new();
    sink.increment(Counter::PacketsDropped(DropReason::Decrypt), 2);
    sink.increment(Counter::PacketsDropped(DropReason::Decrypt), 3);
    assert_eq!(
        sink.counter(Counter::PacketsDropped(DropReason::Decrypt)),
        5
    );
    assert_eq!(sink.counter(Counter::PacketsDropped(DropReason::Decode)), 0);
    assert_eq!(
        sink.counter(Counter::StreamsDropped(DropReason::Decrypt)),
        0
    );
    sink.set(Gauge::HealthScore, 2.0);
    sink.set(Gauge::HealthScore, 1.0);
    assert_eq!(sink.gauge(Gauge::HealthScore), 1.0);
    for v in [3.0, 1.0, 2.0] {
        sink.record(Histogram::PushPullSizeRemote, v);
    }
    let s = sink.histogram(Histogram::PushPullSizeRemote);
    assert_eq!(
        s,
        HistogramSummary {
            count: 3,
            sum: 6.0,
            min: 1.0,
            max: 3.0,
            last: 2.0
        }
    );
    assert_eq!(sink.histogram(Histogram::Gossip).count, 0);
}

#[test]
fn sinks_work_behind_arc_dyn() {
    let sink = std::sync::Arc::new(InMemoryMetrics::new());
    let dynamic: std::sync::Arc<dyn Metrics> = sink.clone();
    dynamic.increment(Counter::Conflicts, 1);
    assert_eq!(sink.counter(Counter::Conflicts), 1);
}
