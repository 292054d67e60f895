//! Wire-format benchmarks: message encode/decode, full compounds, and the packet pipelines.
//! Targets are in BENCHMARKS.md (from shared/spec/performance-model.md).
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use memberlist::aes_gcm::AesGcm;
use memberlist::codec::{Codec, CodecRegistry};
use memberlist::core::delegate::NoopDelegate;
use memberlist::core::machine::{Machine, ProtocolConfig};
use memberlist::encryption::{EnvelopeVersion, Keyring, SecretKey};
use memberlist::lzw::Lzw;
use memberlist::wire::*;

/// 16-character names and IPv4 addresses, as in the performance model.
fn ping() -> Ping {
    Ping {
        seq_no: 123_456,
        node: "node-0000000042a".into(),
        source_addr: IpBytes::from([10, 0, 0, 1]),
        source_port: 7946,
        source_node: "node-0000000001a".into(),
    }
}

fn alive(i: usize) -> Alive {
    Alive {
        incarnation: 7,
        node: format!("node-{i:011}").into(),
        addr: IpBytes::from([10, 0, (i >> 8) as u8, i as u8]),
        port: 7946,
        meta: Bytes::new(),
        vsn: Vsn::default_advertised(),
    }
}

/// As many alive messages as fit a 1,400-byte compound.
fn alives_for_packet() -> Vec<Alive> {
    let mut out = Vec::new();
    let mut size = 2;
    loop {
        let a = alive(out.len());
        if size + a.encoded_len() + 2 > 1400 {
            return out;
        }
        size += a.encoded_len() + 2;
        out.push(a);
    }
}

fn encode_compound_of(alives: &[Alive], scratch: &mut Vec<u8>, out: &mut Vec<u8>) {
    scratch.clear();
    let mut ranges = Vec::with_capacity(alives.len());
    for a in alives {
        let start = scratch.len();
        a.encode(scratch);
        ranges.push(start..scratch.len());
    }
    let parts: Vec<&[u8]> = ranges.into_iter().map(|r| &scratch[r]).collect();
    encode_compound(&parts, out).unwrap();
}

fn aes() -> Arc<AesGcm> {
    Arc::new(AesGcm::new(Keyring::new(
        SecretKey::new(&[9u8; 32]).unwrap(),
    )))
}

fn messages(c: &mut Criterion) {
    let mut g = c.benchmark_group("message");
    let p = ping();
    let bytes = p.to_bytes();
    let mut out = Vec::with_capacity(256);
    g.bench_function("ping_encode", |b| {
        b.iter(|| {
            out.clear();
            black_box(&p).encode(&mut out);
            black_box(&out);
        })
    });
    g.bench_function("ping_decode", |b| {
        b.iter(|| Ping::decode(black_box(&bytes)).unwrap())
    });
    let ack = Ack {
        seq_no: 123_456,
        payload: Bytes::new(),
    };
    let ack_bytes = ack.to_bytes();
    g.bench_function("ack_encode", |b| {
        b.iter(|| {
            out.clear();
            black_box(&ack).encode(&mut out);
            black_box(&out);
        })
    });
    g.bench_function("ack_decode", |b| {
        b.iter(|| Ack::decode(black_box(&ack_bytes)).unwrap())
    });
    let a = alive(1);
    let a_bytes = a.to_bytes();
    g.bench_function("alive_encode", |b| {
        b.iter(|| {
            out.clear();
            black_box(&a).encode(&mut out);
            black_box(&out);
        })
    });
    g.bench_function("alive_decode", |b| {
        b.iter(|| Alive::decode(black_box(&a_bytes)).unwrap())
    });
    g.finish();
}

fn compounds(c: &mut Criterion) {
    let alives = alives_for_packet();
    let mut scratch = Vec::with_capacity(2048);
    let mut packet = Vec::with_capacity(2048);
    encode_compound_of(&alives, &mut scratch, &mut packet);
    let size = packet.len();
    let mut g = c.benchmark_group(format!("compound_{}_alive_{size}B", alives.len()));
    g.throughput(Throughput::Bytes(size as u64));
    g.bench_function("encode", |b| {
        b.iter(|| {
            packet.clear();
            encode_compound_of(black_box(&alives), &mut scratch, &mut packet);
        })
    });
    let plain = Pipeline::new();
    g.bench_function("decode", |b| {
        b.iter(|| {
            let mut n = 0;
            plain.decode_messages(black_box(&packet), &mut |m| {
                black_box(m.unwrap());
                n += 1;
            });
            assert_eq!(n, alives.len());
        })
    });
    g.finish();
}

fn pipelines(c: &mut Criterion) {
    let alives = alives_for_packet();
    let mut scratch = Vec::with_capacity(2048);
    let mut compound = Vec::with_capacity(2048);
    encode_compound_of(&alives, &mut scratch, &mut compound);
    let size = compound.len();
    let enc = Pipeline::new().with_encryption(aes(), EnvelopeVersion::V1);
    let mut g = c.benchmark_group(format!("pipeline_{size}B"));
    compound.clear();
    g.throughput(Throughput::Bytes(size as u64));
    let mut out = Vec::with_capacity(2048);
    g.bench_function("egress_encode_crc_aes256", |b| {
        b.iter(|| {
            encode_compound_of(black_box(&alives), &mut scratch, &mut compound);
            out.clear();
            enc.encode_packet(&compound, true, &mut out).unwrap();
            compound.clear();
            black_box(&out);
        })
    });
    // Whether or not the bench above ran (a filter may skip it), start from one compound.
    compound.clear();
    encode_compound_of(&alives, &mut scratch, &mut compound);
    out.clear();
    enc.encode_packet(&compound, true, &mut out).unwrap();
    let sealed = out.clone();
    g.bench_function("ingress_aes256_crc_decode", |b| {
        b.iter(|| {
            let d = enc.decode_packet(black_box(&sealed)).unwrap();
            assert_eq!(d.messages.len(), alives.len());
        })
    });
    let lzw = Pipeline::new().with_codecs(CodecRegistry::new().with_compressor(Arc::new(Lzw)));
    g.bench_function("egress_lzw_crc", |b| {
        b.iter(|| {
            out.clear();
            lzw.encode_packet(black_box(&compound), true, &mut out)
                .unwrap();
        })
    });
    g.bench_function("lzw_compress", |b| {
        b.iter(|| {
            out.clear();
            Lzw.compress(black_box(&compound), &mut out).unwrap();
        })
    });
    let mut compressed = Vec::new();
    Lzw.compress(&compound, &mut compressed).unwrap();
    g.bench_function("lzw_decompress", |b| {
        b.iter(|| {
            out.clear();
            Lzw.decompress(black_box(&compressed), 1 << 20, &mut out)
                .unwrap();
        })
    });
    g.finish();
}

/// Compression on small packets (pings and acks never shrink, but every send tries) and on a
/// full gossip packet, through the codec alone and through the packet pipeline.
fn compression(c: &mut Criterion) {
    let mut g = c.benchmark_group("compression");
    let ping_bytes = Message::Ping(ping()).to_bytes();
    let mut out = Vec::with_capacity(4096);
    g.bench_function("lzw_compress_ping_sized", |b| {
        b.iter(|| {
            out.clear();
            Lzw.compress(black_box(&ping_bytes), &mut out).unwrap();
        })
    });
    let mut ping_lzw = Vec::new();
    Lzw.compress(&ping_bytes, &mut ping_lzw).unwrap();
    g.bench_function("lzw_decompress_ping_sized", |b| {
        b.iter(|| {
            out.clear();
            Lzw.decompress(black_box(&ping_lzw), 1 << 20, &mut out)
                .unwrap();
        })
    });
    let lzw = Pipeline::new().with_codecs(CodecRegistry::new().with_compressor(Arc::new(Lzw)));
    g.bench_function("encode_packet_compressed_ping", |b| {
        b.iter(|| {
            out.clear();
            lzw.encode_packet(black_box(&ping_bytes), true, &mut out)
                .unwrap();
        })
    });
    let alives = alives_for_packet();
    let mut scratch = Vec::with_capacity(2048);
    let mut compound = Vec::with_capacity(2048);
    encode_compound_of(&alives, &mut scratch, &mut compound);
    g.bench_function("encode_packet_compressed_gossip", |b| {
        b.iter(|| {
            out.clear();
            lzw.encode_packet(black_box(&compound), true, &mut out)
                .unwrap();
        })
    });
    let mut packet = Vec::new();
    lzw.encode_packet(&compound, true, &mut packet).unwrap();
    assert!(packet.len() < compound.len());
    g.bench_function("decode_packet_compressed_gossip", |b| {
        b.iter(|| {
            let d = lzw.decode_packet(black_box(&packet)).unwrap();
            assert_eq!(d.messages.len(), alives.len());
        })
    });
    g.finish();
}

fn push_pull(c: &mut Criterion) {
    let states: Vec<PushNodeState> = (0..10_000)
        .map(|i| {
            let a = alive(i);
            PushNodeState {
                name: a.node,
                addr: a.addr,
                port: a.port,
                meta: a.meta,
                incarnation: a.incarnation,
                state: NodeState::Alive,
                vsn: a.vsn,
            }
        })
        .collect();
    let pp = PushPull {
        join: false,
        states,
        user_state: Bytes::new(),
    };
    let bytes = pp.to_bytes();
    let mut g = c.benchmark_group("push_pull_10000_nodes");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("decode", |b| {
        b.iter(|| PushPull::decode(black_box(&bytes), &Limits::default()).unwrap())
    });
    let p = Pipeline::new();
    g.bench_function("stream_decode_64k_reads", |b| {
        b.iter(|| {
            let mut dec = StreamDecoder::new(StreamRole::Dialer);
            let mut got = None;
            for chunk in bytes.chunks(65_536) {
                dec.feed(chunk);
                got = dec.poll(&p).unwrap();
            }
            assert!(got.is_some());
        })
    });
    g.finish();
}

/// A machine named `local`, LAN preset, no encryption, at `now`.
fn machine(now: std::time::Instant) -> Machine<NoopDelegate> {
    Machine::new(
        ProtocolConfig::lan("local"),
        Pipeline::new(),
        "10.255.255.1:7946".parse().unwrap(),
        NoopDelegate,
        1,
        now,
    )
    .unwrap()
}

/// Decoding a 10,000-node push/pull state and merging it into a machine
/// (`Machine::handle_stream`, as the runtime does for an accepted push/pull; the timed
/// work includes encoding the machine's own state as the reply).
///
/// - `known`: the machine already knows the 10,000 nodes at the same incarnations (the
///   steady-state case: every entry is a no-op merge).
/// - `unknown`: a fresh machine that knows only itself (the join case: 10,000 new
///   members, each queueing an alive broadcast and a join event). Built untimed per
///   iteration.
fn push_pull_merge(c: &mut Criterion) {
    let states: Vec<PushNodeState> = (0..10_000)
        .map(|i| {
            let a = alive(i);
            PushNodeState {
                name: a.node,
                addr: a.addr,
                port: a.port,
                meta: a.meta,
                incarnation: a.incarnation,
                state: NodeState::Alive,
                vsn: a.vsn,
            }
        })
        .collect();
    let bytes = PushPull {
        join: false,
        states,
        user_state: Bytes::new(),
    }
    .to_bytes();
    let from: std::net::SocketAddr = "10.255.255.2:7946".parse().unwrap();
    // The opened message, as the driver hands it over; the machine decodes it.
    let decode = |b: &Bytes| b.clone();
    let mut g = c.benchmark_group("push_pull_merge_10000_nodes");
    g.sample_size(10);
    g.throughput(Throughput::Elements(10_000));
    let now = std::time::Instant::now();
    let mut known = machine(now);
    black_box(known.handle_stream(now, from, decode(&bytes)));
    while known.poll_event().is_some() {}
    assert_eq!(known.num_members(), 10_001);
    g.bench_function("known", |b| {
        b.iter(|| known.handle_stream(now, from, decode(black_box(&bytes))))
    });
    g.bench_function("unknown", |b| {
        b.iter_batched(
            || machine(now),
            |mut m| {
                let reply = m.handle_stream(now, from, decode(black_box(&bytes)));
                (m, reply)
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(
    benches,
    messages,
    compounds,
    pipelines,
    compression,
    push_pull,
    push_pull_merge
);
criterion_main!(benches);
