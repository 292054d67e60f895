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

/// The pieces the scan hands out, and its result.
fn scan(bytes: &[u8], n: usize, me: &str) -> Option<(Vec<Vec<u8>>, ScannedPushPull)> {
    let mut pieces = Vec::new();
    let r = scan_push_pull(&bytes[1..], &Limits::default(), n, |e| {
        pieces.push(e.to_vec());
        // The piece holding `me`, as its encoding would (a test-only shortcut).
        let tag = [&[0xa0 | me.len() as u8][..], me.as_bytes()].concat();
        Some(
            e.windows(tag.len() + 1)
                .any(|w| w[0] == b'e' && w[1..] == tag[..]),
        )
    })?;
    Some((pieces, r))
}

fn encoded(s: &PushNodeState) -> Vec<u8> {
    let mut out = Vec::new();
    s.encode(&mut out);
    out
}

#[test]
fn entries_are_handed_out_as_their_bytes() {
    let pp = message(40);
    let bytes = pp.to_bytes();
    let (pieces, r) = scan(&bytes, 40, "node-7").unwrap();
    assert_eq!(pieces, pp.states.iter().map(encoded).collect::<Vec<_>>());
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
fn entries_of_any_form_are_delimited() {
    let variants: [fn(&mut PushNodeState); 9] = [
        |s| s.meta = Bytes::from_static(b"m"),
        |s| s.addr = IpBytes::new(&[1; 16]).unwrap(),
        |s| s.addr = IpBytes::EMPTY,
        |s| s.state = NodeState::Suspect,
        |s| s.vsn = Vsn::from_slice(&[1, 5]),
        |s| s.name = "ünïcode".into(),
        |s| s.name = "a-name-of-thirty-two-bytes-long!".into(),
        |s| s.port = 5,
        |s| s.port = 200,
    ];
    for change in variants {
        let mut pp = message(10);
        change(&mut pp.states[3]);
        let bytes = pp.to_bytes();
        let (pieces, _) = scan(&bytes, 10, "node-1").unwrap();
        assert_eq!(pieces, pp.states.iter().map(encoded).collect::<Vec<_>>());
    }
    // Keys in another order, an extra key: still one msgpack value each.
    let pp = message(3);
    let mut bytes = pp.to_bytes().to_vec();
    let at = bytes.windows(5).position(|w| w == b"\xa4Addr").unwrap();
    bytes[at - 1] = 0x88;
    bytes.splice(at..at, b"\xa1Z\x01".iter().copied());
    let (pieces, _) = scan(&bytes, 3, "node-1").unwrap();
    assert_eq!(pieces[0].len(), encoded(&pp.states[0]).len() + 3);
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
    /// panic; whenever it accepts and every piece is the encoding of a state, the decoder
    /// reads exactly those states and the same user state.
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
        if let Some((pieces, r)) = scan(&bytes, n, "node-2") {
            let states: Option<Vec<PushNodeState>> = pieces
                .iter()
                .map(|p| {
                    let s = PushNodeState::decode(&mut crate::wire::msgpack::Reader::new(p)).ok()?;
                    (encoded(&s) == *p).then_some(s)
                })
                .collect();
            if let Some(states) = states {
                let decoded = PushPull::decode(&bytes, &Limits::default()).unwrap();
                prop_assert_eq!(&decoded.states, &states);
                prop_assert_eq!(&decoded.user_state, &r.user_state);
                prop_assert!(!decoded.join);
            }
        }
    }
}
