//! Property tests: every message round trips, and random or mutated input to every decoder
//! (packet, stream, compound, decompression, decryption) gives an error or a value, never a
//! panic.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use memberlist::aes_gcm::AesGcm;
use memberlist::codec::{Codec, CodecRegistry};
use memberlist::encryption::{Encryption, EnvelopeVersion, Keyring, SecretKey};
use memberlist::lzw::Lzw;
use memberlist::wire::*;
use proptest::collection::vec;
use proptest::prelude::*;

static AES: LazyLock<Arc<AesGcm>> = LazyLock::new(|| {
    Arc::new(AesGcm::new(Keyring::new(
        SecretKey::new(&[7u8; 32]).unwrap(),
    )))
});

fn pipelines() -> Vec<Pipeline> {
    let codecs = CodecRegistry::new().with_compressor(Arc::new(Lzw));
    let limits = Limits {
        max_decompressed_size: 1 << 20,
        max_stream_message: 1 << 20,
        ..Limits::default()
    };
    let plain = Pipeline::new().with_codecs(codecs).with_limits(limits);
    let enc = plain
        .clone()
        .with_encryption(AES.clone(), EnvelopeVersion::V1);
    vec![
        plain.clone(),
        enc.clone(),
        enc.with_label(Label::new("prod").unwrap()),
        plain
            .with_encryption(AES.clone(), EnvelopeVersion::V0)
            .with_gossip_verify(false, true),
    ]
}

static PIPELINES: LazyLock<Vec<Pipeline>> = LazyLock::new(pipelines);

fn name() -> impl Strategy<Value = smol_str::SmolStr> {
    "[a-zA-Z0-9.\\-]{0,40}".prop_map(Into::into)
}

fn node_name() -> impl Strategy<Value = smol_str::SmolStr> {
    "[a-zA-Z0-9.\\-]{1,40}".prop_map(Into::into)
}

fn blob(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn ip() -> impl Strategy<Value = IpBytes> {
    prop_oneof![
        Just(IpBytes::EMPTY),
        any::<[u8; 4]>().prop_map(IpBytes::from),
        any::<[u8; 16]>().prop_map(|b| IpBytes::new(&b).unwrap()),
    ]
}

fn vsn() -> impl Strategy<Value = Vsn> {
    vec(any::<u8>(), 0..=6).prop_map(|v| Vsn::from_slice(&v))
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (any::<u32>(), name(), ip(), any::<u16>(), name()).prop_map(|(s, n, a, p, sn)| {
            Message::Ping(Ping {
                seq_no: s,
                node: n,
                source_addr: a,
                source_port: p,
                source_node: sn,
            })
        }),
        (
            any::<u32>(),
            ip(),
            any::<u16>(),
            name(),
            any::<bool>(),
            ip(),
            any::<u16>(),
            name()
        )
            .prop_map(
                |(s, t, p, n, k, sa, sp, sn)| Message::IndirectPing(IndirectPing {
                    seq_no: s,
                    target: t,
                    port: p,
                    node: n,
                    nack: k,
                    source_addr: sa,
                    source_port: sp,
                    source_node: sn,
                })
            ),
        (any::<u32>(), blob(100)).prop_map(|(s, p)| Message::Ack(Ack {
            seq_no: s,
            payload: p
        })),
        any::<u32>().prop_map(|s| Message::Nack(Nack { seq_no: s })),
        (any::<u32>(), name(), name()).prop_map(|(i, n, f)| Message::Suspect(Suspect {
            incarnation: i,
            node: n,
            from: f
        })),
        (any::<u32>(), name(), name()).prop_map(|(i, n, f)| Message::Dead(Dead {
            incarnation: i,
            node: n,
            from: f
        })),
        (any::<u32>(), name(), ip(), any::<u16>(), blob(600), vsn()).prop_map(
            |(i, n, a, p, m, v)| Message::Alive(Alive {
                incarnation: i,
                node: n,
                addr: a,
                port: p,
                meta: m,
                vsn: v,
            })
        ),
        blob(200).prop_map(Message::User),
    ]
}

fn node_state() -> impl Strategy<Value = PushNodeState> {
    (
        node_name(),
        ip(),
        any::<u16>(),
        blob(64),
        any::<u32>(),
        0i64..6,
        vsn(),
    )
        .prop_map(
            |(name, addr, port, meta, incarnation, state, vsn)| PushNodeState {
                name,
                addr,
                port,
                meta,
                incarnation,
                state: NodeState::from_i64(state),
                vsn,
            },
        )
}

/// Applies a few random edits (flip, truncate, insert) to a valid input.
fn mutate(mut data: Vec<u8>, edits: &[(u16, u8, u8)]) -> Vec<u8> {
    for &(pos, byte, op) in edits {
        if data.is_empty() {
            data.push(byte);
            continue;
        }
        let i = usize::from(pos) % data.len();
        match op % 4 {
            0 => data[i] ^= byte.max(1),
            1 => data.truncate(i),
            2 => data.insert(i, byte),
            _ => data[i] = byte,
        }
    }
    data
}

fn decode_stream(pipeline: &Pipeline, role: StreamRole, data: &[u8], chunk: usize) {
    let mut dec = StreamDecoder::new(role);
    for piece in data.chunks(chunk.max(1)) {
        dec.feed(piece);
        match dec.poll(pipeline) {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn messages_round_trip(m in message()) {
        let bytes = m.to_bytes();
        prop_assert_eq!(bytes.len(), m.encoded_len());
        prop_assert_eq!(Message::decode(&bytes).unwrap(), m);
    }

    #[test]
    fn push_pull_round_trips(join in any::<bool>(), states in vec(node_state(), 0..20), user in blob(300)) {
        let pp = PushPull { join, states, user_state: user };
        let bytes = pp.to_bytes();
        prop_assert_eq!(bytes.len(), pp.encoded_len());
        prop_assert_eq!(&PushPull::decode(&bytes, &Limits::default()).unwrap(), &pp);
        // and through every stream pipeline, fed in pieces
        for p in PIPELINES.iter() {
            let mut frame = Vec::new();
            p.encode_stream(&bytes, &mut frame).unwrap();
            let mut dec = StreamDecoder::new(StreamRole::Dialer);
            let mut got = None;
            for piece in frame.chunks(13) {
                dec.feed(piece);
                if let Some(m) = dec.poll(p).unwrap() {
                    got = Some(m);
                }
            }
            prop_assert_eq!(got, Some(StreamMessage::PushPull(pp.clone())));
        }
    }

    #[test]
    fn packets_round_trip(msgs in vec(message(), 1..30), crc in any::<bool>()) {
        let parts: Vec<Bytes> = msgs.iter().map(Message::to_bytes).collect();
        for packet_parts in encode_compounds(&parts).unwrap() {
            for p in PIPELINES.iter() {
                let mut out = Vec::new();
                p.encode_packet(&packet_parts, crc, &mut out).unwrap();
                let d = p.decode_packet(&out).unwrap();
                prop_assert!(d.errors.is_empty());
                prop_assert!(!d.messages.is_empty());
            }
        }
        let mut all = Vec::new();
        for p in encode_compounds(&parts).unwrap() {
            all.extend(Pipeline::new().decode_packet(&p).unwrap().messages);
        }
        prop_assert_eq!(all, msgs);
    }

    #[test]
    fn random_packets_never_panic(selector in 0usize..4, data in vec(any::<u8>(), 0..2048)) {
        let _ = PIPELINES[selector].decode_packet(&data);
    }

    #[test]
    fn mutated_packets_never_panic(
        msgs in vec(message(), 1..10),
        selector in 0usize..4,
        edits in vec((any::<u16>(), any::<u8>(), any::<u8>()), 1..6),
    ) {
        let parts: Vec<Bytes> = msgs.iter().map(Message::to_bytes).collect();
        let p = &PIPELINES[selector];
        let mut out = Vec::new();
        p.encode_packet(&encode_compounds(&parts).unwrap()[0], true, &mut out).unwrap();
        // Mutate the opened plaintext too, so the fuzzing reaches past the CRC and the AEAD.
        let _ = p.decode_packet(&mutate(out, &edits));
        let mut compound = Vec::new();
        encode_compound(&parts, &mut compound).unwrap();
        let _ = Pipeline::new().decode_packet(&mutate(compound.clone(), &edits));
        let mut compressed = Vec::new();
        PIPELINES[0].encode_packet(&compound, false, &mut compressed).unwrap();
        let _ = PIPELINES[0].decode_packet(&mutate(compressed, &edits));
    }

    #[test]
    fn random_streams_never_panic(
        selector in 0usize..4,
        dialer in any::<bool>(),
        chunk in 1usize..64,
        data in vec(any::<u8>(), 0..2048),
    ) {
        let role = if dialer { StreamRole::Dialer } else { StreamRole::Acceptor };
        decode_stream(&PIPELINES[selector], role, &data, chunk);
    }

    #[test]
    fn mutated_streams_never_panic(
        states in vec(node_state(), 0..8),
        selector in 0usize..4,
        chunk in 1usize..64,
        edits in vec((any::<u16>(), any::<u8>(), any::<u8>()), 1..6),
    ) {
        let pp = PushPull { join: false, states, user_state: Bytes::from_static(b"state") }.to_bytes();
        let p = &PIPELINES[selector];
        let mut frame = Vec::new();
        p.encode_stream(&pp, &mut frame).unwrap();
        decode_stream(p, StreamRole::Dialer, &mutate(frame, &edits), chunk);
        // the unwrapped message, mutated, through a plain pipeline
        decode_stream(&Pipeline::new(), StreamRole::Acceptor, &mutate(pp.to_vec(), &edits), chunk);
    }

    #[test]
    fn random_compounds_never_panic(data in vec(any::<u8>(), 0..1024)) {
        if let Ok(parts) = decode_compound(&data) {
            let total: usize = parts.parts.iter().map(|p| p.len()).sum();
            prop_assert!(total <= data.len());
        }
    }

    #[test]
    fn decompression_is_bounded(data in vec(any::<u8>(), 0..4096), limit in 1usize..100_000) {
        let mut out = Vec::new();
        let _ = Lzw.decompress(&data, limit, &mut out);
        prop_assert!(out.len() <= limit);
        let mut out = Vec::new();
        let _ = memberlist::codec::CodecRegistry::new()
            .with_decoder(Arc::new(Lzw))
            .decompress(0, &data, limit, &mut out);
        prop_assert!(out.len() <= limit);
    }

    #[test]
    fn mutated_lzw_never_panics(
        data in vec(any::<u8>(), 1..4096),
        edits in vec((any::<u16>(), any::<u8>(), any::<u8>()), 1..6),
    ) {
        let mut compressed = Vec::new();
        Lzw.compress(&data, &mut compressed).unwrap();
        let mut out = Vec::new();
        let _ = Lzw.decompress(&mutate(compressed, &edits), 1 << 16, &mut out);
        prop_assert!(out.len() <= 1 << 16);
    }

    #[test]
    fn decryption_never_panics(
        data in vec(any::<u8>(), 0..512),
        aad in vec(any::<u8>(), 0..16),
        edits in vec((any::<u16>(), any::<u8>(), any::<u8>()), 1..4),
    ) {
        let mut out = Vec::new();
        let _ = AES.decrypt(&data, &aad, &mut out);
        let mut sealed = Vec::new();
        AES.encrypt(EnvelopeVersion::V0, &data, &aad, &mut sealed).unwrap();
        let mut out = Vec::new();
        let _ = AES.decrypt(&mutate(sealed, &edits), &aad, &mut out);
    }
}
