//! A Rust node in a cluster of real `serf agent`s (Debian's `serf` 0.9.4, built on Go
//! memberlist): `serf members` must list it alive.
//!
//! What serf needs from a memberlist node that is not a serf agent:
//!
//! - **Delegate versions.** Serf sets memberlist's `DelegateProtocolMin/Max/Version` to its
//!   own protocol range 2..=5 and version (`serf members -detailed` shows `Protocol Version:
//!   5  Available Protocol Range: [2, 5]` for the agent), and memberlist's `verifyProtocol`
//!   refuses a push/pull in which some node's current delegate version falls outside
//!   another's range. A node with the default `(0, 0, 0)` is refused; the Rust node needs
//!   [`ProtocolConfig::delegate_versions`](memberlist_core::machine::ProtocolConfig) =
//!   `(2, 5, 5)` (any current version in 2..=5 with a range covering 5 works).
//! - **Metadata** is serf's tags: byte `0xff` then a msgpack map of strings to strings
//!   (`encodeTags`). Metadata that does not start with `0xff` is read as the value of the
//!   `role` tag (serf before protocol 3), so empty metadata shows as `role=""` and is
//!   harmless; no metadata is required.
//! - **User messages and state.** Serf gossips its own messages (join/leave intents, user
//!   events, queries) as memberlist user messages and sends a serf push/pull message (type
//!   byte 2) as its push/pull user state; a plain memberlist node receives them in
//!   `notify_message` / `merge_remote_state` and may ignore them. Serf logs an error
//!   ("Remote state is zero bytes") only if a node sends an empty *non-nil* user state, which
//!   memberlist never does for an empty one.
//! - **Leaving.** Serf marks a member `left` only after that member's own serf leave intent
//!   (a serf message); a memberlist-level leave, which is all a plain memberlist node sends,
//!   shows in serf as `failed`.
//!
//! Run with `cargo test -p memberlist-interop -- --include-ignored` (needs `serf`:
//! `apt-get install -y serf`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use memberlist::runtime::Config;
use memberlist_core::machine::State;
use serde_json::Value;

/// Serf's delegate protocol range and version (serf 0.9.4 agent defaults).
const SERF_DELEGATE_VERSIONS: (u8, u8, u8) = (2, 5, 5);

/// A running `serf agent`, killed when dropped.
struct SerfAgent {
    bind: SocketAddr,
    rpc: SocketAddr,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for SerfAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free for both TCP and UDP on 127.0.0.1 right now (serf binds both).
fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind tcp");
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// One member as `serf members -format json` lists it.
#[derive(Debug, Clone)]
struct SerfMember {
    name: String,
    addr: String,
    status: String,
    tags: BTreeMap<String, String>,
    /// Delegate protocol (min, max, version), as serf reports it.
    protocol: (u64, u64, u64),
}

impl SerfAgent {
    /// Starts `serf agent` on free ports, retrying if a port was taken in between, and waits
    /// until its RPC answers.
    fn start(name: &str) -> SerfAgent {
        let mut last_error = String::new();
        for _ in 0..5 {
            let bind = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let rpc = SocketAddr::from(([127, 0, 0, 1], free_port()));
            if bind == rpc {
                continue;
            }
            let mut child = Command::new("serf")
                .args(["agent", "-node", name, "-log-level", "debug"])
                .arg(format!("-bind={bind}"))
                .arg(format!("-rpc-addr={rpc}"))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("serf runs (apt-get install -y serf)");
            let log = Arc::new(Mutex::new(Vec::new()));
            for pipe in [
                child
                    .stdout
                    .take()
                    .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
                child
                    .stderr
                    .take()
                    .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            ]
            .into_iter()
            .flatten()
            {
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    for line in BufReader::new(pipe).lines() {
                        let Ok(line) = line else { break };
                        log.lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(line);
                    }
                });
            }
            let mut agent = SerfAgent {
                bind,
                rpc,
                child,
                log,
            };
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if agent
                    .members()
                    .is_ok_and(|m| m.iter().any(|m| m.name == name))
                {
                    return agent;
                }
                if let Ok(Some(status)) = agent.child.try_wait() {
                    last_error = format!("serf exited ({status}):\n{}", agent.logs());
                    break;
                }
                if Instant::now() > deadline {
                    last_error = format!("serf agent never answered:\n{}", agent.logs());
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            // Dropping `agent` kills it; try other ports.
        }
        panic!("cannot start serf agent {name}: {last_error}");
    }

    fn logs(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .join("\n")
    }

    fn serf(&self, args: &[&str]) -> Result<String, String> {
        let out = blocking(|| {
            // Flags go before positional arguments (Go's flag package stops at the first).
            Command::new("serf")
                .args(&args[..1])
                .arg(format!("-rpc-addr={}", self.rpc))
                .args(&args[1..])
                .stdin(Stdio::null())
                .output()
        })
        .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "serf {args:?}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// `serf members -format json`.
    fn members(&self) -> Result<Vec<SerfMember>, String> {
        let text = self.serf(&["members", "-format", "json"])?;
        let json: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
        let list = json["members"].as_array().ok_or("no members array")?;
        Ok(list
            .iter()
            .map(|m| SerfMember {
                name: m["name"].as_str().unwrap_or_default().to_owned(),
                addr: m["addr"].as_str().unwrap_or_default().to_owned(),
                status: m["status"].as_str().unwrap_or_default().to_owned(),
                tags: m["tags"]
                    .as_object()
                    .map(|t| {
                        t.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                            .collect()
                    })
                    .unwrap_or_default(),
                protocol: (
                    m["protocol"]["min"].as_u64().unwrap_or(0),
                    m["protocol"]["max"].as_u64().unwrap_or(0),
                    m["protocol"]["version"].as_u64().unwrap_or(0),
                ),
            })
            .collect())
    }

    fn member(&self, name: &str) -> Option<SerfMember> {
        self.members().ok()?.into_iter().find(|m| m.name == name)
    }

    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// Serf tags as metadata: `0xff` and a msgpack map of strings (keys and values shorter than
/// 32 bytes, so fixstr).
fn serf_tags(tags: &[(&str, &str)]) -> Bytes {
    let mut out = vec![0xff, 0x80 | u8::try_from(tags.len()).unwrap()];
    for (k, v) in tags {
        for s in [k, v] {
            out.push(0xa0 | u8::try_from(s.len()).unwrap());
            out.extend_from_slice(s.as_bytes());
        }
    }
    Bytes::from(out)
}

/// A Rust node speaking serf's delegate versions, announcing `meta`.
async fn rust_for_serf(name: &str, meta: Bytes) -> RustNode {
    let mut config = Config::local(name);
    config.protocol.delegate_versions = SERF_DELEGATE_VERSIONS;
    start_rust(config, TestDelegate::with_meta(meta), &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs serf; run with --include-ignored"]
async fn a_rust_node_joins_a_serf_agent_and_serf_lists_it_alive() {
    let mut serf = SerfAgent::start("serf-1");
    let meta = serf_tags(&[("role", "rust-node"), ("lang", "rust")]);
    let r = rust_for_serf("rs", meta).await;
    assert_eq!(r.join([serf.bind.to_string()]).await.expect("join serf"), 1);

    let mut seen = None;
    eventually("serf lists the Rust node alive", || {
        seen = serf.member("rs").filter(|m| m.status == "alive");
        seen.is_some()
    })
    .await;
    let seen = seen.unwrap();
    assert_eq!(seen.addr, r.advertise_addr().to_string());
    assert_eq!(
        seen.tags,
        BTreeMap::from([
            ("lang".to_owned(), "rust".to_owned()),
            ("role".to_owned(), "rust-node".to_owned()),
        ])
    );
    assert_eq!(seen.protocol, (2, 5, 5));
    eventually("the Rust node sees serf-1 alive", || {
        r.member("serf-1").is_some_and(|m| m.state == State::Alive)
    })
    .await;
    let agent = r.member("serf-1").unwrap();
    assert_eq!(agent.addr, serf.bind);
    assert_eq!(agent.delegate.current, 5);

    // Serf's push/pull user state is a serf message (messagePushPullType = 2).
    let merged = r.with_delegate(|d| d.merged.clone()).await.unwrap();
    assert!(
        merged.any(|(state, join)| *join && state.first() == Some(&2)),
        "{:?}",
        merged.items()
    );

    // It stays alive through serf's probes (serf probes every second).
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        let m = serf.member("rs").expect("still listed");
        assert_eq!(m.status, "alive", "{}", serf.logs());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(!serf.logs().contains("[ERR]"), "{}", serf.logs());
    assert_no_rust_wire_errors(&[&r]);

    // A memberlist-level leave shows as failed in serf (no serf leave intent was sent).
    r.leave(Duration::from_secs(10)).await.expect("leave");
    eventually("serf sees the Rust node gone", || {
        serf.member("rs")
            .is_some_and(|m| m.status == "failed" || m.status == "left")
    })
    .await;
    assert_eq!(serf.member("rs").unwrap().status, "failed");
    assert!(serf.is_running());
    r.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs serf; run with --include-ignored"]
async fn a_serf_agent_joins_a_rust_cluster() {
    let r1 = rust_for_serf("rs-1", serf_tags(&[("role", "one")])).await;
    let r2 = rust_for_serf("rs-2", Bytes::from_static(b"legacy-role")).await;
    r2.join([addr_of_rust(&r1)]).await.expect("join");
    let mut serf = SerfAgent::start("serf-1");
    serf.serf(&["join", &addr_of_rust(&r1)]).expect("serf join");
    eventually("serf lists both Rust nodes alive", || {
        let Ok(members) = serf.members() else {
            return false;
        };
        ["rs-1", "rs-2"]
            .iter()
            .all(|n| members.iter().any(|m| m.name == *n && m.status == "alive"))
    })
    .await;
    // Metadata without serf's magic byte is serf's old `role`.
    assert_eq!(
        serf.member("rs-2").unwrap().tags,
        BTreeMap::from([("role".to_owned(), "legacy-role".to_owned())])
    );
    assert_eq!(
        serf.member("rs-1").unwrap().tags,
        BTreeMap::from([("role".to_owned(), "one".to_owned())])
    );
    wait_converged(&[], &[&r1, &r2], &["rs-1", "rs-2", "serf-1"]).await;
    assert!(!serf.logs().contains("[ERR]"), "{}", serf.logs());
    assert_no_rust_wire_errors(&[&r1, &r2]);
    assert!(serf.is_running());
    shutdown_all(&[&r1, &r2]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs serf; run with --include-ignored"]
async fn without_serf_delegate_versions_the_join_is_refused() {
    let mut serf = SerfAgent::start("serf-1");
    // Default delegate versions (0, 0, 0): serf's current version 5 is outside 0..=0.
    let r = rust("rs", "").await;
    let result = r.join([serf.bind.to_string()]).await;
    eprintln!("join with delegate versions (0, 0, 0): {result:?}");
    assert!(result.is_err(), "{result:?}");
    let err = result.unwrap_err().to_string();
    assert!(err.contains("delegate protocol version"), "{err}");
    // Serf refused the merge on its side too (after sending its own state), and stays
    // healthy.
    eventually("serf logs why it refused the merge", || {
        serf.logs().contains("delegate protocol version")
    })
    .await;
    eprintln!(
        "serf's log: {:?}",
        serf.logs()
            .lines()
            .filter(|l| l.contains("[ERR]"))
            .collect::<Vec<_>>()
    );
    assert!(serf.member("rs").is_none());
    assert!(serf.is_running());
    assert_eq!(serf.members().unwrap().len(), 1);
    r.shutdown().await;
}
