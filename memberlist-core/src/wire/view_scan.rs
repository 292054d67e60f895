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
    /// The six version bytes.
    pub(crate) vsn: [u8; 6],
}

/// What [`scan_push_pull`] returns besides the entries it handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScannedPushPull {
    /// The entry named as asked (the last one, should there be several), decoded.
    pub(crate) me: Option<PushNodeState>,
    /// The user state.
    pub(crate) user_state: Bytes,
}

/// Reads one entry in the usual form; `None` for any other form or malformed bytes.
#[inline(always)]
fn entry<'a>(r: &mut Reader<'a>) -> Option<ScannedEntry<'a>> {
    let addr = r.eat_then::<4>(b"\x87\xa4Addr\xa4")?;
    if !r.eat(b"\xabIncarnation") {
        return None;
    }
    let incarnation: u32 = r.read_uint().ok()?;
    if !r.eat(b"\xa4Meta\xc0\xa4Name") {
        return None;
    }
    // A fixstr of 1 to 31 bytes (an empty name is refused by the decoder).
    if !matches!(r.rest().first(), Some(0xa1..=0xbf)) {
        return None;
    }
    let name = r.read_raw().ok()?;
    if !name.is_ascii() {
        return None;
    }
    let port = match r.eat_then::<2>(b"\xa4Port\xcd") {
        Some(p) => u16::from_be_bytes(p),
        None if r.eat(b"\xa4Port") => r.read_uint().ok()?,
        None => return None,
    };
    if !r.eat(b"\xa5State\x00") {
        return None;
    }
    let vsn = r.eat_then::<6>(b"\xa3Vsn\xa6")?;
    Some(ScannedEntry {
        name,
        addr,
        port,
        incarnation,
        vsn,
    })
}

/// Walks a push/pull body (the bytes after the `06` type byte) that must hold `nodes`
/// entries and must not be part of a join, handing each entry to `each` (which may stop
/// the walk by returning false). `me` names the entry to decode and return.
///
/// Returns `None` — and the caller should decode the message in full — when the header
/// does not decode within `limits`, declares another count or a join, when an entry is in
/// another form or malformed, when `each` refuses one, when the user state is cut short,
/// or when the message (type byte included) reaches `limits.max_stream_message`. When it
/// returns `Some`, `PushPull::decode_body` on the same bytes gives a message with that
/// join flag and user state, whose entries are those handed to `each`, in order, each
/// alive with empty metadata (and a shorter length than the limit, as
/// `StreamDecoder::decode_complete` requires to take it).
pub(crate) fn scan_push_pull(
    body: &[u8],
    limits: &Limits,
    nodes: usize,
    me: &[u8],
    mut each: impl FnMut(&ScannedEntry<'_>) -> bool,
) -> Option<ScannedPushPull> {
    let mut r = Reader::new(body);
    let header = PushPullHeader::decode(&mut r, limits).ok()?;
    if header.join || header.nodes as usize != nodes {
        return None;
    }
    let mut me_at = None;
    for _ in 0..nodes {
        let start = r.position();
        let e = entry(&mut r)?;
        if !each(&e) {
            return None;
        }
        if e.name == me {
            me_at = Some(start);
        }
    }
    let len = header.user_state_len as usize;
    let user_state = r.rest().get(..len)?;
    if r.position() + len >= limits.max_stream_message {
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
