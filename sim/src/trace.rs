//! A running hash of everything a simulation processed, to compare runs for determinism.

use std::time::Duration;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// An FNV-1a-style hash (over words, in four lanes for long inputs) of the inputs and
/// events of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trace {
    hash: u64,
}

impl Default for Trace {
    fn default() -> Self {
        Self { hash: FNV_OFFSET }
    }
}

impl Trace {
    /// Mixes raw bytes in: 32-byte blocks into four FNV-1a lanes over 64-bit words (four
    /// independent multiply chains, so a 700 KB push/pull costs a quarter of one chain),
    /// folded into the hash, then the remaining words and bytes one at a time.
    pub fn mix(&mut self, bytes: &[u8]) {
        let step = |h: u64, w: u64| (h ^ w).wrapping_mul(FNV_PRIME);
        let word = |w: &[u8]| {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            u64::from_le_bytes(b)
        };
        let mut blocks = bytes.chunks_exact(32);
        if bytes.len() >= 32 {
            let mut lanes = [
                self.hash,
                !self.hash,
                self.hash.rotate_left(21),
                self.hash ^ FNV_PRIME,
            ];
            for block in &mut blocks {
                for (lane, w) in lanes.iter_mut().zip(block.chunks_exact(8)) {
                    *lane = step(*lane, word(w));
                }
            }
            self.hash = lanes.into_iter().fold(FNV_OFFSET, step);
        }
        let mut words = blocks.remainder().chunks_exact(8);
        for w in &mut words {
            self.hash = step(self.hash, word(w));
        }
        for &b in words.remainder() {
            self.hash = step(self.hash, u64::from(b));
        }
    }

    /// A hash of `data` alone, to mix in place of long data seen many times.
    pub fn digest(data: &[u8]) -> u64 {
        let mut t = Self::default();
        t.mix(data);
        t.hash
    }

    /// An input to `node` at virtual time `at`, of kind `tag`, with its payload.
    pub fn input(&mut self, at: Duration, node: usize, tag: u8, data: &[u8]) {
        self.mix(&at.as_nanos().to_le_bytes());
        self.mix(&(node as u64).to_le_bytes());
        self.mix(&[tag]);
        self.mix(&(data.len() as u64).to_le_bytes());
        self.mix(data);
    }

    /// A membership event at `observer` about `subject`.
    pub fn event(&mut self, observer: usize, tag: u8, subject: &str, incarnation: u32) {
        self.mix(&(observer as u64).to_le_bytes());
        self.mix(&[tag]);
        self.mix(subject.as_bytes());
        self.mix(&incarnation.to_le_bytes());
    }

    /// The hash so far.
    pub fn hash(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_of(data: &[u8]) -> u64 {
        let mut t = Trace::default();
        t.mix(data);
        t.hash()
    }

    #[test]
    fn every_byte_and_the_length_count() {
        let data: Vec<u8> = (0..100u8).collect();
        let base = hash_of(&data);
        for i in 0..data.len() {
            let mut d = data.clone();
            d[i] ^= 1;
            assert_ne!(hash_of(&d), base, "byte {i}");
        }
        for len in 0..data.len() {
            assert_ne!(hash_of(&data[..len]), base, "length {len}");
        }
        assert_eq!(hash_of(&data), base);
    }
}
