//! Message type bytes, the [`WireMessage`] trait and the [`Message`] enum of everything a packet
//! can carry.

use bytes::Bytes;

use super::error::DecodeError;
use super::gossip::{Alive, Dead, Suspect};
use super::probe::{Ack, IndirectPing, Nack, Ping};

/// Declares [`MessageType`] and its parsing from one list of variants and bytes.
macro_rules! message_types {
    ($($(#[$doc:meta])* $variant:ident = $byte:literal,)*) => {
        /// The first byte of every memberlist message (Go's `messageType`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        #[non_exhaustive]
        pub enum MessageType {
            $($(#[$doc])* $variant = $byte,)*
        }

        impl MessageType {
            /// Parses a type byte.
            ///
            /// ```
            /// use memberlist_core::wire::MessageType;
            /// assert_eq!(MessageType::from_byte(4), Some(MessageType::Alive));
            /// assert_eq!(MessageType::from_byte(99), None);
            /// ```
            pub fn from_byte(b: u8) -> Option<Self> {
                match b {
                    $($byte => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

message_types! {
    /// `ping` (UDP probe, or TCP fallback ping).
    Ping = 0,
    /// `indirectPingReq`.
    IndirectPing = 1,
    /// `ackResp`.
    Ack = 2,
    /// `suspect`.
    Suspect = 3,
    /// `alive`.
    Alive = 4,
    /// `dead` (a leave when `From == Node`).
    Dead = 5,
    /// Push/pull state exchange (streams only).
    PushPull = 6,
    /// Several messages in one packet.
    Compound = 7,
    /// A user message.
    User = 8,
    /// A compressed message.
    Compress = 9,
    /// An encrypted stream frame.
    Encrypt = 10,
    /// `nackResp`.
    Nack = 11,
    /// A CRC-32 wrapper (packets only).
    HasCrc = 12,
    /// `errResp` (streams only).
    Err = 13,
    /// A label header (first bytes of a packet or stream).
    HasLabel = 244,
}

impl MessageType {
    /// The type byte.
    pub fn byte(self) -> u8 {
        self as u8
    }
}

/// A message with a fixed type byte and a msgpack body, encoded exactly as Go encodes it.
///
/// ```
/// use memberlist_core::wire::{Nack, WireMessage};
///
/// let mut out = Vec::new();
/// Nack { seq_no: 5 }.encode(&mut out);
/// assert_eq!(out, [0x0b, 0x81, 0xa5, b'S', b'e', b'q', b'N', b'o', 0x05]);
/// assert_eq!(Nack::decode(&out).unwrap(), Nack { seq_no: 5 });
/// ```
pub trait WireMessage: Sized {
    /// The type byte that precedes the body.
    const TYPE: MessageType;

    /// Appends the msgpack body (without the type byte).
    fn encode_body(&self, out: &mut Vec<u8>);

    /// The exact length [`encode_body`](WireMessage::encode_body) writes.
    fn body_len(&self) -> usize;

    /// Decodes a body from the start of `buf`, returning the message and the bytes consumed.
    /// Bytes after the body are left alone (Go ignores them in packets).
    fn decode_body(buf: &[u8]) -> Result<(Self, usize), DecodeError>;

    /// Appends the type byte and the body.
    fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        out.push(Self::TYPE.byte());
        self.encode_body(out);
    }

    /// Type byte plus body length.
    fn encoded_len(&self) -> usize {
        1 + self.body_len()
    }

    /// Encodes into a new buffer.
    fn to_bytes(&self) -> Bytes {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        Bytes::from(out)
    }

    /// Decodes a message that starts with its type byte.
    fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        match buf.split_first() {
            None => Err(DecodeError::Empty),
            Some((&t, body)) if t == Self::TYPE.byte() => Self::decode_body(body).map(|(m, _)| m),
            Some((&t, _)) => Err(MessageType::from_byte(t)
                .map_or(DecodeError::UnknownMessageType(t), |_| {
                    DecodeError::UnsupportedMessageType(t)
                })),
        }
    }
}

/// Declares [`Message`] from the list of the messages a packet carries (each a
/// [`WireMessage`] whose type byte is the variant of its name), besides user messages.
macro_rules! packet_messages {
    ($($(#[$doc:meta])* $variant:ident,)*) => {
        /// A single message as carried in a packet (after compound splitting and decompression).
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Message {
            $($(#[$doc])* $variant($variant),)*
            /// A user message: the raw bytes after the `08` type byte.
            User(Bytes),
        }

        impl Message {
            /// Appends the type byte and body.
            pub fn encode(&self, out: &mut Vec<u8>) {
                match self {
                    $(Self::$variant(m) => m.encode(out),)*
                    Self::User(b) => {
                        out.reserve(1 + b.len());
                        out.push(MessageType::User.byte());
                        out.extend_from_slice(b);
                    }
                }
            }

            /// The exact encoded length, type byte included.
            pub fn encoded_len(&self) -> usize {
                match self {
                    $(Self::$variant(m) => m.encoded_len(),)*
                    Self::User(b) => 1 + b.len(),
                }
            }

            /// Decodes one message (not a compound or compressed wrapper; see
            /// [`Pipeline::decode_packet`](super::Pipeline::decode_packet) for those).
            ///
            /// ```
            /// use memberlist_core::wire::Message;
            /// let ack = hex::decode("0282a75061796c6f6164c0a55365714e6f01").unwrap();
            /// match Message::decode(&ack).unwrap() {
            ///     Message::Ack(a) => assert_eq!(a.seq_no, 1),
            ///     other => panic!("{other:?}"),
            /// }
            /// ```
            pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
                let (&t, body) = buf.split_first().ok_or(DecodeError::Empty)?;
                let ty = MessageType::from_byte(t).ok_or(DecodeError::UnknownMessageType(t))?;
                Ok(match ty {
                    $(MessageType::$variant => Self::$variant($variant::decode_body(body)?.0),)*
                    MessageType::User => Self::User(Bytes::copy_from_slice(body)),
                    _ => return Err(DecodeError::UnsupportedMessageType(t)),
                })
            }

            /// Encodes into a new buffer.
            pub fn to_bytes(&self) -> Bytes {
                let mut out = Vec::with_capacity(self.encoded_len());
                self.encode(&mut out);
                Bytes::from(out)
            }
        }

        $(impl From<$variant> for Message {
            fn from(m: $variant) -> Self {
                Self::$variant(m)
            }
        })*
    };
}

packet_messages! {
    /// A probe.
    Ping,
    /// A request to probe another node on our behalf.
    IndirectPing,
    /// A probe answer.
    Ack,
    /// A relay's "no answer from the target".
    Nack,
    /// A suspicion.
    Suspect,
    /// An alive announcement.
    Alive,
    /// A death or leave announcement.
    Dead,
}
