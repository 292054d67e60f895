//! Message sizes, measured with the real encoders of `memberlist_core::wire` for the
//! assumed name and metadata lengths.

use std::net::Ipv4Addr;

use bytes::Bytes;
use memberlist_core::wire::{
    Ack, Alive, IndirectPing, IpBytes, NodeState, Ping, PushNodeState, PushPull, Suspect, Vsn,
    WireMessage,
};

use crate::Assumptions;

/// A sequence number as a busy node sends them (above 65,535: msgpack's 5-byte form).
const TYPICAL_SEQ_NO: u32 = 1_000_000;
/// An incarnation as most nodes carry (a single msgpack byte).
const TYPICAL_INCARNATION: u32 = 1;
/// Encryption envelope of a packet: version byte, 12-byte nonce and 16-byte tag (Go's v1).
const ENCRYPTION_OVERHEAD: usize = 29;

/// Encoded sizes of the messages the figures count, in bytes, type byte included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct WireSizes {
    /// A ping carrying the target's name and our address and name.
    pub ping: usize,
    /// An ack without payload (a nack is smaller).
    pub ack: usize,
    /// An indirect ping request: the target's address and name and ours, asking for a nack.
    pub indirect_ping: usize,
    /// An alive message (the usual gossip: join, metadata update, refutation).
    pub alive: usize,
    /// A suspect (or dead, the same size) message.
    pub suspect: usize,
    /// The push/pull message without any member state (type byte and header).
    pub push_pull_header: usize,
    /// One member's state in a push/pull message.
    pub push_pull_per_member: usize,
    /// What each datagram carries besides its message: a label header (`2 + len`) and the
    /// encryption envelope (29), when assumed.
    pub datagram_overhead: usize,
}

impl WireSizes {
    /// Sizes for `a`'s name, metadata, label and encryption, with IPv4 addresses in their
    /// 4-byte form.
    pub fn measure(a: &Assumptions) -> Self {
        let name = "n".repeat(a.name_len);
        let other = "m".repeat(a.name_len);
        let meta = Bytes::from(vec![0u8; a.meta_len]);
        let addr = IpBytes::from(Ipv4Addr::new(10, 0, 0, 1));
        let ping = Ping {
            seq_no: TYPICAL_SEQ_NO,
            node: other.as_str().into(),
            source_addr: addr,
            source_port: 7946,
            source_node: name.as_str().into(),
        };
        let ack = Ack {
            seq_no: TYPICAL_SEQ_NO,
            payload: Bytes::new(),
        };
        let indirect = IndirectPing {
            seq_no: TYPICAL_SEQ_NO,
            target: addr,
            port: 7946,
            node: other.as_str().into(),
            nack: true,
            source_addr: addr,
            source_port: 7946,
            source_node: name.as_str().into(),
        };
        let alive = Alive {
            incarnation: TYPICAL_INCARNATION,
            node: name.as_str().into(),
            addr,
            port: 7946,
            meta: meta.clone(),
            vsn: Vsn::default_advertised(),
        };
        let suspect = Suspect {
            incarnation: TYPICAL_INCARNATION,
            node: other.as_str().into(),
            from: name.as_str().into(),
        };
        let state = PushNodeState {
            name: name.as_str().into(),
            addr,
            port: 7946,
            meta,
            incarnation: TYPICAL_INCARNATION,
            state: NodeState::Alive,
            vsn: Vsn::default_advertised(),
        };
        let empty = PushPull {
            join: false,
            states: Vec::new(),
            user_state: Bytes::new(),
        };
        let one = PushPull {
            states: vec![state],
            ..empty.clone()
        };
        let label = if a.label_len == 0 { 0 } else { 2 + a.label_len };
        let encryption = if a.encrypted { ENCRYPTION_OVERHEAD } else { 0 };
        Self {
            ping: ping.encoded_len(),
            ack: ack.encoded_len(),
            indirect_ping: indirect.encoded_len(),
            alive: alive.encoded_len(),
            suspect: suspect.encoded_len(),
            push_pull_header: empty.encoded_len(),
            push_pull_per_member: one.encoded_len() - empty.encoded_len(),
            datagram_overhead: label + encryption,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_sizes_for_sixteen_character_names() {
        // performance-model.md: ping 93 B, ack 22 B, alive 72 B, suspect/dead 59 B.
        let s = WireSizes::measure(&Assumptions::default());
        assert_eq!(s.ping, 93);
        assert_eq!(s.ack, 22);
        assert_eq!(s.alive, 72);
        assert_eq!(s.suspect, 59);
        assert_eq!(s.datagram_overhead, 0);
        assert!(s.push_pull_per_member > 50 && s.push_pull_per_member < 120);
    }

    #[test]
    fn names_meta_label_and_encryption_add_up() {
        let base = WireSizes::measure(&Assumptions::default());
        let a = Assumptions {
            name_len: 32,
            meta_len: 100,
            label_len: 5,
            encrypted: true,
        };
        let s = WireSizes::measure(&a);
        // Two names, each 16 bytes longer and past msgpack's 31-byte fixstr: Go's raw
        // strings have no str8, so the header grows to three bytes (str16).
        assert_eq!(s.ping, base.ping + 2 * 18);
        assert!(s.alive >= base.alive + 16 + 100);
        assert!(s.push_pull_per_member >= base.push_pull_per_member + 116);
        assert_eq!(s.datagram_overhead, 7 + 29);
    }
}
