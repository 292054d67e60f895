//! The Go-compatible wire format.
//!
//! Every message is a type byte followed by a msgpack body written exactly as Go's
//! go-msgpack writes it (sorted keys, raw strings, nil for empty byte slices). Around messages
//! sit the framing layers: compound (several messages in one packet), compression, CRC-32,
//! encryption and the label header. [`Pipeline`] applies them in Go's order for packets
//! ([`Pipeline::encode_packet`], [`Pipeline::decode_packet`]) and streams
//! ([`Pipeline::encode_stream`], [`StreamDecoder`]).
//!
//! ```
//! use memberlist_core::wire::{Message, Ping, Pipeline, WireMessage};
//!
//! let ping = Ping { seq_no: 1, node: "node-b".into(), ..Default::default() };
//! let mut packet = Vec::new();
//! Pipeline::new().encode_packet(&ping.to_bytes(), false, &mut packet).unwrap();
//! assert_eq!(hex::encode(&packet), "0082a44e6f6465a66e6f64652d62a55365714e6f01");
//! ```

mod compound;
mod crc;
mod error;
mod field;
mod frames;
mod go_struct;
mod gossip;
mod ip;
mod label;
mod limits;
mod message;
mod msgpack;
mod node;
mod pipeline;
mod probe;
mod push_pull;
mod push_pull_fast;
mod stream;
mod view_scan;
mod words;

pub use compound::{
    CompoundParts, MAX_COMPOUND_PARTS, MAX_PART_LEN, decode_compound, encode_compound,
    encode_compounds,
};
pub use crc::{CRC_HEADER_LEN, strip_crc, write_crc_wrapped};
pub use error::{DecodeError, WireError};
pub use frames::{Compress, ErrorResponse, UserMsgHeader, encode_stream_user_message};
pub use gossip::{Alive, Dead, Suspect};
pub use ip::{IP_BYTES_MAX, IpBytes};
pub use label::{LABEL_MAX_SIZE, Label, LabelError};
pub(crate) use limits::label_enum;
pub use limits::{DEFAULT_MAX_DATAGRAM_SIZE, Limit, Limits};
pub use message::{Message, MessageType, WireMessage};
pub use node::{
    NodeState, PROTOCOL_VERSION_DEFAULT, PROTOCOL_VERSION_MAX, PROTOCOL_VERSION_MIN, Vsn,
};
pub use pipeline::{DecodedPacket, Pipeline};
pub use probe::{Ack, IndirectPing, Nack, Ping};
pub use push_pull::{PushNodeState, PushNodeStateRef, PushPull, PushPullHeader, encode_push_pull};
pub(crate) use push_pull::{encode_push_pull_entries, encode_push_pull_header};
pub(crate) use push_pull_fast::write_states;
pub use stream::{StreamDecoder, StreamMessage, StreamRole};
pub(crate) use view_scan::{ScannedPushPull, match_push_pull, scan_push_pull};
pub(crate) use words::{load4, load8};
