//! Gossip rounds and packet assembly: piggybacking queued broadcasts on other messages.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use crate::delegate::Delegate;
use crate::metrics::Counter;
use crate::wire::encode_compounds;

use super::Machine;
use super::members::State;
use super::row::Row;

/// Bytes a compound adds per part (its u16 length).
const COMPOUND_OVERHEAD: usize = 2;
/// The `08` type byte of a user broadcast.
const USER_MSG_OVERHEAD: usize = 1;

impl<D: Delegate> Machine<D> {
    /// Whether a gossip tick could send anything: another member exists and our queue holds
    /// a broadcast or the delegate may have some.
    pub(crate) fn gossip_pending(&self) -> bool {
        self.members.len() > 1 && (!self.broadcasts.is_empty() || self.delegate.has_broadcasts())
    }

    /// Moves the gossip schedule past the ticks that passed up to `now` with nothing to send.
    ///
    /// Called first by every input: nothing is queued between two inputs, so a tick that
    /// passed since the last one found the queue as that input left it. If idle, the tick is
    /// skipped now (counted, no random draw); if not, the driver was woken for it. The
    /// schedule keeps its phase, so a broadcast queued now leaves on the next tick, as in Go.
    pub(crate) fn skip_idle_gossip_ticks(&mut self, now: Instant) {
        let Some(at) = self.next_gossip else {
            return;
        };
        if now < at || self.gossip_pending() {
            return;
        }
        let (next, ticks) = next_tick(at, self.cfg.gossip_interval, now);
        self.next_gossip = Some(next);
        self.metrics.increment(Counter::GossipTicksIdle, ticks);
    }

    /// The gossip deadline for [`poll_timeout`](Self::poll_timeout): none while idle.
    pub(crate) fn gossip_deadline(&self) -> Option<Instant> {
        self.next_gossip.filter(|_| self.gossip_pending())
    }

    /// Runs the gossip tick due at `now`, if any, and schedules the next one.
    pub(crate) fn gossip_tick(&mut self, now: Instant) {
        self.skip_idle_gossip_ticks(now);
        let Some(at) = self.next_gossip else {
            return;
        };
        if now < at {
            return;
        }
        let (next, ticks) = next_tick(at, self.cfg.gossip_interval, now);
        self.next_gossip = Some(next);
        // Ticks missed while the driver was late are dropped, as Go's ticker drops them.
        self.metrics.increment(Counter::GossipTicksIdle, ticks - 1);
        self.metrics.increment(Counter::GossipRounds, 1);
        self.gossip(now);
    }

    /// One gossip round: up to `gossip_nodes` random peers that are alive, suspect, or
    /// recently dead (so they can refute) each get a packet of queued broadcasts.
    ///
    /// Go picks the peers first; here the first packet is taken before picking, so an idle
    /// node touches no member entries. With no other member nothing is taken, as in Go.
    pub(crate) fn gossip(&mut self, now: Instant) {
        if self.members.len() <= 1 {
            return;
        }
        let budget = self
            .cfg
            .udp_buffer_size
            .saturating_sub(COMPOUND_OVERHEAD)
            .saturating_sub(self.pipeline.label().overhead())
            .saturating_sub(self.pipeline.encryption_overhead());
        let first = self.take_broadcasts(COMPOUND_OVERHEAD, budget);
        if first.is_empty() {
            return;
        }
        let mut first = Some(first);
        let me = self.cfg.name.clone();
        let dead_window = self.cfg.gossip_to_the_dead_time;
        let peers = self
            .members
            .random(self.cfg.gossip_nodes, &mut self.rng, |m| {
                if m.name == me {
                    return false;
                }
                match m.state {
                    State::Alive | State::Suspect => true,
                    State::Dead => {
                        now.saturating_duration_since(self.members.changed(m)) <= dead_window
                    }
                    State::Left => false,
                }
            });
        for i in peers {
            let peer = self.members.at(i);
            let (to, pmax) = match peer.socket_addr() {
                Some(to) => (to, peer.protocol_max()),
                None => continue,
            };
            let msgs = match first.take() {
                Some(msgs) => msgs,
                None => self.take_broadcasts(COMPOUND_OVERHEAD, budget),
            };
            if msgs.is_empty() {
                return;
            }
            if let [single] = &msgs[..] {
                self.send_packet(to, pmax, single);
                continue;
            }
            self.send_compounds(to, pmax, &msgs);
        }
    }

    /// Our own queued broadcasts, then the delegate's (prefixed with the user type byte),
    /// within `limit` bytes counting `overhead` per message.
    pub(crate) fn take_broadcasts(&mut self, overhead: usize, limit: usize) -> Vec<Bytes> {
        let n = self.members.len();
        let mut msgs = self.broadcasts.get_broadcasts(overhead, limit, n);
        self.collect_finished_broadcasts();
        let used: usize = msgs.iter().map(|m| m.len() + overhead).sum();
        let avail = limit.saturating_sub(used);
        if avail > overhead + USER_MSG_OVERHEAD {
            for user in self
                .delegate
                .broadcasts(overhead + USER_MSG_OVERHEAD, avail)
            {
                msgs.push(Bytes::from(super::user_message(&user)));
            }
        }
        msgs
    }

    /// The protocol version that decides the CRC of a datagram sent to a bare address, found
    /// as Go's `rawSendMsgPacket` finds it when it is not handed the node: by looking up the
    /// destination's IP, as text, among the member *names*. So the CRC is added only in
    /// clusters whose node names are their IPs (spec §3.1); everywhere else pings, acks,
    /// nacks and indirect pings go without one, byte for byte as Go sends them.
    pub(crate) fn pmax_by_address_name(&self, to: SocketAddr) -> u8 {
        self.members.get_by_ip(to.ip()).map_or(0, Row::protocol_max)
    }

    /// Sends `msg` with as many queued broadcasts as fit piggybacked in a compound (Go's
    /// `sendMsg`). Like Go, it is not told the destination node: the CRC follows
    /// [`pmax_by_address_name`](Self::pmax_by_address_name).
    pub(crate) fn send_msg(&mut self, to: SocketAddr, msg: &[u8]) {
        let pmax = self.pmax_by_address_name(to);
        let mut avail = self
            .cfg
            .udp_buffer_size
            .saturating_sub(msg.len())
            .saturating_sub(COMPOUND_OVERHEAD)
            .saturating_sub(self.pipeline.label().overhead());
        if self.pipeline.encrypts_outgoing() {
            avail = avail.saturating_sub(self.pipeline.encryption_overhead());
        }
        let extra = self.take_broadcasts(COMPOUND_OVERHEAD, avail);
        if extra.is_empty() {
            self.send_packet(to, pmax, msg);
            return;
        }
        let mut parts: Vec<&[u8]> = Vec::with_capacity(1 + extra.len());
        parts.push(msg);
        parts.extend(extra.iter().map(|b| &b[..]));
        self.send_compounds(to, pmax, &parts);
    }

    /// Sends `parts` in as many compounds as they need.
    fn send_compounds<P: AsRef<[u8]>>(&mut self, to: SocketAddr, pmax: u8, parts: &[P]) {
        match encode_compounds(parts) {
            Ok(packets) => {
                for packet in packets {
                    self.send_packet(to, pmax, &packet);
                }
            }
            Err(e) => tracing::warn!(%to, error = %e, "cannot build a compound"),
        }
    }

    /// Frames and queues one datagram; the CRC is added for peers advertising protocol ≥ 5.
    pub(crate) fn send_packet(&mut self, to: SocketAddr, pmax: u8, payload: &[u8]) {
        let mut data = Vec::with_capacity(payload.len() + 64);
        match self.pipeline.encode_packet(payload, pmax >= 5, &mut data) {
            Ok(()) => {
                self.metrics.increment(Counter::UdpSentPackets, 1);
                self.metrics
                    .increment(Counter::UdpSentBytes, data.len() as u64);
                self.transmits.push_back(super::Transmit { to, data });
            }
            Err(e) => tracing::warn!(%to, error = %e, "cannot frame a packet"),
        }
    }
}

/// The first tick of the schedule `at + k·interval` after `now` (with `at <= now`), and how
/// many ticks (`k`) passed.
fn next_tick(at: Instant, interval: std::time::Duration, now: Instant) -> (Instant, u64) {
    let late = now.saturating_duration_since(at).as_nanos();
    let step = interval.as_nanos().max(1);
    let ticks = late / step + 1;
    let ticks64 = u64::try_from(ticks).unwrap_or(u64::MAX);
    let next = u32::try_from(ticks)
        .ok()
        .and_then(|t| interval.checked_mul(t))
        .and_then(|d| at.checked_add(d))
        .unwrap_or(now + interval);
    (next, ticks64)
}
