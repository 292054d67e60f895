//! Tests of `wire/push_pull.rs`.
#![allow(clippy::unwrap_used)]
use proptest::prelude::*;

use super::*;
use crate::wire::msgpack::{write_int, write_map_len, write_nil_or_bytes, write_str, write_uint};
use crate::wire::{Pipeline, StreamDecoder, StreamMessage, StreamRole};

fn sample() -> PushPull {
    let states = (0..40)
        .map(|i| PushNodeState {
            name: format!("node-{i}-with-a-longer-name").into(),
            addr: IpBytes::from([10, 0, 0, i as u8]),
            port: 7946 + i as u16,
            meta: if i % 3 == 0 {
                Bytes::new()
            } else {
                Bytes::from(vec![i as u8; i * 7])
            },
            incarnation: i as u32 * 1000,
            state: NodeState::from_i64(i as i64 % 5),
            vsn: Vsn::default_advertised(),
        })
        .collect();
    PushPull {
        join: true,
        states,
        user_state: Bytes::from_static(b"user state"),
    }
}

#[test]
fn borrowed_encoding_is_byte_identical() {
    let pp = sample();
    let mut out = Vec::new();
    encode_push_pull(
        pp.join,
        pp.states.iter().map(PushNodeState::as_ref),
        &pp.user_state,
        &mut out,
    );
    assert_eq!(out, pp.to_bytes());
    for s in &pp.states {
        let mut one = Vec::new();
        s.as_ref().encode(&mut one);
        assert_eq!(one.len(), s.as_ref().encoded_len());
    }
}

#[test]
fn small_entries_encode_like_the_general_path_and_decode_back() {
    let names = [
        "a",
        "node-12",
        "a-name-of-exactly-23-ch",
        "a-name-of-thirty-one-bytes-long",
    ];
    let addrs = [
        IpBytes::EMPTY,
        IpBytes::from([10, 0, 0, 1]),
        IpBytes::new(&[0xfe; 16]).unwrap(),
        IpBytes::new(&[1, 2]).unwrap(),
    ];
    let vsns = [
        Vsn::default(),
        Vsn::from_slice(&[1, 5]),
        Vsn::new(1, 5, 2, 255, 4, 9),
    ];
    let states = [0, 3, 127, -1, -33, 200, i64::MIN].map(NodeState::from_i64);
    for (i, name) in names.into_iter().enumerate() {
        for addr in addrs {
            for vsn in vsns {
                for (j, state) in states.into_iter().enumerate() {
                    let wide = [0, 127, 128, 255, 256, 65_535, 65_536, u32::MAX];
                    let s = PushNodeStateRef {
                        name,
                        addr,
                        port: wide[(i + j) % wide.len()] as u16,
                        meta: b"",
                        incarnation: wide[(i * 3 + j) % wide.len()],
                        state,
                        vsn,
                    };
                    let (mut small, mut general) = (Vec::new(), Vec::new());
                    s.encode(&mut small);
                    s.write_map(&mut general);
                    assert_eq!(small, general);
                    assert_eq!(small.len(), s.encoded_len());
                    let back = PushNodeState::decode(&mut Reader::new(&small)).unwrap();
                    assert_eq!(back.as_ref(), s);
                }
            }
        }
    }
}

#[test]
fn any_key_order_decodes_like_the_canonical_one() {
    let s = &sample().states[4];
    // Keys reversed, plus an unknown key: the general path.
    let mut out = Vec::new();
    write_map_len(&mut out, 8);
    out.extend_from_slice(b"\xa3Vsn");
    write_nil_or_bytes(&mut out, s.vsn.as_bytes());
    out.extend_from_slice(b"\xa5Extra");
    write_uint(&mut out, 1);
    out.extend_from_slice(b"\xa5State");
    write_int(&mut out, s.state.as_i64());
    out.extend_from_slice(b"\xa4Port");
    write_uint(&mut out, u64::from(s.port));
    out.extend_from_slice(b"\xa4Name");
    write_str(&mut out, s.name.as_bytes());
    out.extend_from_slice(b"\xa4Meta");
    write_nil_or_bytes(&mut out, &s.meta);
    out.extend_from_slice(b"\xabIncarnation");
    write_uint(&mut out, u64::from(s.incarnation));
    out.extend_from_slice(b"\xa4Addr");
    write_nil_or_bytes(&mut out, s.addr.as_bytes());
    assert_eq!(PushNodeState::decode(&mut Reader::new(&out)).unwrap(), *s);
    let mut canonical = Vec::new();
    s.encode(&mut canonical);
    // With metadata the state is not of the usual form: the table reads it.
    assert!(read_usual(&canonical).is_none());
    assert_eq!(
        PushNodeState::decode(&mut Reader::new(&canonical)).unwrap(),
        *s
    );
    let usual = &sample().states[3];
    let mut canonical = Vec::new();
    usual.encode(&mut canonical);
    assert_eq!(
        read_usual(&canonical),
        Some((usual.clone(), canonical.len()))
    );
    // A nameless state is refused by either path.
    let mut nameless = Vec::new();
    PushNodeState::default().encode(&mut nameless);
    assert_eq!(
        PushNodeState::decode(&mut Reader::new(&nameless)),
        Err(DecodeError::MissingField("Name"))
    );
}

/// Decodes everything one side of a connection wrote, held whole in memory, through
/// [`StreamDecoder::open_complete`]: it must give the incremental decoder's answer.
fn decode_complete(
    role: StreamRole,
    pipeline: &Pipeline,
    data: &[u8],
) -> Result<Option<StreamMessage>, crate::wire::WireError> {
    let opened = StreamDecoder::open_complete(role, pipeline, Bytes::copy_from_slice(data));
    if let Ok(Some(msg)) = opened
        && let Ok(decoded) = StreamMessage::decode(&msg, pipeline.limits())
    {
        return Ok(Some(decoded));
    }
    // Errors (and a truncated plain push/pull) as the incremental reader gives them.
    let mut decoder = StreamDecoder::new(role);
    decoder.feed(data);
    decoder.poll(pipeline)
}

#[test]
fn a_complete_empty_push_pull_decodes() {
    let pp = PushPull {
        join: true,
        states: vec![],
        user_state: "s".into(),
    };
    let got = decode_complete(StreamRole::Dialer, &Pipeline::new(), &pp.to_bytes());
    assert_eq!(got.unwrap(), Some(StreamMessage::PushPull(pp)));
}

#[test]
fn complete_decoding_matches_the_incremental_decoder() {
    let pipeline = Pipeline::new();
    let bytes = sample().to_bytes();
    let incremental = |role, data: &[u8]| {
        let mut dec = StreamDecoder::new(role);
        dec.feed(data);
        dec.poll(&pipeline)
    };
    for role in [StreamRole::Acceptor, StreamRole::Dialer] {
        let fast = decode_complete(role, &pipeline, &bytes).unwrap();
        assert_eq!(fast, Some(StreamMessage::PushPull(sample())));
        // Truncated and corrupted inputs give the incremental decoder's answers.
        for cut in [1, 10, bytes.len() / 2, bytes.len() - 1] {
            assert_eq!(
                decode_complete(role, &pipeline, &bytes[..cut]),
                incremental(role, &bytes[..cut])
            );
        }
        let mut bad = bytes.to_vec();
        bad[40] = 0xc1;
        assert_eq!(
            decode_complete(role, &pipeline, &bad),
            incremental(role, &bad)
        );
    }
}

/// Any node state: the usual form most of the time, every other form (no or long names,
/// other addresses, metadata, wide integers, short versions, unknown states) too.
fn any_state() -> impl Strategy<Value = PushNodeState> {
    let name = prop_oneof![4 => "[a-z0-9.-]{1,31}", 1 => "\\PC{0,40}"];
    let addr = prop_oneof![
        4 => any::<[u8; 4]>().prop_map(IpBytes::from),
        1 => proptest::collection::vec(any::<u8>(), 0..=16)
            .prop_map(|b| IpBytes::new(&b).unwrap()),
    ];
    let small_or_any = |n: u32| prop_oneof![0..n, any::<u32>()];
    let meta = prop_oneof![4 => Just(Bytes::new()), 1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from)];
    let state = prop_oneof![4 => 0i64..4, 1 => any::<i64>()].prop_map(NodeState::from_i64);
    let vsn = prop_oneof![
        4 => any::<[u8; 6]>().prop_map(|[a, b, c, d, e, f]| Vsn::new(a, b, c, d, e, f)),
        1 => proptest::collection::vec(any::<u8>(), 0..6).prop_map(|v| Vsn::from_slice(&v)),
    ];
    (
        name,
        addr,
        small_or_any(70_000),
        meta,
        small_or_any(300),
        state,
        vsn,
    )
        .prop_map(
            |(name, addr, port, meta, incarnation, state, vsn)| PushNodeState {
                name: name.into(),
                addr,
                port: port as u16,
                meta,
                incarnation,
                state,
                vsn,
            },
        )
}

proptest! {
    /// The two push/pull paths, general (the `go_struct!` table) and fast (word stores and
    /// the usual-form reader), agree byte for byte and state for state on random tables.
    #[test]
    fn general_and_fast_paths_agree(table in proptest::collection::vec(any_state(), 0..48)) {
        let mut general = Vec::new();
        for s in &table {
            s.as_ref().write_map(&mut general);
        }
        let mut fast = Vec::new();
        write_states(table.iter().map(PushNodeState::as_ref), &mut fast);
        prop_assert_eq!(&fast, &general);
        let sizes: usize = table.iter().map(PushNodeState::encoded_len).sum();
        prop_assert_eq!(sizes, general.len());

        let mut r = Reader::new(&general);
        for s in &table {
            let rest = r.rest();
            let by_table = PushNodeState::read_map(&mut Reader::new(rest), &Limits::default());
            let usual = s.addr.len() == 4
                && s.vsn.len() == 6
                && (0..0x80).contains(&s.state.as_i64())
                && s.meta.is_empty()
                && (1..32).contains(&s.name.len());
            match read_usual(rest) {
                Some((by_fast, len)) => {
                    prop_assert!(usual);
                    prop_assert_eq!(len, s.encoded_len());
                    prop_assert_eq!(Ok(by_fast), by_table.clone());
                }
                None => prop_assert!(!usual, "usual entry not read fast: {:?}", s),
            }
            prop_assert_eq!(PushNodeState::decode(&mut r), by_table.clone());
            if !s.name.is_empty() {
                prop_assert_eq!(by_table, Ok(s.clone()));
            }
        }
    }
}
