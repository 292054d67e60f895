//! How the engine handles a node's outputs: datagrams onto the virtual network, streams
//! run synchronously against their acceptor, events and suspicions into the invariant
//! checker and the observation log, and the node's next wake-up.

use std::time::Instant;

use bytes::Bytes;
use memberlist_core::machine::{
    Event, State, StreamError, StreamOutcome, StreamPhase, StreamRequest,
};
use memberlist_core::metrics::Counter;
use memberlist_core::wire::{StreamDecoder, StreamRole};
use smol_str::SmolStr;

use crate::trace::Trace;

use super::{LogEntry, NodeEvent, Observation, Sent, Sim, Work};

impl Sim {
    /// Moves node `i`'s outputs onto the network, runs its streams, records its events and
    /// reschedules its wake-up.
    pub(super) fn drain(&mut self, i: usize) {
        if !self.nodes[i].up {
            return;
        }
        loop {
            let mut progressed = false;
            while let Some(t) = self.nodes[i].machine.poll_transmit() {
                progressed = true;
                if let Some(tapped) = &mut self.tapped {
                    tapped.push(Sent {
                        at: self.now - self.start,
                        from: i,
                        to: t.to,
                        data: t.data.clone(),
                    });
                }
                let Some(to) = self.node_of(&t.to) else {
                    continue;
                };
                let fate = self.net.route(&mut self.rng, i, to);
                let deliver = |data| Work::Deliver {
                    from: i as u32,
                    to: to as u32,
                    data,
                };
                if let Some(delay) = fate.second {
                    self.push(self.now + delay, deliver(t.data.clone()));
                }
                if let Some(delay) = fate.first {
                    self.push(self.now + delay, deliver(t.data));
                }
            }
            while let Some(req) = self.nodes[i].machine.poll_stream_request() {
                progressed = true;
                self.run_stream(i, req);
            }
            while let Some(e) = self.nodes[i].machine.poll_event() {
                progressed = true;
                self.on_event(i, e);
            }
            if !progressed {
                break;
            }
        }
        self.scan_counters(i);
        self.reschedule(i);
    }

    fn reschedule(&mut self, i: usize) {
        // Slowness delays a node's inbound datagrams (see `Network::set_slow`), not its
        // timers: a starved receive loop makes acks arrive after the probe timeout.
        let node = &mut self.nodes[i];
        let at = node.machine.poll_timeout().max(self.now);
        if node.wake_at == Some(at) {
            return;
        }
        node.generation += 1;
        node.wake_at = Some(at);
        let generation = node.generation;
        self.push(
            at,
            Work::Wake {
                node: i as u32,
                generation,
            },
        );
    }

    fn run_stream(&mut self, from: usize, req: StreamRequest) {
        let now = self.now;
        let to_addr = req.to;
        self.nodes[from].stream_bytes += req.data.len() as u64;
        let target = self.node_of(&req.to).filter(|&to| {
            to != from
                && self.nodes[to].up
                && self.net.connected(from, to)
                && self.net.connected(to, from)
        });
        // A slow member answers streams as late as datagrams: past the deadline, the
        // dialer gives up (the late processing on the far side is not modelled).
        let late_dialer = now + self.net.slowness(from) > req.deadline;
        let timeout = |phase| StreamOutcome::Failed(StreamError::Timeout { to: to_addr, phase });
        // Each side opens the bytes as a driver reading a socket does, and the machine takes
        // the opened message through its one entry point (which recognises a push/pull
        // holding its own view on the bytes).
        let outcome = match target {
            None => StreamOutcome::Failed(StreamError::refused(to_addr)),
            Some(to) if now + self.net.slowness(to) > req.deadline => timeout(StreamPhase::Connect),
            Some(to) => {
                let pipeline = self.nodes[to].machine.pipeline();
                match StreamDecoder::open_complete(StreamRole::Acceptor, pipeline, req.data.clone())
                {
                    Ok(Some(msg)) => {
                        let src = self.nodes[from].addr;
                        let reply = self.nodes[to].machine.handle_stream(now, src, msg);
                        self.drain(to);
                        match reply {
                            Some(_) if req.expects_reply && late_dialer => {
                                timeout(StreamPhase::Read)
                            }
                            reply => {
                                if let Some(bytes) = reply.as_ref().filter(|_| req.expects_reply) {
                                    self.nodes[to].stream_bytes += bytes.len() as u64;
                                }
                                let pipeline = self.nodes[from].machine.pipeline();
                                StreamOutcome::from_reply(&req, pipeline, reply)
                            }
                        }
                    }
                    // The acceptor could not open the request: the dialer sees the stream
                    // end without a reply.
                    Ok(None) | Err(_) => {
                        StreamOutcome::Failed(StreamError::NoReply { to: to_addr })
                    }
                }
            }
        };
        self.finish_stream(from, req, outcome);
    }

    /// Records a stream in the trace and reports its outcome to the dialer.
    fn finish_stream(&mut self, from: usize, req: StreamRequest, outcome: StreamOutcome) {
        let tag = match outcome {
            StreamOutcome::Reply(_) => b'r',
            StreamOutcome::Sent => b's',
            StreamOutcome::Failed(_) => b'f',
        };
        let hash = match &self.traced_stream {
            Some((data, hash))
                if data.as_ptr() == req.data.as_ptr() && data.len() == req.data.len() =>
            {
                *hash
            }
            _ => {
                let hash = Trace::digest(&req.data);
                self.traced_stream = Some((req.data.clone(), hash));
                hash
            }
        };
        self.trace
            .input(self.now - self.start, from, tag, &hash.to_le_bytes());
        self.nodes[from]
            .machine
            .handle_stream_reply(self.now, req.id, outcome);
    }

    fn on_event(&mut self, observer: usize, e: Event) {
        if let Some(events) = &mut self.events {
            events.push(NodeEvent {
                at: self.now - self.start,
                node: observer,
                event: e.clone(),
            });
        }
        let (what, m) = match &e {
            Event::Join(m) => {
                self.nodes[observer].joins_since_scan += 1;
                (Observation::Joined, m)
            }
            Event::Leave(m) if m.state == State::Left => (Observation::Left, m),
            Event::Leave(m) => (Observation::Dead, m),
            Event::Update(m) => (Observation::Updated, m),
            _ => return,
        };
        self.trace
            .event(observer, what as u8, &m.name, m.incarnation);
        let Some(subject) = self.index_of(&m.name) else {
            return;
        };
        match what {
            Observation::Joined => self.checker.on_join(self.now, observer, subject, m),
            Observation::Dead | Observation::Left => {
                self.checker.on_gone(self.now, observer, subject, m)
            }
            _ => {}
        }
        if self.watched[subject] {
            self.log.push(LogEntry {
                at: self.now - self.start,
                observer,
                subject,
                what,
                meta: m.meta.clone(),
            });
        }
    }

    /// Looks at the alive/suspect/dead counters of node `i` and rescans its table when they
    /// moved: suspicions always, everything in full mode.
    fn scan_counters(&mut self, i: usize) {
        // Three counters read on every step: not the whole `Stats`.
        let joined = std::mem::take(&mut self.nodes[i].joins_since_scan);
        let counts = &self.nodes[i].counts;
        let counters = (
            counts.counter(Counter::MsgAlive),
            counts.counter(Counter::MsgSuspect),
            counts.counter(Counter::MsgDead),
        );
        let old = self.nodes[i].counters;
        if counters == old {
            return;
        }
        self.nodes[i].counters = counters;
        if counters.1 != old.1 {
            // The table the suspicion started with: joins later in the same step (a
            // compound packet) do not count, as the machine sized its timer before them.
            let size = self.nodes[i]
                .machine
                .all_members()
                .count()
                .saturating_sub(joined)
                .max(1);
            let suspects: Vec<(usize, Instant, SmolStr)> = self.nodes[i]
                .machine
                .all_members()
                .filter(|m| m.state == State::Suspect)
                .filter_map(|m| {
                    let &s = self.by_name.get(&m.name)?;
                    Some((s, m.state_change, m.name))
                })
                .collect();
            for (subject, since, name) in suspects {
                if self.nodes[i].last_suspect.get(&subject) == Some(&since) {
                    continue;
                }
                self.nodes[i].last_suspect.insert(subject, since);
                self.checker.on_suspect(subject, since, size);
                self.trace.event(i, b'S', name.as_str(), 0);
                if self.watched[subject] {
                    self.log.push(LogEntry {
                        at: since - self.start,
                        observer: i,
                        subject,
                        what: Observation::Suspected,
                        meta: Bytes::new(),
                    });
                }
            }
        }
        if self.checker.is_full() {
            let by_name = &self.by_name;
            self.checker
                .scan_table(self.now, i, self.nodes[i].machine.all_members(), |name| {
                    by_name.get(name).copied()
                });
        }
    }
}
