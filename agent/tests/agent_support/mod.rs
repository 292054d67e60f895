//! Helpers for the agent's integration tests: run `memberlist agent` processes, read their
//! startup line, query their HTTP API, signal them.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr
)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_memberlist");

/// A running `memberlist agent`, killed when dropped.
pub struct Agent {
    pub name: String,
    pub bind: SocketAddr,
    pub http: Option<SocketAddr>,
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Collects a pipe's lines into `sink` on a thread.
fn collect_lines(
    pipe: impl Read + Send + 'static,
    sink: Arc<Mutex<Vec<String>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(line);
        }
    })
}

/// The value of `key=` in the startup line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
}

impl Agent {
    /// Starts `memberlist agent` with `args` (local preset added unless given) and waits for
    /// its startup line.
    pub fn start(args: &[&str]) -> Agent {
        Self::try_start(args).unwrap_or_else(|e| panic!("agent {args:?} did not start: {e}"))
    }

    /// Like [`start`](Self::start), returning the failure instead of panicking.
    pub fn try_start(args: &[&str]) -> Result<Agent, String> {
        let mut cmd = Command::new(BIN);
        cmd.arg("agent").args(args);
        if !args.iter().any(|a| *a == "--preset" || *a == "--config") {
            cmd.args(["--preset", "local"]);
        }
        let mut child = cmd
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the memberlist binary runs");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        collect_lines(child.stderr.take().unwrap(), Arc::clone(&stderr));
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Owned by an `Agent` from here on, so that it is killed and reaped on every path.
        let mut agent = Agent {
            name: String::new(),
            bind: SocketAddr::from(([0, 0, 0, 0], 0)),
            http: None,
            child,
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left.min(Duration::from_millis(200))) {
                Ok(line) if line.starts_with("memberlist agent started:") => {
                    agent.name = field(&line, "name").unwrap_or_default().to_owned();
                    agent.http = field(&line, "http").and_then(|a| a.parse().ok());
                    return match field(&line, "bind").and_then(|a| a.parse().ok()) {
                        Some(bind) => {
                            agent.bind = bind;
                            Ok(agent)
                        }
                        None => Err(format!("no bind address in {line:?}")),
                    };
                }
                Ok(_) => {}
                Err(_) => {
                    if let Ok(Some(status)) = agent.child.try_wait() {
                        std::thread::sleep(Duration::from_millis(100));
                        return Err(format!("exited with {status}: {}", agent.logs()));
                    }
                    if Instant::now() > deadline {
                        return Err(format!("no startup line: {}", agent.logs()));
                    }
                }
            }
        }
    }

    /// The agent's HTTP address (it must have one).
    pub fn http(&self) -> SocketAddr {
        self.http.expect("this agent has an HTTP address")
    }

    /// What it logged so far.
    pub fn logs(&self) -> String {
        join_lines(&self.stderr)
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends `signal` (`TERM`, `INT`) with the `kill` command.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits for the process to exit, at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// `GET /members` as JSON.
    pub fn members(&self) -> Vec<Value> {
        let (status, body) = http_get(self.http(), "/members");
        assert_eq!(status, 200, "{body}");
        match serde_json::from_str::<Value>(&body) {
            Ok(Value::Array(members)) => members,
            other => panic!("/members is not an array: {other:?}"),
        }
    }

    /// The state of `name` in this agent's `/members`, if listed.
    pub fn state_of(&self, name: &str) -> Option<String> {
        self.members()
            .iter()
            .find(|m| m["name"] == name)
            .and_then(|m| m["state"].as_str().map(str::to_owned))
    }
}

fn join_lines(lines: &Mutex<Vec<String>>) -> String {
    lines
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .join("\n")
}

/// `GET path` on `addr`: status and body.
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_request("GET", addr, path)
}

/// `method path` on `addr`: status and body.
pub fn http_request(method: &str, addr: SocketAddr, path: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("http://{addr}{path}");
    let mut response = match method {
        "GET" => agent.get(&url).call(),
        "POST" => agent.post(&url).send_empty(),
        other => panic!("unsupported method {other}"),
    }
    .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (status, body)
}

/// Polls `check` every 100 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What a finished command printed.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the binary to completion with `args`; panics if it takes more than 15 s.
pub fn run(args: &[&str]) -> Finished {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the memberlist binary runs");
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let readers = [
        collect_lines(child.stdout.take().unwrap(), Arc::clone(&stdout)),
        collect_lines(child.stderr.take().unwrap(), Arc::clone(&stderr)),
    ];
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} still running after 15 s: {}", join_lines(&stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    for reader in readers {
        let _ = reader.join();
    }
    Finished {
        status,
        stdout: join_lines(&stdout),
        stderr: join_lines(&stderr),
    }
}

/// Runs `memberlist agent args…`, which must fail fast, and returns its stderr.
pub fn agent_fails(args: &[&str]) -> String {
    let mut full = vec!["agent"];
    full.extend_from_slice(args);
    let out = run(&full);
    assert!(
        !out.status.success(),
        "{args:?} should fail; stdout: {}; stderr: {}",
        out.stdout,
        out.stderr
    );
    out.stderr
}

/// A fresh directory under the system's temporary directory, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!(
            "memberlist-agent-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// The path of `name` in the directory.
    pub fn file(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port free for TCP and UDP on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
