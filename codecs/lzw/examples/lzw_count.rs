//! Compresses the benchmark packets many times, for counting instructions per input byte with
//! callgrind (deterministic, unlike wall time on a busy machine):
//!
//! ```sh
//! cargo build --release -p memberlist-lzw --example lzw_count
//! valgrind --tool=callgrind target/release/examples/lzw_count gossip 1000
//! valgrind --tool=callgrind target/release/examples/lzw_count gossip 0
//! ```
//!
//! The difference of the two totals, divided by 1,000 and by the input length (printed), is the
//! cost per input byte. `gossip` is the 1,334-byte compound of 18 alive messages used by
//! `memberlist/benches/wire.rs`, `ping` the 93-byte ping message.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::hint::black_box;

use memberlist_core::codec::Codec;
use memberlist_core::wire::{Alive, IpBytes, Message, Ping, Vsn, WireMessage, encode_compound};
use memberlist_lzw::Lzw;

fn ping() -> Vec<u8> {
    Message::Ping(Ping {
        seq_no: 123_456,
        node: "node-0000000042a".into(),
        source_addr: IpBytes::from([10, 0, 0, 1]),
        source_port: 7946,
        source_node: "node-0000000001a".into(),
    })
    .to_bytes()
    .to_vec()
}

/// As many alive messages as fit a 1,400-byte compound, as in the wire benchmarks.
fn gossip() -> Vec<u8> {
    let mut parts = Vec::new();
    let mut size = 2;
    loop {
        let i = parts.len();
        let alive = Alive {
            incarnation: 7,
            node: format!("node-{i:011}").into(),
            addr: IpBytes::from([10, 0, (i >> 8) as u8, i as u8]),
            port: 7946,
            meta: Default::default(),
            vsn: Vsn::default_advertised(),
        };
        if size + alive.encoded_len() + 2 > 1400 {
            break;
        }
        size += alive.encoded_len() + 2;
        let mut bytes = Vec::new();
        alive.encode(&mut bytes);
        parts.push(bytes);
    }
    let mut out = Vec::new();
    encode_compound(&parts, &mut out).unwrap();
    out
}

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "gossip".into());
    let n: usize = args.next().map_or(1000, |s| s.parse().unwrap());
    let input = match which.as_str() {
        "ping" => ping(),
        _ => gossip(),
    };
    let mut out = Vec::with_capacity(4096);
    Lzw.compress(&input, &mut out).unwrap();
    let first = out.clone();
    for _ in 0..n {
        out.clear();
        Lzw.compress(black_box(&input), &mut out).unwrap();
    }
    assert_eq!(out, first);
    println!("{which}: {} bytes -> {} bytes", input.len(), out.len());
}
