//! The fast path of push/pull node states: the usual entry, written and read whole.
//!
//! The usual entry (an IPv4 address, a small state, six version bytes, no metadata, a name
//! under 32 bytes: nearly every entry, ours or Go's) is at most [`USUAL_MAX`] bytes, all
//! fixed but the name, the incarnation and the port. [`write_states`] writes it by 8-byte
//! word stores; [`read_usual`] recognises it from a fixed window of bytes. Other entries take
//! the `go_struct!` table of [`PushNodeState`]; both paths give the same bytes and states
//! (property-tested in `push_pull_tests.rs`).

use bytes::Bytes;
use smol_str::SmolStr;

use super::go_struct::GoWrite;
use super::ip::IpBytes;
use super::node::{NodeState, Vsn};
use super::push_pull::{PushNodeState, PushNodeStateRef};
use super::words::{load4, load8};

/// The longest usual entry: 23 bytes of address and key, an incarnation of up to 5 bytes,
/// 11 of metadata and key, a name of up to 32 with its header, 5 + 3 of port, 18 of state
/// and versions.
pub(crate) const USUAL_MAX: usize = 97;

/// Room the word stores of one usual entry may touch: [`USUAL_MAX`] bytes, plus the spill
/// of the last 8-byte store.
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

/// Appends the node states: the usual ones by word stores, the others by the table.
#[inline]
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
            None => s.write_map(out),
        }
    }
}

/// The `i`-th byte of the window (zero past it, which the callers rule out).
#[inline(always)]
fn at(w: &[u8; USUAL_MAX], i: usize) -> u8 {
    w.get(i).copied().unwrap_or(0)
}

/// Whether the window holds `key` at `i`.
#[inline(always)]
fn has(w: &[u8; USUAL_MAX], i: usize, key: &[u8]) -> bool {
    w.get(i..i + key.len()) == Some(key)
}

/// The fields of a usual entry, as [`parse_usual`] finds them.
#[derive(Clone, Copy)]
struct Usual<'a> {
    addr: [u8; 4],
    incarnation: u32,
    name: &'a [u8],
    port: u16,
    state: u8,
    vsn: [u8; 6],
    len: usize,
}

/// The usual entry at the start of `s`, as [`write_states`] writes it (the integers in any
/// width msgpack allows), or `None`.
#[inline(always)]
fn parse_usual(s: &[u8]) -> Option<Usual<'_>> {
    // Every index read is below USUAL_MAX: an entry closer than that to the end of the
    // input (only the last of a message can be) is read from a zero-padded copy, and its
    // length checked against the input at the end.
    let mut pad = [0u8; USUAL_MAX];
    let w = match s.first_chunk::<USUAL_MAX>() {
        Some(w) => w,
        None => {
            pad.get_mut(..s.len())?.copy_from_slice(s);
            &pad
        }
    };
    if !has(w, 0, b"\x87\xa4Addr\xa4") || !has(w, 11, b"\xabIncarnation") {
        return None;
    }
    let (incarnation, p) = match at(w, 23) {
        b @ 0..=0x7f => (u32::from(b), 24),
        0xcc => (u32::from(at(w, 24)), 25),
        0xcd => (u32::from(u16::from_be_bytes([at(w, 24), at(w, 25)])), 26),
        0xce => (
            u32::from_be_bytes([at(w, 24), at(w, 25), at(w, 26), at(w, 27)]),
            28,
        ),
        _ => return None,
    };
    let header = at(w, p + 11);
    if !has(w, p, b"\xa4Meta\xc0\xa4Name") || header & 0xe0 != 0xa0 {
        return None;
    }
    let q = p + 12 + usize::from(header & 0x1f);
    let (port, t) = match at(w, q + 5) {
        b @ 0..=0x7f => (u16::from(b), q + 6),
        0xcc => (u16::from(at(w, q + 6)), q + 7),
        0xcd => (u16::from_be_bytes([at(w, q + 6), at(w, q + 7)]), q + 8),
        _ => return None,
    };
    let state = at(w, t + 6);
    if !has(w, q, b"\xa4Port") || !has(w, t, b"\xa5State") || state > 0x7f {
        return None;
    }
    if !has(w, t + 7, b"\xa3Vsn\xa6") || t + 18 > s.len() {
        return None;
    }
    let v = |i| at(w, t + 12 + i);
    Some(Usual {
        addr: [at(w, 7), at(w, 8), at(w, 9), at(w, 10)],
        incarnation,
        name: s.get(p + 12..q)?,
        port,
        state,
        vsn: [v(0), v(1), v(2), v(3), v(4), v(5)],
        len: t + 18,
    })
}

/// The usual entry at the start of `s`, decoded, and its length; `None` for any other
/// form and for an empty or invalid name (which the general decoder reads, or refuses).
/// Gives the state the general decoder gives for the same bytes.
#[inline]
pub(crate) fn read_usual(s: &[u8]) -> Option<(PushNodeState, usize)> {
    let u = parse_usual(s)?;
    let name = std::str::from_utf8(u.name).ok().filter(|n| !n.is_empty())?;
    let [v0, v1, v2, v3, v4, v5] = u.vsn;
    let state = PushNodeState {
        name: if name.len() <= 23 {
            SmolStr::new_inline(name)
        } else {
            SmolStr::new(name)
        },
        addr: IpBytes::from(u.addr),
        port: u.port,
        meta: Bytes::new(),
        incarnation: u.incarnation,
        state: NodeState::from_i64(i64::from(u.state)),
        vsn: Vsn::new(v0, v1, v2, v3, v4, v5),
    };
    Some((state, u.len))
}

/// The length of the usual entry at the start of `s` (see [`parse_usual`]).
#[inline(always)]
pub(crate) fn usual_len(s: &[u8]) -> Option<usize> {
    parse_usual(s).map(|u| u.len)
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
            s.write_map(&mut expected);
        }
        let mut got = vec![0xee; 3];
        write_states(all.iter().copied(), &mut got);
        assert_eq!(got, expected);
        // One at a time, too (from an empty buffer).
        for s in &all {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            s.write_map(&mut a);
            write_states(std::iter::once(*s), &mut b);
            assert_eq!(a, b, "{s:?}");
        }
    }
}
