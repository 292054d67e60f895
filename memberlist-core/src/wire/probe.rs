//! Failure-detector messages: `ping`, `indirectPingReq`, `ackResp`, `nackResp`.

use bytes::Bytes;
use smol_str::SmolStr;

use super::error::DecodeError;
use super::ip::IpBytes;
use super::message::{MessageType, WireMessage};
use super::msgpack::{
    Reader, nil_or_bytes_size, str_size, uint_size, write_bool, write_map_len, write_nil_or_bytes,
    write_str, write_uint,
};

pub(crate) fn read_name(r: &mut Reader<'_>, field: &'static str) -> Result<SmolStr, DecodeError> {
    let s = r.read_str(field)?;
    Ok(if s.len() <= 23 {
        SmolStr::new_inline(s)
    } else {
        SmolStr::new(s)
    })
}

pub(crate) fn read_byte_field(r: &mut Reader<'_>) -> Result<Bytes, DecodeError> {
    Ok(Bytes::copy_from_slice(&r.read_bytes()?))
}

pub(crate) fn read_ip(r: &mut Reader<'_>) -> Result<IpBytes, DecodeError> {
    IpBytes::new(&r.read_bytes()?)
}

/// The optional `SourceAddr`/`SourceNode`/`SourcePort` fields shared by ping and indirect
/// ping; each is left out when empty, and they sort last among those structs' keys except
/// `Target`.
struct Source<'a> {
    addr: &'a IpBytes,
    node: &'a SmolStr,
    port: u16,
}

impl Source<'_> {
    fn fields(&self) -> usize {
        usize::from(!self.addr.is_empty())
            + usize::from(!self.node.is_empty())
            + usize::from(self.port != 0)
    }

    fn encode(&self, out: &mut Vec<u8>) {
        if !self.addr.is_empty() {
            out.extend_from_slice(b"\xaaSourceAddr");
            write_str(out, self.addr.as_bytes());
        }
        if !self.node.is_empty() {
            out.extend_from_slice(b"\xaaSourceNode");
            write_str(out, self.node.as_bytes());
        }
        if self.port != 0 {
            out.extend_from_slice(b"\xaaSourcePort");
            write_uint(out, u64::from(self.port));
        }
    }

    fn len(&self) -> usize {
        let mut n = 0;
        if !self.addr.is_empty() {
            n += 11 + str_size(self.addr.len());
        }
        if !self.node.is_empty() {
            n += 11 + str_size(self.node.len());
        }
        if self.port != 0 {
            n += 11 + uint_size(u64::from(self.port));
        }
        n
    }
}

/// A probe (`ping`, type 0).
///
/// `node` names the intended target; a receiver whose name differs ignores the ping. The
/// `source_*` fields tell the target where to answer (Go omits them when empty).
///
/// ```
/// use memberlist_core::wire::{Ping, WireMessage};
/// let ping = Ping { seq_no: 1, node: "node-b".into(), ..Default::default() };
/// assert_eq!(ping.encoded_len(), 21);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ping {
    /// Sequence number echoed in the ack.
    pub seq_no: u32,
    /// Name of the intended target ("" = no check).
    pub node: SmolStr,
    /// Sender's IP as raw 4 or 16 bytes (omitted when empty).
    pub source_addr: IpBytes,
    /// Sender's port (omitted when 0).
    pub source_port: u16,
    /// Sender's name (omitted when empty).
    pub source_node: SmolStr,
}

impl Ping {
    fn source(&self) -> Source<'_> {
        Source {
            addr: &self.source_addr,
            node: &self.source_node,
            port: self.source_port,
        }
    }
}

impl WireMessage for Ping {
    const TYPE: MessageType = MessageType::Ping;

    fn encode_body(&self, out: &mut Vec<u8>) {
        let n = 2 + self.source().fields();
        write_map_len(out, n);
        out.extend_from_slice(b"\xa4Node");
        write_str(out, self.node.as_bytes());
        out.extend_from_slice(b"\xa5SeqNo");
        write_uint(out, u64::from(self.seq_no));
        self.source().encode(out);
    }

    fn body_len(&self) -> usize {
        let n = 1 + 5 + str_size(self.node.len()) + 6 + uint_size(u64::from(self.seq_no));
        n + self.source().len()
    }

    fn decode_body(buf: &[u8]) -> Result<(Self, usize), DecodeError> {
        let mut r = Reader::new(buf);
        let mut m = Self::default();
        for _ in 0..r.read_map_len()? {
            match r.read_raw()? {
                b"SeqNo" => m.seq_no = r.read_uint()?,
                b"Node" => m.node = read_name(&mut r, "Node")?,
                b"SourceAddr" => m.source_addr = read_ip(&mut r)?,
                b"SourcePort" => m.source_port = r.read_uint()?,
                b"SourceNode" => m.source_node = read_name(&mut r, "SourceNode")?,
                _ => r.skip()?,
            }
        }
        Ok((m, r.position()))
    }
}

/// A request to probe `node` on the sender's behalf (`indirectPingReq`, type 1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndirectPing {
    /// The requester's sequence number, echoed in the forwarded ack or nack.
    pub seq_no: u32,
    /// Target IP as raw bytes.
    pub target: IpBytes,
    /// Target port.
    pub port: u16,
    /// Target name.
    pub node: SmolStr,
    /// Whether the relay should send a nack if the target does not answer.
    pub nack: bool,
    /// Requester's IP (omitted when empty).
    pub source_addr: IpBytes,
    /// Requester's port (omitted when 0).
    pub source_port: u16,
    /// Requester's name (omitted when empty).
    pub source_node: SmolStr,
}

impl IndirectPing {
    fn source(&self) -> Source<'_> {
        Source {
            addr: &self.source_addr,
            node: &self.source_node,
            port: self.source_port,
        }
    }
}

impl WireMessage for IndirectPing {
    const TYPE: MessageType = MessageType::IndirectPing;

    fn encode_body(&self, out: &mut Vec<u8>) {
        let n = 5 + self.source().fields();
        write_map_len(out, n);
        out.extend_from_slice(b"\xa4Nack");
        write_bool(out, self.nack);
        out.extend_from_slice(b"\xa4Node");
        write_str(out, self.node.as_bytes());
        out.extend_from_slice(b"\xa4Port");
        write_uint(out, u64::from(self.port));
        out.extend_from_slice(b"\xa5SeqNo");
        write_uint(out, u64::from(self.seq_no));
        self.source().encode(out);
        out.extend_from_slice(b"\xa6Target");
        write_nil_or_bytes(out, self.target.as_bytes());
    }

    fn body_len(&self) -> usize {
        let n = 1
            + 6
            + 5
            + str_size(self.node.len())
            + 5
            + uint_size(u64::from(self.port))
            + 6
            + uint_size(u64::from(self.seq_no))
            + 7
            + nil_or_bytes_size(self.target.len());
        n + self.source().len()
    }

    fn decode_body(buf: &[u8]) -> Result<(Self, usize), DecodeError> {
        let mut r = Reader::new(buf);
        let mut m = Self::default();
        for _ in 0..r.read_map_len()? {
            match r.read_raw()? {
                b"SeqNo" => m.seq_no = r.read_uint()?,
                b"Target" => m.target = read_ip(&mut r)?,
                b"Port" => m.port = r.read_uint()?,
                b"Node" => m.node = read_name(&mut r, "Node")?,
                b"Nack" => m.nack = r.read_bool()?,
                b"SourceAddr" => m.source_addr = read_ip(&mut r)?,
                b"SourcePort" => m.source_port = r.read_uint()?,
                b"SourceNode" => m.source_node = read_name(&mut r, "SourceNode")?,
                _ => r.skip()?,
            }
        }
        Ok((m, r.position()))
    }
}

/// A probe answer (`ackResp`, type 2). An empty payload is written as msgpack nil, as Go writes
/// a nil `[]byte`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ack {
    /// The sequence number of the ping being answered.
    pub seq_no: u32,
    /// Optional payload from the `PingDelegate`.
    pub payload: Bytes,
}

impl WireMessage for Ack {
    const TYPE: MessageType = MessageType::Ack;

    fn encode_body(&self, out: &mut Vec<u8>) {
        write_map_len(out, 2);
        out.extend_from_slice(b"\xa7Payload");
        write_nil_or_bytes(out, &self.payload);
        out.extend_from_slice(b"\xa5SeqNo");
        write_uint(out, u64::from(self.seq_no));
    }

    fn body_len(&self) -> usize {
        1 + 8 + nil_or_bytes_size(self.payload.len()) + 6 + uint_size(u64::from(self.seq_no))
    }

    fn decode_body(buf: &[u8]) -> Result<(Self, usize), DecodeError> {
        let mut r = Reader::new(buf);
        let mut m = Self::default();
        for _ in 0..r.read_map_len()? {
            match r.read_raw()? {
                b"SeqNo" => m.seq_no = r.read_uint()?,
                b"Payload" => m.payload = read_byte_field(&mut r)?,
                _ => r.skip()?,
            }
        }
        Ok((m, r.position()))
    }
}

/// A relay's report that the target of an indirect probe did not answer (`nackResp`, type 11).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Nack {
    /// The requester's sequence number.
    pub seq_no: u32,
}

impl WireMessage for Nack {
    const TYPE: MessageType = MessageType::Nack;

    fn encode_body(&self, out: &mut Vec<u8>) {
        write_map_len(out, 1);
        out.extend_from_slice(b"\xa5SeqNo");
        write_uint(out, u64::from(self.seq_no));
    }

    fn body_len(&self) -> usize {
        1 + 6 + uint_size(u64::from(self.seq_no))
    }

    fn decode_body(buf: &[u8]) -> Result<(Self, usize), DecodeError> {
        let mut r = Reader::new(buf);
        let mut m = Self::default();
        for _ in 0..r.read_map_len()? {
            match r.read_raw()? {
                b"SeqNo" => m.seq_no = r.read_uint()?,
                _ => r.skip()?,
            }
        }
        Ok((m, r.position()))
    }
}
