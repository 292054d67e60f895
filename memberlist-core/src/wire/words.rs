//! Little-endian word loads from byte slices, for the word-at-a-time writers and hashes.

/// Eight bytes of `s` at `at` as a little-endian word (zero when out of range, which
/// callers rule out).
#[inline(always)]
pub(crate) fn load8(s: &[u8], at: usize) -> u64 {
    s.get(at..)
        .and_then(<[u8]>::first_chunk::<8>)
        .map_or(0, |w| u64::from_le_bytes(*w))
}

/// Four bytes of `s` at `at` as a little-endian word (zero when out of range, which
/// callers rule out).
#[inline(always)]
pub(crate) fn load4(s: &[u8], at: usize) -> u32 {
    s.get(at..)
        .and_then(<[u8]>::first_chunk::<4>)
        .map_or(0, |w| u32::from_le_bytes(*w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_are_little_endian_and_zero_out_of_range() {
        let b = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(load8(&b, 1), 0x0908_0706_0504_0302);
        assert_eq!(load4(&b, 0), 0x0403_0201);
        assert_eq!(load8(&b, 2), 0);
        assert_eq!(load4(&b, 6), 0);
        assert_eq!(load4(&b, usize::MAX - 1), 0);
    }
}
