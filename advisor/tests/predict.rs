//! The predictions against the performance model's table and basic sanity: monotonic in N
//! and in loss, input checks, Lifeguard off.

use std::time::Duration;

use memberlist_advisor::{PredictError, predict};
use memberlist_core::machine::ProtocolConfig;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn lan_matches_the_spec_table() {
    // performance-model.md: N, suspicion min, max, retransmits, push/pull every.
    let table = [
        (10, 4, 24, 8, 30),
        (100, 8, 48, 12, 90),
        (1_000, 12, 72, 16, 180),
        (10_000, 16, 96, 20, 300),
    ];
    let cfg = ProtocolConfig::lan("a");
    for (n, min, max, retransmits, push_pull) in table {
        let p = predict(&cfg, n, 0.0).expect("valid");
        assert_eq!(p.confirmations.value, 2, "N = {n}");
        assert_eq!(p.suspicion_timeout.value.low, secs(min), "N = {n}");
        assert_eq!(p.suspicion_timeout.value.high, secs(max), "N = {n}");
        assert_eq!(p.retransmit_limit.value, retransmits, "N = {n}");
        assert_eq!(p.push_pull_interval.value, secs(push_pull), "N = {n}");
        // Dead no earlier than first suspicion + min, no later than + max (+ spread).
        let first = p.first_suspicion.value;
        assert!(p.time_to_dead.value.low >= first + secs(min), "N = {n}");
        assert!(p.time_to_dead.value.high >= first + secs(max), "N = {n}");
    }
}

#[test]
fn crash_to_all_dead_is_near_the_spec_model() {
    // performance-model.md: ≈ 6.2 / 10.8 / 15.2 / 19.6 s with the confirmations in; the
    // dissemination estimate here differs a little from the model's medians.
    let cfg = ProtocolConfig::lan("a");
    for (n, model) in [(10, 6.2), (100, 10.8), (1_000, 15.2), (10_000, 19.6)] {
        let low = predict(&cfg, n, 0.0)
            .expect("valid")
            .time_to_dead
            .value
            .low
            .as_secs_f64();
        assert!(
            (low - model).abs() / model < 0.1,
            "N = {n}: {low} vs {model}"
        );
    }
}

#[test]
fn first_detection_is_the_wait_for_a_probe_plus_its_period() {
    let cfg = ProtocolConfig::lan("a");
    // Large N: the first probe comes about one period after the crash, and the verdict one
    // period after the probe.
    let large = predict(&cfg, 10_000, 0.0)
        .expect("valid")
        .first_suspicion
        .value;
    assert!((large.as_secs_f64() - 2.0).abs() < 0.001, "{large:?}");
    // Two nodes: the only prober picks the crashed node every period, so the wait is
    // uniform over one period (mean T/2).
    let two = predict(&cfg, 2, 0.0).expect("valid").first_suspicion.value;
    assert_eq!(two, Duration::from_millis(1500));
    // Ten nodes: 0.953 T of wait (worked by hand from the formula).
    let ten = predict(&cfg, 10, 0.0).expect("valid").first_suspicion.value;
    assert!((ten.as_secs_f64() - 1.953).abs() < 0.001, "{ten:?}");
    // It scales with the probe interval.
    let wan = predict(&ProtocolConfig::wan("a"), 10_000, 0.0).expect("valid");
    assert!((wan.first_suspicion.value.as_secs_f64() - 10.0).abs() < 0.01);
}

#[test]
fn dissemination_estimate_at_one_hundred_nodes() {
    // 2 ln(100) / (3 gossip targets + 2 × 0.2 s / 1 s piggybacked) = 2.71 rounds.
    let p = predict(&ProtocolConfig::lan("a"), 100, 0.0).expect("valid");
    assert!((p.dissemination_rounds.value - 2.0 * 100f64.ln() / 3.4).abs() < 1e-9);
    let t = p.dissemination_time.value.as_secs_f64();
    assert!((t - 0.2 * p.dissemination_rounds.value).abs() < 1e-6);
    // Loss thins the fanout: 2 % loss → f = 3.4 × 0.98.
    let lossy = predict(&ProtocolConfig::lan("a"), 100, 0.02).expect("valid");
    assert!((lossy.dissemination_rounds.value - 2.0 * 100f64.ln() / (3.4 * 0.98)).abs() < 1e-9);
}

#[test]
fn quiet_bandwidth_is_near_the_spec_model() {
    // performance-model.md: ≈ 0.35 / 1.0 / 5.3 KiB/s per direction.
    let cfg = ProtocolConfig::lan("a");
    for (n, kib) in [(100, 0.35), (1_000, 1.0), (10_000, 5.3)] {
        let p = predict(&cfg, n, 0.0).expect("valid");
        let got = p.bandwidth.quiet_total.value / 1024.0;
        assert!(
            (got - kib).abs() / kib < 0.25,
            "N = {n}: {got} KiB/s vs {kib}"
        );
        assert_eq!(p.bandwidth.gossip_quiet.value, 0.0);
    }
    let p = predict(&cfg, 100, 0.0).expect("valid");
    assert_eq!(p.bandwidth.probes.value, 93.0 + 22.0);
    // 3 nodes × 1,400 B, 5 times a second ≈ 20.5 KiB/s.
    assert!((p.bandwidth.gossip_ceiling.value / 1024.0 - 20.5).abs() < 0.05);
}

#[test]
fn figures_grow_with_the_cluster() {
    let cfg = ProtocolConfig::lan("a");
    // From 5 nodes on, every probe has its 3 relays (fewer relays at N = 3 mean more risk).
    let sizes = [5, 10, 33, 100, 500, 1_000, 5_000, 20_000];
    let all: Vec<_> = sizes
        .iter()
        .map(|&n| predict(&cfg, n, 0.01).expect("valid"))
        .collect();
    for w in all.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        assert!(b.time_to_dead.value.low >= a.time_to_dead.value.low);
        assert!(b.time_to_dead.value.high >= a.time_to_dead.value.high);
        assert!(b.dissemination_rounds.value > a.dissemination_rounds.value);
        assert!(b.push_pull_interval.value >= a.push_pull_interval.value);
        assert!(b.retransmit_limit.value >= a.retransmit_limit.value);
        assert!(b.bandwidth.push_pull.value >= a.bandwidth.push_pull.value);
        assert!(b.memory.value > a.memory.value);
        assert!(b.risk.per_cluster_hour.value >= a.risk.per_cluster_hour.value);
        // From T at N = 2 up towards T·e/(e−1).
        assert!(b.first_suspicion.value >= a.first_suspicion.value);
    }
}

#[test]
fn figures_worsen_with_loss() {
    let cfg = ProtocolConfig::lan("a");
    let losses = [0.0, 0.01, 0.05, 0.1, 0.3, 0.5, 0.9];
    let all: Vec<_> = losses
        .iter()
        .map(|&p| predict(&cfg, 200, p).expect("valid"))
        .collect();
    assert_eq!(all[0].risk.suspicion_per_probe.value, 0.0);
    for w in all.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        assert!(b.risk.suspicion_per_probe.value > a.risk.suspicion_per_probe.value);
        assert!(b.risk.udp_only_per_probe.value > a.risk.udp_only_per_probe.value);
        assert!(b.risk.per_node_hour.value > a.risk.per_node_hour.value);
        assert!(
            b.risk.false_deaths_per_cluster_hour.value
                >= a.risk.false_deaths_per_cluster_hour.value
        );
        assert!(b.dissemination_rounds.value > a.dissemination_rounds.value);
        assert!(b.time_to_dead.value.low > a.time_to_dead.value.low);
    }
    // False deaths never exceed false suspicions.
    for p in &all {
        assert!(p.risk.false_deaths_per_cluster_hour.value <= p.risk.per_cluster_hour.value);
        assert!(p.risk.suspicion_per_probe.value <= p.risk.udp_only_per_probe.value);
    }
}

#[test]
fn risk_follows_the_probe_formula() {
    let cfg = ProtocolConfig::lan("a");
    let p = predict(&cfg, 100, 0.1).expect("valid");
    let q_d = 1.0 - 0.9f64.powi(2);
    let q_i = 1.0 - 0.9f64.powi(4);
    let r = &p.risk;
    assert!((r.udp_only_per_probe.value - q_d * q_i.powi(3)).abs() < 1e-12);
    assert!((r.suspicion_per_probe.value - q_d * q_i.powi(4)).abs() < 1e-12);
    assert!((r.per_cluster_hour.value - 100.0 * 3600.0 * r.suspicion_per_probe.value).abs() < 1e-9);
    let mut no_tcp = cfg.clone();
    no_tcp.disable_tcp_pings = true;
    let p = predict(&no_tcp, 100, 0.1).expect("valid");
    assert_eq!(p.risk.tcp_failure.value, 1.0);
    assert_eq!(
        p.risk.suspicion_per_probe.value,
        p.risk.udp_only_per_probe.value
    );
}

#[test]
fn bad_inputs_are_refused() {
    let cfg = ProtocolConfig::lan("a");
    for loss in [-0.01, 1.0, 1.5, f64::NAN, f64::INFINITY] {
        assert!(
            matches!(predict(&cfg, 100, loss), Err(PredictError::Loss(_))),
            "loss {loss}"
        );
    }
    for n in [0, 1] {
        assert_eq!(predict(&cfg, n, 0.0), Err(PredictError::Nodes(n)));
    }
    // A configuration without a name is still explained.
    assert!(predict(&ProtocolConfig::lan(""), 100, 0.0).is_ok());
    let mut bad = cfg.clone();
    bad.probe_interval = Duration::ZERO;
    let err = predict(&bad, 100, 0.0).expect_err("zero probe interval");
    assert!(matches!(err, PredictError::Config(_)));
    assert!(err.to_string().contains("probe_interval"), "{err}");
}

#[test]
fn lifeguard_off_has_a_fixed_timeout() {
    let mut cfg = ProtocolConfig::lan("a");
    cfg.lifeguard = false;
    let p = predict(&cfg, 100, 0.0).expect("valid");
    assert_eq!(p.confirmations.value, 0);
    assert_eq!(p.suspicion_timeout.value.low, secs(8));
    assert_eq!(p.suspicion_timeout.value.high, secs(8));
    assert_eq!(p.time_to_dead.value.low, p.time_to_dead.value.high);
    assert!(!p.lifeguard);
    assert!(p.to_string().contains("Lifeguard off"));
}

#[test]
fn presets_differ_as_go_sets_them() {
    let wan = predict(&ProtocolConfig::wan("a"), 100, 0.0).expect("valid");
    // WAN: SuspicionMult 6, ProbeInterval 5 s → min 6 × 2 × 5 s = 60 s, k = 4.
    assert_eq!(wan.suspicion_timeout.value.low, secs(60));
    assert_eq!(wan.confirmations.value, 4);
    let local = predict(&ProtocolConfig::local("a"), 5, 0.0).expect("valid");
    assert_eq!(local.confirmations.value, 1);
    assert_eq!(local.suspicion_timeout.value.low, secs(3));
    assert_eq!(local.suspicion_timeout.value.high, secs(18));
}

#[test]
fn gossip_off_spreads_by_push_pull() {
    let mut cfg = ProtocolConfig::lan("a");
    cfg.gossip_nodes = 0;
    let p = predict(&cfg, 100, 0.0).expect("valid");
    // log2(100) → 7 push/pull intervals of 90 s.
    assert_eq!(p.dissemination_time.value, secs(7 * 90));
    cfg.push_pull_interval = Duration::ZERO;
    let p = predict(&cfg, 100, 0.0).expect("valid");
    assert_eq!(p.dissemination_time.value, Duration::MAX);
    assert_eq!(p.bandwidth.push_pull.value, 0.0);
    assert!(p.to_string().contains("never"));
}

#[test]
fn operator_text_names_every_section() {
    let text = predict(&ProtocolConfig::lan("a"), 100, 0.02)
        .expect("valid")
        .to_string();
    for needle in [
        "100 nodes, 2% datagram loss",
        "first suspicion",
        "8 s to 48 s",
        "push/pull every",
        "90 s",
        "member table",
        "per cluster-hour",
        "log10",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[cfg(feature = "serde")]
#[test]
fn json_has_values_units_and_formulas() {
    let p = predict(&ProtocolConfig::lan("a"), 100, 0.02).expect("valid");
    let v = serde_json::to_value(&p).expect("serializable");
    assert_eq!(v["nodes"], 100);
    assert_eq!(v["probe_interval"], 1.0);
    assert_eq!(v["suspicion_timeout"]["value"]["low"], 8.0);
    assert_eq!(v["suspicion_timeout"]["value"]["high"], 48.0);
    assert_eq!(v["suspicion_timeout"]["unit"], "s");
    assert_eq!(v["push_pull_interval"]["value"], 90.0);
    assert_eq!(v["retransmit_limit"]["value"], 12);
    assert_eq!(v["sizes"]["ping"], 93);
    assert_eq!(v["bandwidth"]["probes"]["unit"], "B/s");
    assert!(v["risk"]["per_cluster_hour"]["formula"].is_string());
    assert_eq!(v["assumptions"]["name_len"], 16);
}
