//! The member-table memory figure against a real machine: 1,000 members learned from alive
//! messages, the heap measured by a counting allocator once the gossip queue has drained.
#![allow(clippy::print_stderr)]

use std::alloc::System;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use cap::Cap;
use memberlist_advisor::{Assumptions, predict_with};
use memberlist_core::delegate::NoopDelegate;
use memberlist_core::machine::{Machine, ProtocolConfig};
use memberlist_core::wire::{Alive, IpBytes, Pipeline, Vsn, WireMessage};

#[global_allocator]
static ALLOC: Cap<System> = Cap::new(System, usize::MAX);

/// Heap bytes per member held by a machine that learned `n` members with names of
/// `name_len` bytes and `meta_len` bytes of metadata.
fn measured_per_member(n: usize, name_len: usize, meta_len: usize) -> f64 {
    let mut cfg = ProtocolConfig::lan("self");
    // Nothing but gossip runs: no probes (no suspicions to hold), no push/pull.
    cfg.probe_interval = Duration::from_secs(100_000);
    cfg.probe_timeout = Duration::from_secs(1);
    cfg.push_pull_interval = Duration::ZERO;
    cfg.reconnect_interval = Duration::ZERO;
    let mut now = Instant::now();
    let me = SocketAddr::from(([10, 255, 255, 254], 7946));
    let mut m = Machine::new(cfg, Pipeline::new(), me, NoopDelegate, 1, now).expect("valid");
    let drain = |m: &mut Machine<NoopDelegate>| {
        while m.poll_transmit().is_some() {}
        while m.poll_stream_request().is_some() {}
        while m.poll_event().is_some() {}
    };
    drain(&mut m);
    let before = ALLOC.allocated();
    for i in 0..n {
        let ip = Ipv4Addr::from(0x0a00_0000 + i as u32 + 1);
        let alive = Alive {
            incarnation: 1,
            node: format!("{i:0>name_len$}").into(),
            addr: IpBytes::from(ip),
            port: 7946,
            meta: vec![7u8; meta_len].into(),
            vsn: Vsn::default_advertised(),
        };
        m.handle_datagram(now, SocketAddr::from((ip, 7946)), &alive.to_bytes());
        drain(&mut m);
    }
    // Let gossip send every queued alive its retransmit limit of times.
    let mut ticks = 0;
    while m.queued_broadcasts() > 0 && ticks < 100_000 {
        now = m.poll_timeout().max(now);
        m.handle_timeout(now);
        drain(&mut m);
        ticks += 1;
    }
    assert_eq!(m.queued_broadcasts(), 0, "the gossip queue drains");
    assert_eq!(m.num_members(), n + 1);
    let grown = ALLOC.allocated().saturating_sub(before);
    drop(m);
    grown as f64 / n as f64
}

#[test]
fn member_table_estimate_within_a_factor_of_the_machine() {
    let n = 1000;
    for (name_len, meta_len) in [(16, 0), (24, 0), (40, 100)] {
        let measured = measured_per_member(n, name_len, meta_len);
        let a = Assumptions {
            name_len,
            meta_len,
            ..Assumptions::default()
        };
        let p = predict_with(&ProtocolConfig::lan("a"), n, 0.0, &a).expect("valid");
        let predicted = p.memory.value / n as f64;
        eprintln!(
            "names {name_len} B, meta {meta_len} B: measured {measured:.1} B per member, predicted {predicted:.1}"
        );
        let ratio = predicted / measured;
        assert!(
            (0.8..=1.25).contains(&ratio),
            "predicted {predicted:.0} B, measured {measured:.0} B per member"
        );
    }
}
