//! A borrowed walk over a received push/pull, for comparing it with a view we hold before
//! (and usually instead of) decoding it.
//!
//! In a converged cluster nearly every push/pull carries exactly the view the receiver
//! holds. Decoding such a message into owned [`PushNodeState`]s (a name copy and a UTF-8
//! check per entry, a vector of them) only to find that out is most of a push/pull's cost.
//! [`scan_push_pull`] walks the raw body instead, accepting only the form Go and we write
//! (keys in order, an IPv4 address, no metadata, a 1–31-byte ASCII name, an alive state,
//! six version bytes), and hands each entry's fields, borrowed, to the caller. Whenever it
//! returns `Some`, [`PushPull::decode_body`](super::PushPull::decode_body) on the same bytes
//! succeeds and yields exactly those entries; anything else gives `None`, and the caller
//! decodes the message in full as before, so errors and limits are those of the decoder.

use bytes::Bytes;

use super::limits::Limits;
use super::msgpack::Reader;
use super::push_pull::{PushNodeState, PushPullHeader};

/// One push/pull entry in the usual form, borrowed from the message. Its state is alive and
/// its metadata empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScannedEntry<'a> {
    /// The name's bytes (1–31 ASCII bytes).
    pub(crate) name: &'a [u8],
    /// The IPv4 address.
    pub(crate) addr: [u8; 4],
    /// The port.
    pub(crate) port: u16,
    /// The incarnation.
    pub(crate) incarnation: u32,
    /// The six version bytes, little-endian in the low 48 bits.
    pub(crate) vsn: u64,
}

/// What [`scan_push_pull`] returns besides the entries it handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScannedPushPull {
    /// The entry named as asked (the last one, should there be several), decoded.
    pub(crate) me: Option<PushNodeState>,
    /// The user state.
    pub(crate) user_state: Bytes,
}

/// Eight bytes of `s` at `at` as a little-endian word (zero past the end, which callers
/// rule out beforehand so that the check folds away).
#[inline(always)]
fn le64(s: &[u8], at: usize) -> u64 {
    s.get(at..at + 8)
        .and_then(|x| <[u8; 8]>::try_from(x).ok())
        .map_or(0, u64::from_le_bytes)
}

/// Four bytes of `s` at `at` as a little-endian word (zero past the end).
#[inline(always)]
fn le32(s: &[u8], at: usize) -> u64 {
    s.get(at..at + 4)
        .and_then(|x| <[u8; 4]>::try_from(x).ok())
        .map_or(0, |x| u64::from(u32::from_le_bytes(x)))
}

/// Up to eight bytes of `s` from `from` as a little-endian word, at compile time.
const fn const_word(s: &[u8], from: usize, n: usize) -> u64 {
    let mut w = 0u64;
    let mut i = 0;
    while i < n && from + i < s.len() {
        w |= (s[from + i] as u64) << (8 * i);
        i += 1;
    }
    w
}

/// `87 a4 "Addr" a4` (a map of seven keys, then an address of four bytes), four address
/// bytes, `ab "Incarnation"`: the first 23 bytes of every entry in the usual form.
const HEAD: &[u8; 23] = b"\x87\xa4Addr\xa4____\xabIncarnation";
/// `a4 "Meta" c0 a4 "Name"`: no metadata, then the name's key.
const META_NAME: &[u8; 11] = b"\xa4Meta\xc0\xa4Name";
/// `a4 "Port"`.
const PORT: &[u8; 5] = b"\xa4Port";
/// `a5 "State" 00 a3 "Vsn" a6`: alive, then six version bytes.
const STATE_VSN: &[u8; 12] = b"\xa5State\x00\xa3Vsn\xa6";
/// The high bit of every byte.
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Whether a name of 1–31 bytes is ASCII, by a few overlapping word loads.
#[inline(always)]
fn short_ascii(name: &[u8]) -> bool {
    let len = name.len();
    let any = if len >= 16 {
        le64(name, 0) | le64(name, 8) | le64(name, len - 16) | le64(name, len - 8)
    } else if len >= 8 {
        le64(name, 0) | le64(name, len - 8)
    } else if len >= 4 {
        le32(name, 0) | le32(name, len - 4)
    } else {
        name.iter().fold(0, |acc, &b| acc | u64::from(b))
    };
    any & HIGH == 0
}

/// Reads one entry in the usual form at `*pos`, moving past it; `None` for any other form
/// or malformed bytes (or an entry too close to the end of the message, which the decoder
/// then reads). The decoder (`PushNodeState::decode`) reads the same values from these
/// bytes.
#[inline(always)]
fn entry<'a>(b: &'a [u8], pos: &mut usize) -> Option<ScannedEntry<'a>> {
    // The fixed head, the shortest incarnation and the name's key: 36 bytes at least.
    let s = b.get(*pos..)?;
    if s.len() < 36 {
        return None;
    }
    const MASK7: u64 = 0x00ff_ffff_ffff_ffff;
    if le64(s, 0) & MASK7 != const_word(HEAD, 0, 7)
        || le64(s, 11) != const_word(HEAD, 11, 8)
        || le32(s, 19) != const_word(HEAD, 19, 4)
    {
        return None;
    }
    let ip = le32(s, 7) as u32;
    // The incarnation in any unsigned form that fits 32 bits.
    let (incarnation, mut p) = match *s.get(23..)? {
        [x @ 0..=0x7f, ..] => (u32::from(x), 24),
        [0xcc, x, ..] => (u32::from(x), 25),
        [0xcd, hi, lo, ..] => (u32::from(u16::from_be_bytes([hi, lo])), 26),
        [0xce, x0, x1, x2, x3, ..] => (u32::from_be_bytes([x0, x1, x2, x3]), 28),
        _ => return None,
    };
    // No metadata, and the name as a fixstr of 1 to 31 ASCII bytes; then at least the
    // port's key, a `cd` port and the tail (26 bytes).
    let len = match s.get(p + 11) {
        Some(&h @ 0xa1..=0xbf) => usize::from(h & 0x1f),
        _ => return None,
    };
    if le64(s, p) != const_word(META_NAME, 0, 8) || le32(s, p + 7) != const_word(META_NAME, 7, 4) {
        return None;
    }
    p += 12;
    if s.len() < p + len + 26 {
        return None;
    }
    let name = s.get(p..p + len)?;
    if !short_ascii(name) {
        return None;
    }
    p += len;
    // The port as a positive fixint, `cc` or `cd` (zero is the caller's to refuse).
    if le64(s, p) & 0xff_ffff_ffff != const_word(PORT, 0, 5) {
        return None;
    }
    let (port, width) = match *s.get(p + 5..)? {
        [0xcd, hi, lo, ..] => (u16::from_be_bytes([hi, lo]), 8),
        [0xcc, x, ..] => (u16::from(x), 7),
        [x @ 0..=0x7f, ..] => (u16::from(x), 6),
        _ => return None,
    };
    p += width;
    // Alive, and six version bytes.
    if le64(s, p) != const_word(STATE_VSN, 0, 8) || le32(s, p + 8) != const_word(STATE_VSN, 8, 4) {
        return None;
    }
    let vsn = le64(s, p + 10) >> 16;
    *pos += p + 18;
    Some(ScannedEntry {
        name,
        addr: ip.to_le_bytes(),
        port,
        incarnation,
        vsn,
    })
}

/// Walks a push/pull body (the bytes after the `06` type byte) that must hold `nodes`
/// entries and must not be part of a join, handing each entry to `each`, which returns
/// `None` to stop the walk, `Some(true)` for the entry to decode and return as
/// [`ScannedPushPull::me`] (the last such), `Some(false)` for the others.
///
/// Returns `None` — and the caller should decode the message in full — when the header
/// does not decode within `limits`, declares another count or a join, when an entry is in
/// another form or malformed, when `each` stops, when the user state is cut short, or when
/// the message (type byte included) reaches `limits.max_stream_message`. When it returns
/// `Some`, `PushPull::decode_body` on the same bytes gives a message with that join flag
/// and user state, whose entries are those handed to `each`, in order, each alive with
/// empty metadata (and a shorter length than the limit, as
/// `StreamDecoder::decode_complete` requires to take it).
pub(crate) fn scan_push_pull(
    body: &[u8],
    limits: &Limits,
    nodes: usize,
    mut each: impl FnMut(&ScannedEntry<'_>) -> Option<bool>,
) -> Option<ScannedPushPull> {
    let mut r = Reader::new(body);
    let header = PushPullHeader::decode(&mut r, limits).ok()?;
    if header.join || header.nodes as usize != nodes {
        return None;
    }
    let mut me_at = None;
    let mut pos = r.position();
    for _ in 0..nodes {
        let start = pos;
        let e = entry(body, &mut pos)?;
        if each(&e)? {
            me_at = Some(start);
        }
    }
    let len = header.user_state_len as usize;
    let user_state = body.get(pos..pos.checked_add(len)?)?;
    if pos + len >= limits.max_stream_message {
        return None;
    }
    let me = match me_at {
        Some(at) => Some(PushNodeState::decode(&mut Reader::new(body.get(at..)?)).ok()?),
        None => None,
    };
    Some(ScannedPushPull {
        me,
        user_state: Bytes::copy_from_slice(user_state),
    })
}

#[cfg(test)]
#[path = "view_scan_tests.rs"]
mod tests;
