//! Benchmarks of the gossip broadcast queue
//! ([`TransmitLimitedQueue`](memberlist_core::machine::broadcast::TransmitLimitedQueue)).
//!
//! - `enqueue_replace/N`: queue a message about an existing, randomly chosen node of an
//!   `N`-deep queue, replacing its queued message (steady state: the depth stays `N`).
//! - `enqueue_new/100000`: queue a message about a node not yet in a 100,000-deep queue
//!   (the queue is re-cloned every 10,000 inserts, untimed, so the depth stays within
//!   100,000–110,000).
//!
//! Keys are built on the stack and messages cloned from a small shared pool, so the
//! enqueue figures measure the queue rather than cache misses of the benchmark's own
//! tables.
//! - `fill_packet/10000/*`: fill one 1,400-byte packet (overhead 2 per message, limit
//!   1,398, 10,000 nodes, so 20 transmits per message) from a 10,000-deep queue of
//!   60–80-byte messages spread over all transmit tiers; messages that finished are
//!   re-queued within the timed routine so the depth stays constant.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use memberlist_core::machine::broadcast::{BroadcastKey, TransmitLimitedQueue};

/// xorshift64*: a deterministic, dependency-free source of indices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The key of node `i`, built on the stack (inline `SmolStr`, no allocation) so that
/// picking a random key does not itself miss the cache, as it would reading a big table.
fn node_key(prefix: &str, i: usize) -> BroadcastKey {
    let mut buf = [0u8; 23];
    buf[..prefix.len()].copy_from_slice(prefix.as_bytes());
    let mut end = prefix.len() + 7;
    buf[prefix.len()] = b'-';
    let mut n = i;
    for d in buf[prefix.len() + 1..end].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    if n > 0 {
        end = 0; // does not happen below 10^6
    }
    BroadcastKey::node(std::str::from_utf8(&buf[..end]).unwrap())
}

fn node_keys(prefix: &str, n: usize) -> Vec<BroadcastKey> {
    (0..n).map(|i| node_key(prefix, i)).collect()
}

/// A 60–80-byte message, the size of a typical encoded alive/suspect/dead.
fn message(rng: &mut Rng, i: usize) -> Bytes {
    let len = 60 + rng.below(21);
    let mut m = vec![(i % 251) as u8; len];
    m[0] = 2 + (i % 3) as u8; // suspect / alive / dead type byte
    Bytes::from(m)
}

/// A few shared messages of every size from 60 to 80 bytes: cloning one (as the
/// benchmarks do for every queued message) touches memory that stays in cache, like the
/// freshly encoded message a real caller queues.
fn message_pool() -> Vec<Bytes> {
    let mut rng = Rng(7);
    let pool: Vec<Bytes> = (0..21).map(|i| message(&mut rng, i)).collect();
    for m in &pool {
        drop(m.clone()); // make it shared now rather than at the first timed clone
    }
    pool
}

fn filled_queue(keys: &[BroadcastKey], messages: &[Bytes], notify: bool) -> TransmitLimitedQueue {
    let mut q = TransmitLimitedQueue::new(4);
    for (i, key) in keys.iter().enumerate() {
        let m = &messages[i % messages.len()];
        q.queue(key.clone(), m.clone(), notify.then_some(i as u64));
    }
    q
}

fn enqueue_replace(c: &mut Criterion) {
    let mut group = c.benchmark_group("enqueue_replace");
    let pool = message_pool();
    for depth in [10_000usize, 100_000] {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut q = filled_queue(&node_keys("node", depth), &pool, false);
        group.bench_function(BenchmarkId::from_parameter(depth), |b| {
            b.iter(|| {
                let i = rng.below(depth);
                // A new message about node i, usually of another size than the old one.
                let m = &pool[rng.below(pool.len())];
                black_box(q.queue(node_key("node", i), m.clone(), None))
            });
        });
        assert_eq!(q.num_queued(), depth);
    }
    group.finish();
}

fn enqueue_new(c: &mut Criterion) {
    const DEPTH: usize = 100_000;
    const CHUNK: usize = 10_000;
    let mut group = c.benchmark_group("enqueue_new");
    let pool = message_pool();
    let base = filled_queue(&node_keys("node", DEPTH), &pool, false);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    group.bench_function(BenchmarkId::from_parameter(DEPTH), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters as usize;
            while left > 0 {
                let n = left.min(CHUNK);
                left -= n;
                let mut q = base.clone();
                let start = Instant::now();
                for i in 0..n {
                    let m = &pool[rng.below(pool.len())];
                    black_box(q.queue(node_key("new", i), m.clone(), None));
                }
                total += start.elapsed();
                assert_eq!(q.num_queued(), DEPTH + n);
            }
            total
        });
    });
    group.finish();
}

fn fill_packet(c: &mut Criterion) {
    const DEPTH: usize = 10_000;
    const NUM_NODES: usize = 10_000;
    const OVERHEAD: usize = 2;
    const LIMIT: usize = 1400 - 2;
    let mut group = c.benchmark_group("fill_packet");
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let keys = node_keys("node", DEPTH);
    let messages: Vec<Bytes> = (0..DEPTH).map(|i| message(&mut rng, i)).collect();
    let mut q = filled_queue(&keys, &messages, true);
    let mut done = Vec::new();

    // One packet's worth; re-queue what finished (notification id = index).
    let mut step = |q: &mut TransmitLimitedQueue, out: &mut Vec<Bytes>| {
        let used = q.get_broadcasts_into(OVERHEAD, LIMIT, NUM_NODES, out);
        done.extend(q.drain_finished());
        for i in done.drain(..) {
            let i = i as usize;
            q.queue(keys[i].clone(), messages[i].clone(), Some(i as u64));
        }
        used
    };

    // Reach the steady state, where messages are spread over all 20 transmit tiers.
    let mut out = Vec::new();
    for _ in 0..20_000 {
        out.clear();
        step(&mut q, &mut out);
    }
    assert_eq!(q.num_queued(), DEPTH);
    out.clear();
    step(&mut q, &mut out);
    assert!(out.len() >= 16, "a packet holds {} messages", out.len());

    group.bench_function(BenchmarkId::new(DEPTH.to_string(), "into"), |b| {
        b.iter(|| {
            out.clear();
            black_box(step(&mut q, &mut out))
        });
    });
    group.bench_function(BenchmarkId::new(DEPTH.to_string(), "vec"), |b| {
        b.iter(|| {
            let sent = q.get_broadcasts(OVERHEAD, LIMIT, NUM_NODES);
            done.extend(q.drain_finished());
            for i in done.drain(..) {
                let i = i as usize;
                q.queue(keys[i].clone(), messages[i].clone(), Some(i as u64));
            }
            sent
        });
    });
    assert_eq!(q.num_queued(), DEPTH);
    group.finish();
}

criterion_group!(benches, enqueue_replace, enqueue_new, fill_packet);
criterion_main!(benches);
