//! Push/pull state exchange (`pushPullMsg`, type 6): a header, the sender's node states and the
//! delegate's user state.

use bytes::Bytes;
use smol_str::SmolStr;

use super::error::DecodeError;
use super::ip::IpBytes;
use super::limits::Limits;
use super::message::MessageType;
use super::msgpack::{
    Reader, int_size, nil_or_bytes_size, str_size, uint_size, write_bool, write_int, write_map_len,
    write_nil_or_bytes, write_str, write_uint,
};
use super::node::{NodeState, Vsn};
use super::probe::{read_byte_field, read_ip, read_name};

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
                        checked_count(r.read_i64()?, "push/pull node count", limits.max_push_nodes)?
                }
                b"UserStateLen" => {
                    h.user_state_len = checked_count(
                        r.read_i64()?,
                        "push/pull user state length",
                        limits.max_user_state,
                    )?
                }
                b"Join" => h.join = r.read_bool()?,
                _ => r.skip()?,
            }
        }
        Ok(h)
    }
}

/// Checks a Go `int` count: not negative and at most `limit`.
pub(crate) fn checked_count(v: i64, what: &'static str, limit: u32) -> Result<u32, DecodeError> {
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
    /// Appends the msgpack map.
    pub fn encode(&self, out: &mut Vec<u8>) {
        write_map_len(out, 7);
        out.extend_from_slice(b"\xa4Addr");
        write_nil_or_bytes(out, self.addr.as_bytes());
        out.extend_from_slice(b"\xabIncarnation");
        write_uint(out, u64::from(self.incarnation));
        out.extend_from_slice(b"\xa4Meta");
        write_nil_or_bytes(out, &self.meta);
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

    /// Decodes one state. A state without a name is refused: Go never sends one, and
    /// refusing it keeps the memory a push/pull can claim proportional to real entries.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
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
