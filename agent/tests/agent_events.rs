//! `GET /events` and `memberlist events`: the members first, then every change in order,
//! numbered without a gap; applied in order they give what `/members` lists.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agent_support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use agent_support::{Agent, BIN, run, wait_until};
use serde_json::Value;

/// `memberlist events --http ADDR` (plus `extra`), its stdout lines arriving on a channel.
struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Follower {
    fn start(http: std::net::SocketAddr, extra: &[&str]) -> Follower {
        let mut child = Command::new(BIN)
            .args(["events", "--http", &http.to_string()])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Follower { child, lines }
    }

    fn next(&self, within: Duration) -> Option<String> {
        self.lines.recv_timeout(within).ok()
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The view a follower builds: name → state, from JSON lines, checking the numbering.
#[derive(Default)]
struct View {
    members: BTreeMap<String, String>,
    seq: Option<u64>,
    kinds: Vec<(String, String)>,
}

impl View {
    fn apply(&mut self, line: &str) {
        let v: Value = serde_json::from_str(line).unwrap();
        let seq = v["seq"].as_u64().unwrap();
        match v["type"].as_str().unwrap() {
            "snapshot" | "lagged" => {
                self.members = v["members"].as_array().unwrap().iter().map(entry).collect();
            }
            "event" => {
                assert_eq!(Some(seq), self.seq.map(|s| s + 1), "a gap before {line}");
                let kind = v["event"].as_str().unwrap().to_owned();
                let (name, state) = entry(&v["member"]);
                if kind != "conflict" {
                    self.members.insert(name.clone(), state);
                }
                self.kinds.push((kind, name));
            }
            other => panic!("unknown line type {other}: {line}"),
        }
        self.seq = Some(seq);
    }
}

/// A member's name and state, from its JSON.
fn entry(m: &Value) -> (String, String) {
    let field = |k: &str| m[k].as_str().unwrap().to_owned();
    (field("name"), field("state"))
}

/// `/members` of `agent` as name → state.
fn members(agent: &Agent) -> BTreeMap<String, String> {
    agent.members().iter().map(entry).collect()
}

#[test]
fn the_event_stream_starts_with_the_members_and_follows_every_change_in_order() {
    let a = Agent::start(&[
        "--name",
        "a",
        "--bind",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
    ]);
    let json = Follower::start(a.http(), &["--json"]);
    let mut view = View::default();
    let first = json.next(Duration::from_secs(10)).expect("a snapshot line");
    assert!(first.contains("\"type\":\"snapshot\""), "{first}");
    view.apply(&first);
    assert_eq!(view.members, members(&a));

    let joiner = a.bind.to_string();
    let b = Agent::start(&["--name", "b", "--bind", "127.0.0.1:0", "--join", &joiner]);
    let c = Agent::start(&["--name", "c", "--bind", "127.0.0.1:0", "--join", &joiner]);
    b.signal("KILL");
    // Every line until `a` has declared b dead and listed c alive.
    let done = |v: &View| {
        v.kinds.iter().any(|(k, n)| k == "failed" && n == "b")
            && v.members.get("c").is_some_and(|s| s == "alive")
    };
    while !done(&view) {
        let line = json.next(Duration::from_secs(30)).expect("the next event");
        view.apply(&line);
    }
    assert!(
        view.kinds.contains(&("join".into(), "b".into())),
        "{:?}",
        view.kinds
    );
    assert!(
        view.kinds.contains(&("join".into(), "c".into())),
        "{:?}",
        view.kinds
    );
    // Applied in order, the lines give what /members lists (once nothing is in flight).
    assert!(
        wait_until(Duration::from_secs(5), || {
            while let Some(line) = json.next(Duration::from_millis(100)) {
                view.apply(&line);
            }
            view.members == members(&a)
        }),
        "events {:?} vs /members {:?}",
        view.members,
        members(&a)
    );
    drop(c);

    // The text form: a header with the members, then one line per change.
    let text = Follower::start(a.http(), &[]);
    let header = text.next(Duration::from_secs(10)).unwrap();
    assert!(
        header.starts_with('#') && header.contains("members ("),
        "{header}"
    );
}

#[test]
fn events_against_nothing_fails_with_one_clear_line() {
    let port = agent_support::free_port();
    let out = run(&["events", "--http", &format!("127.0.0.1:{port}")]);
    assert!(!out.status.success());
    assert!(
        out.stderr
            .contains("cannot follow the events of the agent at"),
        "{}",
        out.stderr
    );
}
