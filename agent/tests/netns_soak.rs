//! Soak with churn on real hosts: twelve `memberlist agent` processes (LAN preset), each in
//! its own network namespace (see `netns_support`), under a random nemesis, one fault at a
//! time, each followed by the wait for convergence: SIGKILL and restart at the same or a new
//! address, SIGSTOP/SIGCONT, a partition, a 5 % datagram loss burst (nftables in every
//! namespace), a graceful leave and rejoin. Every agent's `GET /events` is followed
//! (`memberlist events --json`) from its start.
//!
//! Recorded: false deaths of healthy nodes (a `failed` event about a node that ran, was not
//! frozen and shared the observer's side of the network, with no loss burst, for the longest
//! suspicion timeout + 2 s before it); time to convergence after each fault (every running
//! agent lists exactly the running agents alive at their current addresses); per-member event
//! order (numbering without a gap; the view built from the events equals `/members` at each
//! poll, allowing 3 s for lines in flight); RSS of the agents never restarted (warm-up: the
//! first 60 s); crashes. Asserted: no crash, no false death, no event gap.
//!
//! `MEMBERLIST_SOAK_SECS` (default 300, the CI run; 1800 for the figures in
//! docs/fault-tests.md) and `MEMBERLIST_SOAK_SEED` set the length and the nemesis's seed.
//! Needs root, iproute2 and nftables: `cargo test -p memberlist-agent --test netns_soak --
//! --include-ignored --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod agent_support;
mod netns_support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use netns_support::{GOSSIP_PORT, Lab, NsAgent};
use serde_json::Value;

const N: usize = 12;
/// The LAN preset's longest suspicion timeout for 12 nodes (6 × 4 × log10 12 × 1 s) + 2 s.
const WINDOW: Duration = Duration::from_secs(28);
/// How long convergence after a fault may take before the run moves on (and says so).
const CONVERGENCE_LIMIT: Duration = Duration::from_secs(120);

fn name(i: usize) -> String {
    format!("s{i}")
}

/// SplitMix64: the nemesis's choices, from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn secs(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo * 1000 + self.below((hi - lo) * 1000 + 1))
    }
}

/// What a follower of one agent's `/events` has read.
#[derive(Default)]
struct Followed {
    members: BTreeMap<String, String>,
    seq: Option<u64>,
    gaps: Vec<String>,
    /// `failed` events: when read, about whom, at which address.
    failed: Vec<(Instant, String, String)>,
    lines: u64,
}

/// `memberlist events --http … --json` for one agent's life.
struct Follower {
    child: Child,
    seen: Arc<Mutex<Followed>>,
}

impl Follower {
    fn start(http: SocketAddr) -> Follower {
        let mut child = Command::new(env!("CARGO_BIN_EXE_memberlist"))
            .args(["events", "--json", "--http", &http.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let seen = Arc::new(Mutex::new(Followed::default()));
        let sink = Arc::clone(&seen);
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                apply(
                    &mut sink.lock().unwrap_or_else(PoisonError::into_inner),
                    &line,
                );
            }
        });
        Follower { child, seen }
    }

    fn view(&self) -> BTreeMap<String, String> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .members
            .clone()
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a state is a member's (alive or suspect), as `members()` lists them.
fn live(state: &str) -> bool {
    state == "alive" || state == "suspect"
}

/// Applies one `/events` line: departures leave the view, as they leave `members()`.
fn apply(f: &mut Followed, line: &str) {
    let Ok(v) = serde_json::from_str::<Value>(line) else {
        f.gaps.push(format!("unreadable line {line}"));
        return;
    };
    f.lines += 1;
    let seq = v["seq"].as_u64().unwrap_or_default();
    let entry = |m: &Value| {
        (
            m["name"].as_str().unwrap_or_default().to_owned(),
            m["state"].as_str().unwrap_or_default().to_owned(),
        )
    };
    match v["type"].as_str().unwrap_or_default() {
        "snapshot" | "lagged" => {
            f.members = v["members"]
                .as_array()
                .map(|a| a.iter().map(entry).filter(|(_, s)| live(s)).collect())
                .unwrap_or_default();
        }
        "event" => {
            if f.seq.is_some_and(|s| seq != s + 1) {
                f.gaps.push(format!("after #{:?} came #{seq}", f.seq));
            }
            let kind = v["event"].as_str().unwrap_or_default();
            let (who, state) = entry(&v["member"]);
            if kind == "failed" {
                let addr = v["member"]["addr"].as_str().unwrap_or_default().to_owned();
                f.failed.push((Instant::now(), who.clone(), addr));
            }
            match kind {
                "conflict" => {}
                "failed" | "left" => {
                    f.members.remove(&who);
                }
                _ => {
                    f.members.insert(who, state);
                }
            }
        }
        other => f.gaps.push(format!("unknown line type {other}")),
    }
    f.seq = Some(seq);
}

/// A fault, for judging deaths: who was affected, from when to when.
struct Span {
    start: Instant,
    end: Instant,
    /// `None`: every node (a partition or a loss burst).
    node: Option<usize>,
}

struct Soak {
    lab: Lab,
    agents: Vec<Option<NsAgent>>,
    followers: Vec<Option<Follower>>,
    /// Gossip address each node runs at now.
    addr: Vec<SocketAddr>,
    /// Whether the node has run since the start (for RSS).
    original: Vec<bool>,
    spans: Vec<Span>,
    /// Failed events already judged, per follower life (observer, index).
    retired_failed: Vec<(String, Instant, String, String)>,
    gaps: Vec<String>,
    crashes: Vec<String>,
    mismatches: u64,
    polls: u64,
}

impl Soak {
    fn start(&mut self, i: usize, bind: SocketAddr) {
        let mut args = vec!["--preset".to_owned(), "lan".to_owned()];
        for j in (0..N).filter(|&j| j != i) {
            args.push("--join".into());
            args.push(self.lab.gossip_addr(j).to_string());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let agent = self.lab.spawn(i, &name(i), bind, &args);
        self.followers[i] = Some(Follower::start(agent.http));
        self.agents[i] = Some(agent);
        self.addr[i] = bind;
    }

    /// Stops following node `i` (its process is gone), keeping what the follower saw.
    fn retire(&mut self, i: usize) {
        if let Some(f) = self.followers[i].take() {
            let seen = f.seen.lock().unwrap_or_else(PoisonError::into_inner);
            self.gaps
                .extend(seen.gaps.iter().map(|g| format!("{}: {g}", name(i))));
            for (at, who, addr) in &seen.failed {
                self.retired_failed
                    .push((name(i), *at, who.clone(), addr.clone()));
            }
        }
    }

    fn running(&self) -> Vec<usize> {
        (0..N).filter(|&i| self.agents[i].is_some()).collect()
    }

    /// Every running agent lists exactly the running agents, alive, at their addresses.
    fn converged(&self) -> bool {
        let running = self.running();
        running.iter().all(|&o| {
            let Some(view) = self.agents[o].as_ref().and_then(NsAgent::view) else {
                return false;
            };
            let live: Vec<_> = view
                .iter()
                .filter(|(_, s, _)| s == "alive" || s == "suspect")
                .collect();
            live.len() == running.len()
                && running.iter().all(|&i| {
                    view.iter().any(|(n, s, a)| {
                        *n == name(i) && s == "alive" && *a == self.addr[i].to_string()
                    })
                })
        })
    }

    /// Polls for `d`: crashes, and each follower's view against `/members`.
    fn watch(&mut self, d: Duration) {
        let until = Instant::now() + d;
        while Instant::now() < until {
            for i in 0..N {
                let Some(agent) = self.agents[i].as_mut() else {
                    continue;
                };
                if let Some(status) = agent.exited() {
                    self.crashes
                        .push(format!("{} exited: {status}\n{}", name(i), agent.logs()));
                    self.agents[i] = None;
                    self.retire(i);
                    continue;
                }
                let Some(f) = self.followers[i].as_ref() else {
                    continue;
                };
                // `/members` is read again on each try: a change between one read and the
                // lines that follow it moves the followed view past that read, for good.
                let members = || {
                    agent.view().map(|members| {
                        members
                            .into_iter()
                            .filter(|(_, s, _)| live(s))
                            .map(|(n, s, _)| (n, s))
                            .collect::<BTreeMap<String, String>>()
                    })
                };
                if members().is_none() {
                    continue;
                }
                self.polls += 1;
                let agreed = agent_support::wait_until(Duration::from_secs(3), || {
                    members().is_some_and(|want| f.view() == want)
                });
                if !agreed {
                    self.mismatches += 1;
                }
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn rss_kib(&self, i: usize) -> Option<u64> {
        let pid = self.agents[i].as_ref()?.pid();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    }

    /// Turns the 5 % loss of outgoing UDP on or off in every namespace (nftables).
    fn loss(&self, on: bool) {
        for i in 0..N {
            if on {
                self.lab.exec(i, "nft", &["add", "table", "inet", "soak"]);
                let chain = "add chain inet soak out { type filter hook output priority 0; }";
                self.lab.exec(i, "nft", &[chain]);
                let rule = "add rule inet soak out meta l4proto udp numgen random mod 100 < 5 drop";
                self.lab.exec(i, "nft", &[rule]);
            } else {
                self.lab
                    .exec(i, "nft", &["delete", "table", "inet", "soak"]);
            }
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[test]
#[ignore = "needs root (network namespaces, nftables); run with --include-ignored"]
fn netns_soak_with_churn_keeps_members_safe() {
    let secs: u64 = std::env::var("MEMBERLIST_SOAK_SECS").map_or(300, |v| v.parse().unwrap());
    let seed: u64 = std::env::var("MEMBERLIST_SOAK_SEED").map_or_else(
        |_| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        },
        |v| v.parse().unwrap(),
    );
    eprintln!(
        "soak: {N} agents, {secs} s, seed {seed} (MEMBERLIST_SOAK_SEED={seed} replays the nemesis's choices)"
    );
    let mut rng = Rng(seed);
    let lab = Lab::new(N);
    for i in 0..N {
        lab.add_alt_ip(i);
    }
    let mut soak = Soak {
        addr: (0..N).map(|i| lab.gossip_addr(i)).collect(),
        lab,
        agents: (0..N).map(|_| None).collect(),
        followers: (0..N).map(|_| None).collect(),
        original: vec![true; N],
        spans: Vec::new(),
        retired_failed: Vec::new(),
        gaps: Vec::new(),
        crashes: Vec::new(),
        mismatches: 0,
        polls: 0,
    };
    for i in 0..N {
        let bind = soak.addr[i];
        soak.start(i, bind);
    }
    assert!(
        agent_support::wait_until(Duration::from_secs(60), || soak.converged()),
        "the cluster did not converge"
    );
    let begin = Instant::now();
    soak.watch(Duration::from_secs(60));
    let rss_start: Vec<Option<u64>> = (0..N).map(|i| soak.rss_kib(i)).collect();
    let deadline = begin + Duration::from_secs(secs);
    let mut converge: Vec<(String, Duration)> = Vec::new();
    let mut not_converged = Vec::new();
    while Instant::now() < deadline {
        let running = soak.running();
        let i = running[rng.below(running.len() as u64) as usize];
        let start = Instant::now();
        let (what, node) = match rng.below(5) {
            0 => {
                soak.agents[i].take().unwrap().kill();
                soak.retire(i);
                soak.original[i] = false;
                soak.watch(rng.secs(2, 10));
                // Elsewhere: the namespace's other IP than the one it had (a node that
                // moved and comes back to its first IP moves too).
                let elsewhere = rng.below(2) == 1;
                let (first, second) = (soak.lab.data_ip(i), soak.lab.alt_ip(i));
                let was = soak.addr[i].ip();
                let ip = match (elsewhere, was == IpAddr::V4(first)) {
                    (false, _) => was,
                    (true, true) => second.into(),
                    (true, false) => first.into(),
                };
                soak.start(i, SocketAddr::from((ip, GOSSIP_PORT)));
                (
                    format!(
                        "kill {} and restart{}",
                        name(i),
                        if elsewhere { " elsewhere" } else { "" }
                    ),
                    Some(i),
                )
            }
            1 => {
                soak.agents[i].as_ref().unwrap().signal("STOP");
                soak.watch(rng.secs(5, 15));
                soak.agents[i].as_ref().unwrap().signal("CONT");
                (format!("freeze {}", name(i)), Some(i))
            }
            2 => {
                let side: Vec<usize> = (0..N).filter(|_| rng.below(3) == 0).collect();
                if side.is_empty() || side.len() == N {
                    continue;
                }
                soak.lab.partition(&side);
                soak.watch(rng.secs(10, 40));
                soak.lab.heal();
                (format!("partition {side:?}"), None)
            }
            3 => {
                soak.loss(true);
                soak.watch(rng.secs(20, 60));
                soak.loss(false);
                ("5 % loss".to_owned(), None)
            }
            _ => {
                let mut agent = soak.agents[i].take().unwrap();
                assert!(agent.terminate(), "{} did not exit after SIGTERM", name(i));
                soak.retire(i);
                soak.original[i] = false;
                soak.watch(rng.secs(5, 20));
                let bind = soak.addr[i];
                soak.start(i, bind);
                (format!("leave and rejoin {}", name(i)), Some(i))
            }
        };
        let ended = Instant::now();
        soak.spans.push(Span {
            start,
            end: ended,
            node,
        });
        let mut took = None;
        while ended.elapsed() < CONVERGENCE_LIMIT {
            if soak.converged() {
                took = Some(ended.elapsed());
                break;
            }
            soak.watch(Duration::from_millis(500));
        }
        match took {
            Some(t) => converge.push((what, t)),
            None => not_converged.push(what),
        }
        soak.watch(rng.secs(2, 8));
    }
    let rss_end: Vec<Option<u64>> = (0..N).map(|i| soak.rss_kib(i)).collect();
    for i in 0..N {
        soak.retire(i);
    }
    // False deaths: a failed event about a node that ran untouched, shared the observer's
    // network, with no network-wide fault, for WINDOW before it (and was at that address).
    let addr_of = |who: &str| {
        (0..N)
            .find(|&i| name(i) == who)
            .map(|i| soak.addr[i].to_string())
    };
    let touched = |who: &str, at: Instant| {
        soak.spans.iter().any(|s| {
            let near = s.start <= at && s.end + WINDOW >= at;
            near && s.node.is_none_or(|n| name(n) == who)
        })
    };
    let false_deaths: Vec<String> = soak
        .retired_failed
        .iter()
        .filter(|(obs, at, who, addr)| {
            addr_of(who).as_deref() == Some(addr.as_str())
                && at.duration_since(begin) > WINDOW
                && !touched(who, *at)
                && !touched(obs, *at)
        })
        .map(|(obs, at, who, _)| {
            format!(
                "{obs} saw {who} fail at {:.1} s",
                at.duration_since(begin).as_secs_f64()
            )
        })
        .collect();
    let mut times: Vec<Duration> = converge.iter().map(|(_, t)| *t).collect();
    times.sort();
    let growth: Vec<String> = (0..N)
        .filter(|&i| soak.original[i])
        .filter_map(|i| Some((i, rss_start[i]?, rss_end[i]?)))
        .map(|(i, a, b)| {
            format!(
                "{} {a}->{b} KiB ({:+.1} %)",
                name(i),
                (b as f64 / a as f64 - 1.0) * 100.0
            )
        })
        .collect();
    eprintln!(
        "RESULT soak: {N} agents, {secs} s, seed {seed}: {} faults ({} converged; p50 {:.1} s, \
         p99 {:.1} s, max {:.1} s; not within {} s: {:?}); false deaths {}: {:?}; crashes {}; \
         event gaps {}; /events vs /members polls {} (mismatched after 3 s: {}); RSS of the \
         never-restarted agents after 60 s -> end: {}",
        soak.spans.len(),
        converge.len(),
        percentile(&times, 0.5).as_secs_f64(),
        percentile(&times, 0.99).as_secs_f64(),
        times.last().copied().unwrap_or_default().as_secs_f64(),
        CONVERGENCE_LIMIT.as_secs(),
        not_converged,
        false_deaths.len(),
        false_deaths,
        soak.crashes.len(),
        soak.gaps.len(),
        soak.polls,
        soak.mismatches,
        growth.join(", "),
    );
    for (what, t) in &converge {
        eprintln!("  {what}: converged after {:.1} s", t.as_secs_f64());
    }
    assert!(soak.crashes.is_empty(), "{:#?}", soak.crashes);
    assert!(false_deaths.is_empty(), "{false_deaths:#?}");
    assert!(soak.gaps.is_empty(), "{:#?}", soak.gaps);
}
