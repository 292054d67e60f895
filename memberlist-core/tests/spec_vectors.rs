//! The byte-level examples of the wire specification (§2.5), encoded and decoded exactly.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use memberlist_core::wire::*;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).unwrap()
}

fn check<M: WireMessage + PartialEq + std::fmt::Debug>(msg: &M, want: &[u8]) {
    let mut out = Vec::new();
    msg.encode(&mut out);
    assert_eq!(hex::encode(&out), hex::encode(want));
    assert_eq!(msg.encoded_len(), want.len());
    assert_eq!(&M::decode(want).unwrap(), msg);
}

#[test]
fn ping_with_source() {
    let ping = Ping {
        seq_no: 1,
        node: "node-b".into(),
        source_addr: IpBytes::from([10, 0, 0, 1]),
        source_port: 7946,
        source_node: "node-a".into(),
    };
    let want = h(
        "00 85 a4 4e 6f 64 65 a6 6e 6f 64 65 2d 62 a5 53 65 71 4e 6f 01
        aa 53 6f 75 72 63 65 41 64 64 72 a4 0a 00 00 01
        aa 53 6f 75 72 63 65 4e 6f 64 65 a6 6e 6f 64 65 2d 61
        aa 53 6f 75 72 63 65 50 6f 72 74 cd 1f 0a",
    );
    assert_eq!(want.len(), 69);
    check(&ping, &want);
}

#[test]
fn ping_without_source() {
    let ping = Ping {
        seq_no: 1,
        node: "node-b".into(),
        ..Default::default()
    };
    check(
        &ping,
        &h("00 82 a4 4e6f6465 a6 6e6f64652d62 a5 5365714e6f 01"),
    );
}

fn alive(addr: &[u8], meta: &'static [u8]) -> Alive {
    Alive {
        incarnation: 1,
        node: "node-a".into(),
        addr: IpBytes::new(addr).unwrap(),
        port: 7946,
        meta: Bytes::from_static(meta),
        vsn: Vsn::new(1, 5, 2, 0, 0, 0),
    }
}

#[test]
fn alive_ipv4_and_ipv6() {
    let want = h("04 86 a4 41 64 64 72 a4 0a 00 00 01
        ab 49 6e 63 61 72 6e 61 74 69 6f 6e 01
        a4 4d 65 74 61 c0
        a4 4e 6f 64 65 a6 6e 6f 64 65 2d 61
        a4 50 6f 72 74 cd 1f 0a
        a3 56 73 6e a6 01 05 02 00 00 00");
    assert_eq!(want.len(), 62);
    check(&alive(&[10, 0, 0, 1], b""), &want);

    let v6 = alive(
        &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1],
        b"",
    );
    let mut out = Vec::new();
    v6.encode(&mut out);
    let needle = h("a4 41 64 64 72 b0 00000000000000000000ffff0a000001");
    assert!(out.windows(needle.len()).any(|w| w == needle));
    assert_eq!(Alive::decode(&out).unwrap(), v6);
}

#[test]
fn ack_nack_err() {
    check(
        &Ack {
            seq_no: 1,
            payload: Bytes::new(),
        },
        &h("02 82 a7 5061796c6f6164 c0 a5 5365714e6f 01"),
    );
    check(
        &Ack {
            seq_no: 70000,
            payload: Bytes::from_static(&[1, 2, 3]),
        },
        &h("02 82 a7 5061796c6f6164 a3 010203 a5 5365714e6f ce 00011170"),
    );
    check(&Nack { seq_no: 5 }, &h("0b 81 a5 5365714e6f 05"));
    check(
        &ErrorResponse {
            error: "boom".into(),
        },
        &h("0d 81 a5 4572726f72 a4 626f6f6d"),
    );
}

#[test]
fn suspect_and_dead() {
    let want = h(
        "03 83 a4 46726f6d a6 6e6f64652d61 ab 496e6361726e6174696f6e 02 a4 4e6f6465 a6 6e6f64652d62",
    );
    assert_eq!(want.len(), 39);
    let s = Suspect {
        incarnation: 2,
        node: "node-b".into(),
        from: "node-a".into(),
    };
    check(&s, &want);
    let mut dead_bytes = want.clone();
    dead_bytes[0] = 5;
    let d = Dead {
        incarnation: 2,
        node: "node-b".into(),
        from: "node-a".into(),
    };
    check(&d, &dead_bytes);
    assert!(!d.is_leave());
}

fn key(s: &str) -> String {
    let mut out = vec![0xa0 | s.len() as u8];
    out.extend_from_slice(s.as_bytes());
    hex::encode(out)
}

#[test]
fn indirect_ping_captured() {
    let want = h(&format!(
        "01 88 {} c3 {} a6{} {} cd461c {} 03 {} a47f000001 {} a6{} {} cd461b {} a47f000001",
        key("Nack"),
        key("Node"),
        hex::encode("node-c"),
        key("Port"),
        key("SeqNo"),
        key("SourceAddr"),
        key("SourceNode"),
        hex::encode("node-b"),
        key("SourcePort"),
        key("Target"),
    ));
    let m = IndirectPing {
        seq_no: 3,
        target: IpBytes::from([127, 0, 0, 1]),
        port: 17948,
        node: "node-c".into(),
        nack: true,
        source_addr: IpBytes::from([127, 0, 0, 1]),
        source_port: 17947,
        source_node: "node-b".into(),
    };
    check(&m, &want);
}

#[test]
fn push_pull_captured() {
    let want = h(&format!(
        "06 83 {} c3 {} 01 {} 00 87 {} a47f000001 {} 01 {} c0 {} a6{} {} cd461b {} 00 {} a6010502000000",
        key("Join"),
        key("Nodes"),
        key("UserStateLen"),
        key("Addr"),
        key("Incarnation"),
        key("Meta"),
        key("Name"),
        hex::encode("node-b"),
        key("Port"),
        key("State"),
        key("Vsn"),
    ));
    assert_eq!(want.len(), 97);
    let pp = PushPull {
        join: true,
        states: vec![PushNodeState {
            name: "node-b".into(),
            addr: IpBytes::from([127, 0, 0, 1]),
            port: 17947,
            meta: Bytes::new(),
            incarnation: 1,
            state: NodeState::Alive,
            vsn: Vsn::default_advertised(),
        }],
        user_state: Bytes::new(),
    };
    assert_eq!(hex::encode(pp.to_bytes()), hex::encode(&want));
    assert_eq!(pp.encoded_len(), want.len());
    assert_eq!(PushPull::decode(&want, &Limits::default()).unwrap(), pp);
}

#[test]
fn stream_user_header() {
    let mut out = Vec::new();
    encode_stream_user_message(b"hello", &mut out);
    assert_eq!(
        hex::encode(&out),
        format!("0881aa557365724d73674c656e05{}", hex::encode("hello"))
    );
}

#[test]
fn lenient_decoding_matches_go() {
    // Vsn as an array of ints, keys out of order, an unknown key, ints in wide forms, bin8.
    let mut body = vec![0x04, 0x87];
    let mut kv = |k: &str, v: &[u8]| {
        body.push(0xa0 | k.len() as u8);
        body.extend_from_slice(k.as_bytes());
        body.extend_from_slice(v);
    };
    kv("Vsn", &[0x96, 1, 5, 2, 0, 0, 0]);
    kv("Port", &[0xd2, 0, 0, 0x1f, 0x0a]);
    kv("Extra", &[0x92, 0xc3, 0xa1, b'x']);
    kv("Node", &[0xd9, 1, b'n']);
    kv("Addr", &[0xc4, 4, 10, 0, 0, 1]);
    kv("Incarnation", &[0xcf, 0, 0, 0, 0, 0, 0, 0, 9]);
    kv("Meta", &[0xc4, 0]);
    let a = Alive::decode(&body).unwrap();
    assert_eq!(a.vsn, Vsn::default_advertised());
    assert_eq!(a.port, 7946);
    assert_eq!(a.node, "n");
    assert_eq!(a.incarnation, 9);
    assert_eq!(a.addr.as_bytes(), &[10, 0, 0, 1]);
    // key matching is case-sensitive: "node" is not "Node"
    let lower = h(&format!("00 81 {} a1 78", key("node")));
    assert_eq!(Ping::decode(&lower).unwrap().node, "");
}

#[test]
fn int_styles_both_decode() {
    // Nodes = 200: HEAD writes d1 00 c8, v0.2.2 writes cc c8.
    for nodes in [&[0xd1, 0x00, 0xc8][..], &[0xcc, 0xc8][..]] {
        let mut body = vec![0x06, 0x83];
        body.extend(h(&key("Join")));
        body.push(0xc2);
        body.extend(h(&key("Nodes")));
        body.extend_from_slice(nodes);
        body.extend(h(&key("UserStateLen")));
        body.push(0);
        for _ in 0..200 {
            body.extend(h(&format!("81 {} a1 78", key("Name"))));
        }
        let pp = PushPull::decode(&body, &Limits::default()).unwrap();
        assert_eq!(pp.states.len(), 200);
    }
}

#[test]
fn push_pull_limits() {
    let limits = Limits {
        max_push_nodes: 10,
        ..Limits::default()
    };
    let mut body = vec![0x06, 0x83];
    body.extend(h(&key("Join")));
    body.push(0xc2);
    body.extend(h(&key("Nodes")));
    body.push(11);
    body.extend(h(&key("UserStateLen")));
    body.push(0);
    assert!(matches!(
        PushPull::decode(&body, &limits),
        Err(DecodeError::LimitExceeded { .. })
    ));
}

#[test]
fn nameless_push_states_are_refused() {
    let mut body = vec![0x06, 0x83];
    body.extend(h(&key("Join")));
    body.push(0xc2);
    body.extend(h(&key("Nodes")));
    body.push(1);
    body.extend(h(&key("UserStateLen")));
    body.push(0);
    body.push(0x80);
    assert_eq!(
        PushPull::decode(&body, &Limits::default()),
        Err(DecodeError::MissingField("Name"))
    );
}
