//! The per-entry hash behind the table's order-independent push/pull fingerprint
//! ([`TableDigest`](super::members::TableDigest)).
//!
//! It hashes an entry's encoded bytes by folded 64×64→128-bit multiplications over 8-byte
//! loads (wyhash's construction), keyed by four random words per table so that a peer
//! cannot craft colliding entries.

use crate::wire::{load4, load8};

/// Multiplies two words into 128 bits and folds the halves together.
#[inline(always)]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// SplitMix64's finalizer: a bijection of `u64` with full avalanche.
#[inline(always)]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Up to 16 bytes as two words, by overlapping loads; with the length (hashed separately)
/// the pair determines the bytes.
#[inline(always)]
fn load_short(b: &[u8]) -> (u64, u64) {
    let len = b.len();
    if len >= 8 {
        (load8(b, 0), load8(b, len - 8))
    } else if len >= 4 {
        (u64::from(load4(b, 0)), u64::from(load4(b, len - 4)))
    } else {
        let byte = |i: usize| b.get(i).map_or(0, |&x| u64::from(x));
        match len {
            0 => (0, 0),
            _ => (byte(0) | byte(len / 2) << 8 | byte(len - 1) << 16, 0),
        }
    }
}

/// The random key of one table's fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ViewKey {
    k: [u64; 4],
}

impl ViewKey {
    /// A key from four words of `seed` (the table's randomly seeded hasher applied to
    /// 0..4). Odd words, so no key word is zero.
    pub(crate) fn new(mut seed: impl FnMut(u64) -> u64) -> Self {
        Self {
            k: [seed(0) | 1, seed(1) | 1, seed(2) | 1, seed(3) | 1],
        }
    }

    /// Folds any byte string into `h`: whole 16-byte blocks, then the rest (with the
    /// length hashed by the caller, the blocks and the rest determine the bytes).
    #[inline(always)]
    fn fold(&self, mut h: u64, b: &[u8]) -> u64 {
        let mut blocks = b.chunks_exact(16);
        for block in &mut blocks {
            let (x, y) = block.split_at(8);
            let x = <[u8; 8]>::try_from(x).map_or(0, u64::from_le_bytes);
            let y = <[u8; 8]>::try_from(y).map_or(0, u64::from_le_bytes);
            h = folded_multiply(x ^ self.k[1], y ^ h);
        }
        let (x, y) = load_short(blocks.remainder());
        folded_multiply(x ^ self.k[1], y ^ h)
    }

    /// The two hashes of one push/pull entry, from its encoded bytes (as
    /// `PushNodeStateRef::encode` writes them), that
    /// [`TableDigest`](super::members::TableDigest) sums: a keyed hash, and a bijective
    /// remix of it. The usual entry (40–70 bytes) takes four or five multiplications.
    #[inline(always)]
    pub(crate) fn entry(&self, encoded: &[u8]) -> [u64; 2] {
        let h = self.fold(encoded.len() as u64 ^ self.k[0], encoded);
        let h = folded_multiply(h ^ self.k[2], self.k[3]);
        [h, mix64(h ^ 0x9e37_79b9_7f4a_7c15)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ViewKey {
        ViewKey::new(|i| 0x1234_5678_9abc_def0u64.wrapping_mul(i + 3))
    }

    #[test]
    fn every_byte_and_length_matters() {
        let k = key();
        let long: Vec<u8> = (0..100u8).map(|i| i.wrapping_mul(37)).collect();
        let mut seen = std::collections::HashSet::new();
        for len in 0..long.len() {
            assert!(seen.insert(k.entry(&long[..len])), "length {len}");
            for at in 0..len {
                let mut changed = long[..len].to_vec();
                changed[at] ^= 0x10;
                assert!(seen.insert(k.entry(&changed)), "length {len}, byte {at}");
            }
        }
        // Another key gives other hashes.
        let other = ViewKey::new(|i| i + 99);
        assert_ne!(other.entry(&long[..50]), k.entry(&long[..50]));
    }
}
