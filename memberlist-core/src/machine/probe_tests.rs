//! The probe round's view of its target.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::super::state::AliveSource;
use crate::delegate::Delegate;
use crate::machine::{Machine, Member, ProtocolConfig};
use crate::wire::{Ack, Alive, IpBytes, Pipeline, Vsn};

/// Records the entries handed to `notify_ping_complete`.
#[derive(Default)]
struct Pings(Vec<Member>);

impl Delegate for Pings {
    fn notify_ping_complete(&mut self, node: &Member, _rtt: Duration, _payload: Bytes) {
        self.0.push(node.clone());
    }
}

fn alive(incarnation: u32, meta: &'static [u8]) -> Alive {
    Alive {
        incarnation,
        node: "b".into(),
        addr: IpBytes::from([10, 0, 0, 2]),
        port: 7946,
        meta: Bytes::from_static(meta),
        vsn: Vsn::default_advertised(),
    }
}

/// Node `a` at 10.0.0.1, knowing nobody yet.
fn machine_a(now: Instant) -> Machine<Pings> {
    let addr: SocketAddr = "10.0.0.1:7946".parse().unwrap();
    Machine::new(
        ProtocolConfig::lan("a"),
        Pipeline::new(),
        addr,
        Pings::default(),
        3,
        now,
    )
    .unwrap()
}

/// Starts a probe of `b` and answers it, after `between` ran on the machine.
fn probe_and_ack(
    m: &mut Machine<Pings>,
    now: &mut Instant,
    between: impl FnOnce(&mut Machine<Pings>, Instant),
) {
    for _ in 0..100 {
        if m.probe.is_some() {
            break;
        }
        *now = m.poll_timeout().max(*now);
        m.handle_timeout(*now);
    }
    let seq_no = m.probe.as_ref().unwrap().seq_no;
    between(m, *now);
    m.handle_ack(
        Ack {
            seq_no,
            payload: Bytes::new(),
        },
        *now + Duration::from_millis(1),
    );
    while m.poll_transmit().is_some() {}
}

#[test]
fn a_completed_ping_reports_the_targets_entry_as_it_is_when_the_ack_comes() {
    let mut now = Instant::now();
    let mut m = machine_a(now);
    assert!(m.handle_alive(&alive(1, b"one"), AliveSource::Remote, now));
    probe_and_ack(&mut m, &mut now, |_, _| {});
    assert_eq!(m.delegate.0.len(), 1);
    assert_eq!(m.delegate.0[0], m.member("b").unwrap());
    // The entry changes while the probe waits for its ack: the new one is reported.
    probe_and_ack(&mut m, &mut now, |m, now| {
        assert!(m.handle_alive(&alive(2, b"two"), AliveSource::Remote, now));
    });
    assert_eq!(m.delegate.0.len(), 2);
    assert_eq!(m.delegate.0[1].meta, Bytes::from_static(b"two"));
    assert_eq!(m.delegate.0[1].incarnation, 2);
    assert_eq!(m.delegate.0[1], m.member("b").unwrap());
}

/// A failed probe tells the accused at once (Lifeguard's buddy system without waiting for the
/// next probe): when we are the node that cannot hear, our gossip may reach no one who
/// knows the accused, and only the accused can refute.
#[test]
fn a_failed_probe_sends_the_suspicion_to_the_accused() {
    use crate::machine::State;
    use crate::wire::Message;

    let mut now = Instant::now();
    let mut m = machine_a(now);
    assert!(m.handle_alive(&alive(1, b""), AliveSource::Remote, now));
    while m.poll_transmit().is_some() {}
    let b: SocketAddr = "10.0.0.2:7946".parse().unwrap();
    let mut told = false;
    for _ in 0..100 {
        now = m.poll_timeout().max(now);
        m.handle_timeout(now);
        let sent: Vec<_> = std::iter::from_fn(|| m.poll_transmit()).collect();
        if m.member("b").unwrap().state != State::Suspect {
            continue;
        }
        // The step that began the suspicion sent it to b.
        for t in sent.iter().filter(|t| t.to == b) {
            let packet = Pipeline::new().decode_packet(&t.data).unwrap();
            told |= packet.messages.iter().any(|msg| {
                matches!(msg, Message::Suspect(s) if s.node == "b" && s.from == "a" && s.incarnation == 1)
            });
        }
        break;
    }
    assert!(told, "the suspicion did not go to the accused");
}
