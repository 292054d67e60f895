//! Test support: helpers, invariant checks and a reference model of Go's queue.
#![allow(clippy::unwrap_used)]

use super::*;

/// A message of `len` bytes filled with `fill` (distinct fills tell messages apart).
pub(super) fn msg(fill: u8, len: usize) -> Bytes {
    Bytes::from(vec![fill; len])
}

pub(super) fn node(name: &str) -> BroadcastKey {
    BroadcastKey::node(name)
}

pub(super) fn finished(q: &mut TransmitLimitedQueue) -> Vec<u64> {
    q.drain_finished().collect()
}

/// The live entries in send order, without consuming them.
pub(super) fn peek_order(q: &TransmitLimitedQueue) -> Vec<(u32, Bytes)> {
    q.order
        .iter()
        .filter(|&(_, seq, index)| q.table.is_live(seq, index))
        .map(|(transmits, _, index)| (transmits, q.table.get(index).unwrap().message().clone()))
        .collect()
}

/// Checks that the table and the order agree.
pub(super) fn check_invariants(q: &TransmitLimitedQueue) {
    q.order.check();
    let mut entries = q.table.check();
    assert_eq!(entries.len(), q.num_queued());
    for (len, stack) in q.order.fresh.iter() {
        for entry in stack {
            if q.table.is_live(entry.seq, entry.index) {
                let message = &q.table.get(entry.index).unwrap().message();
                assert_eq!(message.len(), len, "fresh entry in the wrong stack");
            }
        }
    }
    for (rank, index) in q.order.sent.iter() {
        if q.table.is_live(rank.seq.0, index) {
            let message = &q.table.get(index).unwrap().message();
            assert_eq!(rank, Rank::new(rank.transmits, message.len(), rank.seq.0));
        }
    }
    // Every entry is live in the order exactly once.
    let mut live: Vec<u32> = q
        .order
        .iter()
        .filter(|&(_, seq, index)| q.table.is_live(seq, index))
        .map(|(_, _, index)| index)
        .collect();
    live.sort_unstable();
    entries.sort_unstable();
    assert_eq!(live, entries);
    assert!(q.order.len() - q.num_queued() <= q.num_queued().max(STALE_SLACK));
}

// ---------------------------------------------------------------------------------------
// A direct O(n) transcription of Go's rules, to test against.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub(super) struct ModelEntry {
    pub(super) key: BroadcastKey,
    pub(super) message: Bytes,
    pub(super) notify: Option<u64>,
    pub(super) transmits: u32,
    pub(super) id: u64,
}

/// Go's `limitedBroadcast.Less`.
pub(super) fn go_less(a: &ModelEntry, b: &ModelEntry) -> bool {
    if a.transmits != b.transmits {
        return a.transmits < b.transmits;
    }
    if a.message.len() != b.message.len() {
        return a.message.len() > b.message.len();
    }
    a.id > b.id
}

pub(super) fn go_cmp(a: &ModelEntry, b: &ModelEntry) -> std::cmp::Ordering {
    if go_less(a, b) {
        std::cmp::Ordering::Less
    } else if go_less(b, a) {
        std::cmp::Ordering::Greater
    } else {
        std::cmp::Ordering::Equal
    }
}

/// `ceil(log10(n + 1))` the slow way.
pub(super) fn model_limit(mult: u32, nodes: usize) -> u32 {
    let mut scale = 0;
    let mut bound = 1u128; // 10^scale
    while (nodes as u128) >= bound {
        bound *= 10;
        scale += 1;
    }
    mult * scale
}

#[derive(Debug, Default)]
pub(super) struct Model {
    pub(super) mult: u32,
    pub(super) entries: Vec<ModelEntry>,
    pub(super) id_gen: u64,
    pub(super) finished: Vec<u64>,
}

impl Model {
    pub(super) fn queue(&mut self, key: BroadcastKey, message: Bytes, notify: Option<u64>) -> bool {
        self.id_gen += 1;
        let mut replaced = false;
        if !key.is_unique() {
            if let Some(pos) = self.entries.iter().position(|e| e.key == key) {
                let old = self.entries.remove(pos);
                self.finished.extend(old.notify);
                replaced = true;
            }
        }
        self.entries.push(ModelEntry {
            key,
            message,
            notify,
            transmits: 0,
            id: self.id_gen,
        });
        replaced
    }

    pub(super) fn get(
        &mut self,
        overhead: usize,
        limit: usize,
        nodes: usize,
    ) -> (Vec<Bytes>, usize) {
        if self.entries.is_empty() {
            return (Vec::new(), 0);
        }
        let transmit_limit = model_limit(self.mult, nodes);
        let min_tr = self.entries.iter().map(|e| e.transmits).min().unwrap();
        let max_tr = self.entries.iter().map(|e| e.transmits).max().unwrap();
        let mut used = 0i64;
        let mut out = Vec::new();
        let mut reinsert = Vec::new();
        let mut tier = min_tr;
        while tier <= max_tr {
            let free = limit as i64 - used - overhead as i64;
            if free <= 0 {
                break;
            }
            let best = self
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.transmits == tier && e.message.len() as i64 <= free)
                .min_by(|(_, a), (_, b)| go_cmp(a, b))
                .map(|(i, _)| i);
            let Some(i) = best else {
                tier += 1;
                continue;
            };
            let mut e = self.entries.remove(i);
            used += (overhead + e.message.len()) as i64;
            out.push(e.message.clone());
            if e.transmits + 1 >= transmit_limit {
                self.finished.extend(e.notify);
            } else {
                e.transmits += 1;
                reinsert.push(e);
            }
        }
        self.entries.extend(reinsert);
        (out, used as usize)
    }

    pub(super) fn prune(&mut self, max_retain: usize) {
        while self.entries.len() > max_retain {
            let (i, _) = self
                .entries
                .iter()
                .enumerate()
                .max_by(|(_, a), (_, b)| go_cmp(a, b))
                .unwrap();
            let e = self.entries.remove(i);
            self.finished.extend(e.notify);
        }
    }

    pub(super) fn reset(&mut self) {
        self.entries.sort_by(go_cmp);
        self.finished
            .extend(self.entries.drain(..).filter_map(|e| e.notify));
        self.id_gen = 0;
    }
}
