//! Three protocol machines wired together by hand, in virtual time: what a custom runtime or
//! a test harness starts from.
//!
//! A [`Machine`] does no I/O and reads no clock. Its driver (here: this file; in production
//! the `memberlist` crate's tokio runtime) feeds it inputs, each with the current instant,
//! and carries out what it asks for:
//!
//! - `poll_transmit`: datagrams to send — here delivered to the machine at that address
//!   at once, unless it is down;
//! - `poll_stream_request`: streams to open (push/pull, TCP ping, reliable message) — here
//!   the request's bytes are opened (`StreamDecoder::open_complete`) and handed to the
//!   other machine's `handle_stream`, and its reply back to `handle_stream_reply`;
//! - `poll_event`: membership changes;
//! - `poll_timeout`: when to call `handle_timeout` next — here virtual time jumps there.
//!
//! Run with `cargo run -p memberlist-core --example machines_by_hand`: nodes 1 and 2 join
//! node 0, everyone sees three members, node 2 crashes, and the others declare it dead.
#![allow(clippy::print_stdout)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use memberlist_core::delegate::NoopDelegate;
use memberlist_core::machine::{
    Event, Machine, ProtocolConfig, State, StreamError, StreamOutcome, StreamRequest,
};
use memberlist_core::wire::{Pipeline, StreamDecoder, StreamRole};

/// The machines, their addresses, and the datagrams in flight.
pub struct Cluster {
    machines: Vec<Machine<NoopDelegate>>,
    addrs: Vec<SocketAddr>,
    up: Vec<bool>,
    start: Instant,
    now: Instant,
    in_flight: VecDeque<(usize, SocketAddr, Vec<u8>)>,
    /// Every event, with the virtual time it was seen and the node that saw it.
    pub events: Vec<(Duration, usize, Event)>,
}

impl Cluster {
    /// `n` machines on 10.0.0.1:7946, 10.0.0.2:7946, …, with Go's LAN preset.
    pub fn new(n: usize) -> Self {
        let now = Instant::now();
        let addrs: Vec<SocketAddr> = (1..=n)
            .map(|i| SocketAddr::from(([10, 0, 0, i as u8], 7946)))
            .collect();
        let machines = addrs
            .iter()
            .enumerate()
            .map(|(i, &addr)| {
                let cfg = ProtocolConfig::lan(format!("node-{i}"));
                // The seed makes every random choice (probe order, gossip targets): the same
                // seeds replay the same run.
                Machine::new(cfg, Pipeline::new(), addr, NoopDelegate, i as u64, now)
                    .expect("a valid configuration")
            })
            .collect();
        Self {
            machines,
            addrs,
            up: vec![true; n],
            start: now,
            now,
            in_flight: VecDeque::new(),
            events: Vec::new(),
        }
    }

    fn index(&self, addr: SocketAddr) -> Option<usize> {
        self.addrs.iter().position(|&a| a == addr)
    }

    /// Node `i` joins through node `via`: a push/pull with it.
    pub fn join(&mut self, i: usize, via: usize) {
        let now = self.now;
        self.machines[i].join(now, [self.addrs[via]]);
        self.drain(i);
    }

    /// Node `i` stops: it gets no more inputs, and datagrams to it are lost.
    pub fn crash(&mut self, i: usize) {
        self.up[i] = false;
    }

    /// What node `i` holds about node `of`.
    pub fn state(&self, i: usize, of: usize) -> Option<State> {
        self.machines[i]
            .member(&format!("node-{of}"))
            .map(|m| m.state)
    }

    /// Members node `i` sees alive or suspect, itself included.
    pub fn members(&self, i: usize) -> usize {
        self.machines[i].num_members()
    }

    /// Carries out everything machine `i` asked for.
    fn drain(&mut self, i: usize) {
        while let Some(t) = self.machines[i].poll_transmit() {
            if let Some(to) = self.index(t.to) {
                self.in_flight.push_back((to, self.addrs[i], t.data));
            }
        }
        while let Some(req) = self.machines[i].poll_stream_request() {
            self.run_stream(i, req);
        }
        let at = self.now - self.start;
        while let Some(e) = self.machines[i].poll_event() {
            self.events.push((at, i, e));
        }
    }

    /// A stream, completed at once: the acceptor gets the opened request, the dialer the
    /// opened reply.
    fn run_stream(&mut self, from: usize, req: StreamRequest) {
        let now = self.now;
        let outcome = match self.index(req.to).filter(|&to| self.up[to]) {
            None => StreamOutcome::Failed(StreamError::refused(req.to)),
            Some(to) => {
                let pipeline = self.machines[to].pipeline();
                let opened =
                    StreamDecoder::open_complete(StreamRole::Acceptor, pipeline, req.data.clone());
                let reply = match opened {
                    Ok(Some(msg)) => self.machines[to].handle_stream(now, self.addrs[from], msg),
                    _ => None,
                };
                self.drain(to);
                StreamOutcome::from_reply(&req, self.machines[from].pipeline(), reply)
            }
        };
        self.machines[from].handle_stream_reply(now, req.id, outcome);
        self.drain(from);
    }

    /// Runs `span` of virtual time: deliver every datagram in flight, then jump to the
    /// earliest deadline of the machines that are up and wake those that are due.
    pub fn run_for(&mut self, span: Duration) {
        let end = self.now + span;
        loop {
            while let Some((to, from, data)) = self.in_flight.pop_front() {
                if self.up[to] {
                    let now = self.now;
                    self.machines[to].handle_datagram(now, from, &data);
                    self.drain(to);
                }
            }
            let live = (0..self.machines.len()).filter(|&i| self.up[i]);
            let Some(next) = live.map(|i| self.machines[i].poll_timeout()).min() else {
                return;
            };
            if next > end {
                self.now = end;
                return;
            }
            self.now = self.now.max(next);
            for i in 0..self.machines.len() {
                if self.up[i] && self.machines[i].poll_timeout() <= self.now {
                    let now = self.now;
                    self.machines[i].handle_timeout(now);
                    self.drain(i);
                }
            }
        }
    }
}

/// The walk-through; returns the cluster at the end for the test that runs it.
pub fn run() -> Cluster {
    let mut c = Cluster::new(3);
    c.join(1, 0);
    c.join(2, 0);
    c.run_for(Duration::from_secs(5));
    for i in 0..3 {
        println!("node-{i} sees {} members", c.members(i));
    }
    c.crash(2);
    c.run_for(Duration::from_secs(30));
    for (at, observer, e) in &c.events {
        if let Event::Leave(m) = e {
            println!("{at:>9.3?}  node-{observer}: {} is {}", m.name, m.state);
        }
    }
    c
}

fn main() {
    let c = run();
    assert_eq!(c.state(0, 2), Some(State::Dead));
    assert_eq!(c.state(1, 2), Some(State::Dead));
}
