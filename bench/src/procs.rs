//! The side-by-side scenario: one OS process per node, Go (the interop peer in `-bench`
//! mode) or Rust (this binary's `node` subcommand), driven by the same code over the same
//! JSON-lines protocol, measured the same way from `/proc/<pid>`.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::report::{RunReport, cpu_time_precise, peak_rss_kib};
use crate::{BenchError, Scenario};

/// How often the harness asks every node for its view while waiting (join, crash).
const POLL: Duration = Duration::from_millis(100);
/// How long one answer may take.
const ANSWER: Duration = Duration::from_secs(20);

/// Which program runs each node.
#[derive(Debug, Clone)]
pub enum Program {
    /// The Go peer binary (`interop/build.sh`), run with `-preset=lan -bench`.
    Go(PathBuf),
    /// This benchmark's binary, run as `node --name NAME`.
    Rust(PathBuf),
}

impl Program {
    fn label(&self) -> &'static str {
        match self {
            Program::Go(_) => "go",
            Program::Rust(_) => "rust-procs",
        }
    }

    fn command(&self, name: &str) -> Command {
        match self {
            Program::Go(path) => {
                let mut c = Command::new(path);
                c.args([
                    format!("-name={name}"),
                    "-preset=lan".into(),
                    "-bench".into(),
                ]);
                c
            }
            Program::Rust(path) => {
                let mut c = Command::new(path);
                c.args(["node", "--name", name]);
                c
            }
        }
    }
}

/// One node process.
struct NodeProc {
    child: Child,
    stdin: ChildStdin,
    events: Receiver<Value>,
    pid: String,
}

/// What a node answers to `stats` (a missing field reads as zero or empty).
#[derive(Default, Deserialize)]
#[serde(default)]
struct View {
    alive: usize,
    bytes_sent: u64,
    stream_bytes_sent: u64,
    dials: u64,
    target: String,
}

impl NodeProc {
    fn spawn(program: &Program, name: &str) -> Result<NodeProc, BenchError> {
        let mut child = program
            .command(name)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {program:?}: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, events) = channel();
        std::thread::Builder::new()
            .name(format!("out-{name}"))
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let Ok(value) = serde_json::from_str::<Value>(&line) else {
                        continue;
                    };
                    let wanted = matches!(
                        value.get("event").and_then(Value::as_str),
                        Some("ready" | "stats")
                    );
                    if wanted && tx.send(value).is_err() {
                        break;
                    }
                }
            })?;
        let pid = child.id().to_string();
        Ok(NodeProc {
            child,
            stdin,
            events,
            pid,
        })
    }

    fn send(&mut self, command: &Value) -> Result<(), BenchError> {
        writeln!(self.stdin, "{command}")?;
        self.stdin.flush()?;
        Ok(())
    }

    fn next_event(&self, event: &str) -> Result<Value, BenchError> {
        let deadline = Instant::now() + ANSWER;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(v) if v.get("event").and_then(Value::as_str) == Some(event) => return Ok(v),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("node {} gave no {event} in time", self.pid).into());
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("node {} exited", self.pid).into());
                }
            }
        }
    }

    fn ready_addr(&self) -> Result<String, BenchError> {
        #[derive(Deserialize)]
        struct Ready {
            addr: String,
            port: u16,
        }
        let ready: Ready = serde_json::from_value(self.next_event("ready")?)?;
        Ok(format!("{}:{}", ready.addr, ready.port))
    }

    fn stop(mut self) {
        drop(self.stdin);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asks every node for its view (all requests first, then all answers).
fn views(nodes: &mut [NodeProc], target: &str) -> Result<Vec<View>, BenchError> {
    let command = json!({"cmd": "stats", "to": target});
    for node in nodes.iter_mut() {
        node.send(&command)?;
    }
    nodes
        .iter()
        .map(|node| {
            let v = node.next_event("stats")?;
            Ok(serde_json::from_value(v)?)
        })
        .collect()
}

/// Node names are the same for Go and Rust, so that messages carrying names have the same
/// size on both sides.
fn node_name(i: usize) -> String {
    format!("node-{i:04}")
}

fn total_cpu(nodes: &[NodeProc]) -> Duration {
    nodes.iter().filter_map(|n| cpu_time_precise(&n.pid)).sum()
}

/// Runs the scenario once with one process per node (see [`crate::inproc::run_once`] for
/// the phases; the crash is a SIGKILL of the last node's process).
pub fn run_once(program: &Program, scenario: &Scenario) -> Result<RunReport, BenchError> {
    let n = scenario.nodes;
    if n < 3 {
        return Err("--nodes must be at least 3".into());
    }
    let mut nodes = Vec::with_capacity(n);
    let result = (|| {
        for i in 0..n {
            nodes.push(NodeProc::spawn(program, &node_name(i))?);
        }
        let mut addrs = Vec::with_capacity(n);
        for node in &nodes {
            addrs.push(node.ready_addr()?);
        }
        measure(program, scenario, &mut nodes, &addrs[0])
    })();
    for node in nodes {
        node.stop();
    }
    result
}

fn measure(
    program: &Program,
    scenario: &Scenario,
    nodes: &mut Vec<NodeProc>,
    seed: &str,
) -> Result<RunReport, BenchError> {
    let n = nodes.len();
    let began = Instant::now();
    let join = json!({"cmd": "join", "addrs": [seed]});
    for node in nodes[1..].iter_mut() {
        node.send(&join)?;
    }
    let join_s = loop {
        let v = views(nodes, "")?;
        if v.iter().all(|v| v.alive == n) {
            break began.elapsed().as_secs_f64();
        }
        if began.elapsed() > scenario.timeout {
            let worst = v.iter().map(|v| v.alive).min().unwrap_or(0);
            return Err(format!("not joined in time: the worst node sees {worst}/{n}").into());
        }
        std::thread::sleep(POLL);
    };

    std::thread::sleep(scenario.settle);
    let sent = |v: &[View]| v.iter().map(|v| v.bytes_sent).sum::<u64>();
    let dials = |v: &[View]| v.iter().map(|v| v.dials).sum::<u64>();
    let start = views(nodes, "")?;
    let streamed = |v: &[View]| v.iter().map(|v| v.stream_bytes_sent).sum::<u64>();
    let (sent0, streamed0, dials0, cpu0, t0) = (
        sent(&start),
        streamed(&start),
        dials(&start),
        total_cpu(nodes),
        Instant::now(),
    );
    std::thread::sleep(scenario.window);
    let (cpu1, secs) = (total_cpu(nodes), t0.elapsed().as_secs_f64());
    let end = views(nodes, "")?;
    let (sent1, streamed1, dials1) = (sent(&end), streamed(&end), dials(&end));
    let worst_alive = end.iter().map(|v| v.alive).min().unwrap_or(0);
    let rss: u64 = nodes.iter().filter_map(|n| peak_rss_kib(&n.pid)).sum();
    let cpu = (cpu1.saturating_sub(cpu0)).as_secs_f64();

    let mut victim = nodes.pop().ok_or("no nodes")?;
    let victim_name = node_name(n - 1);
    let crashed = Instant::now();
    victim.child.kill()?;
    victim.child.wait()?;
    let crash_to_dead_s = loop {
        let v = views(nodes, &victim_name)?;
        if v.iter().all(|v| v.target == "gone") {
            break crashed.elapsed().as_secs_f64();
        }
        if crashed.elapsed() > scenario.timeout {
            return Err(format!("{victim_name} not seen dead by all in time").into());
        }
        std::thread::sleep(POLL);
    };

    Ok(RunReport {
        join_s,
        rss_kib_per_node: rss as f64 / n as f64,
        crash_to_dead_s,
        worst_alive,
        ..RunReport::from_window(
            program.label(),
            n,
            secs,
            cpu,
            sent1.saturating_sub(sent0),
            streamed1.saturating_sub(streamed0),
            dials1.saturating_sub(dials0),
        )
    })
}
