//! Leaving the cluster: the leave broadcast, and (beyond Go, same wire) its direct delivery
//! to the live members (see [`Machine::leave`]).

use std::time::Instant;

use crate::delegate::Delegate;
use crate::wire::{Dead, WireMessage};

use super::broadcast::retransmit_limit;
use super::{Event, Machine, State};

impl<D: Delegate> Machine<D> {
    /// Leaves the cluster: sends our death (`From` = ourselves) straight to the live members
    /// (alive or suspect; at most as many as the broadcast's fan-out, retransmit limit ×
    /// `gossip_nodes`, chosen at random), so that it arrives even when every gossip target
    /// has just failed; queues it as a broadcast, as Go does; and stops refuting.
    /// Returns the id of the [`Event::BroadcastFinished`] to wait for: it comes once the
    /// broadcast has been retransmitted its limit, or at once when no other node is alive.
    pub fn leave(&mut self, now: Instant) -> u64 {
        self.begin_input(now);
        let id = self.notify_id();
        self.leaving = true;
        self.leave_notify = Some(id);
        let dead = Dead {
            incarnation: self.incarnation,
            node: self.cfg.name.clone(),
            from: self.cfg.name.clone(),
        };
        let queued = self.handle_dead(&dead, now);
        self.leave_notify = None;
        if queued {
            self.send_leave_to_live_members(&dead);
        }
        if !queued || !self.any_other_alive() {
            self.events.push_back(Event::BroadcastFinished(id));
        }
        self.end_input();
        id
    }

    /// One datagram holding `dead` to each live member, up to the broadcast's fan-out.
    fn send_leave_to_live_members(&mut self, dead: &Dead) {
        let fan_out = retransmit_limit(self.cfg.retransmit_mult, self.members.len()) as usize
            * self.cfg.gossip_nodes.max(1);
        let me = self.cfg.name.clone();
        let live =
            |m: &super::row::Row| m.name != me && matches!(m.state, State::Alive | State::Suspect);
        let live_count = self.members.iter().filter(|m| live(m)).count();
        let targets: Vec<usize> = if live_count <= fan_out {
            // Everyone: table order, no random draw.
            (0..self.members.len())
                .filter(|&i| live(self.members.at(i)))
                .collect()
        } else {
            self.members.random(fan_out, &mut self.rng, live)
        };
        let msg = dead.to_bytes();
        for i in targets {
            let m = self.members.at(i);
            if let Some(to) = m.socket_addr() {
                let pmax = m.protocol_max();
                self.send_packet(to, pmax, &msg);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::net::SocketAddr;
    use std::time::Instant;

    use bytes::Bytes;

    use super::super::state::AliveSource;
    use crate::delegate::NoopDelegate;
    use crate::machine::{Machine, ProtocolConfig};
    use crate::wire::{Alive, Dead, IpBytes, Pipeline, Vsn, WireMessage};

    fn machine(now: Instant, cfg: ProtocolConfig) -> Machine<NoopDelegate> {
        let addr: SocketAddr = "10.0.0.1:7946".parse().unwrap();
        let mut m = Machine::new(cfg, Pipeline::new(), addr, NoopDelegate, 7, now).unwrap();
        while m.poll_event().is_some() {}
        m
    }

    fn add(m: &mut Machine<NoopDelegate>, i: u8, now: Instant) {
        let alive = Alive {
            incarnation: 1,
            node: format!("n{i}").into(),
            addr: IpBytes::from([10, 0, 0, i]),
            port: 7946,
            meta: Bytes::new(),
            vsn: Vsn::default_advertised(),
        };
        assert!(m.handle_alive(&alive, AliveSource::Remote, now));
    }

    fn kill(m: &mut Machine<NoopDelegate>, i: u8, now: Instant) {
        let dead = Dead {
            incarnation: 1,
            node: format!("n{i}").into(),
            from: "n9".into(),
        };
        assert!(m.handle_dead(&dead, now));
    }

    /// Every datagram the machine queued: (last octet of the destination, payload).
    fn sent(m: &mut Machine<NoopDelegate>) -> Vec<(u8, Vec<u8>)> {
        std::iter::from_fn(|| m.poll_transmit())
            .map(|t| {
                let ip = match t.to.ip() {
                    std::net::IpAddr::V4(v4) => v4.octets()[3],
                    std::net::IpAddr::V6(_) => unreachable!(),
                };
                (ip, t.data)
            })
            .collect()
    }

    #[test]
    fn the_leave_goes_straight_to_every_live_member_and_never_to_the_dead() {
        let now = Instant::now();
        let mut m = machine(now, ProtocolConfig::local("me"));
        for i in 2..=6 {
            add(&mut m, i, now);
        }
        kill(&mut m, 5, now);
        kill(&mut m, 6, now);
        let _ = sent(&mut m);
        let ours = Dead {
            incarnation: 1,
            node: "me".into(),
            from: "me".into(),
        };
        m.leave(now);
        let datagrams = sent(&mut m);
        let mut to: Vec<u8> = datagrams.iter().map(|(ip, _)| *ip).collect();
        to.sort_unstable();
        assert_eq!(to, [2, 3, 4], "one leave datagram to each live member");
        // Each holds our dead message alone (after the CRC header peers of protocol 5 get).
        for (_, data) in &datagrams {
            assert!(data.ends_with(&ours.to_bytes()), "{data:02x?}");
            assert!(data.len() <= ours.to_bytes().len() + crate::wire::CRC_HEADER_LEN);
        }
    }

    #[test]
    fn a_large_cluster_gets_the_broadcast_fan_out_of_live_members() {
        let now = Instant::now();
        let cfg = ProtocolConfig::lan("me");
        // 199 others: retransmit limit 4 × ceil(log10(200)) = 12, × 3 gossip nodes = 36.
        let fan_out = 36;
        let mut m = machine(now, cfg);
        for i in 2..=200 {
            add(&mut m, i, now);
        }
        for i in 2..=100 {
            kill(&mut m, i, now);
        }
        let _ = sent(&mut m);
        m.leave(now);
        let datagrams = sent(&mut m);
        let mut to: Vec<u8> = datagrams.iter().map(|(ip, _)| *ip).collect();
        to.sort_unstable();
        to.dedup();
        assert_eq!(datagrams.len(), fan_out);
        assert_eq!(to.len(), fan_out, "distinct members");
        assert!(to.iter().all(|&ip| ip > 100), "only live members: {to:?}");
    }
}
