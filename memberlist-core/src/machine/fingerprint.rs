//! The per-entry hash behind the table's order-independent push/pull fingerprint
//! ([`TableDigest`](super::members::TableDigest)).
//!
//! An entry's hash must come out the same whether its fields are read from the table
//! (a `SmolStr` name, an `IpBytes` address) or borrowed straight from a received push/pull
//! (`&[u8]` slices of the message), so it works on plain byte slices and integers only. It is
//! a few folded 64×64→128-bit multiplications over 8-byte loads (the construction of
//! wyhash), keyed by four random words per table so that a peer cannot craft colliding
//! entries without knowing them.

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

/// Eight bytes at `at` as a little-endian word (zero past the end, which callers avoid).
#[inline(always)]
fn load8(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .map_or(0, u64::from_le_bytes)
}

/// Four bytes at `at` as a little-endian word (zero past the end, which callers avoid).
#[inline(always)]
fn load4(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map_or(0, |x| u64::from(u32::from_le_bytes(x)))
}

/// Up to 16 bytes as two words, by overlapping loads; with the length (hashed separately)
/// the pair determines the bytes.
#[inline(always)]
fn load_short(b: &[u8]) -> (u64, u64) {
    let len = b.len();
    if len >= 8 {
        (load8(b, 0), load8(b, len - 8))
    } else if len >= 4 {
        (load4(b, 0), load4(b, len - 4))
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

    /// Folds any byte string into `h`.
    #[inline(always)]
    fn fold(&self, mut h: u64, b: &[u8]) -> u64 {
        let len = b.len();
        let (x, y) = if len <= 16 {
            load_short(b)
        } else {
            let mut i = 0;
            while len - i > 16 {
                h = folded_multiply(load8(b, i) ^ self.k[1], load8(b, i + 8) ^ h);
                i += 16;
            }
            (load8(b, len - 16), load8(b, len - 8))
        };
        folded_multiply(x ^ self.k[1], y ^ h)
    }

    /// The two hashes of one push/pull entry (name, address, port, metadata, incarnation,
    /// versions) that [`TableDigest`](super::members::TableDigest) sums: a keyed hash, and a
    /// bijective remix of it.
    #[inline]
    pub(crate) fn entry(
        &self,
        name: &[u8],
        addr: &[u8],
        port: u16,
        meta: &[u8],
        incarnation: u32,
        vsn: &[u8],
    ) -> [u64; 2] {
        let lengths = name.len() as u64 | (meta.len() as u64) << 32;
        let mut h = self.fold(lengths ^ self.k[0], name);
        let fixed = u64::from(incarnation)
            | u64::from(port) << 32
            | (addr.len() as u64) << 48
            | (vsn.len() as u64) << 56;
        let (ip_lo, ip_hi) = load_short(addr);
        let (v_lo, v_hi) = load_short(vsn);
        h = folded_multiply(fixed ^ self.k[2], ip_lo ^ h);
        h = folded_multiply((v_lo | v_hi << 32) ^ self.k[3], ip_hi ^ h);
        if !meta.is_empty() {
            h = self.fold(h, meta);
        }
        [h, mix64(h ^ 0x9e37_79b9_7f4a_7c15)]
    }

    /// [`entry`](Self::entry) for the usual entry — an IPv4 address, no metadata, six
    /// version bytes (little-endian in the low 48 bits of `vsn`) — with the same result,
    /// minus the length dispatch.
    #[inline(always)]
    pub(crate) fn entry_v4(
        &self,
        name: &[u8],
        addr: [u8; 4],
        port: u16,
        incarnation: u32,
        vsn: u64,
    ) -> [u64; 2] {
        let mut h = self.fold(name.len() as u64 ^ self.k[0], name);
        let fixed = u64::from(incarnation) | u64::from(port) << 32 | 4 << 48 | 6 << 56;
        // What `load_short` reads from four and six bytes.
        let ip = u64::from(u32::from_le_bytes(addr));
        let v_lo = vsn & 0xffff_ffff;
        let v_hi = (vsn >> 16) & 0xffff_ffff;
        h = folded_multiply(fixed ^ self.k[2], ip ^ h);
        h = folded_multiply((v_lo | v_hi << 32) ^ self.k[3], ip ^ h);
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
    fn every_field_and_length_matters() {
        let k = key();
        let base = k.entry(
            b"node-12",
            &[10, 0, 0, 1],
            7946,
            b"",
            3,
            &[1, 5, 2, 0, 0, 0],
        );
        let variants = [
            k.entry(
                b"node-13",
                &[10, 0, 0, 1],
                7946,
                b"",
                3,
                &[1, 5, 2, 0, 0, 0],
            ),
            k.entry(
                b"node-12\0",
                &[10, 0, 0, 1],
                7946,
                b"",
                3,
                &[1, 5, 2, 0, 0, 0],
            ),
            k.entry(
                b"node-12",
                &[10, 0, 0, 2],
                7946,
                b"",
                3,
                &[1, 5, 2, 0, 0, 0],
            ),
            k.entry(
                b"node-12",
                &[10, 0, 0, 1, 0],
                7946,
                b"",
                3,
                &[1, 5, 2, 0, 0, 0],
            ),
            k.entry(
                b"node-12",
                &[10, 0, 0, 1],
                7947,
                b"",
                3,
                &[1, 5, 2, 0, 0, 0],
            ),
            k.entry(
                b"node-12",
                &[10, 0, 0, 1],
                7946,
                b"m",
                3,
                &[1, 5, 2, 0, 0, 0],
            ),
            k.entry(
                b"node-12",
                &[10, 0, 0, 1],
                7946,
                b"",
                4,
                &[1, 5, 2, 0, 0, 0],
            ),
            k.entry(
                b"node-12",
                &[10, 0, 0, 1],
                7946,
                b"",
                3,
                &[1, 5, 3, 0, 0, 0],
            ),
            k.entry(b"node-12", &[10, 0, 0, 1], 7946, b"", 3, &[1, 5, 2, 0, 0]),
        ];
        for v in variants {
            assert_ne!(v, base);
        }
        // Every name length class (short, 4–7, 8–16, longer, exact multiples of 16).
        let long = b"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz";
        let mut seen = std::collections::HashSet::new();
        for len in 0..long.len() {
            assert!(seen.insert(k.entry(&long[..len], &[], 0, b"", 0, &[])));
            let mut changed = long[..len].to_vec();
            if let Some(last) = changed.last_mut() {
                *last ^= 1;
                assert!(seen.insert(k.entry(&changed, &[], 0, b"", 0, &[])));
            }
            if let Some(first) = changed.first_mut() {
                *first ^= 2;
                assert!(seen.insert(k.entry(&changed, &[], 0, b"", 0, &[])));
            }
        }
        // The IPv4 shortcut agrees with the general form.
        for name in [
            &b"a"[..],
            b"node-1",
            b"node-12345",
            b"a-name-of-thirty-one-bytes-long",
        ] {
            for (port, inc) in [(0, 0), (7946, 3), (65_535, u32::MAX)] {
                let vsn = [1, 5, 2, 0, 7, 9];
                let word = u64::from_le_bytes([1, 5, 2, 0, 7, 9, 0, 0]);
                assert_eq!(
                    k.entry_v4(name, [10, 1, 2, 3], port, inc, word),
                    k.entry(name, &[10, 1, 2, 3], port, b"", inc, &vsn)
                );
            }
        }
        // Another key gives other hashes.
        let other = ViewKey::new(|i| i + 99);
        assert_ne!(
            other.entry(
                b"node-12",
                &[10, 0, 0, 1],
                7946,
                b"",
                3,
                &[1, 5, 2, 0, 0, 0]
            ),
            base
        );
    }
}
