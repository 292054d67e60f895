#![allow(clippy::unwrap_used)]

use super::testing::*;
use super::*;
use proptest::prelude::*;

#[test]
fn retransmit_limit_table() {
    let table = [
        (0, 0),
        (1, 4),
        (9, 4),
        (10, 8),
        (99, 8),
        (100, 12),
        (999, 12),
        (1000, 16),
        (10_000, 20),
    ];
    for (nodes, want) in table {
        assert_eq!(retransmit_limit(4, nodes), want, "num_nodes = {nodes}");
    }
    assert_eq!(retransmit_limit(0, 1000), 0);
    assert_eq!(
        retransmit_limit(3, usize::MAX),
        3 * (usize::MAX.ilog10() + 1)
    );
    assert_eq!(retransmit_limit(u32::MAX, 10), u32::MAX);
}

#[test]
fn retransmit_limit_matches_digit_count_at_every_power_of_ten() {
    let mut power = 1usize;
    let mut digits = 1u32;
    loop {
        // Just below, at, and just after each power of ten.
        assert_eq!(
            retransmit_limit(1, power - 1),
            digits - 1,
            "n = {}",
            power - 1
        );
        assert_eq!(retransmit_limit(1, power), digits, "n = {power}");
        assert_eq!(retransmit_limit(1, power + 1), digits, "n = {}", power + 1);
        match power.checked_mul(10) {
            Some(next) => {
                power = next;
                digits += 1;
            }
            None => break,
        }
    }
}

#[test]
fn entry_layout_is_compact() {
    assert_eq!(std::mem::size_of::<Rank>(), 12);
    assert_eq!(std::mem::size_of::<stacks::Fresh>(), 8);
    // A pointer and a sequence number.
    assert_eq!(std::mem::size_of::<table::Bucket>(), 16);
}

#[test]
fn emptying_the_queue_drops_stale_entries() {
    let mut q = TransmitLimitedQueue::new(1);
    for i in 0..5 {
        q.queue(node(&format!("n{i}")), msg(1, 3), None);
        q.queue(node(&format!("n{i}")), msg(2, 3), None); // leaves a stale entry
    }
    assert_eq!(q.order.len(), 10);
    assert_eq!(q.get_broadcasts(0, 1000, 1).len(), 5);
    assert!(q.is_empty());
    assert_eq!(q.order.len(), 0);
    check_invariants(&q);
    q.queue(node("n0"), msg(3, 3), None);
    q.queue(node("n0"), msg(4, 3), None);
    q.prune(0);
    assert_eq!(q.order.len(), 0);
    check_invariants(&q);
}

#[test]
fn node_key_invalidates_across_message_types() {
    let mut q = TransmitLimitedQueue::new(4);
    // Type bytes as memberlist uses them: 2 = suspect, 3 = alive, 4 = dead.
    assert!(!q.queue(node("a"), Bytes::from_static(b"\x03alive a"), Some(1)));
    assert!(!q.queue(node("b"), Bytes::from_static(b"\x02suspect b"), Some(2)));
    assert!(q.queue(node("a"), Bytes::from_static(b"\x02suspect a"), Some(3)));
    assert_eq!(finished(&mut q), [1]);
    assert!(q.queue(node("a"), Bytes::from_static(b"\x04dead a"), Some(4)));
    assert_eq!(finished(&mut q), [3]);
    // Replacing with a message of a different length re-ranks it, and a replacement
    // starts again at zero transmits.
    assert_eq!(q.get_broadcasts(0, 1400, 5).len(), 2);
    assert!(q.queue(node("b"), Bytes::from_static(b"\x03alive b"), None));
    assert_eq!(finished(&mut q), [2]);
    assert_eq!(q.num_queued(), 2);
    assert_eq!(
        peek_order(&q),
        [
            (0, Bytes::from_static(b"\x03alive b")),
            (1, Bytes::from_static(b"\x04dead a")),
        ]
    );
    assert!(q.contains_key(&node("a")));
    assert!(!q.contains_key(&node("c")));
}

#[test]
fn node_and_named_namespaces_are_disjoint() {
    let mut q = TransmitLimitedQueue::new(4);
    q.queue(BroadcastKey::node("10.0.0.1"), msg(1, 5), Some(1));
    assert!(!q.queue(BroadcastKey::named("10.0.0.1"), msg(2, 5), Some(2)));
    assert_eq!(q.num_queued(), 2);
    assert!(q.queue(BroadcastKey::named("10.0.0.1"), msg(3, 5), Some(3)));
    assert_eq!(finished(&mut q), [2]);
    assert_eq!(q.num_queued(), 2);
}

#[test]
fn unique_never_invalidates_nor_is_invalidated() {
    let mut q = TransmitLimitedQueue::new(4);
    q.queue(node("x"), msg(1, 5), Some(1));
    assert!(!q.queue(BroadcastKey::Unique, msg(2, 5), Some(2)));
    assert!(!q.queue(BroadcastKey::Unique, msg(2, 5), Some(3)));
    assert!(q.queue(node("x"), msg(3, 5), Some(4)));
    assert_eq!(finished(&mut q), [1]);
    assert_eq!(q.num_queued(), 3);
    assert!(!q.contains_key(&BroadcastKey::Unique));
}

#[test]
fn order_is_tier_then_largest_then_newest() {
    let mut q = TransmitLimitedQueue::new(4);
    q.queue(BroadcastKey::Unique, msg(1, 3), None);
    q.queue(BroadcastKey::Unique, msg(2, 7), None);
    q.queue(BroadcastKey::Unique, msg(3, 3), None);
    q.queue(BroadcastKey::Unique, msg(4, 5), None);
    let sent = q.get_broadcasts(0, 1000, 10);
    assert_eq!(sent, [msg(2, 7), msg(4, 5), msg(3, 3), msg(1, 3)]);

    // Everything above is at one transmit now; fresh messages go first even when small.
    q.queue(BroadcastKey::Unique, msg(5, 1), None);
    q.queue(BroadcastKey::Unique, msg(6, 2), None);
    let sent = q.get_broadcasts(0, 1000, 10);
    assert_eq!(
        sent,
        [
            msg(6, 2),
            msg(5, 1),
            msg(2, 7),
            msg(4, 5),
            msg(3, 3),
            msg(1, 3)
        ]
    );
    assert_eq!(
        peek_order(&q),
        [
            (1, msg(6, 2)),
            (1, msg(5, 1)),
            (2, msg(2, 7)),
            (2, msg(4, 5)),
            (2, msg(3, 3)),
            (2, msg(1, 3)),
        ]
    );
}

#[test]
fn lower_tier_fills_first_then_later_tiers_use_the_rest() {
    let mut q = TransmitLimitedQueue::new(4);
    q.queue(BroadcastKey::Unique, msg(1, 10), None);
    assert_eq!(q.get_broadcasts(0, 100, 10), [msg(1, 10)]); // now at one transmit
    q.queue(BroadcastKey::Unique, msg(2, 8), None);
    q.queue(BroadcastKey::Unique, msg(3, 4), None);
    // Room 15: tier 0 gives 8 then 4 (12 used); 10 from tier 1 no longer fits.
    assert_eq!(q.get_broadcasts(0, 15, 10), [msg(2, 8), msg(3, 4)]);
    // All three are at one transmit now. Room 14: largest first, 10, then the 4 fits
    // (14 used) but the 8 does not.
    assert_eq!(q.get_broadcasts(0, 14, 10), [msg(1, 10), msg(3, 4)]);
    assert_eq!(
        peek_order(&q),
        [(1, msg(2, 8)), (2, msg(1, 10)), (2, msg(3, 4))]
    );
}

#[test]
fn budget_counts_overhead_per_message() {
    let mut q = TransmitLimitedQueue::new(4);
    q.queue(BroadcastKey::Unique, msg(1, 10), None);
    q.queue(BroadcastKey::Unique, msg(2, 8), None);
    q.queue(BroadcastKey::Unique, msg(3, 5), None);
    let mut out = Vec::new();
    // 10 + 2 = 12 used; free = 20 - 12 - 2 = 6: the 8 does not fit, the 5 does (19 used).
    let used = q.get_broadcasts_into(2, 20, 10, &mut out);
    assert_eq!(out, [msg(1, 10), msg(3, 5)]);
    assert_eq!(used, 19);
    // Exact fit: free = 10 - 2 = 8.
    out.clear();
    assert_eq!(q.get_broadcasts_into(2, 10, 10, &mut out), 10);
    assert_eq!(out, [msg(2, 8)]);
    // Overhead alone exceeds the room.
    out.clear();
    assert_eq!(q.get_broadcasts_into(30, 20, 10, &mut out), 0);
    assert!(out.is_empty());
    // `get_broadcasts_into` appends.
    out.push(msg(9, 1));
    q.get_broadcasts_into(0, 100, 10, &mut out);
    assert_eq!(out.len(), 4);
}

#[test]
fn empty_message_needs_positive_free_space() {
    let mut q = TransmitLimitedQueue::new(4);
    q.queue(BroadcastKey::Unique, Bytes::new(), None);
    // free = 2 - 2 = 0: Go stops before looking, even though 0 + 2 <= 2.
    assert!(q.get_broadcasts(2, 2, 10).is_empty());
    assert_eq!(q.get_broadcasts(2, 3, 10), [Bytes::new()]);
}

#[test]
fn oversized_message_stays_queued_untouched() {
    let mut q = TransmitLimitedQueue::new(4);
    q.queue(node("big"), msg(1, 100), Some(1));
    q.queue(node("small"), msg(2, 10), Some(2));
    // 10 nodes, multiplier 4: the small message is sent 8 times, the big one never.
    for _ in 0..8 {
        assert_eq!(q.get_broadcasts(2, 50, 10), [msg(2, 10)]);
    }
    assert!(q.get_broadcasts(2, 50, 10).is_empty());
    assert_eq!(finished(&mut q), [2]);
    assert_eq!(peek_order(&q), [(0, msg(1, 100))]);
    assert_eq!(q.get_broadcasts(2, 102, 10), [msg(1, 100)]);
}

#[test]
fn limit_zero_and_one_mean_sent_once() {
    for (mult, nodes) in [(4, 0), (1, 5), (0, 100)] {
        let mut q = TransmitLimitedQueue::new(mult);
        q.queue(node("a"), msg(1, 4), Some(9));
        assert_eq!(q.get_broadcasts(0, 100, nodes), [msg(1, 4)]);
        assert!(q.is_empty());
        assert!(!q.contains_key(&node("a")));
        assert_eq!(finished(&mut q), [9]);
    }
}

#[test]
fn sent_exactly_limit_times_and_once_per_call() {
    let mut q = TransmitLimitedQueue::new(3);
    q.queue(node("a"), msg(1, 4), Some(1));
    // 10 nodes: limit 6.
    for round in 0..6 {
        assert!(!q.has_finished(), "round {round}");
        // Plenty of room, but a message goes out once per call.
        assert_eq!(q.get_broadcasts(0, 1000, 10), [msg(1, 4)]);
    }
    assert!(q.is_empty());
    assert_eq!(finished(&mut q), [1]);
    assert!(q.get_broadcasts(0, 1000, 10).is_empty());
}

#[test]
fn cluster_growth_raises_the_limit_of_queued_messages() {
    let mut q = TransmitLimitedQueue::new(1);
    q.queue(node("a"), msg(1, 4), Some(1));
    assert_eq!(q.get_broadcasts(0, 100, 50).len(), 1); // limit 2, one transmit left
    assert_eq!(q.get_broadcasts(0, 100, 500).len(), 1); // limit 3
    assert!(!q.is_empty());
    assert_eq!(q.get_broadcasts(0, 100, 5).len(), 1); // limit 1: 2 + 1 >= 1
    assert!(q.is_empty());
    assert_eq!(finished(&mut q), [1]);
}

#[test]
fn finished_notifications_for_every_way_out() {
    let mut q = TransmitLimitedQueue::new(1);
    q.queue(node("replaced"), msg(1, 4), Some(10));
    q.queue(node("replaced"), msg(2, 4), None);
    assert_eq!(finished(&mut q), [10]);

    q.queue(BroadcastKey::Unique, msg(3, 4), Some(20));
    assert_eq!(q.get_broadcasts(0, 4, 5), [msg(3, 4)]);
    assert_eq!(finished(&mut q), [20]);

    q.queue(BroadcastKey::Unique, msg(4, 4), Some(30));
    q.queue(BroadcastKey::Unique, msg(5, 4), Some(31));
    q.prune(1); // drops the oldest of three equal messages first, then the next oldest
    assert_eq!(finished(&mut q), [30]);

    q.queue(node("x"), msg(6, 1), Some(40));
    q.queue(node("y"), msg(7, 9), Some(41));
    q.reset();
    assert!(q.is_empty());
    // In send order: the 9-byte before the 4-byte before the 1-byte message. (The
    // replacement for "replaced", which had no id, was pruned silently above.)
    assert_eq!(finished(&mut q), [41, 31, 40]);
    assert!(!q.contains_key(&node("x")));
    assert!(!q.has_finished());
    // After a reset keys can be queued again without replacing anything.
    assert!(!q.queue(node("x"), msg(8, 1), None));
}

#[test]
fn prune_keeps_newest_among_equals_and_drops_most_transmitted_first() {
    let mut q = TransmitLimitedQueue::new(4);
    for i in 0..5u8 {
        q.queue(node(&format!("n{i}")), msg(i, 8), Some(u64::from(i)));
    }
    q.prune(3);
    assert_eq!(finished(&mut q), [0, 1]);
    assert!(!q.contains_key(&node("n0")));
    assert!(q.contains_key(&node("n2")));
    assert_eq!(
        peek_order(&q),
        [(0, msg(4, 8)), (0, msg(3, 8)), (0, msg(2, 8))]
    );

    // Go's Prune drops the far end of the send order: a transmitted message goes
    // before a fresh one, and a smaller one before a larger one.
    assert_eq!(q.get_broadcasts(0, 8, 10), [msg(4, 8)]); // n4 to one transmit
    q.queue(node("tiny"), msg(9, 1), Some(9));
    q.prune(3);
    assert_eq!(finished(&mut q), [4]);
    q.prune(2);
    assert_eq!(finished(&mut q), [9]);
    q.prune(5);
    assert_eq!(q.num_queued(), 2);
    q.prune(0);
    assert!(q.is_empty());
    assert_eq!(finished(&mut q), [2, 3]);
}

#[test]
fn example_from_the_module_docs_in_tiers() {
    let mut q = TransmitLimitedQueue::default();
    assert_eq!(q.retransmit_mult, 4);
    q.set_retransmit_mult(2);
    q.queue(node("a"), msg(1, 3), Some(1));
    assert_eq!(q.get_broadcasts(0, 10, 1).len(), 1);
    assert_eq!(q.get_broadcasts(0, 10, 1).len(), 1);
    assert!(q.is_empty());
    assert_eq!(finished(&mut q), [1]);
}

// ---------------------------------------------------------------------------------------
// Model-based property test against a direct O(n) transcription of Go's rules.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Queue {
        key: u8,
        len: usize,
        notify: Option<u64>,
    },
    Get {
        overhead: usize,
        limit: usize,
        nodes: usize,
    },
    Prune(usize),
    Reset,
    SetMult(u32),
}

/// A small pool of keys: nodes and names (partly the same strings, with different
/// lengths so that the test-only weak hash both collides and differs), and uniques.
fn key_for(k: u8) -> BroadcastKey {
    let name = |i: u8| format!("{}{}", "n".repeat(usize::from(1 + i % 3)), i);
    match k % 16 {
        i @ 0..=7 => BroadcastKey::node(name(i)),
        i @ 8..=11 => BroadcastKey::named(name(i - 8)),
        _ => BroadcastKey::Unique,
    }
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any::<u8>(), 0usize..40, proptest::option::of(0u64..1000))
            .prop_map(|(key, len, notify)| Op::Queue { key, len, notify }),
        4 => (0usize..5, 0usize..150, 0usize..120)
            .prop_map(|(overhead, limit, nodes)| Op::Get { overhead, limit, nodes }),
        1 => (0usize..8).prop_map(Op::Prune),
        1 => Just(Op::Reset),
        1 => (0u32..4).prop_map(Op::SetMult),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn matches_go_reference_model(
        mult in 0u32..4,
        weak_hash in any::<bool>(),
        ops in proptest::collection::vec(op_strategy(), 1..120),
    ) {
        let mut q = TransmitLimitedQueue::new(mult);
        q.table.set_weak_hash(weak_hash);
        let mut model = Model { mult, ..Model::default() };
        let mut fill = 0u8;
        for op in ops {
            match op {
                Op::Queue { key, len, notify } => {
                    fill = fill.wrapping_add(1);
                    let m = msg(fill, len);
                    let key = key_for(key);
                    let got = q.queue(key.clone(), m.clone(), notify);
                    prop_assert_eq!(got, model.queue(key, m, notify));
                }
                Op::Get { overhead, limit, nodes } => {
                    let mut out = Vec::new();
                    let used = q.get_broadcasts_into(overhead, limit, nodes, &mut out);
                    let (want, want_used) = model.get(overhead, limit, nodes);
                    prop_assert_eq!(out, want);
                    prop_assert_eq!(used, want_used);
                }
                Op::Prune(max) => {
                    q.prune(max);
                    model.prune(max);
                }
                Op::Reset => {
                    q.reset();
                    model.reset();
                }
                Op::SetMult(m) => {
                    q.set_retransmit_mult(m);
                    model.mult = m;
                }
            }
            prop_assert_eq!(q.drain_finished().collect::<Vec<_>>(), std::mem::take(&mut model.finished));
            prop_assert_eq!(q.num_queued(), model.entries.len());
            for k in 0..16 {
                let key = key_for(k);
                prop_assert_eq!(
                    q.contains_key(&key),
                    model.entries.iter().any(|e| !key.is_unique() && e.key == key)
                );
            }
            // Both indexes agree, and the full order matches Go's.
            let mut want: Vec<_> = model.entries.clone();
            want.sort_by(go_cmp);
            let want: Vec<_> = want.into_iter().map(|e| (e.transmits, e.message)).collect();
            prop_assert_eq!(peek_order(&q), want);
            check_invariants(&q);
        }
    }

    #[test]
    fn retransmit_limit_matches_model(mult in 0u32..1000, nodes in any::<usize>()) {
        prop_assert_eq!(retransmit_limit(mult, nodes), model_limit(mult, nodes));
        prop_assert_eq!(retransmit_limit(mult, nodes % 100_000), model_limit(mult, nodes % 100_000));
    }
}

/// A longer deterministic workload than the property test's, over more keys, checked
/// against the model after every operation.
#[test]
fn long_workload_matches_model() {
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    for weak_hash in [false, true] {
        let mut q = TransmitLimitedQueue::new(2);
        q.table.set_weak_hash(weak_hash);
        let mut model = Model {
            mult: 2,
            ..Model::default()
        };
        for step in 0..6000u64 {
            match next(20) {
                0..=13 => {
                    let key = match next(10) {
                        0 => BroadcastKey::Unique,
                        1..=2 => BroadcastKey::named(format!("k{}", next(50))),
                        _ => BroadcastKey::node(format!("k{}", next(300))),
                    };
                    let m = msg(step as u8, next(30) as usize);
                    let notify = (next(2) == 0).then_some(step);
                    assert_eq!(
                        q.queue(key.clone(), m.clone(), notify),
                        model.queue(key, m, notify)
                    );
                }
                14..=18 => {
                    let (overhead, limit, nodes) =
                        (next(4) as usize, next(400) as usize, next(2000) as usize);
                    let mut out = Vec::new();
                    let used = q.get_broadcasts_into(overhead, limit, nodes, &mut out);
                    assert_eq!((out, used), model.get(overhead, limit, nodes));
                }
                _ => {
                    let max = next(400) as usize;
                    q.prune(max);
                    model.prune(max);
                }
            }
            assert_eq!(
                q.drain_finished().collect::<Vec<_>>(),
                std::mem::take(&mut model.finished)
            );
            assert_eq!(q.num_queued(), model.entries.len());
            check_invariants(&q);
        }
        let mut want = model.entries.clone();
        want.sort_by(go_cmp);
        let want: Vec<_> = want.into_iter().map(|e| (e.transmits, e.message)).collect();
        assert_eq!(peek_order(&q), want);
    }
}

#[test]
fn stale_entries_are_bounded_under_replacement_churn() {
    let mut q = TransmitLimitedQueue::new(4);
    for i in 0..10 {
        q.queue(node(&format!("n{i}")), msg(1, 10), None);
    }
    for round in 0..10_000usize {
        let i = round % 10;
        assert!(q.queue(node(&format!("n{i}")), msg(2, 10 + round % 7), Some(1)));
        assert!(q.order.len() <= 2 * q.num_queued().max(STALE_SLACK) + 1);
    }
    assert_eq!(q.num_queued(), 10);
    assert_eq!(q.drain_finished().count(), 10_000 - 10);
    check_invariants(&q);
    // Draining everything leaves no stale entries behind.
    while !q.is_empty() {
        let _ = q.get_broadcasts(0, 1000, 10);
    }
    assert_eq!(q.order.len(), 0);
}

#[test]
fn colliding_hashes_keep_keys_apart() {
    let mut q = TransmitLimitedQueue::new(4);
    q.table.set_weak_hash(true); // every one-character name hashes alike
    for name in ["a", "b", "c", "d"] {
        assert!(!q.queue(node(name), msg(1, 5), None));
    }
    assert_eq!(q.num_queued(), 4);
    for name in ["b", "a", "d", "c"] {
        assert!(q.queue(node(name), msg(2, 5), None));
        assert!(q.contains_key(&node(name)));
    }
    assert!(!q.contains_key(&node("e")));
    check_invariants(&q);
    q.prune(1);
    check_invariants(&q);
    assert_eq!(q.num_queued(), 1);
    assert!(q.contains_key(&node("c"))); // the newest survives
}
