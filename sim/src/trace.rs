//! A running hash of everything a simulation processed, to compare runs for determinism.

use std::time::Duration;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// An FNV-1a-style hash (over words) of the inputs and events of a run.
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
    /// Mixes raw bytes in, eight at a time (FNV-1a over 64-bit words, then the tail).
    pub fn mix(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            self.hash ^= u64::from_le_bytes(b);
            self.hash = self.hash.wrapping_mul(FNV_PRIME);
        }
        for &b in words.remainder() {
            self.hash ^= u64::from(b);
            self.hash = self.hash.wrapping_mul(FNV_PRIME);
        }
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
