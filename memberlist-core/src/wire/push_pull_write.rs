//! Writing a push/pull's node states as whole words.
//!
//! The usual entry (an IPv4 address, a small state, six version bytes, no metadata, a name
//! under 32 bytes) is at most 97 bytes of which all but the name, the incarnation and the
//! port are fixed. [`write_states`] stores each such entry into a small stack buffer as a
//! few little-endian 8-byte words (keys and values together; a store may spill past the
//! entry's end, where the next piece overwrites it), then appends the entry with one
//! fixed-size copy (cut back to its length), instead of a dozen `Vec` appends each
//! checking the capacity. Entries of any other form
//! are appended by the general writer. The bytes are those of
//! [`PushNodeStateRef::encode`].

use super::push_pull::PushNodeStateRef;
use super::words::{load4, load8};

/// Room the word stores of one usual entry may touch: 97 bytes at most, plus the spill of
/// the last 8-byte store.
const SMALL_ROOM: usize = 112;

/// Stores `w` little-endian at `o[at..at + 8]` (nothing when out of range, which the
/// callers rule out by `SMALL_ROOM`).
#[inline(always)]
fn put8(o: &mut [u8], at: usize, w: u64) {
    if let Some(d) = o.get_mut(at..at + 8) {
        d.copy_from_slice(&w.to_le_bytes());
    }
}

/// Stores the low four bytes of `w` at `o[at..at + 4]`.
#[inline(always)]
fn put4(o: &mut [u8], at: usize, w: u32) {
    if let Some(d) = o.get_mut(at..at + 4) {
        d.copy_from_slice(&w.to_le_bytes());
    }
}

/// Eight bytes as a little-endian word.
#[inline(always)]
const fn le(b: [u8; 8]) -> u64 {
    u64::from_le_bytes(b)
}

/// Copies `b` (at most 31 bytes) to `o[at..]` by word loads and stores, overlapping at
/// the end rather than looping over bytes.
#[inline(always)]
fn copy_short(o: &mut [u8], at: usize, b: &[u8]) {
    let len = b.len();
    if len >= 8 {
        let mut i = 0;
        while i + 8 <= len {
            put8(o, at + i, load8(b, i));
            i += 8;
        }
        if i < len {
            put8(o, at + len - 8, load8(b, len - 8));
        }
    } else if len >= 4 {
        put4(o, at, load4(b, 0));
        put4(o, at + len - 4, load4(b, len - 4));
    } else if let Some(d) = o.get_mut(at..at + len) {
        d.copy_from_slice(b);
    }
}

impl PushNodeStateRef<'_> {
    /// Writes the usual entry into `o` as whole words; returns its length, or `None`,
    /// having written nothing that counts, for any other entry.
    #[inline(always)]
    fn write_small(&self, o: &mut [u8; SMALL_ROOM]) -> Option<usize> {
        let ([a0, a1, a2, a3], [v0, v1, v2, v3, v4, v5]) = (
            <[u8; 4]>::try_from(self.addr.as_bytes()).ok()?,
            <[u8; 6]>::try_from(self.vsn.as_bytes()).ok()?,
        );
        let state = match self.state.as_i64() {
            s @ 0..=0x7f => s as u8,
            _ => return None,
        };
        let name = self.name.as_bytes();
        if !self.meta.is_empty() || name.len() >= 32 {
            return None;
        }
        // 87 a4 "Addr" a4 <ip> ab "Incarnation"
        put8(o, 0, le([0x87, 0xa4, b'A', b'd', b'd', b'r', 0xa4, a0]));
        put8(o, 8, le([a1, a2, a3, 0xab, b'I', b'n', b'c', b'a']));
        put8(o, 16, le([b'r', b'n', b'a', b't', b'i', b'o', b'n', 0]));
        let mut p = 23;
        // The incarnation as msgpack's smallest unsigned form.
        let inc = self.incarnation;
        let (word, width) = match inc {
            0..=0x7f => (u64::from(inc), 1),
            0x80..=0xff => (0xcc | u64::from(inc) << 8, 2),
            0x100..=0xffff => {
                let [hi, lo] = (inc as u16).to_be_bytes();
                (le([0xcd, hi, lo, 0, 0, 0, 0, 0]), 3)
            }
            _ => {
                let [b0, b1, b2, b3] = inc.to_be_bytes();
                (le([0xce, b0, b1, b2, b3, 0, 0, 0]), 5)
            }
        };
        put8(o, p, word);
        p += width;
        // a4 "Meta" c0 a4 "Name" a0|len <name>
        put8(o, p, le([0xa4, b'M', b'e', b't', b'a', 0xc0, 0xa4, b'N']));
        put4(
            o,
            p + 8,
            u32::from_le_bytes([b'a', b'm', b'e', 0xa0 | name.len() as u8]),
        );
        p += 12;
        copy_short(o, p, name);
        p += name.len();
        // a4 "Port" <port>
        let [hi, lo] = self.port.to_be_bytes();
        let (word, width) = match self.port {
            0x100.. => (le([0xa4, b'P', b'o', b'r', b't', 0xcd, hi, lo]), 8),
            0x80.. => (le([0xa4, b'P', b'o', b'r', b't', 0xcc, lo, 0]), 7),
            _ => (le([0xa4, b'P', b'o', b'r', b't', lo, 0, 0]), 6),
        };
        put8(o, p, word);
        p += width;
        // a5 "State" <state> a3 "Vsn" a6 <six bytes>
        put8(o, p, le([0xa5, b'S', b't', b'a', b't', b'e', state, 0xa3]));
        put8(o, p + 8, le([b'V', b's', b'n', 0xa6, v0, v1, v2, v3]));
        put8(o, p + 16, le([v4, v5, 0, 0, 0, 0, 0, 0]));
        Some(p + 18)
    }
}

/// Appends the node states, the bytes [`PushNodeStateRef::encode`] writes for each.
pub(crate) fn write_states<'a>(
    states: impl Iterator<Item = PushNodeStateRef<'a>>,
    out: &mut Vec<u8>,
) {
    let mut buf = [0u8; SMALL_ROOM];
    for s in states {
        match s.write_small(&mut buf) {
            // The whole buffer (a fixed-size copy, no call), then cut back to the entry.
            Some(n) => {
                let end = out.len() + n;
                out.extend_from_slice(&buf);
                out.truncate(end);
            }
            None => s.encode(out),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::wire::{IpBytes, NodeState, Vsn};

    #[test]
    fn word_stores_write_the_bytes_of_the_general_writer() {
        let names = [
            "",
            "a",
            "abc",
            "abcd",
            "node-12",
            "node-123",
            "node-1234",
            "a-name-of-exactly-16",
            "a-name-of-exactly-23-ch",
            "a-name-of-thirty-one-bytes-long",
            "a-name-of-thirty-two-bytes-long!",
        ];
        let addrs = [
            IpBytes::EMPTY,
            IpBytes::from([10, 0, 0, 1]),
            IpBytes::new(&[0xfe; 16]).unwrap(),
        ];
        let vsns = [
            Vsn::default(),
            Vsn::from_slice(&[1, 5]),
            Vsn::new(1, 5, 2, 255, 4, 9),
        ];
        let states = [0, 3, 127, 128, -1].map(NodeState::from_i64);
        let wide = [0, 1, 127, 128, 255, 256, 65_535, 65_536, u32::MAX];
        let mut all = Vec::new();
        for (i, name) in names.into_iter().enumerate() {
            for addr in addrs {
                for vsn in vsns {
                    for (j, state) in states.into_iter().enumerate() {
                        for k in 0..wide.len() {
                            let meta: &[u8] = if k == 3 { b"m" } else { b"" };
                            all.push(PushNodeStateRef {
                                name,
                                addr,
                                port: wide[(i + j + k) % wide.len()] as u16,
                                meta,
                                incarnation: wide[k],
                                state,
                                vsn,
                            });
                        }
                    }
                }
            }
        }
        let mut expected = vec![0xee; 3];
        for s in &all {
            s.encode(&mut expected);
        }
        let mut got = vec![0xee; 3];
        write_states(all.iter().copied(), &mut got);
        assert_eq!(got, expected);
        // One at a time, too (from an empty buffer).
        for s in &all {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            s.encode(&mut a);
            write_states(std::iter::once(*s), &mut b);
            assert_eq!(a, b, "{s:?}");
        }
    }
}
