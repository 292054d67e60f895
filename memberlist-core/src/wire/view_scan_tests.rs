//! Tests of the borrowed push/pull walk (`view_scan.rs`): whenever it accepts a message, the
//! full decoder accepts it too and reads the same entries; it never panics.

#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::wire::{IpBytes, NodeState, PushPull, Vsn};

fn state(i: usize) -> PushNodeState {
    PushNodeState {
        name: format!("node-{i}").into(),
        addr: IpBytes::from([10, 0, (i >> 8) as u8, i as u8]),
        port: if i % 5 == 0 { 100 + i as u16 } else { 7946 },
        meta: Bytes::new(),
        incarnation: [0, 1, 127, 128, 70_000, u32::MAX][i % 6],
        state: NodeState::Alive,
        vsn: Vsn::default_advertised(),
    }
}

fn message(n: usize) -> PushPull {
    PushPull {
        join: false,
        states: (0..n).map(state).collect(),
        user_state: Bytes::from_static(b"user"),
    }
}

/// What the scan hands out, as owned states, plus its result.
fn scan(bytes: &[u8], n: usize, me: &str) -> Option<(Vec<PushNodeState>, ScannedPushPull)> {
    let mut seen = Vec::new();
    let r = scan_push_pull(&bytes[1..], &Limits::default(), n, |e| {
        seen.push(PushNodeState {
            name: std::str::from_utf8(e.name).unwrap().into(),
            addr: IpBytes::from(e.addr),
            port: e.port,
            meta: Bytes::new(),
            incarnation: e.incarnation,
            state: NodeState::Alive,
            vsn: Vsn::from_slice(&e.vsn.to_le_bytes()[..6]),
        });
        Some(e.name == me.as_bytes())
    })?;
    Some((seen, r))
}

#[test]
fn the_usual_form_is_walked_like_the_decoder_reads_it() {
    let pp = message(40);
    let bytes = pp.to_bytes();
    let (seen, r) = scan(&bytes, 40, "node-7").unwrap();
    assert_eq!(seen, pp.states);
    assert_eq!(r.me.as_ref(), Some(&pp.states[7]));
    assert_eq!(r.user_state, pp.user_state);
    assert!(scan(&bytes, 40, "nobody").unwrap().1.me.is_none());
    // Another count, a join, a refusing callback: no.
    assert!(scan(&bytes, 39, "node-7").is_none());
    let join = PushPull {
        join: true,
        ..pp.clone()
    };
    assert!(scan(&join.to_bytes(), 40, "node-7").is_none());
    let stop = scan_push_pull(&bytes[1..], &Limits::default(), 40, |_| None);
    assert!(stop.is_none());
}

#[test]
fn any_other_form_is_left_to_the_decoder() {
    let variants: [fn(&mut PushNodeState); 8] = [
        |s| s.meta = Bytes::from_static(b"m"),
        |s| s.addr = IpBytes::new(&[1; 16]).unwrap(),
        |s| s.addr = IpBytes::EMPTY,
        |s| s.state = NodeState::Suspect,
        |s| s.vsn = Vsn::from_slice(&[1, 5]),
        |s| s.name = "ünïcode".into(),
        |s| s.name = "a-name-of-thirty-two-bytes-long!".into(),
        |s| s.state = NodeState::Dead,
    ];
    for change in variants {
        let mut pp = message(10);
        change(&mut pp.states[3]);
        let bytes = pp.to_bytes();
        assert!(scan(&bytes, 10, "node-1").is_none());
        // The decoder still reads it.
        assert_eq!(PushPull::decode(&bytes, &Limits::default()).unwrap(), pp);
    }
    // Keys in another order: the decoder reads it, the walk does not.
    let pp = message(3);
    let mut bytes = pp.to_bytes().to_vec();
    let at = bytes.windows(5).position(|w| w == b"\xa4Addr").unwrap();
    bytes[at - 1] = 0x88; // one more key...
    let extra = b"\xa1Z\x01";
    bytes.splice(at..at, extra.iter().copied()); // ...in front
    assert!(scan(&bytes, 3, "node-1").is_none());
    assert_eq!(PushPull::decode(&bytes, &Limits::default()).unwrap(), pp);
}

#[test]
fn truncated_or_oversized_messages_are_left_to_the_decoder() {
    let pp = message(12);
    let bytes = pp.to_bytes();
    for cut in 1..bytes.len() {
        assert!(scan(&bytes[..cut], 12, "node-1").is_none(), "cut at {cut}");
        assert!(PushPull::decode(&bytes[..cut], &Limits::default()).is_err());
    }
    let limits = Limits {
        max_stream_message: bytes.len() - 1,
        ..Limits::default()
    };
    assert!(scan_push_pull(&bytes[1..], &limits, 12, |_| Some(false)).is_none());
    let limits = Limits {
        max_push_nodes: 11,
        ..Limits::default()
    };
    assert!(scan_push_pull(&bytes[1..], &limits, 12, |_| Some(false)).is_none());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// On any bytes (random, or a valid message with some bytes changed) the walk does not
    /// panic, and whenever it accepts, the decoder reads the same entries and user state.
    #[test]
    fn never_panics_and_agrees_with_the_decoder(
        n in 0usize..8,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        random in proptest::collection::vec(any::<u8>(), 0..64),
        use_random in any::<bool>(),
    ) {
        let mut bytes = if use_random {
            let mut b = vec![6];
            b.extend_from_slice(&random);
            b
        } else {
            message(n).to_bytes().to_vec()
        };
        for (at, v) in edits {
            let i = 1 + at % (bytes.len().max(2) - 1);
            if let Some(b) = bytes.get_mut(i) {
                *b = v;
            }
        }
        let expected = n;
        if let Some((seen, r)) = scan(&bytes, expected, "node-2") {
            let decoded = PushPull::decode(&bytes, &Limits::default()).unwrap();
            prop_assert_eq!(&decoded.states, &seen);
            prop_assert_eq!(&decoded.user_state, &r.user_state);
            prop_assert!(!decoded.join);
            let me = decoded.states.iter().rev().find(|s| s.name == "node-2");
            prop_assert_eq!(me, r.me.as_ref());
        }
    }
}
