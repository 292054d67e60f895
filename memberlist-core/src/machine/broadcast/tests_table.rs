//! The entry table on its own, against a `HashMap`: lookups, removals, the reuse of freed
//! slots, and slots that stay put while their entry is queued.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use super::table::Table;
use super::*;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum TableOp {
    /// Insert key `k` if absent, else replace its message.
    Put(u8),
    /// Remove key `k` if present.
    Remove(u8),
    /// Insert a unique entry.
    PutUnique,
    /// Remove the oldest unique entry, if any.
    RemoveUnique,
}

fn table_key(k: u8) -> BroadcastKey {
    // Names of a few lengths (the weak hash collides by length), in both namespaces.
    let name = format!("{}{}", "x".repeat(usize::from(k % 4)), k);
    if k % 7 == 0 {
        BroadcastKey::named(name)
    } else {
        BroadcastKey::node(name)
    }
}

/// Where each entry is, what it holds, and the next sequence number.
#[derive(Default)]
struct TableModel {
    keyed: HashMap<BroadcastKey, (u32, u32)>,
    unique: Vec<(u32, u32)>,
    seq: u32,
}

impl TableModel {
    fn check(&self, t: &Table) {
        let mut positions = t.check();
        assert_eq!(positions.len(), self.keyed.len() + self.unique.len());
        for key in self.keyed.keys() {
            assert!(t.find(key, t.hash(key)).is_some());
        }
        for k in (0..=255u8).step_by(5) {
            let key = table_key(k);
            let found = t.find(&key, t.hash(&key));
            assert_eq!(found, self.keyed.get(&key).map(|&(index, _)| index));
        }
        let mut want: Vec<u32> = self
            .keyed
            .values()
            .chain(&self.unique)
            .map(|&(index, seq)| {
                assert!(t.is_live(seq, index));
                assert_eq!(t.notify(index), Some(u64::from(seq)));
                let message = &t.get(index).unwrap().message();
                assert_eq!(message.len(), (seq % 50) as usize);
                index
            })
            .collect();
        want.sort_unstable();
        positions.sort_unstable();
        assert_eq!(positions, want);
    }
}

/// Runs `ops`, checking everything every `check_every` operations.
fn run_table(weak_hash: bool, ops: &[TableOp], check_every: usize) {
    let mut t = Table::default();
    t.set_weak_hash(weak_hash);
    let mut model = TableModel::default();
    for (i, op) in ops.iter().enumerate() {
        model.seq += 1;
        let seq = model.seq;
        let message = Bytes::from(vec![1; (seq % 50) as usize]);
        match *op {
            TableOp::Put(k) => {
                let key = table_key(k);
                let hash = t.hash(&key);
                if let Some(&(index, old_seq)) = model.keyed.get(&key) {
                    assert_eq!(t.find(&key, hash), Some(index));
                    assert_eq!(
                        t.replace(
                            index,
                            Broadcast::new(key.clone(), message),
                            Some(u64::from(seq)),
                            seq
                        ),
                        Some(u64::from(old_seq))
                    );
                    model.keyed.insert(key, (index, seq));
                } else {
                    let index = t.insert(
                        Broadcast::new(key.clone(), message),
                        Some(hash),
                        Some(u64::from(seq)),
                        seq,
                    );
                    model.keyed.insert(key, (index, seq));
                }
            }
            TableOp::Remove(k) => {
                if let Some((index, old_seq)) = model.keyed.remove(&table_key(k)) {
                    assert_eq!(t.remove(index), Some(u64::from(old_seq)));
                    assert!(!t.is_live(old_seq, index));
                }
            }
            TableOp::PutUnique => {
                let index = t.insert(
                    Broadcast::new(BroadcastKey::Unique, message),
                    None,
                    Some(u64::from(seq)),
                    seq,
                );
                model.unique.push((index, seq));
            }
            TableOp::RemoveUnique => {
                if !model.unique.is_empty() {
                    let (index, old_seq) = model.unique.remove(0);
                    assert_eq!(t.remove(index), Some(u64::from(old_seq)));
                }
            }
        }
        assert_eq!(t.len(), model.keyed.len() + model.unique.len());
        if i % check_every == 0 || i + 1 == ops.len() {
            model.check(&t);
        }
    }
}

fn table_op() -> impl Strategy<Value = TableOp> {
    prop_oneof![
        6 => (0u8..64).prop_map(TableOp::Put),
        5 => (0u8..64).prop_map(TableOp::Remove),
        1 => Just(TableOp::PutUnique),
        1 => Just(TableOp::RemoveUnique),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn table_matches_a_hash_map(
        weak_hash in any::<bool>(),
        ops in proptest::collection::vec(table_op(), 1..400),
    ) {
        run_table(weak_hash, &ops, 1);
    }
}

#[test]
fn freed_slots_are_reused_and_entries_stay_put() {
    // Fill, empty, and refill many times: slots are freed and reused in every order, and
    // the slab and the index grow while entries are queued.
    let mut ops = Vec::new();
    for round in 0..20u8 {
        ops.extend((0..=255u8).map(|k| TableOp::Put(k.wrapping_add(round))));
        ops.extend((0..=255u8).step_by(2).map(TableOp::Remove));
        ops.extend((0..10).map(|_| TableOp::PutUnique));
        ops.extend((0..=255u8).rev().map(TableOp::Remove));
        ops.extend((0..10).map(|_| TableOp::RemoveUnique));
    }
    run_table(false, &ops, 64);
    run_table(true, &ops[..ops.len() / 4], 64);
}
