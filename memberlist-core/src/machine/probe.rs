//! The failure detector: the probe cycle (direct ping, indirect pings with nacks, TCP
//! fallback), answering pings, relaying indirect pings, and acks/nacks.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use smol_str::SmolStr;
use tracing::{debug, warn};

use crate::delegate::Delegate;
use crate::metrics::{Counter, Gauge, Histogram};
use crate::wire::{Ack, IndirectPing, Nack, Ping, Suspect, WireMessage, encode_compound};

use super::Machine;
use super::members::State;
use super::output::{Event, StreamId, StreamKind};
use super::row::Row;

/// The probe in flight.
#[derive(Debug, Clone)]
pub(crate) struct ProbeRound {
    pub(crate) target: SmolStr,
    /// The target's entry and the table generation when the probe started (while unchanged,
    /// the ack needs no lookup).
    pub(crate) entry: (Row, u64),
    pub(crate) seq_no: u32,
    pub(crate) sent: Instant,
    /// End of the direct wait (ProbeTimeout).
    pub(crate) ack_deadline: Instant,
    /// End of the whole probe (the awareness-scaled probe interval).
    pub(crate) end: Instant,
    pub(crate) indirect_sent: bool,
    pub(crate) expected_nacks: u32,
    pub(crate) nacks: u32,
    pub(crate) tcp: Option<StreamId>,
    pub(crate) tcp_ok: bool,
}

/// What to do with an ack for a sequence number other than the current probe's.
#[derive(Debug, Clone)]
pub(crate) enum AckHandler {
    /// We relay for `requester`: forward the ack with its sequence number, or a nack.
    Relay {
        requester: SocketAddr,
        seq_no: u32,
        nack: bool,
        deadline: Instant,
    },
    /// A ping started through the API.
    User { sent: Instant, deadline: Instant },
    /// A ping to a reconnect candidate (`reconnect.rs`): an ack starts a push/pull with `to`.
    Reconnect { to: SocketAddr, deadline: Instant },
}

impl AckHandler {
    pub(crate) fn deadline(&self) -> Instant {
        match self {
            Self::Relay { deadline, .. }
            | Self::User { deadline, .. }
            | Self::Reconnect { deadline, .. } => *deadline,
        }
    }
}

impl<D: Delegate> Machine<D> {
    /// A ping from us to `node`, with the next sequence number.
    pub(crate) fn our_ping(&mut self, node: SmolStr) -> Ping {
        self.seq_no = self.seq_no.wrapping_add(1);
        self.ping_with(self.seq_no, node)
    }

    /// A ping from us to `node` with sequence number `seq_no`.
    fn ping_with(&self, seq_no: u32, node: SmolStr) -> Ping {
        Ping {
            seq_no,
            node,
            source_addr: self.advertise_addr,
            source_port: self.advertise_port,
            source_node: self.cfg.name.clone(),
        }
    }

    /// Chooses the next probe target (round robin, skipping ourselves and dead or left
    /// nodes; reaping and reshuffling when the index wraps) and probes it.
    pub(crate) fn start_probe(&mut self, now: Instant) {
        let mut checked = 0;
        let target = loop {
            if checked >= self.members.len() {
                return;
            }
            if self.members.probe_index >= self.members.len() {
                self.reset_probe_order(now);
                self.members.probe_index = 0;
                checked += 1;
                continue;
            }
            let i = self.members.probe_index;
            self.members.probe_index += 1;
            let m = self.members.at(i);
            if m.name == self.cfg.name || m.state.is_gone() {
                checked += 1;
                continue;
            }
            break m.clone();
        };

        let interval = self.awareness.scale_timeout(self.cfg.probe_interval);
        if interval > self.cfg.probe_interval {
            self.metrics.increment(Counter::DegradedProbe, 1);
        }
        let ping = self.our_ping(target.name.clone());
        let Some(to) = target.socket_addr() else {
            warn!(node = %target.name, addr = %target.addr, "cannot probe a node without a usable address");
            return;
        };
        if target.state == State::Alive || !self.cfg.lifeguard {
            self.send_msg(to, &ping.to_bytes());
        } else {
            // Ping plus our suspicion, so that the node can refute it (Lifeguard's buddy).
            let suspect = Suspect {
                incarnation: target.incarnation,
                node: target.name.clone(),
                from: self.cfg.name.clone(),
            };
            let parts = [ping.to_bytes(), suspect.to_bytes()];
            let mut compound = Vec::new();
            if encode_compound(&parts, &mut compound).is_ok() {
                self.send_packet(to, target.protocol_max(), &compound);
            }
        }
        let generation = self.members.generation();
        self.probe = Some(ProbeRound {
            target: target.name.clone(),
            entry: (target, generation),
            seq_no: ping.seq_no,
            sent: now,
            ack_deadline: now + self.cfg.probe_timeout,
            end: now + interval,
            indirect_sent: false,
            expected_nacks: 0,
            nacks: 0,
            tcp: None,
            tcp_ok: false,
        });
    }

    /// Reaps dead and left nodes older than GossipToTheDeadTime and reshuffles.
    fn reset_probe_order(&mut self, now: Instant) {
        let keep = self.cfg.gossip_to_the_dead_time;
        let me = self.cfg.name.clone();
        let now = self.members.stamp(now);
        let reaped = self
            .members
            .reap(|m| m.name != me && m.state.is_gone() && now.saturating_since(m.changed) > keep);
        for m in reaped {
            debug!(node = %m.name, state = %m.state, "reaped");
            self.suspicions.remove(&m.name);
        }
        self.members.shuffle(&mut self.rng);
    }

    /// Advances the probe in flight: indirect pings after the probe timeout, the verdict at
    /// the end of the interval.
    pub(crate) fn drive_probe(&mut self, now: Instant) {
        let Some(round) = &self.probe else {
            return;
        };
        if !round.indirect_sent && now >= round.ack_deadline {
            self.send_indirect_probes();
        }
        let Some(round) = &self.probe else {
            return;
        };
        if now >= self.probe_limit(round) {
            self.finish_probe(false, now);
        }
    }

    /// When the probe ends: the scaled interval, plus a grace of one probe timeout while a
    /// TCP fallback is still being reported.
    fn probe_limit(&self, round: &ProbeRound) -> Instant {
        if round.tcp.is_some() {
            round.end + self.cfg.probe_timeout
        } else {
            round.end
        }
    }

    fn send_indirect_probes(&mut self) {
        let Some(round) = self.probe.as_mut() else {
            return;
        };
        round.indirect_sent = true;
        let (seq_no, end) = (round.seq_no, round.end);
        let Some(target) = self.members.get(&round.target).cloned() else {
            return;
        };
        let me = self.cfg.name.clone();
        let relays = self
            .members
            .random(self.cfg.indirect_checks, &mut self.rng, |m| {
                m.name != me && m.name != target.name && m.state == State::Alive
            });
        let mut expected_nacks = 0;
        for i in relays {
            let relay = self.members.at(i).clone();
            let Some(to) = relay.socket_addr() else {
                continue;
            };
            let nack = self.cfg.lifeguard && relay.protocol_max() >= 4;
            expected_nacks += u32::from(nack);
            let req = IndirectPing {
                seq_no,
                target: target.addr,
                port: target.port,
                node: target.name.clone(),
                nack,
                source_addr: self.advertise_addr,
                source_port: self.advertise_port,
                source_node: me.clone(),
            };
            self.send_msg(to, &req.to_bytes());
        }
        let mut tcp = None;
        if !self.cfg.disable_tcp_pings && target.protocol_max() >= 3 {
            if let Some(to) = target.socket_addr() {
                let ping = self.ping_with(seq_no, target.name.clone());
                tcp =
                    self.open_stream(to, &ping.to_bytes(), StreamKind::Ping { seq_no }, end, true);
            }
        }
        if let Some(round) = self.probe.as_mut() {
            round.expected_nacks = expected_nacks;
            round.tcp = tcp;
        }
    }

    /// Ends the probe: success lowers the awareness score; failure raises it (by the missed
    /// nacks when relays could nack) and suspects the target.
    pub(crate) fn finish_probe(&mut self, acked: bool, now: Instant) {
        self.conclude_probe(acked, now);
        self.start_pending_probe(now);
    }

    /// Starts at once the probe of a tick that came while one was running, as Go's buffered
    /// ticker does.
    pub(crate) fn start_pending_probe(&mut self, now: Instant) {
        if self.probe.is_none() && self.probe_tick_pending {
            self.probe_tick_pending = false;
            self.start_probe(now);
        }
    }

    fn conclude_probe(&mut self, acked: bool, now: Instant) {
        let Some(round) = self.probe.take() else {
            return;
        };
        let took = now.saturating_duration_since(round.sent);
        self.metrics
            .record(Histogram::ProbeNode, took.as_secs_f64());
        if acked {
            self.apply_awareness(-1);
            return;
        }
        if round.tcp_ok {
            warn!(node = %round.target, "reached over TCP but UDP probes failed; the network may be misconfigured");
            self.apply_awareness(-1);
            return;
        }
        let delta = if round.expected_nacks > 0 {
            round.expected_nacks.saturating_sub(round.nacks) as i32
        } else {
            1
        };
        self.apply_awareness(delta);
        let Some(target) = self.members.get(&round.target) else {
            return;
        };
        debug!(node = %round.target, "probe failed; suspecting");
        let s = Suspect {
            incarnation: target.incarnation,
            node: round.target.clone(),
            from: self.cfg.name.clone(),
        };
        let to = target.socket_addr();
        // Lifeguard's buddy system, at once: the accused hears the suspicion directly and can
        // refute it, even when our gossip reaches no one who knows it (we may be the one that
        // cannot hear: a deaf node's suspicions would otherwise mature unrefuted).
        if self.handle_suspect(&s, now) && self.cfg.lifeguard {
            if let Some(to) = to {
                self.send_msg(to, &s.to_bytes());
            }
        }
    }

    pub(crate) fn apply_awareness(&mut self, delta: i32) {
        if !self.cfg.lifeguard {
            return;
        }
        if let Some(score) = self.awareness.apply_delta(delta) {
            self.metrics.set(Gauge::HealthScore, f64::from(score));
        }
    }

    /// Answers a ping addressed to us.
    pub(crate) fn handle_ping(&mut self, p: &Ping, from: SocketAddr) {
        if !p.node.is_empty() && p.node != self.cfg.name {
            warn!(intended = %p.node, %from, "got a ping meant for another node");
            return;
        }
        let ack = Ack {
            seq_no: p.seq_no,
            payload: self.delegate.ack_payload(),
        };
        let to = reply_address(p.source_addr.to_ip(), p.source_port, from);
        self.send_msg(to, &ack.to_bytes());
    }

    /// Pings the target for a requester and arranges the forwarded ack or the nack.
    pub(crate) fn handle_indirect_ping(
        &mut self,
        req: &IndirectPing,
        from: SocketAddr,
        now: Instant,
    ) {
        let port = self.remote_port(req.port);
        let Some(ip) = req.target.to_ip() else {
            return;
        };
        let ping = self.our_ping(req.node.clone());
        let requester = reply_address(req.source_addr.to_ip(), req.source_port, from);
        self.acks.insert(
            ping.seq_no,
            AckHandler::Relay {
                requester,
                seq_no: req.seq_no,
                nack: req.nack,
                deadline: now + self.cfg.probe_timeout,
            },
        );
        self.send_msg(SocketAddr::new(ip, port), &ping.to_bytes());
    }

    pub(crate) fn handle_ack(&mut self, ack: Ack, now: Instant) {
        if let Some(round) = &self.probe {
            if round.seq_no == ack.seq_no {
                if now < round.ack_deadline {
                    let rtt = now.saturating_duration_since(round.sent);
                    self.metrics.record(Histogram::ProbeRtt, rtt.as_secs_f64());
                    let (entry, generation) = &round.entry;
                    let m = if *generation == self.members.generation() {
                        Some(self.members.member(entry))
                    } else {
                        self.members
                            .get(&round.target)
                            .map(|m| self.members.member(m))
                    };
                    if let Some(m) = m {
                        self.delegate.notify_ping_complete(&m, rtt, ack.payload);
                    }
                }
                self.finish_probe(true, now);
                return;
            }
        }
        match self.acks.remove(&ack.seq_no) {
            Some(AckHandler::Relay {
                requester, seq_no, ..
            }) => {
                let fwd = Ack {
                    seq_no,
                    payload: Bytes::new(),
                };
                self.send_msg(requester, &fwd.to_bytes());
            }
            Some(AckHandler::User { sent, .. }) => {
                self.events.push_back(Event::PingResult {
                    seq_no: ack.seq_no,
                    rtt: Some(now.saturating_duration_since(sent)),
                });
            }
            Some(AckHandler::Reconnect { to, .. }) => {
                debug!(%to, "a reconnect candidate answered; pushing/pulling with it");
                self.start_push_pull(to, false, now);
            }
            None => {}
        }
    }

    pub(crate) fn handle_nack(&mut self, nack: Nack) {
        if let Some(round) = self.probe.as_mut() {
            if round.seq_no == nack.seq_no {
                round.nacks += 1;
            }
        }
    }

    /// Expires relay and API ping handlers.
    pub(crate) fn expire_ack_handlers(&mut self, now: Instant) {
        for seq in super::expired(&self.acks, now, AckHandler::deadline) {
            match self.acks.remove(&seq) {
                Some(AckHandler::Relay {
                    requester,
                    seq_no,
                    nack: true,
                    ..
                }) => {
                    let nack = Nack { seq_no };
                    self.send_msg(requester, &nack.to_bytes());
                }
                Some(AckHandler::User { .. }) => {
                    self.events.push_back(Event::PingResult {
                        seq_no: seq,
                        rtt: None,
                    });
                }
                _ => {}
            }
        }
    }

    /// The TCP fallback probe finished.
    pub(crate) fn tcp_probe_result(&mut self, seq_no: u32, ok: bool, now: Instant) {
        let Some(round) = self.probe.as_mut() else {
            return;
        };
        if round.seq_no != seq_no {
            return;
        }
        round.tcp = None;
        round.tcp_ok = ok;
        if now >= round.end {
            self.finish_probe(false, now);
        }
    }

    /// Sends one ping through the API; the answer arrives as [`Event::PingResult`].
    pub(crate) fn user_ping(&mut self, name: SmolStr, to: SocketAddr, now: Instant) -> u32 {
        let ping = self.our_ping(name);
        self.acks.insert(
            ping.seq_no,
            AckHandler::User {
                sent: now,
                deadline: now + self.cfg.probe_timeout,
            },
        );
        self.send_msg(to, &ping.to_bytes());
        ping.seq_no
    }

    /// The next instant a probe timer fires.
    pub(crate) fn probe_deadline(&self) -> Option<Instant> {
        let round = self.probe.as_ref()?;
        Some(if round.indirect_sent {
            self.probe_limit(round)
        } else {
            round.ack_deadline
        })
    }
}

/// Go answers at `SourceAddr:SourcePort` when both are present, else at the packet source.
fn reply_address(ip: Option<std::net::IpAddr>, port: u16, from: SocketAddr) -> SocketAddr {
    match ip {
        Some(ip) if port != 0 => SocketAddr::new(ip, port),
        _ => from,
    }
}

#[cfg(test)]
#[path = "probe_tests.rs"]
mod tests;
