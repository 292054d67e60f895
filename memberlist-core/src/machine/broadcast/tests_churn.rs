//! Replacement churn against the reference model: many replacements (leaving stale
//! entries in both the unsent stacks and the sent ranks, with clean-ups along the way),
//! then draining everything must give exactly Go's sequence.
#![allow(clippy::unwrap_used)]

use super::testing::*;
use super::*;
use proptest::prelude::*;

/// The model's queued messages in Go's send order, as `(transmits, message)`.
fn model_order(model: &Model) -> Vec<(u32, Bytes)> {
    let mut entries = model.entries.clone();
    entries.sort_by(go_cmp);
    entries
        .into_iter()
        .map(|e| (e.transmits, e.message))
        .collect()
}

/// One step of a churn workload.
#[derive(Clone, Debug)]
enum Step {
    /// Queue a message of length `lens[len]` about key `key` (unique if `key` is 0).
    Queue { key: u16, len: usize, notify: bool },
    /// Fill one packet.
    Send { limit: usize },
}

fn step_strategy(keys: u16, lens: usize) -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (0..=keys, 0..lens, any::<bool>())
            .prop_map(|(key, len, notify)| Step::Queue { key, len, notify }),
        1 => (1usize..200).prop_map(|limit| Step::Send { limit }),
    ]
}

/// Runs `steps`, then drains the queue packet by packet, checking every packet, every
/// notification and the whole order against the model along the way.
fn run_churn(
    mult: u32,
    weak_hash: bool,
    lens: &[usize],
    steps: &[Step],
    nodes: usize,
    overhead: usize,
) -> Result<(), TestCaseError> {
    let mut q = TransmitLimitedQueue::new(mult);
    q.table.set_weak_hash(weak_hash);
    let mut model = Model {
        mult,
        ..Model::default()
    };
    let mut fill = 0u8;
    for (i, step) in steps.iter().enumerate() {
        match *step {
            Step::Queue { key, len, notify } => {
                fill = fill.wrapping_add(1);
                let key = match key {
                    0 => BroadcastKey::Unique,
                    k if k % 5 == 0 => BroadcastKey::named(format!("k{k}")),
                    k => BroadcastKey::node(format!("k{k}")),
                };
                let m = msg(fill, lens[len]);
                let notify = notify.then_some(i as u64);
                prop_assert_eq!(
                    q.queue(key.clone(), m.clone(), notify),
                    model.queue(key, m, notify)
                );
            }
            Step::Send { limit } => {
                let mut out = Vec::new();
                let used = q.get_broadcasts_into(overhead, limit, nodes, &mut out);
                prop_assert_eq!((out, used), model.get(overhead, limit, nodes));
            }
        }
        prop_assert_eq!(finished(&mut q), std::mem::take(&mut model.finished));
    }
    check_invariants(&q);
    prop_assert_eq!(peek_order(&q), model_order(&model));
    // Drain: a packet always has room for the largest message, so this ends.
    let limit = overhead + lens.iter().max().copied().unwrap_or(0) + 1;
    let mut packets = 0;
    while !model.entries.is_empty() {
        let mut out = Vec::new();
        let used = q.get_broadcasts_into(overhead, limit, nodes, &mut out);
        prop_assert_eq!((out, used), model.get(overhead, limit, nodes));
        prop_assert_eq!(finished(&mut q), std::mem::take(&mut model.finished));
        packets += 1;
        prop_assert!(packets < 100_000, "the queue does not drain");
    }
    prop_assert!(q.is_empty());
    prop_assert_eq!(q.order.len(), 0);
    check_invariants(&q);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn replacement_churn_then_drain_matches_model(
        mult in 1u32..4,
        weak_hash in any::<bool>(),
        lens in proptest::collection::vec(0usize..64, 1..6),
        keys in 1u16..150,
        steps in proptest::collection::vec(step_strategy(150, 6), 1..800),
        nodes in 1usize..200,
        overhead in 0usize..3,
    ) {
        // Map the steps' key and length choices into this case's ranges.
        let steps: Vec<Step> = steps
            .into_iter()
            .map(|step| match step {
                Step::Queue { key, len, notify } => Step::Queue {
                    key: key % (keys + 1),
                    len: len % lens.len(),
                    notify,
                },
                send => send,
            })
            .collect();
        run_churn(mult, weak_hash, &lens, &steps, nodes, overhead)?;
    }
}

/// Thousands of replacements of a few keys among many, with packets in between, so
/// that the clean-up of stale entries runs many times over both parts of the order.
#[test]
fn long_churn_then_drain_matches_model() {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let lens = [10, 11, 20, 35, 35, 60];
    for weak_hash in [false, true] {
        let steps: Vec<Step> = (0..20_000)
            .map(|_| match next(30) {
                0 => Step::Send {
                    limit: 50 + next(300) as usize,
                },
                _ => Step::Queue {
                    // Mostly the 40 hot keys, sometimes one of 400 others.
                    key: if next(4) == 0 {
                        next(441) as u16
                    } else {
                        1 + next(40) as u16
                    },
                    len: next(lens.len() as u64) as usize,
                    notify: next(3) == 0,
                },
            })
            .collect();
        run_churn(3, weak_hash, &lens, &steps, 50, 2).unwrap();
    }
}

/// Sequence numbers never pass the limit that lets buckets store them: the queue
/// renumbers its entries first, without changing anything visible.
#[test]
fn sequence_numbers_are_renumbered_below_the_limit() {
    let mut q = TransmitLimitedQueue::new(3);
    let mut model = Model {
        mult: 3,
        ..Model::default()
    };
    for i in 0..4 * table::SEQ_LIMIT {
        let key = if i % 7 == 0 {
            BroadcastKey::Unique
        } else {
            BroadcastKey::node(format!("n{}", i % 60))
        };
        let m = msg(i as u8, (i % 13) as usize);
        assert_eq!(
            q.queue(key.clone(), m.clone(), Some(u64::from(i))),
            model.queue(key, m, Some(u64::from(i)))
        );
        assert!(q.seq <= table::SEQ_LIMIT);
        if i % 5 == 0 {
            let mut out = Vec::new();
            let used = q.get_broadcasts_into(1, 40, 30, &mut out);
            assert_eq!((out, used), model.get(1, 40, 30));
        }
        assert_eq!(finished(&mut q), std::mem::take(&mut model.finished));
    }
    check_invariants(&q);
    assert_eq!(peek_order(&q), model_order(&model));
}
