//! The simulated cluster's faults and API calls: joins, crashes, restarts, metadata
//! updates, leaves, direct inputs to one machine, and recording of what nodes send and
//! emit.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use memberlist_core::machine::Machine;
use rand::Rng;

use super::{NodeEvent, Sent, Sim, SimDelegate, SimError};

impl Sim {
    /// Gives node `i`'s machine an input of the caller's (a datagram crafted by hand, a
    /// user message to send, a broadcast to queue, a change to its delegate) at the
    /// current instant, then handles its outputs as after any other input.
    pub fn input<R>(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut Machine<SimDelegate>, Instant) -> R,
    ) -> R {
        let now = self.now;
        self.trace.mix(&[b'I', i as u8]);
        let r = f(&mut self.nodes[i].machine, now);
        self.drain(i);
        r
    }

    /// Starts (or with `false` stops) keeping every datagram the nodes send, as they send
    /// it, for [`take_tapped`](Self::take_tapped).
    pub fn tap(&mut self, on: bool) {
        self.tapped = on.then(|| self.tapped.take().unwrap_or_default());
    }

    /// The datagrams sent since [`tap`](Self::tap) was turned on or last taken.
    pub fn take_tapped(&mut self) -> Vec<Sent> {
        self.tapped.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Every event the machines emitted, in order, when
    /// [`SimConfig::record_events`](super::SimConfig::record_events) is on.
    pub fn events(&self) -> &[NodeEvent] {
        self.events.as_deref().unwrap_or_default()
    }

    /// Node `i` joins through node `via`.
    pub fn join(&mut self, i: usize, via: usize) {
        let now = self.now;
        let to = self.nodes[via].addr;
        self.nodes[i].machine.join(now, [to]);
        self.drain(i);
    }

    /// Every node but `seed` joins through `seed`.
    pub fn join_all_through(&mut self, seed: usize) {
        for i in 0..self.len() {
            if i != seed {
                self.join(i, seed);
            }
        }
    }

    /// Node i joins through a random earlier node, for every i > 0.
    pub fn join_random_earlier(&mut self) {
        for i in 1..self.len() {
            let via = self.rng.random_range(0..i);
            self.join(i, via);
        }
    }

    /// Makes every running node know every other running node as alive, as if the cluster
    /// had converged, without simulating the join (which costs O(N²) gossip). Uses
    /// [`Machine::restore_members`]; the join events it emits are setup, not observations,
    /// and are dropped.
    pub fn bootstrap_converged(&mut self) {
        let everyone: Vec<_> = self
            .nodes
            .iter()
            .filter(|n| n.up)
            .filter_map(|n| n.machine.local_member())
            .collect();
        let now = self.now;
        for i in 0..self.nodes.len() {
            if !self.nodes[i].up {
                continue;
            }
            let machine = &mut self.nodes[i].machine;
            machine.restore_members(now, everyone.iter().cloned());
            while machine.poll_event().is_some() {}
            self.drain(i);
        }
        self.trace.mix(b"bootstrap");
    }

    /// Crashes node `i`: it stops receiving, sending and running timers.
    pub fn crash(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        node.up = false;
        node.generation += 1;
        node.wake_at = None;
        self.trace.mix(&[b'C', i as u8]);
    }

    /// Restarts node `i` with a fresh machine (new seed) and joins it through `via`.
    pub fn restart(&mut self, i: usize, via: usize) -> Result<(), SimError> {
        self.restart_at(i, via, self.nodes[i].addr)
    }

    /// Like [`restart`](Self::restart), at a new address: the node's IP with the next port
    /// (as a process restarted elsewhere under its name). Datagrams to its old address are
    /// lost from then on.
    pub fn restart_elsewhere(&mut self, i: usize, via: usize) -> Result<(), SimError> {
        let mut addr = self.nodes[i].addr;
        addr.set_port(addr.port().wrapping_add(1).max(1));
        self.restart_at(i, via, addr)
    }

    fn restart_at(&mut self, i: usize, via: usize, addr: SocketAddr) -> Result<(), SimError> {
        let restarts = self.nodes[i].restarts + 1;
        let (machine, counts) = self.make_machine(i, restarts, addr)?;
        let node = &mut self.nodes[i];
        node.addr = addr;
        node.machine = machine;
        node.counts = counts;
        node.restarts = restarts;
        node.up = true;
        node.generation += 1;
        node.wake_at = None;
        node.counters = (0, 0, 0);
        node.last_suspect.clear();
        node.joins_since_scan = 0;
        self.checker.on_restart(self.now, i);
        self.trace.mix(&[b'R', i as u8]);
        self.drain(i);
        self.join(i, via);
        Ok(())
    }

    /// Node `i` announces new metadata.
    pub fn update_meta(&mut self, i: usize, meta: Bytes) -> u64 {
        let now = self.now;
        self.nodes[i].machine.with_delegate(now, |d| d.meta = meta);
        let id = self.nodes[i].machine.update_meta(now);
        self.drain(i);
        id
    }

    /// Node `i` leaves gracefully (it keeps running until crashed).
    pub fn leave(&mut self, i: usize) -> u64 {
        let now = self.now;
        let id = self.nodes[i].machine.leave(now);
        self.drain(i);
        id
    }
}
