//! Tests of config files: presets, round trips, durations, keys and clear errors.
#![allow(clippy::unwrap_used)]

use super::*;

#[test]
fn base64_keys_are_read_and_bad_text_is_refused() {
    // Serf's documented example key.
    let ring = parse_keys(&["cg8StVXbQJ0gPvMd9o7yrg==".into()])
        .unwrap()
        .unwrap();
    assert_eq!(ring.primary().as_bytes().len(), 16);
    for bad in ["", "abc", "a===", "ab=c", "ab==abcd", "ab!d"] {
        let err = parse_keys(&[bad.into()]).unwrap_err();
        assert_eq!(err, ConfigError::KeyEncoding { index: 0 }, "{bad}");
    }
}

#[test]
fn json_snippet_with_keys_and_lists() {
    let json = r#"{
        "name": "n1",
        "preset": "wan",
        "probe_interval": "4s",
        "suspicion_mult": 5,
        "gossip_interval": 250,
        "dead_node_reclaim_time": "1m 30s",
        "delegate_versions": [1, 3, 2],
        "seeds": ["10.0.0.1:7946", "[fd00::1]:7946"],
        "cidrs_allowed": ["10.0.0.0/8"],
        "keys": ["cg8StVXbQJ0gPvMd9o7yrg==", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="],
        "gossip_verify_incoming": false,
        "leave_propagate_delay": "1s"
    }"#;
    let file: ConfigFile = serde_json::from_str(json).unwrap();
    let c = file.into_config().unwrap();
    assert_eq!(c.name(), "n1");
    assert_eq!(c.tcp_timeout(), Duration::from_secs(30)); // wan
    assert_eq!(c.protocol.probe_interval, Duration::from_secs(4));
    assert_eq!(c.protocol.suspicion_mult, 5);
    assert_eq!(c.protocol.gossip_interval, Duration::from_millis(250));
    assert_eq!(c.protocol.dead_node_reclaim_time, Duration::from_secs(90));
    assert_eq!(c.protocol.delegate_versions, (1, 3, 2));
    assert_eq!(c.seeds.len(), 2);
    assert_eq!(c.protocol.cidrs_allowed.len(), 1);
    let ring = c.keyring.clone().unwrap();
    assert_eq!(ring.keys().len(), 2);
    assert_eq!(ring.primary().len(), 16);
    assert_eq!(ring.keys()[1].len(), 32);
    assert!(!c.gossip_verify_incoming);
    assert_eq!(c.leave_propagate_delay, Duration::from_secs(1));

    // Full round trip through JSON.
    let back: ConfigFile =
        serde_json::from_str(&serde_json::to_string(&ConfigFile::from(&c)).unwrap()).unwrap();
    let again = back.into_config().unwrap();
    assert_eq!(again.protocol, c.protocol);
    assert_eq!(again.keyring, c.keyring);
    assert_eq!(again.leave_propagate_delay, c.leave_propagate_delay);
}

#[test]
fn toml_round_trip_of_every_preset() {
    for c in [Config::lan("a"), Config::wan("b"), Config::local("c")] {
        let text = toml::to_string(&ConfigFile::from(&c)).unwrap();
        let file: ConfigFile = toml::from_str(&text).unwrap();
        let back = file.into_config().unwrap();
        assert_eq!(back.protocol, c.protocol, "{text}");
        assert_eq!(back.max_inbound_streams, c.max_inbound_streams);
        assert_eq!(back.limits, c.limits);
    }
}

#[test]
fn limit_keys() {
    let file: ConfigFile = toml::from_str(
        "name = \"a\"\nmax_datagram_size = 2048\nmax_push_nodes = 10\n\
         max_user_state = 100\nmax_user_message = 200\nmax_decompressed_size = 4096\n\
         max_remote_meta = 1024\nmax_incarnation_jump = 0",
    )
    .unwrap();
    let c = file.into_config().unwrap();
    let l = c.limits;
    assert_eq!(
        (l.max_datagram_size, l.max_push_nodes, l.max_user_state),
        (2048, 10, 100)
    );
    assert_eq!(
        (
            l.max_user_message,
            l.max_decompressed_size,
            l.max_remote_meta
        ),
        (200, 4096, 1024)
    );
    assert_eq!(c.protocol.max_incarnation_jump, 0);
    let small: ConfigFile = toml::from_str("name = \"a\"\nmax_datagram_size = 10").unwrap();
    let e = small.into_config().unwrap_err().to_string();
    assert!(e.contains("max_datagram_size"), "{e}");
}

#[test]
fn join_follow_up_keys() {
    let file: ConfigFile =
        toml::from_str("name = \"a\"\njoin_push_pulls = 0\njoin_push_pull_delay = \"3s\"").unwrap();
    let c = file.into_config().unwrap();
    assert_eq!(c.protocol.join_push_pulls, 0);
    assert_eq!(c.protocol.join_push_pull_delay, Duration::from_secs(3));
    let defaults: ConfigFile = toml::from_str("name = \"a\"").unwrap();
    assert_eq!(defaults.into_config().unwrap().protocol.join_push_pulls, 3);
    let zero: ConfigFile = toml::from_str("name = \"a\"\njoin_push_pull_delay = 0").unwrap();
    let e = zero.into_config().unwrap_err().to_string();
    assert!(e.contains("join_push_pull_delay"), "{e}");
}

#[test]
fn clear_errors() {
    let err = |text: &str| match toml::from_str::<ConfigFile>(text) {
        Ok(f) => f.into_config().unwrap_err().to_string(),
        Err(e) => e.to_string(),
    };
    assert!(err("preset = \"lan\"").contains("name: a node name is required"));
    let e = err("name = \"a\"\npreset = \"moon\"");
    assert!(
        e.contains("unknown variant `moon`") && e.contains("`lan`"),
        "{e}"
    );
    assert!(err("name = \"a\"\nprobe_interval = \"fast\"").contains("invalid duration"));
    assert!(err("name = \"a\"\nprobe_interval = -5").contains("cannot be negative"));
    assert!(err("name = \"a\"\nprobe_intervall = \"1s\"").contains("unknown field"));
    assert!(err("name = \"a\"\nkeys = [\"AAAA\"]").contains("key 0 is 3 bytes"));
    assert!(err("name = \"a\"\nkeys = [\"***\"]").contains("not valid base64"));
    let e = err("name = \"a\"\nseeds = [\"nowhere:http\"]");
    assert!(e.contains("seed \"nowhere:http\": invalid port"), "{e}");
    assert!(
        err("name = \"a\"\nprobe_timeout = \"5s\"")
            .contains("probe_timeout: must be positive and at most probe_interval")
    );
    let no_keys: ConfigFile = toml::from_str("name = \"a\"\nkeys = []").unwrap();
    assert!(no_keys.into_config().unwrap().keyring.is_none());
}
