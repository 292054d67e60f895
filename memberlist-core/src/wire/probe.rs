//! Failure-detector messages: `ping`, `indirectPingReq`, `ackResp`, `nackResp`.

use bytes::Bytes;
use smol_str::SmolStr;

use super::field::{Bool, NilBytes, Raw, Str, Uint};
use super::go_struct::go_struct;
use super::ip::IpBytes;

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

go_struct! {
    message Ping = Ping {
        "Node" => node: Str;
        "SeqNo" => seq_no: Uint;
        "SourceAddr" => source_addr: Raw, omitempty;
        "SourceNode" => source_node: Str, omitempty;
        "SourcePort" => source_port: Uint, omitempty;
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

go_struct! {
    message IndirectPing = IndirectPing {
        "Nack" => nack: Bool;
        "Node" => node: Str;
        "Port" => port: Uint;
        "SeqNo" => seq_no: Uint;
        "SourceAddr" => source_addr: Raw, omitempty;
        "SourceNode" => source_node: Str, omitempty;
        "SourcePort" => source_port: Uint, omitempty;
        "Target" => target: NilBytes;
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

go_struct! {
    message Ack = Ack {
        "Payload" => payload: NilBytes;
        "SeqNo" => seq_no: Uint;
    }
}

/// A relay's report that the target of an indirect probe did not answer (`nackResp`, type 11).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Nack {
    /// The requester's sequence number.
    pub seq_no: u32,
}

go_struct! {
    message Nack = Nack {
        "SeqNo" => seq_no: Uint;
    }
}
