//! A borrowed walk over a received push/pull, for comparing it with a view we hold instead
//! of decoding it (in a converged cluster nearly every push/pull carries exactly our view).
//! Only bytes equal to entries the caller itself would write are trusted, so nothing here
//! validates an entry's contents; on any mismatch the caller decodes the message in full.

use bytes::Bytes;

use super::go_struct::GoRead;
use super::limits::Limits;
use super::msgpack::{Reader, value_len};
use super::push_pull::{PushNodeState, PushPullHeader};
use super::push_pull_fast::usual_len;

/// What [`scan_push_pull`] returns besides the entries it handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScannedPushPull {
    /// The entry named as asked (the last one, should there be several), decoded.
    pub(crate) me: Option<PushNodeState>,
    /// The user state.
    pub(crate) user_state: Bytes,
}

/// The length of the entry at the start of `s`: that of the usual form when it has it
/// (the fast reader's test), otherwise found by skipping one msgpack value.
#[inline(always)]
fn entry_len(s: &[u8]) -> Option<usize> {
    usual_len(s).or_else(|| value_len(s).ok().flatten())
}

/// Walks a push/pull body (the bytes after the `06` type byte) that must hold `nodes`
/// entries and must not be part of a join, handing each entry's bytes to `each`, which
/// returns `None` to stop the walk, `Some(true)` for the entry to decode and return as
/// [`ScannedPushPull::me`] (the last such), `Some(false)` for the others.
///
/// Returns `None` (decode the message in full then) when the header does not decode within
/// `limits` or declares another count or a join, an entry's end cannot be found, `each`
/// stops, the user state is cut short, the message reaches `limits.max_stream_message`, or
/// the entry to return does not decode. When it returns `Some`, the entries handed to
/// `each` lie end to end between the header and the user state; if each is the encoding of
/// a node state ([`PushNodeStateRef::encode`](super::PushNodeStateRef::encode)), then
/// `PushPull::decode_body` gives exactly those states, this user state and no join, and the
/// message is shorter than the limit, as `StreamDecoder::open_complete` requires.
pub(crate) fn scan_push_pull(
    body: &[u8],
    limits: &Limits,
    nodes: usize,
    mut each: impl FnMut(&[u8]) -> Option<bool>,
) -> Option<ScannedPushPull> {
    let (mut pos, user_state_len) = entries_start(body, limits, nodes)?;
    let mut me_at = None;
    for _ in 0..nodes {
        let rest = body.get(pos..)?;
        let len = entry_len(rest)?;
        if each(rest.get(..len)?)? {
            me_at = Some(pos);
        }
        pos += len;
    }
    let user_state = user_state_at(body, pos, user_state_len, limits)?;
    let me = match me_at {
        Some(at) => Some(PushNodeState::decode(&mut Reader::new(body.get(at..)?)).ok()?),
        None => None,
    };
    Some(ScannedPushPull { me, user_state })
}

/// Like [`scan_push_pull`], but the entries must be, byte for byte and length, `entries`
/// (`nodes` encodings of node states end to end): returns the user state then.
pub(crate) fn match_push_pull(
    body: &[u8],
    limits: &Limits,
    nodes: usize,
    entries: &[u8],
) -> Option<Bytes> {
    let (start, user_state_len) = entries_start(body, limits, nodes)?;
    let end = start.checked_add(entries.len())?;
    if body.get(start..end)? != entries {
        return None;
    }
    user_state_at(body, end, user_state_len, limits)
}

/// Reads the header of a push/pull body that must declare `nodes` entries and no join:
/// where the entries start, and the user state's length.
fn entries_start(body: &[u8], limits: &Limits, nodes: usize) -> Option<(usize, usize)> {
    let mut r = Reader::new(body);
    let header = PushPullHeader::read_map(&mut r, limits).ok()?;
    if header.join || header.nodes as usize != nodes {
        return None;
    }
    Some((r.position(), header.user_state_len as usize))
}

/// The user state of `len` bytes at `pos`, unless it is cut short or the message (type
/// byte included) reaches `limits.max_stream_message`.
fn user_state_at(body: &[u8], pos: usize, len: usize, limits: &Limits) -> Option<Bytes> {
    let user_state = body.get(pos..pos.checked_add(len)?)?;
    if pos + len >= limits.max_stream_message {
        return None;
    }
    Some(Bytes::copy_from_slice(user_state))
}

#[cfg(test)]
#[path = "view_scan_tests.rs"]
mod tests;
