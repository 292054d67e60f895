//! State-change messages spread by gossip: `alive`, `suspect`, `dead`.

use bytes::Bytes;
use smol_str::SmolStr;

use super::error::DecodeError;
use super::ip::IpBytes;
use super::message::{MessageType, WireMessage};
use super::msgpack::{
    Reader, nil_or_bytes_size, str_size, uint_size, write_map_len, write_nil_or_bytes, write_str,
    write_uint,
};
use super::node::Vsn;
use super::probe::{read_byte_field, read_ip, read_name};

/// Announces that a node is alive, with its address, metadata and versions (`alive`, type 4).
///
/// ```
/// use bytes::Bytes;
/// use memberlist_core::wire::{Alive, IpBytes, Vsn, WireMessage};
///
/// let alive = Alive {
///     incarnation: 1,
///     node: "node-a".into(),
///     addr: IpBytes::from([10, 0, 0, 1]),
///     port: 7946,
///     meta: Bytes::new(),
///     vsn: Vsn::default_advertised(),
/// };
/// assert_eq!(alive.encoded_len(), 62);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alive {
    /// The node's incarnation number.
    pub incarnation: u32,
    /// Node name.
    pub node: SmolStr,
    /// IP as raw 4 or 16 bytes, relayed unchanged.
    pub addr: IpBytes,
    /// Port.
    pub port: u16,
    /// Delegate metadata (empty is written as nil).
    pub meta: Bytes,
    /// Protocol and delegate versions.
    pub vsn: Vsn,
}

impl WireMessage for Alive {
    const TYPE: MessageType = MessageType::Alive;

    fn encode_body(&self, out: &mut Vec<u8>) {
        write_map_len(out, 6);
        out.extend_from_slice(b"\xa4Addr");
        write_nil_or_bytes(out, self.addr.as_bytes());
        out.extend_from_slice(b"\xabIncarnation");
        write_uint(out, u64::from(self.incarnation));
        out.extend_from_slice(b"\xa4Meta");
        write_nil_or_bytes(out, &self.meta);
        out.extend_from_slice(b"\xa4Node");
        write_str(out, self.node.as_bytes());
        out.extend_from_slice(b"\xa4Port");
        write_uint(out, u64::from(self.port));
        out.extend_from_slice(b"\xa3Vsn");
        write_nil_or_bytes(out, self.vsn.as_bytes());
    }

    fn body_len(&self) -> usize {
        1 + 5
            + nil_or_bytes_size(self.addr.len())
            + 12
            + uint_size(u64::from(self.incarnation))
            + 5
            + nil_or_bytes_size(self.meta.len())
            + 5
            + str_size(self.node.len())
            + 5
            + uint_size(u64::from(self.port))
            + 4
            + nil_or_bytes_size(self.vsn.len())
    }

    fn decode_body(buf: &[u8]) -> Result<(Self, usize), DecodeError> {
        let mut r = Reader::new(buf);
        let mut m = Self::default();
        for _ in 0..r.read_map_len()? {
            match r.read_raw()? {
                b"Incarnation" => m.incarnation = r.read_uint()?,
                b"Node" => m.node = read_name(&mut r, "Node")?,
                b"Addr" => m.addr = read_ip(&mut r)?,
                b"Port" => m.port = r.read_uint()?,
                b"Meta" => m.meta = read_byte_field(&mut r)?,
                b"Vsn" => m.vsn = Vsn::from_slice(&r.read_bytes()?),
                _ => r.skip()?,
            }
        }
        Ok((m, r.position()))
    }
}

macro_rules! accusation {
    ($(#[$doc:meta])* $name:ident, $ty:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name {
            /// The accused node's incarnation this message refers to.
            pub incarnation: u32,
            /// The node the message is about.
            pub node: SmolStr,
            /// The node making the statement.
            pub from: SmolStr,
        }

        impl WireMessage for $name {
            const TYPE: MessageType = $ty;

            fn encode_body(&self, out: &mut Vec<u8>) {
                write_map_len(out, 3);
                out.extend_from_slice(b"\xa4From");
                write_str(out, self.from.as_bytes());
                out.extend_from_slice(b"\xabIncarnation");
                write_uint(out, u64::from(self.incarnation));
                out.extend_from_slice(b"\xa4Node");
                write_str(out, self.node.as_bytes());
            }

            fn body_len(&self) -> usize {
                1 + 5
                    + str_size(self.from.len())
                    + 12
                    + uint_size(u64::from(self.incarnation))
                    + 5
                    + str_size(self.node.len())
            }

            fn decode_body(buf: &[u8]) -> Result<(Self, usize), DecodeError> {
                let mut r = Reader::new(buf);
                let mut m = Self::default();
                for _ in 0..r.read_map_len()? {
                    match r.read_raw()? {
                        b"Incarnation" => m.incarnation = r.read_uint()?,
                        b"Node" => m.node = read_name(&mut r, "Node")?,
                        b"From" => m.from = read_name(&mut r, "From")?,
                        _ => r.skip()?,
                    }
                }
                Ok((m, r.position()))
            }
        }
    };
}

accusation!(
    /// `from` suspects `node` at `incarnation` (`suspect`, type 3).
    Suspect,
    MessageType::Suspect
);

accusation!(
    /// `from` declares `node` dead at `incarnation` (`dead`, type 5). When `from == node` it is
    /// a graceful leave.
    Dead,
    MessageType::Dead
);

impl Dead {
    /// Whether this is a graceful leave (the node announced its own departure).
    pub fn is_leave(&self) -> bool {
        self.from == self.node
    }
}
