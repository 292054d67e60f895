use memberlist_core::machine::State;
use memberlist_core::metrics::{Counter, DropReason, Gauge, Histogram, Metrics};
use memberlist_core::wire::Limit;

use super::*;

#[test]
fn every_catalog_series_is_exported_under_its_prometheus_name() {
    let metrics = PrometheusMetrics::new().expect("register");
    // Touch every series so that even zero-valued labelled series appear.
    for c in Counter::all() {
        metrics.increment(c, 1);
    }
    for g in Gauge::all() {
        metrics.set(g, 1.0);
    }
    for h in Histogram::all() {
        metrics.record(h, 1.0);
    }
    let text = metrics.render().expect("render");
    for c in Counter::all() {
        let d = c.descriptor();
        let series = match c.label_value() {
            Some(v) => format!(
                "{}{{{}=\"{v}\"}} 1",
                d.prometheus_name,
                d.label.unwrap_or("")
            ),
            None => format!("{} 1", d.prometheus_name),
        };
        assert!(text.contains(&series), "{series} missing in\n{text}");
        assert!(text.contains(&format!("# TYPE {} counter", d.prometheus_name)));
    }
    for g in Gauge::all() {
        let d = g.descriptor();
        assert!(text.contains(&format!("# TYPE {} gauge", d.prometheus_name)));
    }
    for h in Histogram::all() {
        let d = h.descriptor();
        assert!(text.contains(&format!("# TYPE {} histogram", d.prometheus_name)));
        assert!(
            text.contains(&format!("{}_count 1", d.prometheus_name)),
            "{}",
            d.prometheus_name
        );
    }
}

#[test]
fn updates_reach_the_right_series() {
    let metrics = PrometheusMetrics::new().expect("register");
    metrics.increment(Counter::PacketsDropped(DropReason::Decrypt), 3);
    metrics.increment(Counter::UdpSentBytes, 1400);
    metrics.increment(Counter::LimitExceeded(Limit::StreamDeadline), 2);
    metrics.set(Gauge::Members(State::Suspect), 2.0);
    metrics.record(Histogram::ProbeRtt, 0.0007);
    let text = metrics.render().expect("render");
    assert!(
        text.contains(r#"memberlist_limit_exceeded_total{limit="stream_deadline"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"memberlist_udp_dropped_total{reason="decrypt"} 3"#),
        "{text}"
    );
    assert!(text.contains("memberlist_udp_sent_bytes_total 1400"));
    assert!(text.contains(r#"memberlist_members{state="suspect"} 2"#));
    assert!(text.contains(r#"memberlist_probe_rtt_seconds_bucket{le="0.0005"} 0"#));
    assert!(text.contains(r#"memberlist_probe_rtt_seconds_bucket{le="0.001"} 1"#));
    assert!(text.contains("memberlist_probe_rtt_seconds_count 1"));
}

#[test]
fn constant_labels_and_a_shared_registry() {
    let registry = prometheus::Registry::new();
    let a = PrometheusMetrics::builder()
        .registry(&registry)
        .const_label("node", "a")
        .build()
        .expect("register a");
    let b = PrometheusMetrics::builder()
        .registry(&registry)
        .const_label("node", "b")
        .build()
        .expect("register b");
    a.increment(Counter::MsgDead, 1);
    b.increment(Counter::MsgDead, 2);
    let text = a.render().expect("render");
    assert!(
        text.contains(r#"memberlist_msg_dead_total{node="a"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"memberlist_msg_dead_total{node="b"} 2"#),
        "{text}"
    );
}

#[test]
fn registering_twice_without_distinguishing_labels_is_an_error() {
    let registry = prometheus::Registry::new();
    PrometheusMetrics::builder()
        .registry(&registry)
        .build()
        .expect("first");
    let err = PrometheusMetrics::builder()
        .registry(&registry)
        .build()
        .expect_err("the second registration collides");
    assert!(err.to_string().contains("prometheus"), "{err}");
}
