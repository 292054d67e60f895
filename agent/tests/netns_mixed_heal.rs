//! A mixed cluster on real hosts heals after a partition: two `memberlist agent` processes
//! and two Go memberlist 0.2.2 nodes (the interop peer), each in its own network namespace
//! (see `netns_support`), LAN preset, split so that each side holds one Rust node and one Go
//! node. Go never reconnects by itself (memberlist issue #222); the Rust node on each side
//! does, and gossip carries the news to the Go node beside it.
//!
//! Needs root, iproute2 and Go, so it is `#[ignore]`d: run it with
//! `cargo test -p memberlist-agent --test netns_mixed_heal -- --include-ignored --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod agent_support;
mod netns_support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use agent_support::wait_until;
use memberlist_interop::{GoPeer, GoPeerConfig, NodeState, Preset};
use netns_support::{GOSSIP_PORT, Lab, NsAgent};

const NAMES: [&str; 4] = ["rust-a", "go-a", "rust-b", "go-b"];
/// The LAN preset's longest suspicion timeout for four nodes: 6 × 4 × 1 × 1 s.
const MAX_SUSPICION_TIMEOUT: Duration = Duration::from_secs(24);

/// A script that runs the Go peer inside namespace `ns` (the harness spawns a binary).
fn peer_in(ns: &str, dir: &std::path::Path) -> PathBuf {
    let binary = memberlist_interop::build_peer().expect("the Go peer builds");
    let script = dir.join(format!("{ns}.sh"));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nexec ip netns exec {ns} {} \"$@\"\n",
            binary.display()
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();
    script
}

struct Mixed {
    rust: [NsAgent; 2],
    go: [GoPeer; 2],
}

impl Mixed {
    /// Whether node `observer` lists node `node` alive (indices into [`NAMES`]).
    fn alive_in(&self, observer: usize, node: usize) -> bool {
        let name = NAMES[node];
        match observer {
            0 | 2 => self.rust[observer / 2]
                .state_of(name)
                .is_some_and(|s| s == "alive"),
            _ => self.go[observer / 2].members().is_ok_and(|members| {
                members
                    .iter()
                    .any(|m| m.name == name && m.state == NodeState::Alive)
            }),
        }
    }

    fn all_alive(&self) -> bool {
        (0..4).all(|o| (0..4).all(|n| self.alive_in(o, n)))
    }

    /// Whether each side sees no node of the other side alive.
    fn split_seen(&self) -> bool {
        [(0, [2, 3]), (1, [2, 3]), (2, [0, 1]), (3, [0, 1])]
            .iter()
            .all(|(o, others)| others.iter().all(|&n| !self.alive_in(*o, n)))
    }
}

#[test]
#[ignore = "needs root (network namespaces) and Go; run with --include-ignored"]
fn netns_mixed_rust_and_go_cluster_heals_after_a_partition() {
    let lab = Lab::new(4);
    let dir = std::env::temp_dir().join(format!("mixed-heal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let seed = lab.gossip_addr(0).to_string();
    let rust_a = lab.spawn(0, NAMES[0], lab.gossip_addr(0), &["--preset", "lan"]);
    let go_peer = |i: usize| {
        let mut config = GoPeerConfig::new(NAMES[i]).with_join([seed.clone()]);
        config.preset = Preset::Lan;
        config.bind = lab.data_ip(i).into();
        config.port = GOSSIP_PORT;
        config.binary = Some(peer_in(lab.ns(i), &dir));
        GoPeer::spawn(config).expect("the Go peer starts and joins")
    };
    let go_a = go_peer(1);
    let rust_b = lab.spawn(
        2,
        NAMES[2],
        lab.gossip_addr(2),
        &["--preset", "lan", "--join", &seed],
    );
    let go_b = go_peer(3);
    let cluster = Mixed {
        rust: [rust_a, rust_b],
        go: [go_a, go_b],
    };
    assert!(
        wait_until(Duration::from_secs(40), || cluster.all_alive()),
        "the mixed cluster did not converge"
    );

    // Nodes 2 and 3 (rust-b, go-b) on one side, 0 and 1 on the other.
    let split = Instant::now();
    lab.partition(&[2, 3]);
    assert!(
        wait_until(MAX_SUSPICION_TIMEOUT * 2, || cluster.split_seen()),
        "the sides did not see each other fail"
    );
    let detected = split.elapsed();
    let hold = MAX_SUSPICION_TIMEOUT + Duration::from_secs(16);
    let mut same_side_trouble = 0;
    while split.elapsed() < hold {
        for (o, n) in [(0, 1), (1, 0), (2, 3), (3, 2)] {
            if !cluster.alive_in(o, n) {
                same_side_trouble += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let healing = Instant::now();
    lab.heal();
    let healed = wait_until(Duration::from_secs(60), || cluster.all_alive());
    let heal_time = healing.elapsed();
    eprintln!(
        "RESULT mixed partition: rust-a + go-a | rust-b + go-b (LAN preset), split {:.1} s \
         (failures seen after {:.1} s); healed (every node, Go's included, sees all alive) \
         in {}; same-side non-alive polls {same_side_trouble}",
        hold.as_secs_f64(),
        detected.as_secs_f64(),
        if healed {
            format!("{:.1} s", heal_time.as_secs_f64())
        } else {
            "NOT within 60 s".into()
        }
    );
    assert!(healed, "the mixed cluster did not heal within 60 s");
    assert!(
        heal_time <= Duration::from_secs(10),
        "healing took {:.1} s, more than 10 s",
        heal_time.as_secs_f64()
    );
    assert_eq!(same_side_trouble, 0, "a node saw its own side fail");
    for peer in &cluster.go {
        assert!(peer.exit_status().is_none(), "a Go node exited");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
