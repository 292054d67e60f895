//! The raw-bytes check of a push/pull (`same_view.rs`) against the owned decode followed by
//! `unchanged_view`, and the equal-view path of the stream entry points against decoding.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use super::*;
use crate::delegate::NoopDelegate;
use crate::machine::ProtocolConfig;
use crate::machine::output::StreamOutcome;
use crate::machine::state::AliveSource;
use crate::wire::{
    Alive, IpBytes, NodeState, Pipeline, PushNodeState, PushPull, StreamMessage, Vsn,
};

fn machine(n: usize) -> Machine<NoopDelegate> {
    machine_at(n, Instant::now())
}

fn machine_at(n: usize, now: Instant) -> Machine<NoopDelegate> {
    let addr: SocketAddr = "127.0.0.1:7946".parse().unwrap();
    let mut m = Machine::new(
        ProtocolConfig::lan("a"),
        Pipeline::new(),
        addr,
        NoopDelegate,
        1,
        now,
    )
    .unwrap();
    for i in 0..n {
        let a = Alive {
            incarnation: 1 + i as u32 % 3,
            node: format!("peer-{i}").into(),
            addr: IpBytes::from([127, 0, 1, i as u8]),
            port: 7000 + i as u16,
            meta: Default::default(),
            vsn: Vsn::default_advertised(),
        };
        assert!(m.handle_alive(&a, AliveSource::Remote, now));
    }
    m
}

fn our_view(m: &Machine<NoopDelegate>) -> Vec<PushNodeState> {
    m.members
        .iter()
        .map(|x| x.as_push_state().to_owned_state())
        .collect()
}

fn bytes_of(states: Vec<PushNodeState>) -> Vec<u8> {
    PushPull {
        join: false,
        states,
        user_state: Bytes::from_static(b"u"),
    }
    .to_bytes()
    .to_vec()
}

/// The verdict of the owned path: decode as the driver does, then `unchanged_view`.
fn owned(m: &mut Machine<NoopDelegate>, data: &[u8]) -> Option<Option<PushNodeState>> {
    let msg = StreamMessage::decode(data, m.pipeline.limits());
    let Ok(StreamMessage::PushPull(pp)) = msg else {
        return None;
    };
    if pp.join {
        return None;
    }
    m.unchanged_view(&pp.states).map(|me| me.cloned())
}

fn scanned(m: &mut Machine<NoopDelegate>, data: &[u8]) -> Option<Option<PushNodeState>> {
    m.same_view(&Bytes::copy_from_slice(data)).map(|v| v.me)
}

#[test]
fn the_scan_agrees_with_the_owned_check() {
    let mut m = machine(12);
    let view = our_view(&m);
    let same = bytes_of(view.clone());
    let me = owned(&mut m, &same);
    assert_eq!(me.as_ref().unwrap().as_ref().unwrap().name, "a");
    assert_eq!(scanned(&mut m, &same), me);
    let mut reversed = view.clone();
    reversed.reverse();
    let reversed = bytes_of(reversed);
    assert_eq!(scanned(&mut m, &reversed), me);
    assert_eq!(owned(&mut m, &reversed), me);

    // Every single field of every entry, changed: neither path takes it as ours.
    let changes: [fn(&mut PushNodeState); 9] = [
        |s| s.name = format!("{}x", s.name).into(),
        |s| s.addr = IpBytes::from([127, 0, 9, 9]),
        |s| s.addr = IpBytes::new(&[1; 16]).unwrap(),
        |s| s.port += 1,
        |s| s.meta = Bytes::from_static(b"m"),
        |s| s.incarnation += 1,
        |s| s.state = NodeState::Suspect,
        |s| s.vsn = Vsn::new(1, 5, 3, 0, 0, 0),
        |s| s.vsn = Vsn::from_slice(&[1, 5, 2]),
    ];
    for i in 0..view.len() {
        for change in changes {
            let mut v = view.clone();
            change(&mut v[i]);
            let data = bytes_of(v);
            assert_eq!(owned(&mut m, &data), None);
            assert_eq!(scanned(&mut m, &data), None);
        }
    }
    // A missing or an extra entry, a join, truncation and corruption.
    assert_eq!(scanned(&mut m, &bytes_of(view[1..].to_vec())), None);
    let mut more = view.clone();
    more.push(PushNodeState {
        name: "z".into(),
        ..view[0].clone()
    });
    assert_eq!(scanned(&mut m, &bytes_of(more)), None);
    let join = PushPull {
        join: true,
        states: view.clone(),
        user_state: Bytes::new(),
    };
    assert_eq!(scanned(&mut m, &join.to_bytes()), None);
    for cut in 0..same.len() {
        assert_eq!(scanned(&mut m, &same[..cut]), None);
    }
    for i in 1..same.len() {
        let mut bad = same.clone();
        bad[i] ^= 0x41;
        // The scan may leave a message that still decodes to our view to the decoder, but
        // never takes one the owned check refuses.
        if let Some(me) = scanned(&mut m, &bad) {
            assert_eq!(Some(me), owned(&mut m, &bad), "byte {i}");
        }
    }
    // A change to the table is seen.
    let a = Alive {
        incarnation: 9,
        node: "peer-3".into(),
        addr: IpBytes::from([127, 0, 1, 3]),
        port: 7003,
        meta: Default::default(),
        vsn: Vsn::default_advertised(),
    };
    assert!(m.handle_alive(&a, AliveSource::Remote, Instant::now()));
    assert_eq!(scanned(&mut m, &same), None);
    assert_eq!(owned(&mut m, &same), None);
}

/// The decoding path, for comparison: what `handle_stream` does with a push/pull that is
/// not our view.
fn decoded(data: &[u8], m: &Machine<NoopDelegate>) -> PushPull {
    match StreamMessage::decode(data, m.pipeline.limits()) {
        Ok(StreamMessage::PushPull(pp)) => pp,
        other => panic!("not a push/pull: {other:?}"),
    }
}

#[test]
fn the_equal_view_path_does_what_decoding_does() {
    let now = Instant::now();
    let (mut fast, mut slow) = (machine_at(6, now), machine_at(6, now));
    let counts = std::sync::Arc::new(crate::metrics::InMemoryMetrics::new());
    fast.set_metrics(counts.clone());
    let push_pulls = || {
        let stats = crate::machine::Stats::from_metrics(&counts);
        (stats.push_pulls, stats.push_pulls_same_view)
    };
    let data = Bytes::from(bytes_of(our_view(&fast)));
    let from: SocketAddr = "127.0.0.1:9".parse().unwrap();
    // As the acceptor: the same reply, taken from the bytes.
    let reply = fast.handle_stream(now, from, data.clone());
    let usual = slow.accept_push_pull(decoded(&data, &slow), now);
    assert_eq!(reply, usual);
    assert_eq!(push_pulls(), (1, 1));
    // As the dialer, a join included: merged from the bytes, the stream no longer pending.
    let to: SocketAddr = "127.0.0.1:7000".parse().unwrap();
    for join in [false, true] {
        let id = fast.start_push_pull(to, join, now).unwrap();
        fast.handle_stream_reply(now, id, StreamOutcome::Reply(data.clone()));
        slow.merge_remote_state(decoded(&data, &slow), now).unwrap();
        assert!(!fast.streams.contains_key(&id), "no longer pending");
    }
    assert_eq!(push_pulls(), (3, 3));
    assert!(std::iter::from_fn(|| fast.poll_event()).any(|e| matches!(
        e,
        super::super::Event::JoinResult {
            contacted: true,
            error: None,
            ..
        }
    )));
    assert_eq!(
        fast.all_members().collect::<Vec<_>>(),
        slow.all_members().collect::<Vec<_>>()
    );
    // Another view is decoded (counted, not taken from the bytes).
    let mut other = our_view(&fast);
    other[2].incarnation += 1;
    let reply = fast.handle_stream(now, from, bytes_of(other).into());
    assert!(reply.is_some());
    assert_eq!(push_pulls(), (4, 3));
}

#[test]
fn the_byte_match_agrees_with_the_owned_check() {
    let now = Instant::now();
    let mut m = machine_at(12, now);
    let mut ours = Vec::new();
    m.write_local_push_pull(false, &mut ours);
    // Another node with the same view, learnt in the opposite order, writes the same bytes.
    let mut other = machine_at(0, now);
    let mut alives: Vec<Alive> = Vec::new();
    for x in m.all_members().filter(|x| x.name != "a") {
        alives.push(Alive {
            incarnation: x.incarnation,
            node: x.name.clone(),
            addr: x.addr,
            port: x.port,
            meta: x.meta.clone(),
            vsn: x.vsn,
        });
    }
    for a in alives.iter().rev() {
        assert!(other.handle_alive(a, AliveSource::Remote, now));
    }
    let mut theirs = Vec::new();
    other.write_local_push_pull(false, &mut theirs);
    assert_eq!(theirs, ours);
    // Taken by the first test, exactly as the owned path takes it.
    let me = owned(&mut m, &ours);
    assert_eq!(me.as_ref().unwrap().as_ref().unwrap().name, "a");
    assert_eq!(
        m.same_view_bytes(&Bytes::copy_from_slice(&ours[..]), &ours[1..])
            .map(|v| v.me),
        me
    );
    assert_eq!(scanned(&mut m, &ours), me);
    for cut in 1..ours.len() {
        assert!(
            m.same_view_bytes(&Bytes::copy_from_slice(&ours[..cut]), &ours[1..cut])
                .is_none(),
            "cut at {cut}"
        );
        assert_eq!(scanned(&mut m, &ours[..cut]), None);
    }
    for i in 1..ours.len() {
        for flip in [0x01, 0x41, 0x80] {
            let mut bad = ours.clone();
            bad[i] ^= flip;
            if let Some(v) = m.same_view_bytes(&Bytes::copy_from_slice(&bad[..]), &bad[1..]) {
                assert_eq!(Some(v.me), owned(&mut m, &bad), "byte {i} ^ {flip:#x}");
            }
        }
    }
    // A join, or a change to the table, is not taken.
    let mut join = Vec::new();
    m.write_local_push_pull(true, &mut join);
    assert!(
        m.same_view_bytes(&Bytes::copy_from_slice(&join[..]), &join[1..])
            .is_none()
    );
    let a = Alive {
        incarnation: 9,
        ..alives[3].clone()
    };
    assert!(m.handle_alive(&a, AliveSource::Remote, now));
    assert!(
        m.same_view_bytes(&Bytes::copy_from_slice(&ours[..]), &ours[1..])
            .is_none()
    );
    assert_eq!(scanned(&mut m, &ours), None);
}
