//! [`GoPeer`]: one running Go memberlist node, driven over its stdin and stdout.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::config::GoPeerConfig;
use crate::error::InteropError;
use crate::event::{Event, NodeInfo};

/// Most stderr lines kept per peer (older ones are dropped).
const MAX_LOG_LINES: usize = 20_000;
/// Stderr lines quoted in errors.
const ERROR_TAIL_LINES: usize = 25;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Default)]
struct EventLog {
    events: Vec<Event>,
    /// stdout reached end of file: the process is gone or going.
    closed: bool,
}

#[derive(Default)]
struct StderrLog {
    lines: VecDeque<String>,
    /// stderr reached end of file.
    closed: bool,
}

#[derive(Default)]
struct Shared {
    log: Mutex<EventLog>,
    changed: Condvar,
    stderr: Mutex<StderrLog>,
    stderr_closed: Condvar,
}

/// One Go memberlist node in its own process (the program from `interop/go/peer`).
///
/// Everything it prints is kept in order as [`Event`]s; the `wait_for` methods block until a
/// matching event has arrived. Dropping a `GoPeer` kills the process.
pub struct GoPeer {
    name: String,
    addr: SocketAddr,
    command_timeout: Duration,
    child: Mutex<Child>,
    stdin: Mutex<Option<ChildStdin>>,
    shared: Arc<Shared>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for GoPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoPeer")
            .field("name", &self.name)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl GoPeer {
    /// Starts a Go peer and waits for its `ready` line; with `config.join` set, also waits
    /// for the start-up join to finish (successful or not: check
    /// [`Event::Joined`] with [`startup_join`](Self::startup_join)).
    ///
    /// Builds the program first (once per process) unless `config.binary` is set.
    pub fn spawn(config: GoPeerConfig) -> Result<GoPeer, InteropError> {
        let binary = match &config.binary {
            Some(path) => path.clone(),
            None => crate::build_peer()?,
        };
        let mut child = Command::new(&binary)
            .args(config.args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| InteropError::Spawn {
                binary: binary.clone(),
                source,
            })?;
        let shared = Arc::new(Shared::default());
        let readers = match (child.stdout.take(), child.stderr.take()) {
            (Some(out), Some(err)) => spawn_stdout_reader(out, Arc::clone(&shared), &config.name)
                .and_then(|()| spawn_stderr_reader(err, Arc::clone(&shared), &config.name)),
            _ => Err(InteropError::Spawn {
                binary,
                source: std::io::Error::other("stdout/stderr were not piped"),
            }),
        };
        if let Err(e) = readers {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }

        let mut peer = GoPeer {
            name: config.name.clone(),
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            command_timeout: config.command_timeout,
            stdin: Mutex::new(child.stdin.take()),
            child: Mutex::new(child),
            shared,
            next_id: AtomicU64::new(1),
        };
        let ready = peer.wait_for_after(
            0,
            |e| matches!(e, Event::Ready { .. }),
            config.ready_timeout,
        );
        match ready {
            Some(Event::Ready { name, addr, port }) => {
                peer.name = name;
                peer.addr = SocketAddr::new(addr, port);
            }
            _ => return Err(peer.failure("the ready line", config.ready_timeout)),
        }
        if !config.join.is_empty() && peer.startup_join_within(config.command_timeout).is_none() {
            return Err(peer.failure("the start-up join", config.command_timeout));
        }
        Ok(peer)
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The address the node advertises (its UDP and TCP port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Writes one command line (a JSON object, see the crate docs) without waiting for the
    /// reply.
    pub fn command(&self, command: Value) -> Result<(), InteropError> {
        let mut line = command.to_string();
        line.push('\n');
        let mut stdin = lock(&self.stdin);
        let pipe = stdin
            .as_mut()
            .ok_or_else(|| self.io_error("stdin is closed"))?;
        pipe.write_all(line.as_bytes())
            .and_then(|()| pipe.flush())
            .map_err(|source| io(&self.name, source))
    }

    /// Sends a command with a fresh `id` and waits for its `ok` (or fails with its `error`).
    /// Returns the id and the index of the first event after the command was sent.
    fn request_with_id(&self, mut command: Value) -> Result<(u64, usize), InteropError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let cmd = command
            .get("cmd")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        if let Some(obj) = command.as_object_mut() {
            obj.insert("id".to_owned(), json!(id));
        }
        let start = self.event_count();
        self.command(command)?;
        let reply = self.wait_for_after(
            start,
            |e| match e {
                Event::Ok { id: got, .. } | Event::Error { id: got, .. } => *got == Some(id),
                _ => false,
            },
            self.command_timeout,
        );
        match reply {
            Some(Event::Ok { .. }) => Ok((id, start)),
            Some(Event::Error { error, .. }) => Err(InteropError::Command {
                name: self.name.clone(),
                cmd,
                error,
            }),
            _ => Err(self.failure(&format!("the reply to {cmd}"), self.command_timeout)),
        }
    }

    /// Sends a command and waits for its `ok`; its `error` becomes
    /// [`InteropError::Command`].
    pub fn request(&self, command: Value) -> Result<(), InteropError> {
        self.request_with_id(command).map(|_| ())
    }

    /// [`request`](Self::request) with `data` as the command's `data`.
    fn send_data(&self, command: Value, data: &[u8]) -> Result<(), InteropError> {
        self.request(with_payload(command, "data", data))
    }

    /// Every node this Go node knows, including dead and left ones, with Go's view of their
    /// state and incarnation (see [`Event::Members`]).
    pub fn members(&self) -> Result<Vec<NodeInfo>, InteropError> {
        let (id, start) = self.request_with_id(json!({"cmd": "members"}))?;
        let reply = self.wait_for_after(
            start,
            |e| matches!(e, Event::Members { id: got, .. } if *got == Some(id)),
            Duration::ZERO,
        );
        match reply {
            Some(Event::Members { members, .. }) => Ok(members),
            _ => Err(self.failure("the members reply", Duration::ZERO)),
        }
    }

    /// The members Go's public `Members()` lists: alive and suspect ones.
    pub fn live_members(&self) -> Result<Vec<NodeInfo>, InteropError> {
        let mut members = self.members()?;
        members.retain(|m| m.state.is_live());
        Ok(members)
    }

    /// Joins through the given addresses; returns how many nodes were contacted.
    pub fn join<S: ToString>(
        &self,
        addrs: impl IntoIterator<Item = S>,
    ) -> Result<usize, InteropError> {
        let addrs: Vec<String> = addrs.into_iter().map(|a| a.to_string()).collect();
        let (id, start) = self.request_with_id(json!({"cmd": "join", "addrs": addrs}))?;
        match self.wait_for_after(
            start,
            |e| matches!(e, Event::Joined { id: got, .. } if *got == Some(id)),
            Duration::ZERO,
        ) {
            Some(Event::Joined { contacted, .. }) => Ok(contacted),
            _ => Err(self.failure("the joined event", Duration::ZERO)),
        }
    }

    /// The result of the start-up join (`-join`): `(contacted, error)`, or `None` if there
    /// was none (yet).
    pub fn startup_join(&self) -> Option<(usize, Option<String>)> {
        self.startup_join_within(Duration::ZERO)
    }

    fn startup_join_within(&self, timeout: Duration) -> Option<(usize, Option<String>)> {
        match self.wait_for(|e| matches!(e, Event::Joined { id: None, .. }), timeout)? {
            Event::Joined {
                contacted, error, ..
            } => Some((contacted, error)),
            _ => None,
        }
    }

    /// `SendReliable` (over TCP) a user message to the member named `to`.
    pub fn send_reliable(&self, to: &str, data: &[u8]) -> Result<(), InteropError> {
        self.send_data(json!({"cmd": "send_reliable", "to": to}), data)
    }

    /// `SendBestEffort` (over UDP) a user message to the member named `to`.
    pub fn send_best_effort(&self, to: &str, data: &[u8]) -> Result<(), InteropError> {
        self.send_data(json!({"cmd": "send_best_effort", "to": to}), data)
    }

    /// `SendToAddress`: a user message in a packet to any address (`name` may be empty).
    pub fn send_to_address(
        &self,
        addr: SocketAddr,
        name: &str,
        data: &[u8],
    ) -> Result<(), InteropError> {
        let addr = addr.to_string();
        self.send_data(
            json!({"cmd": "send_to_address", "addr": addr, "to": name}),
            data,
        )
    }

    /// Queues a user broadcast, gossiped through the delegate's `GetBroadcasts`.
    pub fn broadcast(&self, data: &[u8]) -> Result<(), InteropError> {
        self.send_data(json!({"cmd": "broadcast"}), data)
    }

    /// Sets the node's metadata and calls `UpdateNode(timeout)` (zero: wait without limit,
    /// as in Go).
    pub fn update_meta(&self, meta: &[u8], timeout: Duration) -> Result<(), InteropError> {
        let command = json!({"cmd": "update_meta", "timeout_ms": millis(timeout)});
        self.request(with_payload(command, "meta", meta))
    }

    /// Sets what the delegate's `LocalState` returns.
    pub fn set_local_state(&self, data: &[u8]) -> Result<(), InteropError> {
        self.send_data(json!({"cmd": "set_local_state"}), data)
    }

    /// `Leave(timeout)`: broadcasts that this node leaves (it keeps running).
    pub fn leave(&self, timeout: Duration) -> Result<(), InteropError> {
        self.request(json!({"cmd": "leave", "timeout_ms": millis(timeout)}))
    }

    /// `Shutdown()`, then waits up to `timeout` for the process to exit.
    pub fn shutdown(&self, timeout: Duration) -> Result<ExitStatus, InteropError> {
        self.request(json!({"cmd": "shutdown"}))?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exit_status() {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return Err(self.failure("the process to exit", timeout));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the process (SIGKILL): the node stops answering without leaving.
    pub fn kill(&self) {
        let mut child = lock(&self.child);
        let _ = child.kill();
        let _ = child.wait();
        drop(child);
        lock(&self.stdin).take();
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        lock(&self.child).id()
    }

    /// Freezes the process (SIGSTOP, sent with the `kill` program): the node neither answers
    /// nor sends anything, and commands wait, until [`resume`](Self::resume). Packets sent to
    /// it meanwhile wait in its socket buffers. Dropping a paused peer still kills it.
    pub fn pause(&self) -> Result<(), InteropError> {
        self.signal("STOP")
    }

    /// Lets a [`pause`](Self::pause)d process run again (SIGCONT).
    pub fn resume(&self) -> Result<(), InteropError> {
        self.signal("CONT")
    }

    fn signal(&self, signal: &str) -> Result<(), InteropError> {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .stdin(Stdio::null())
            .status()
            .map_err(|source| io(&self.name, source))?;
        if status.success() {
            Ok(())
        } else {
            Err(self.io_error(&format!("kill -{signal} failed ({status})")))
        }
    }

    /// The exit status, if the process has exited.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        lock(&self.child).try_wait().ok().flatten()
    }

    /// Waits up to `timeout` for an event matching `pred`, searching every event since the
    /// start (so an event that already arrived is found at once). `None` on timeout or when
    /// the process is gone without a match.
    pub fn wait_for(&self, pred: impl FnMut(&Event) -> bool, timeout: Duration) -> Option<Event> {
        self.wait_for_after(0, pred, timeout)
    }

    /// Like [`wait_for`](Self::wait_for), searching only events with index `start` or later
    /// (see [`event_count`](Self::event_count)).
    pub fn wait_for_after(
        &self,
        start: usize,
        mut pred: impl FnMut(&Event) -> bool,
        timeout: Duration,
    ) -> Option<Event> {
        let deadline = Instant::now() + timeout;
        let mut next = start;
        let mut log = lock(&self.shared.log);
        loop {
            if let Some(found) = log.events.iter().skip(next).find(|e| pred(e)) {
                return Some(found.clone());
            }
            next = next.max(log.events.len());
            let now = Instant::now();
            if log.closed || now >= deadline {
                return None;
            }
            log = self
                .shared
                .changed
                .wait_timeout(log, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// How many events arrived so far (the index the next one will have).
    pub fn event_count(&self) -> usize {
        lock(&self.shared.log).events.len()
    }

    /// The process's stderr lines so far (memberlist's log), at most the last 20,000.
    pub fn logs(&self) -> Vec<String> {
        lock(&self.shared.stderr).lines.iter().cloned().collect()
    }

    fn io_error(&self, what: &str) -> InteropError {
        let source = std::io::Error::new(std::io::ErrorKind::BrokenPipe, what);
        io(&self.name, source)
    }

    /// The error for "waited for `what` and it did not come".
    fn failure(&self, what: &str, timeout: Duration) -> InteropError {
        // A process whose stdout is closed is dying: give it a moment so that its exit
        // status and its last words on stderr are in.
        let exited = lock(&self.shared.log).closed;
        let mut log = lock(&self.shared.stderr);
        if exited {
            log = self
                .shared
                .stderr_closed
                .wait_timeout_while(log, Duration::from_secs(2), |s| !s.closed)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        let skip = log.lines.len().saturating_sub(ERROR_TAIL_LINES);
        let stderr = log
            .lines
            .iter()
            .skip(skip)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n");
        drop(log);
        let mut status = self.exit_status();
        let deadline = Instant::now() + Duration::from_secs(2);
        while exited && status.is_none() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
            status = self.exit_status();
        }
        match status {
            Some(status) => InteropError::Exited {
                name: self.name.clone(),
                status,
                waiting_for: what.to_owned(),
                stderr,
            },
            None => InteropError::Timeout {
                name: self.name.clone(),
                waiting_for: what.to_owned(),
                timeout,
                stderr,
            },
        }
    }
}

impl Drop for GoPeer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn io(name: &str, source: std::io::Error) -> InteropError {
    InteropError::Io {
        name: name.to_owned(),
        source,
    }
}

/// Puts `data` under `key` as a string when it is UTF-8, else under `key_b64`.
fn with_payload(mut command: Value, key: &str, data: &[u8]) -> Value {
    if let Some(obj) = command.as_object_mut() {
        match std::str::from_utf8(data) {
            Ok(s) => obj.insert(key.to_owned(), json!(s)),
            Err(_) => obj.insert(format!("{key}_b64"), json!(STANDARD.encode(data))),
        };
    }
    command
}

fn spawn_stdout_reader(
    stdout: std::process::ChildStdout,
    shared: Arc<Shared>,
    name: &str,
) -> Result<(), InteropError> {
    thread::Builder::new()
        .name(format!("go-peer-{name}-stdout"))
        .spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.trim().is_empty() {
                    continue;
                }
                let event = Event::parse_line(&line);
                lock(&shared.log).events.push(event);
                shared.changed.notify_all();
            }
            lock(&shared.log).closed = true;
            shared.changed.notify_all();
        })
        .map(|_| ())
        .map_err(|source| io(name, source))
}

fn spawn_stderr_reader(
    stderr: std::process::ChildStderr,
    shared: Arc<Shared>,
    name: &str,
) -> Result<(), InteropError> {
    let echo = std::env::var_os("MEMBERLIST_INTEROP_STDERR").is_some_and(|v| !v.is_empty());
    let prefix = format!("[go {name}] ");
    thread::Builder::new()
        .name(format!("go-peer-{name}-stderr"))
        .spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if echo {
                    let _ = writeln!(std::io::stderr().lock(), "{prefix}{line}");
                }
                let mut log = lock(&shared.stderr);
                if log.lines.len() == MAX_LOG_LINES {
                    log.lines.pop_front();
                }
                log.lines.push_back(line);
            }
            lock(&shared.stderr).closed = true;
            shared.stderr_closed.notify_all();
        })
        .map(|_| ())
        .map_err(|source| io(name, source))
}
