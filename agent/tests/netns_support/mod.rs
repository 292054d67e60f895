//! Network namespaces for the fault tests: each node in its own namespace with its own
//! address, all on a bridge the test creates, and agents run inside them.
//!
//! Layout of a [`Lab`] with `n` nodes (`s` = a subnet number free on this host):
//!
//! - data bridges `<p>b` and `<p>B` (no address in the root namespace); node `i`'s data link
//!   is a veth pair: `<p>d<i>` on a bridge, `eth0` = `10.250.s.(10+i)/24` in namespace
//!   `mlnet-<pid>-<k>-<i>`. Memberlist binds there. All nodes start on `<p>b`; a partition
//!   moves some of them to `<p>B`, which has no path to `<p>b`;
//! - a control bridge `<p>c` with `10.251.s.1/24` in the root namespace, and in each namespace
//!   `ctl0` = `10.251.s.(10+i)/24`: the agents' HTTP API listens there, so the test reaches
//!   every agent whatever happens to the data links.
//!
//! Everything is deleted when the [`Lab`] is dropped, panics included. Names carry the test
//! process id and a per-process counter, so tests run in parallel.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr
)]

use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::agent_support::BIN;

/// The port memberlist binds in every namespace.
pub const GOSSIP_PORT: u16 = 7946;
/// The port of the agents' HTTP API, on the control address.
pub const HTTP_PORT: u16 = 8080;

/// Labs made by this process so far (names and subnets stay unique).
static LABS: AtomicU8 = AtomicU8::new(0);

/// Runs `ip args…`, panicking with its stderr when it fails.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `ip {}`: {e}", args.join(" ")));
    assert!(
        out.status.success(),
        "`ip {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Runs `ip args…`, ignoring failures (cleanup).
fn ip_quiet(args: &[&str]) {
    let _ = Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// What `ip args…` prints (empty on failure).
fn ip_output(args: &[&str]) -> String {
    Command::new("ip")
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Panics with a clear message unless this process is root and iproute2's `ip` runs: these
/// tests are `#[ignore]`d, so they only run when asked for, and then must not pass silently.
pub fn require_root_and_ip() {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        })
        .unwrap_or_default();
    assert_eq!(
        uid, "0",
        "the network-namespace fault tests need root (they create namespaces, veth pairs and \
         bridges); run them as root or leave out --include-ignored"
    );
    let ok = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "the network-namespace fault tests need iproute2's `ip` with netns support \
         (apt-get install iproute2)"
    );
}

/// Namespaces, links and bridges for `n` nodes; all deleted on drop.
pub struct Lab {
    prefix: String,
    subnet: u8,
    namespaces: Vec<String>,
    /// Root-namespace links to delete (veth ends, then bridges).
    links: Vec<String>,
}

impl Lab {
    /// Builds the layout described in the module documentation for `n` nodes (at most 80).
    pub fn new(n: usize) -> Lab {
        require_root_and_ip();
        assert!(n <= 80, "at most 80 nodes per lab");
        let k = LABS.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let prefix = format!("m{:04x}{k:02}", pid & 0xffff);
        let subnet = free_subnet(pid, k);
        let mut lab = Lab {
            prefix: prefix.clone(),
            subnet,
            namespaces: Vec::new(),
            links: Vec::new(),
        };
        for bridge in [lab.bridge(), lab.other_bridge(), lab.control_bridge()] {
            // Recorded before creation so that a half-made lab is still cleaned up.
            lab.links.push(bridge.clone());
            ip(&["link", "add", &bridge, "type", "bridge"]);
            ip(&["link", "set", &bridge, "up"]);
        }
        let gateway = format!("10.251.{subnet}.1/24");
        ip(&["addr", "add", &gateway, "dev", &lab.control_bridge()]);
        for i in 0..n {
            let ns = format!("mlnet-{pid}-{k}-{i}");
            lab.namespaces.push(ns.clone());
            ip(&["netns", "add", &ns]);
            let data = format!("{prefix}d{i}");
            let control = format!("{prefix}k{i}");
            for (link, inside, bridge, addr) in [
                (&data, "eth0", lab.bridge(), lab.data_ip(i)),
                (&control, "ctl0", lab.control_bridge(), lab.control_ip(i)),
            ] {
                lab.links.insert(0, link.clone());
                ip(&[
                    "link", "add", link, "type", "veth", "peer", "name", inside, "netns", &ns,
                ]);
                ip(&["link", "set", link, "master", &bridge]);
                ip(&["link", "set", link, "up"]);
                lab.exec_ip(i, &["addr", "add", &format!("{addr}/24"), "dev", inside]);
                lab.exec_ip(i, &["link", "set", inside, "up"]);
            }
            lab.exec_ip(i, &["link", "set", "lo", "up"]);
        }
        lab
    }

    /// The bridge every node starts on.
    fn bridge(&self) -> String {
        format!("{}b", self.prefix)
    }

    /// The bridge a partition moves nodes to.
    fn other_bridge(&self) -> String {
        format!("{}B", self.prefix)
    }

    /// The bridge of the control addresses.
    fn control_bridge(&self) -> String {
        format!("{}c", self.prefix)
    }

    /// Node `i`'s namespace.
    pub fn ns(&self, i: usize) -> &str {
        &self.namespaces[i]
    }

    /// Node `i`'s first data address.
    pub fn data_ip(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 250, self.subnet, 10 + host(i))
    }

    /// A second data address for node `i`, once [`add_alt_ip`](Self::add_alt_ip) added it.
    pub fn alt_ip(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 250, self.subnet, 100 + host(i))
    }

    /// Node `i`'s control address (HTTP API).
    pub fn control_ip(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 251, self.subnet, 10 + host(i))
    }

    /// Node `i`'s memberlist address.
    pub fn gossip_addr(&self, i: usize) -> SocketAddr {
        SocketAddr::from((self.data_ip(i), GOSSIP_PORT))
    }

    /// Runs `ip args…` inside node `i`'s namespace.
    pub fn exec_ip(&self, i: usize, args: &[&str]) {
        let mut full = vec!["netns", "exec", self.ns(i), "ip"];
        full.extend_from_slice(args);
        ip(&full);
    }

    /// Runs `program args…` inside node `i`'s namespace; panics if it fails.
    pub fn exec(&self, i: usize, program: &str, args: &[&str]) {
        let status = Command::new("ip")
            .args(["netns", "exec", self.ns(i), program])
            .args(args)
            .status()
            .expect("ip netns exec runs");
        assert!(
            status.success(),
            "{program} {args:?} failed in {}",
            self.ns(i)
        );
    }

    /// Adds [`alt_ip`](Self::alt_ip) to node `i`'s data link.
    pub fn add_alt_ip(&self, i: usize) {
        let addr = format!("{}/24", self.alt_ip(i));
        self.exec_ip(i, &["addr", "add", &addr, "dev", "eth0"]);
    }

    /// Cuts `side` off from the other nodes: their data links move to the other bridge.
    pub fn partition(&self, side: &[usize]) {
        for &i in side {
            ip(&[
                "link",
                "set",
                &format!("{}d{i}", self.prefix),
                "master",
                &self.other_bridge(),
            ]);
        }
    }

    /// Puts every data link back on the first bridge.
    pub fn heal(&self) {
        for i in 0..self.namespaces.len() {
            ip(&[
                "link",
                "set",
                &format!("{}d{i}", self.prefix),
                "master",
                &self.bridge(),
            ]);
        }
    }

    /// Starts `memberlist agent` in node `i`'s namespace: named `name`, memberlist bound to
    /// `bind` (an address of that namespace), HTTP on the control address, plus `args`.
    /// Logs at info, with the probe's and state machine's debug lines (suspicions raised,
    /// suspicion timeouts), which [`NsAgent::events`] reads.
    pub fn spawn(&self, i: usize, name: &str, bind: SocketAddr, args: &[&str]) -> NsAgent {
        let http = SocketAddr::from((self.control_ip(i), HTTP_PORT));
        let mut child = Command::new("ip")
            .args(["netns", "exec", self.ns(i), BIN])
            .args([
                "--log-level",
                "info,memberlist_core::machine::probe=debug,memberlist_core::machine::state=debug",
                "agent",
                "--name",
                name,
                "--bind",
                &bind.to_string(),
                "--http",
                &http.to_string(),
            ])
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ip netns exec runs");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let started = Arc::new(Mutex::new(None));
        collect(child.stderr.take().unwrap(), Arc::clone(&lines), None);
        collect(
            child.stdout.take().unwrap(),
            Arc::new(Mutex::new(Vec::new())),
            Some(Arc::clone(&started)),
        );
        let mut agent = NsAgent {
            name: name.to_owned(),
            bind,
            http,
            child,
            lines,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if lock(&started).is_some() {
                return agent;
            }
            if let Ok(Some(status)) = agent.child.try_wait() {
                panic!("agent {name} exited with {status}: {}", agent.logs());
            }
            assert!(
                Instant::now() < deadline,
                "agent {name} printed no startup line in 20 s: {}",
                agent.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a veth end deletes its peer in the namespace; then the namespaces (whose
        // processes the tests have killed by now), then the bridges.
        for link in &self.links {
            ip_quiet(&["link", "del", link]);
        }
        for ns in &self.namespaces {
            ip_quiet(&["netns", "del", ns]);
        }
    }
}

/// The host byte of node `i`.
fn host(i: usize) -> u8 {
    u8::try_from(i).expect("node index below 80")
}

/// A third octet `s` such that neither 10.250.s.0/24 nor 10.251.s.0/24 is routed on this host.
fn free_subnet(pid: u32, k: u8) -> u8 {
    let routes = ip_output(&["-4", "route", "show", "table", "all"]);
    let start = (pid % 50) * 5 + u32::from(k);
    (0..250)
        .map(|j| u8::try_from((start + j) % 250 + 1).expect("below 251"))
        .find(|s| {
            !routes.contains(&format!("10.250.{s}.")) && !routes.contains(&format!("10.251.{s}."))
        })
        .expect("a free 10.250.x.0/24 and 10.251.x.0/24 pair")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Collects a pipe's lines, stamped with their arrival time; `started` is set when the
/// agent's startup line comes by.
fn collect(
    pipe: impl Read + Send + 'static,
    sink: Arc<Mutex<Vec<(Instant, String)>>>,
    started: Option<Arc<Mutex<Option<String>>>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if let Some(started) = &started {
                if line.starts_with("memberlist agent started:") {
                    *lock(started) = Some(line.clone());
                }
            }
            lock(&sink).push((Instant::now(), line));
        }
    });
}

/// What an agent's log says happened, about which member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// This agent's probe of the member failed and it started suspecting it.
    Suspect,
    /// This agent declared the member dead (or learned that it was).
    Dead,
    /// The member joined, or came back.
    Joined,
    /// This agent refuted a suspicion or death notice about itself.
    Refute,
    /// This agent saw another node claim the member's name from another address.
    Conflict,
    /// This agent's probe of the member got no UDP ack, direct or indirect, but the TCP
    /// fallback ping reached it (no suspicion then).
    TcpRescue,
}

/// One event from an agent's log.
#[derive(Debug, Clone)]
pub struct Event {
    /// When the test read the line.
    pub at: Instant,
    /// The agent that logged it.
    pub observer: String,
    pub kind: Kind,
    /// The member it is about.
    pub about: String,
}

/// The value of `key=` in a log line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
}

/// A `memberlist agent` running in a namespace; killed when dropped.
pub struct NsAgent {
    pub name: String,
    pub bind: SocketAddr,
    pub http: SocketAddr,
    child: Child,
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Drop for NsAgent {
    fn drop(&mut self) {
        // A stopped process must be continued to die promptly and be reaped.
        let _ = self.child.kill();
        self.signal_quiet("CONT");
        let _ = self.child.wait();
    }
}

impl NsAgent {
    /// Everything it logged so far.
    pub fn logs(&self) -> String {
        lock(&self.lines)
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The membership events in its log so far.
    pub fn events(&self) -> Vec<Event> {
        let lines = lock(&self.lines);
        lines
            .iter()
            .filter_map(|(at, line)| {
                let (kind, about) = if line.contains("probe failed; suspecting") {
                    (Kind::Suspect, field(line, "node")?)
                } else if line.contains("member failed") {
                    (Kind::Dead, field(line, "member")?)
                } else if line.contains("member joined") {
                    (Kind::Joined, field(line, "member")?)
                } else if line.contains("refuting a suspicion about ourselves")
                    || line.contains("refuting a dead message about ourselves")
                {
                    (Kind::Refute, self.name.as_str())
                } else if line.contains("conflicting address for a known node name") {
                    (Kind::Conflict, field(line, "node")?)
                } else if line.contains("reached over TCP but UDP probes failed") {
                    (Kind::TcpRescue, field(line, "node")?)
                } else {
                    return None;
                };
                Some(Event {
                    at: *at,
                    observer: self.name.clone(),
                    kind,
                    about: about.to_owned(),
                })
            })
            .collect()
    }

    /// The lines containing `text`.
    pub fn lines_with(&self, text: &str) -> Vec<String> {
        lock(&self.lines)
            .iter()
            .filter(|(_, l)| l.contains(text))
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// The process id (`ip netns exec` execs the agent, so it is the agent's).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `SIG<signal>` (`KILL`, `STOP`, `CONT`, `TERM`), panicking if `kill` fails.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} {} failed", self.pid());
    }

    fn signal_quiet(&self, signal: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .stderr(Stdio::null())
            .status();
    }

    /// How it exited, if it has.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Kills it with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        self.signal("KILL");
        let _ = self.child.wait();
    }

    /// Stops it with SIGTERM (it leaves the cluster) and waits up to 15 s for it to exit.
    pub fn terminate(&mut self) -> bool {
        self.signal_quiet("TERM");
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                // Let the stderr reader take the last lines.
                std::thread::sleep(Duration::from_millis(200));
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// `GET path` on its HTTP API: the body, or `None` when it does not answer within 2 s.
    pub fn get(&self, path: &str) -> Option<String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(2)))
            .http_status_as_error(false)
            .build()
            .into();
        let mut response = agent
            .get(format!("http://{}{path}", self.http))
            .call()
            .ok()?;
        if response.status().as_u16() != 200 {
            return None;
        }
        response.body_mut().read_to_string().ok()
    }

    /// Its `/members`: name → (state, addr:port), or `None` when it does not answer.
    pub fn view(&self) -> Option<Vec<(String, String, String)>> {
        let body = self.get("/members")?;
        let Value::Array(members) = serde_json::from_str::<Value>(&body).ok()? else {
            return None;
        };
        Some(
            members
                .iter()
                .map(|m| {
                    (
                        m["name"].as_str().unwrap_or_default().to_owned(),
                        m["state"].as_str().unwrap_or_default().to_owned(),
                        m["addr"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
        )
    }

    /// The state it gives `name` (`None`: not listed, or no answer).
    pub fn state_of(&self, name: &str) -> Option<String> {
        self.view()?
            .into_iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, state, _)| state)
    }

    /// The value of a counter or gauge in its `/metrics` (summed over labels), if listed.
    pub fn metric(&self, name: &str) -> Option<f64> {
        let body = self.get("/metrics")?;
        let values: Vec<f64> = body
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|r| r.starts_with([' ', '{']))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
            .collect();
        (!values.is_empty()).then(|| values.iter().sum())
    }
}
