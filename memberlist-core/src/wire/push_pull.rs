//! Push/pull state exchange (`pushPullMsg`, type 6): a header, the sender's node states and the
//! delegate's user state.

use bytes::Bytes;
use smol_str::SmolStr;

use super::error::DecodeError;
use super::field::{Bool, Count, Int, NilBytes, Str, Uint};
use super::go_struct::{GoRead, GoWrite, go_struct};
use super::ip::IpBytes;
use super::limits::{Limit, Limits};
use super::message::MessageType;
use super::msgpack::Reader;
use super::node::{NodeState, Vsn};
use super::push_pull_fast::{read_usual, write_states};

/// The push/pull header (`pushPullHeader`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushPullHeader {
    /// Number of node states that follow.
    pub nodes: u32,
    /// Number of raw user-state bytes after the node states.
    pub user_state_len: u32,
    /// Whether this exchange is part of a join.
    pub join: bool,
}

go_struct! {
    struct PushPullHeader {
        "Join" => join: Bool;
        "Nodes" => nodes: Count(Limit::PushPullNodes);
        "UserStateLen" => user_state_len: Count(Limit::UserState);
    }
}

/// One node's state in a push/pull (`pushNodeState`). Note the key is `Name`, not `Node`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushNodeState {
    /// Node name.
    pub name: SmolStr,
    /// IP as raw bytes.
    pub addr: IpBytes,
    /// Port.
    pub port: u16,
    /// Metadata (empty is written as nil).
    pub meta: Bytes,
    /// Incarnation.
    pub incarnation: u32,
    /// State.
    pub state: NodeState,
    /// Versions.
    pub vsn: Vsn,
}

impl PushNodeState {
    /// The same state, borrowed.
    pub fn as_ref(&self) -> PushNodeStateRef<'_> {
        PushNodeStateRef {
            name: &self.name,
            addr: self.addr,
            port: self.port,
            meta: &self.meta,
            incarnation: self.incarnation,
            state: self.state,
            vsn: self.vsn,
        }
    }

    /// Appends the msgpack map.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.as_ref().encode(out);
    }

    /// The exact length [`encode`](Self::encode) writes.
    pub fn encoded_len(&self) -> usize {
        self.as_ref().encoded_len()
    }

    /// Decodes one state: the usual form by the fast reader, any other by the table. A
    /// state without a name is refused (Go never sends one), which keeps the memory a
    /// push/pull can claim proportional to real entries.
    #[inline]
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match read_usual(r.rest()) {
            Some((state, len)) => {
                r.advance(len);
                Ok(state)
            }
            None => Self::read_map(r, &Limits::default()),
        }
    }
}

go_struct! {
    struct PushNodeState, PushNodeStateRef<'_> {
        "Addr" => addr: NilBytes;
        "Incarnation" => incarnation: Uint;
        "Meta" => meta: NilBytes;
        "Name" => name: Str, required;
        "Port" => port: Uint;
        "State" => state: Int;
        "Vsn" => vsn: NilBytes;
    }
}

/// A [`PushNodeState`] borrowed from where it is kept (a membership table); encodes to the
/// same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushNodeStateRef<'a> {
    /// Node name.
    pub name: &'a str,
    /// IP as raw bytes.
    pub addr: IpBytes,
    /// Port.
    pub port: u16,
    /// Metadata (empty is written as nil).
    pub meta: &'a [u8],
    /// Incarnation.
    pub incarnation: u32,
    /// State.
    pub state: NodeState,
    /// Versions.
    pub vsn: Vsn,
}

impl PushNodeStateRef<'_> {
    /// An owned copy of the entry.
    ///
    /// ```
    /// use memberlist_core::wire::{IpBytes, NodeState, PushNodeStateRef, Vsn};
    ///
    /// let entry = PushNodeStateRef {
    ///     name: "a",
    ///     addr: IpBytes::from([127, 0, 0, 1]),
    ///     port: 7946,
    ///     meta: b"",
    ///     incarnation: 1,
    ///     state: NodeState::Alive,
    ///     vsn: Vsn::default_advertised(),
    /// };
    /// assert_eq!(entry.to_owned_state().as_ref(), entry);
    /// ```
    pub fn to_owned_state(&self) -> PushNodeState {
        PushNodeState {
            name: self.name.into(),
            addr: self.addr,
            port: self.port,
            meta: Bytes::copy_from_slice(self.meta),
            incarnation: self.incarnation,
            state: self.state,
            vsn: self.vsn,
        }
    }

    /// Appends the msgpack map: keys in Go's (sorted) order.
    #[inline]
    pub fn encode(&self, out: &mut Vec<u8>) {
        write_states(std::iter::once(*self), out);
    }

    /// The exact length [`encode`](Self::encode) writes.
    pub fn encoded_len(&self) -> usize {
        self.map_size()
    }
}

/// Appends a whole push/pull message (type byte, header, states, user state) from borrowed
/// states: the bytes [`PushPull::encode`] writes for the same content. The iterator's length
/// is the header's node count.
///
/// ```
/// use memberlist_core::wire::{PushNodeState, PushPull, encode_push_pull};
/// let pp = PushPull { join: false, states: vec![PushNodeState { name: "a".into(), ..Default::default() }], user_state: "u".into() };
/// let mut out = Vec::new();
/// encode_push_pull(false, pp.states.iter().map(PushNodeState::as_ref), b"u", &mut out);
/// assert_eq!(out, pp.to_bytes());
/// ```
pub fn encode_push_pull<'a>(
    join: bool,
    states: impl ExactSizeIterator<Item = PushNodeStateRef<'a>>,
    user_state: &[u8],
    out: &mut Vec<u8>,
) {
    let nodes = u32::try_from(states.len()).unwrap_or(u32::MAX);
    let mut states = states.peekable();
    // Entries of one table are nearly the same size: the first one sizes the buffer.
    let per_entry = states.peek().map_or(0, |s| s.encoded_len() + 4);
    out.reserve(40 + per_entry * nodes as usize + user_state.len());
    let user_state_len = u32::try_from(user_state.len()).unwrap_or(u32::MAX);
    encode_push_pull_header(join, nodes, user_state_len, out);
    write_states(states, out);
    out.extend_from_slice(user_state);
}

/// Appends the start of a push/pull message: the type byte and the header.
pub(crate) fn encode_push_pull_header(
    join: bool,
    nodes: u32,
    user_state_len: u32,
    out: &mut Vec<u8>,
) {
    let header = PushPullHeader {
        nodes,
        user_state_len,
        join,
    };
    out.push(MessageType::PushPull.byte());
    header.write_map(out);
}

/// [`encode_push_pull`] for `nodes` entries already encoded end to end in `entries`.
pub(crate) fn encode_push_pull_entries(
    join: bool,
    nodes: u32,
    entries: &[u8],
    user_state: &[u8],
    out: &mut Vec<u8>,
) {
    out.reserve(32 + entries.len() + user_state.len());
    let user_state_len = u32::try_from(user_state.len()).unwrap_or(u32::MAX);
    encode_push_pull_header(join, nodes, user_state_len, out);
    out.extend_from_slice(entries);
    out.extend_from_slice(user_state);
}

/// A complete push/pull message: header, node states and user state.
///
/// ```
/// use memberlist_core::wire::{Limits, PushPull};
/// let pp = PushPull { join: true, states: vec![], user_state: "hi".into() };
/// let bytes = pp.to_bytes();
/// assert_eq!(bytes[0], 6);
/// assert_eq!(PushPull::decode(&bytes, &Limits::default()).unwrap(), pp);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushPull {
    /// Whether this exchange is part of a join.
    pub join: bool,
    /// The sender's view of every node.
    pub states: Vec<PushNodeState>,
    /// The delegate's opaque state.
    pub user_state: Bytes,
}

impl PushPull {
    fn header(&self) -> PushPullHeader {
        PushPullHeader {
            nodes: u32::try_from(self.states.len()).unwrap_or(u32::MAX),
            user_state_len: u32::try_from(self.user_state.len()).unwrap_or(u32::MAX),
            join: self.join,
        }
    }

    /// Appends the type byte, header, states and user state.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let states = self.states.iter().map(PushNodeState::as_ref);
        encode_push_pull(self.join, states, &self.user_state, out);
    }

    /// The exact encoded length, type byte included.
    pub fn encoded_len(&self) -> usize {
        1 + self.header().map_size()
            + self
                .states
                .iter()
                .map(PushNodeState::encoded_len)
                .sum::<usize>()
            + self.user_state.len()
    }

    /// Encodes into a new buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        Bytes::from(out)
    }

    /// Decodes a message that starts with the `06` type byte.
    pub fn decode(buf: &[u8], limits: &Limits) -> Result<Self, DecodeError> {
        match buf.split_first() {
            None => Err(DecodeError::Empty),
            Some((6, body)) => Self::decode_body(body, limits).map(|(m, _)| m),
            Some((&t, _)) => Err(DecodeError::UnsupportedMessageType(t)),
        }
    }

    /// Decodes the body after the type byte; returns the message and the bytes consumed.
    pub fn decode_body(buf: &[u8], limits: &Limits) -> Result<(Self, usize), DecodeError> {
        let mut r = Reader::new(buf);
        let header = PushPullHeader::read_map(&mut r, limits)?;
        // Each state takes at least one byte, so the input bounds the allocation.
        let cap = (header.nodes as usize).min(r.rest().len());
        let mut states = Vec::with_capacity(cap);
        for _ in 0..header.nodes {
            states.push(PushNodeState::decode(&mut r)?);
        }
        let rest = r.rest();
        let len = header.user_state_len as usize;
        let user_state = rest.get(..len).ok_or(DecodeError::UnexpectedEof)?;
        Ok((
            Self {
                join: header.join,
                states,
                user_state: Bytes::copy_from_slice(user_state),
            },
            r.position() + len,
        ))
    }
}

#[cfg(test)]
#[path = "push_pull_tests.rs"]
mod tests;
