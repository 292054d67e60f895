//! Errors of the wire layer.

use crate::codec::CodecError;
use crate::encryption::EncryptionError;

/// A message body or header could not be decoded.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended in the middle of a value.
    #[error("unexpected end of input")]
    UnexpectedEof,
    /// A msgpack value of the wrong type was found.
    #[error("expected {expected}, found msgpack byte {found:#04x}")]
    UnexpectedType {
        /// What the decoder wanted.
        expected: &'static str,
        /// The msgpack format byte found instead.
        found: u8,
    },
    /// An integer does not fit the field.
    #[error("integer out of range for its field")]
    IntegerOverflow,
    /// A negative integer was found where only non-negative values are allowed.
    #[error("negative integer in an unsigned field")]
    NegativeInteger,
    /// A string field is not valid UTF-8.
    #[error("field {field} is not valid UTF-8")]
    InvalidUtf8 {
        /// Go field name.
        field: &'static str,
    },
    /// Values are nested deeper than the decoder follows.
    #[error("msgpack values nested too deeply")]
    TooDeep,
    /// A required field is absent or empty.
    #[error("required field {0} is missing or empty")]
    MissingField(&'static str),
    /// A message is empty (no type byte).
    #[error("empty message")]
    Empty,
    /// The type byte is not a known memberlist message type.
    #[error("unknown message type {0}")]
    UnknownMessageType(u8),
    /// The message type is known but not valid in this context (e.g. push/pull in a packet).
    #[error("message type {0} is not supported here")]
    UnsupportedMessageType(u8),
    /// An IP address field is longer than 16 bytes.
    #[error("IP address of {0} bytes is longer than 16")]
    AddressTooLong(usize),
    /// A declared count or length exceeds a configured limit.
    #[error("{what} of {value} exceeds the limit of {limit}")]
    LimitExceeded {
        /// Which limit.
        what: super::Limit,
        /// The declared value.
        value: u64,
        /// The limit.
        limit: u64,
    },
}

/// A packet or stream could not be framed or unframed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// The message or a header inside it is malformed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The label header is malformed or does not match ours.
    #[error(transparent)]
    Label(#[from] super::label::LabelError),
    /// Decompression failed.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// Decryption failed (and GossipVerifyIncoming is on), or encryption failed.
    #[error(transparent)]
    Encryption(#[from] EncryptionError),
    /// The CRC-32 of a packet does not match its contents.
    #[error("CRC mismatch: header says {expected:#010x}, contents give {actual:#010x}")]
    CrcMismatch {
        /// CRC from the header.
        expected: u32,
        /// CRC computed over the contents.
        actual: u32,
    },
    /// Encryption is configured and required but the stream is not encrypted.
    #[error("encryption is configured but remote state is not encrypted")]
    NotEncrypted,
    /// The stream is encrypted but no keys are configured.
    #[error("remote state is encrypted and encryption is not configured")]
    EncryptionNotConfigured,
    /// A compound message may not contain an empty part.
    #[error("compound part {0} is empty")]
    EmptyPart(usize),
    /// A compound part is longer than 65,535 bytes.
    #[error("compound part of {0} bytes exceeds 65535")]
    PartTooLarge(usize),
    /// A compound message holds more parts than allowed.
    #[error("compound of {parts} parts exceeds the limit of {limit}")]
    TooManyParts {
        /// Parts given.
        parts: usize,
        /// Parts allowed.
        limit: usize,
    },
    /// A decrypted or decompressed stream frame holds no message.
    #[error("stream frame holds no message")]
    EmptyFrame,
    /// Compound or compressed messages are nested deeper than allowed.
    #[error("messages nested more than {0} levels deep")]
    NestingTooDeep(usize),
}

impl WireError {
    /// Whether this failure happened while unwrapping a stream's envelope (decryption, the
    /// encryption policy, decompression): Go answers those with an `errResp`. A label
    /// mismatch is not one: Go closes such a connection without a word.
    pub fn is_envelope_error(&self) -> bool {
        matches!(
            self,
            Self::Encryption(_)
                | Self::Codec(_)
                | Self::NotEncrypted
                | Self::EncryptionNotConfigured
                | Self::EmptyFrame
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::LabelError;

    #[test]
    fn label_failures_get_no_error_reply_but_envelope_failures_do() {
        assert!(!WireError::Label(LabelError::Truncated).is_envelope_error());
        assert!(WireError::NotEncrypted.is_envelope_error());
        assert!(WireError::EncryptionNotConfigured.is_envelope_error());
        assert!(!WireError::NestingTooDeep(3).is_envelope_error());
    }
}
