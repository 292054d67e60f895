//! Push/pull state exchange (`pushPullMsg`, type 6): a header, the sender's node states and the
//! delegate's user state.

use bytes::Bytes;
use smol_str::SmolStr;

use super::error::DecodeError;
use super::ip::IpBytes;
use super::limits::{Limit, Limits};
use super::message::MessageType;
use super::msgpack::{
    Reader, int_size, nil_or_bytes_size, str_size, uint_size, write_bool, write_int, write_map_len,
    write_nil_or_bytes, write_str, write_uint,
};
use super::node::{NodeState, Vsn};
use super::probe::{read_byte_field, read_ip, read_name};
use super::push_pull_write::write_states;

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

impl PushPullHeader {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        write_map_len(out, 3);
        out.extend_from_slice(b"\xa4Join");
        write_bool(out, self.join);
        out.extend_from_slice(b"\xa5Nodes");
        write_int(out, i64::from(self.nodes));
        out.extend_from_slice(b"\xacUserStateLen");
        write_int(out, i64::from(self.user_state_len));
    }

    pub(crate) fn encoded_len(&self) -> usize {
        1 + 6 + 6 + int_size(i64::from(self.nodes)) + 13 + int_size(i64::from(self.user_state_len))
    }

    /// Decodes and checks the declared counts against `limits`.
    pub(crate) fn decode(r: &mut Reader<'_>, limits: &Limits) -> Result<Self, DecodeError> {
        let mut h = Self::default();
        for _ in 0..r.read_map_len()? {
            match r.read_raw()? {
                b"Nodes" => {
                    h.nodes =
                        checked_count(r.read_i64()?, Limit::PushPullNodes, limits.max_push_nodes)?
                }
                b"UserStateLen" => {
                    h.user_state_len =
                        checked_count(r.read_i64()?, Limit::UserState, limits.max_user_state)?
                }
                b"Join" => h.join = r.read_bool()?,
                _ => r.skip()?,
            }
        }
        Ok(h)
    }
}

/// Checks a Go `int` count: not negative and at most `limit`.
pub(crate) fn checked_count(v: i64, what: Limit, limit: u32) -> Result<u32, DecodeError> {
    let v = u64::try_from(v).map_err(|_| DecodeError::NegativeInteger)?;
    if v > u64::from(limit) {
        return Err(DecodeError::LimitExceeded {
            what,
            value: v,
            limit: u64::from(limit),
        });
    }
    Ok(v as u32)
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

    /// Decodes one state. A state without a name is refused: Go never sends one, and
    /// refusing it keeps the memory a push/pull can claim proportional to real entries.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let start = r.clone();
        if let Some(m) = Self::decode_canonical(r) {
            return Ok(m);
        }
        *r = start;
        Self::decode_any_order(r)
    }

    /// The layout Go and we write: a map of the seven fields with the keys in sorted order.
    /// The same reads as [`decode_any_order`](Self::decode_any_order) makes for it, minus
    /// the key dispatch. Anything else (another order, more or fewer keys, any error) gives
    /// `None`, and the general decoder reads the state again and decides.
    #[inline]
    fn decode_canonical(r: &mut Reader<'_>) -> Option<Self> {
        // The usual values (an IPv4 address, no metadata, a short name, a small state, six
        // version bytes) are matched with their keys in one step each; any other form of a
        // value is read by the general readers, with the same result.
        let addr = match r.eat_then::<4>(b"\x87\xa4Addr\xa4") {
            Some(ip) => IpBytes::from(ip),
            None if r.eat(b"\x87\xa4Addr") => read_ip(r).ok()?,
            None => return None,
        };
        let incarnation = if r.eat(b"\xabIncarnation") {
            r.read_uint().ok()?
        } else {
            return None;
        };
        let meta = if r.eat(b"\xa4Meta\xc0") {
            Bytes::new()
        } else if r.eat(b"\xa4Meta") {
            read_byte_field(r).ok()?
        } else {
            return None;
        };
        let name = if r.eat(b"\xa4Name") {
            match r.rest().first() {
                // A fixstr of 1 to 23 bytes: SmolStr keeps it inline.
                Some(0xa1..=0xb7) => SmolStr::new_inline(r.read_str("Name").ok()?),
                _ => read_name(r, "Name").ok()?,
            }
        } else {
            return None;
        };
        let port = match r.eat_then::<2>(b"\xa4Port\xcd") {
            Some(p) => u16::from_be_bytes(p),
            None if r.eat(b"\xa4Port") => r.read_uint().ok()?,
            None => return None,
        };
        let state = match r.eat_then::<1>(b"\xa5State") {
            Some([s @ 0..=0x7f]) => NodeState::from_i64(i64::from(s)),
            // Any other form of the state (Go writes a positive fixint) is left to the
            // general decoder.
            _ => return None,
        };
        let vsn = match r.eat_then::<6>(b"\xa3Vsn\xa6") {
            Some([a, b, c, d, e, f]) => Vsn::new(a, b, c, d, e, f),
            None if r.eat(b"\xa3Vsn") => Vsn::from_slice(&r.read_bytes().ok()?),
            None => return None,
        };
        if name.is_empty() {
            return None;
        }
        Some(Self {
            name,
            addr,
            port,
            meta,
            incarnation,
            state,
            vsn,
        })
    }

    /// Any key order, unknown keys skipped.
    fn decode_any_order(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut m = Self::default();
        for _ in 0..r.read_map_len()? {
            match r.read_raw()? {
                b"Name" => m.name = read_name(r, "Name")?,
                b"Addr" => m.addr = read_ip(r)?,
                b"Port" => m.port = r.read_uint()?,
                b"Meta" => m.meta = read_byte_field(r)?,
                b"Incarnation" => m.incarnation = r.read_uint()?,
                b"State" => m.state = NodeState::from_i64(r.read_i64()?),
                b"Vsn" => m.vsn = Vsn::from_slice(&r.read_bytes()?),
                _ => r.skip()?,
            }
        }
        if m.name.is_empty() {
            return Err(DecodeError::MissingField("Name"));
        }
        Ok(m)
    }
}

/// One node's state borrowed from wherever it is kept (a membership table), so that our
/// own push/pull can be written without first copying every entry into a
/// [`PushNodeState`]. Encodes to exactly the same bytes.
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
        if !self.encode_small(out) {
            self.encode_general(out);
        }
    }

    /// The usual entry — an IPv4 address, a small state, six version bytes, no metadata,
    /// a name of fewer than 32 bytes — written as a few fixed-size pieces (keys and values
    /// together) instead of field by field: the bytes [`encode_general`](Self::encode_general)
    /// writes. Returns false, having written nothing, for any other entry.
    #[inline]
    fn encode_small(&self, out: &mut Vec<u8>) -> bool {
        let (Ok([a0, a1, a2, a3]), Ok([v0, v1, v2, v3, v4, v5])) = (
            <[u8; 4]>::try_from(self.addr.as_bytes()),
            <[u8; 6]>::try_from(self.vsn.as_bytes()),
        ) else {
            return false;
        };
        let state = match self.state.as_i64() {
            s @ 0..=0x7f => s as u8,
            _ => return false,
        };
        if !self.meta.is_empty() || self.name.len() >= 32 {
            return false;
        }
        out.extend_from_slice(&[
            0x87, 0xa4, b'A', b'd', b'd', b'r', 0xa4, a0, a1, a2, a3, 0xab, b'I', b'n', b'c', b'a',
            b'r', b'n', b'a', b't', b'i', b'o', b'n',
        ]);
        match self.incarnation {
            i @ 0..=0x7f => out.push(i as u8),
            i => write_uint(out, u64::from(i)),
        }
        out.extend_from_slice(b"\xa4Meta\xc0\xa4Name");
        out.push(0xa0 | self.name.len() as u8);
        out.extend_from_slice(self.name.as_bytes());
        match self.port {
            p @ 0x100.. => {
                let [hi, lo] = p.to_be_bytes();
                out.extend_from_slice(&[0xa4, b'P', b'o', b'r', b't', 0xcd, hi, lo]);
            }
            p => {
                out.extend_from_slice(b"\xa4Port");
                write_uint(out, u64::from(p));
            }
        }
        out.extend_from_slice(&[
            0xa5, b'S', b't', b'a', b't', b'e', state, 0xa3, b'V', b's', b'n', 0xa6, v0, v1, v2,
            v3, v4, v5,
        ]);
        true
    }

    /// Any entry, field by field.
    fn encode_general(&self, out: &mut Vec<u8>) {
        write_map_len(out, 7);
        out.extend_from_slice(b"\xa4Addr");
        write_nil_or_bytes(out, self.addr.as_bytes());
        out.extend_from_slice(b"\xabIncarnation");
        write_uint(out, u64::from(self.incarnation));
        out.extend_from_slice(b"\xa4Meta");
        write_nil_or_bytes(out, self.meta);
        out.extend_from_slice(b"\xa4Name");
        write_str(out, self.name.as_bytes());
        out.extend_from_slice(b"\xa4Port");
        write_uint(out, u64::from(self.port));
        out.extend_from_slice(b"\xa5State");
        write_int(out, self.state.as_i64());
        out.extend_from_slice(b"\xa3Vsn");
        write_nil_or_bytes(out, self.vsn.as_bytes());
    }

    /// The exact length [`encode`](Self::encode) writes.
    pub fn encoded_len(&self) -> usize {
        1 + 5
            + nil_or_bytes_size(self.addr.len())
            + 12
            + uint_size(u64::from(self.incarnation))
            + 5
            + nil_or_bytes_size(self.meta.len())
            + 5
            + str_size(self.name.len())
            + 5
            + uint_size(u64::from(self.port))
            + 6
            + int_size(self.state.as_i64())
            + 4
            + nil_or_bytes_size(self.vsn.len())
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
    let header = PushPullHeader {
        nodes: u32::try_from(states.len()).unwrap_or(u32::MAX),
        user_state_len: u32::try_from(user_state.len()).unwrap_or(u32::MAX),
        join,
    };
    let mut states = states.peekable();
    // Entries of one table are nearly the same size: the first one sizes the buffer.
    let per_entry = states.peek().map_or(0, |s| s.encoded_len() + 4);
    out.reserve(1 + header.encoded_len() + per_entry * header.nodes as usize + user_state.len());
    out.push(MessageType::PushPull.byte());
    header.encode(out);
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
    header.encode(out);
}

/// Appends a whole push/pull message whose `nodes` entries are already encoded, end to
/// end, in `entries` (as [`PushNodeStateRef::encode`] writes each): the bytes
/// [`encode_push_pull`] writes for the same states in the same order.
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
        out.reserve(self.encoded_len());
        out.push(MessageType::PushPull.byte());
        self.header().encode(out);
        for s in &self.states {
            s.encode(out);
        }
        out.extend_from_slice(&self.user_state);
    }

    /// The exact encoded length, type byte included.
    pub fn encoded_len(&self) -> usize {
        1 + self.header().encoded_len()
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
        let header = PushPullHeader::decode(&mut r, limits)?;
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
