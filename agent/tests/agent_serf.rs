//! `memberlist agent --delegate-version 2,5,5 --join` a real `serf agent` (ignored by
//! default: the interop suite runs it with `cargo test --workspace -- --include-ignored`).
//! Skipped, with a note, when `serf` is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod agent_support;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use agent_support::*;
use serde_json::Value;

/// A `serf agent`, killed when dropped.
struct Serf {
    bind: SocketAddr,
    rpc: SocketAddr,
    child: Child,
}

impl Drop for Serf {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serf {
    /// Starts `serf agent` on free ports (retrying if one was taken meanwhile) and waits for
    /// its RPC to answer.
    fn start(name: &str, tag: &str) -> Serf {
        for _ in 0..5 {
            let bind = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let rpc = SocketAddr::from(([127, 0, 0, 1], free_port()));
            if bind == rpc {
                continue;
            }
            let child = Command::new("serf")
                .args(["agent", "-node", name, "-tag", tag])
                .arg(format!("-bind={bind}"))
                .arg(format!("-rpc-addr={rpc}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("serf runs");
            let mut serf = Serf { bind, rpc, child };
            if wait_until(Duration::from_secs(10), || serf.members().is_some()) {
                return serf;
            }
            if let Ok(Some(status)) = serf.child.try_wait() {
                eprintln!("serf exited with {status}; retrying on other ports");
            }
        }
        panic!("cannot start serf agent {name}");
    }

    /// `serf members -format json`, the `members` array.
    fn members(&self) -> Option<Vec<Value>> {
        let out = Command::new("serf")
            .arg("members")
            .arg(format!("-rpc-addr={}", self.rpc))
            .args(["-format", "json"])
            .stdin(Stdio::null())
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let json: Value = serde_json::from_slice(&out.stdout).ok()?;
        json["members"].as_array().cloned()
    }

    fn member(&self, name: &str) -> Option<Value> {
        self.members()?.into_iter().find(|m| m["name"] == name)
    }
}

fn serf_installed() -> bool {
    Command::new("serf")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
#[ignore = "needs serf; run with --include-ignored"]
fn the_agent_joins_a_serf_agent_and_each_lists_the_other_alive() {
    if !serf_installed() {
        eprintln!("skipped: `serf` is not installed (apt-get install -y serf)");
        return;
    }
    let serf = Serf::start("serf-1", "role=serf");
    let seed = serf.bind.to_string();
    let mut ours = Agent::start(&[
        "--name",
        "rs-agent",
        "--bind",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--delegate-version",
        "2,5,5",
        "--meta",
        "role=rust-agent",
        "--meta",
        "lang=rust",
        "--join",
        &seed,
    ]);

    // Serf lists us alive, with our --meta as its tags.
    let mut seen = None;
    assert!(
        wait_until(Duration::from_secs(15), || {
            seen = serf.member("rs-agent").filter(|m| m["status"] == "alive");
            seen.is_some()
        }),
        "serf does not list rs-agent alive: {:?}\n{}",
        serf.members(),
        ours.logs()
    );
    let seen = seen.unwrap();
    assert_eq!(seen["addr"], ours.bind.to_string());
    assert_eq!(seen["tags"]["role"], "rust-agent", "{seen}");
    assert_eq!(seen["tags"]["lang"], "rust", "{seen}");

    // We list serf alive, its tags decoded.
    assert!(
        wait_until(Duration::from_secs(10), || ours
            .state_of("serf-1")
            .as_deref()
            == Some("alive")),
        "{:?}",
        ours.members()
    );
    let theirs = ours
        .members()
        .into_iter()
        .find(|m| m["name"] == "serf-1")
        .unwrap();
    assert_eq!(theirs["tags"]["role"], "serf", "{theirs}");
    let out = run(&["members", "--http", &ours.http().to_string()]);
    assert!(out.stdout.contains("role=serf"), "{}", out.stdout);

    // Leaving: serf sees a memberlist-level leave as `failed` (a Serf leave intent would be
    // needed for `left`); either way we exit 0 and serf stops listing us alive.
    ours.signal("INT");
    let status = ours.wait_exit(Duration::from_secs(10)).expect("exits");
    assert!(status.success(), "{}", ours.logs());
    assert!(
        wait_until(Duration::from_secs(15), || serf
            .member("rs-agent")
            .is_some_and(|m| m["status"] != "alive")),
        "{:?}",
        serf.member("rs-agent")
    );
}
