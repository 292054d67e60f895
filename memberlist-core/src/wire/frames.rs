//! Bodies of the wrapper and stream-only messages: the stream user-message header, the
//! `compress` wrapper and the `errResp` reply.

use std::borrow::Cow;

use bytes::Bytes;

use super::error::DecodeError;
use super::limits::{Limit, Limits};
use super::message::{MessageType, WireMessage};
use super::msgpack::{
    Reader, int_size, str_size, uint_size, write_int, write_map_len, write_str, write_uint,
};
use super::push_pull::checked_count;

/// Header of a user message sent over a stream (`userMsgHeader`); `user_msg_len` raw bytes
/// follow it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserMsgHeader {
    /// Length of the user payload that follows.
    pub user_msg_len: u32,
}

impl UserMsgHeader {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        write_map_len(out, 1);
        out.extend_from_slice(b"\xaaUserMsgLen");
        write_int(out, i64::from(self.user_msg_len));
    }

    pub(crate) fn encoded_len(&self) -> usize {
        1 + 11 + int_size(i64::from(self.user_msg_len))
    }

    pub(crate) fn decode(r: &mut Reader<'_>, limits: &Limits) -> Result<Self, DecodeError> {
        let mut h = Self::default();
        for _ in 0..r.read_map_len()? {
            match r.read_raw()? {
                b"UserMsgLen" => {
                    h.user_msg_len =
                        checked_count(r.read_i64()?, Limit::UserMessage, limits.max_user_message)?
                }
                _ => r.skip()?,
            }
        }
        Ok(h)
    }
}

/// Encodes a complete stream user message: `08`, the header, then the payload.
///
/// ```
/// use memberlist_core::wire::encode_stream_user_message;
/// let mut out = Vec::new();
/// encode_stream_user_message(b"hello", &mut out);
/// assert_eq!(hex::encode(&out), "0881aa557365724d73674c656e0568656c6c6f");
/// ```
pub fn encode_stream_user_message(payload: &[u8], out: &mut Vec<u8>) {
    let header = UserMsgHeader {
        user_msg_len: u32::try_from(payload.len()).unwrap_or(u32::MAX),
    };
    out.reserve(1 + header.encoded_len() + payload.len());
    out.push(MessageType::User.byte());
    header.encode(out);
    out.extend_from_slice(payload);
}

/// The `compress` wrapper body (type 9): `{Algo, Buf}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compress {
    /// Algorithm id (0 = LZW).
    pub algo: u8,
    /// Compressed bytes of an inner message (type byte included).
    pub buf: Bytes,
}

/// Writes a `compress` message (`09` + body) around already compressed bytes.
pub(crate) fn encode_compress(algo: u8, compressed: &[u8], out: &mut Vec<u8>) {
    out.reserve(compress_len(compressed.len()));
    out.push(MessageType::Compress.byte());
    write_map_len(out, 2);
    out.extend_from_slice(b"\xa4Algo");
    write_uint(out, u64::from(algo));
    out.extend_from_slice(b"\xa3Buf");
    write_str(out, compressed);
}

/// Length of a `compress` message holding `n` compressed bytes with a small algorithm id.
pub(crate) fn compress_len(n: usize) -> usize {
    1 + 1 + 5 + 1 + 4 + str_size(n)
}

impl WireMessage for Compress {
    const TYPE: MessageType = MessageType::Compress;

    fn encode_body(&self, out: &mut Vec<u8>) {
        write_map_len(out, 2);
        out.extend_from_slice(b"\xa4Algo");
        write_uint(out, u64::from(self.algo));
        out.extend_from_slice(b"\xa3Buf");
        write_str(out, &self.buf);
    }

    fn body_len(&self) -> usize {
        1 + 5 + uint_size(u64::from(self.algo)) + 4 + str_size(self.buf.len())
    }

    fn decode_body(buf: &[u8]) -> Result<(Self, usize), DecodeError> {
        let (algo, data, used) = decode_compress_ref(buf)?;
        Ok((
            Self {
                algo,
                buf: Bytes::copy_from_slice(&data),
            },
            used,
        ))
    }
}

/// Decodes a `compress` body without copying its buffer.
pub(crate) fn decode_compress_ref(buf: &[u8]) -> Result<(u8, Cow<'_, [u8]>, usize), DecodeError> {
    let mut r = Reader::new(buf);
    let mut algo = 0u8;
    let mut data = Cow::Borrowed(&[][..]);
    for _ in 0..r.read_map_len()? {
        match r.read_raw()? {
            b"Algo" => algo = r.read_uint()?,
            b"Buf" => data = r.read_bytes()?,
            _ => r.skip()?,
        }
    }
    Ok((algo, data, r.position()))
}

/// An error reply on a stream (`errResp`, type 13).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorResponse {
    /// The remote error text.
    pub error: String,
}

impl WireMessage for ErrorResponse {
    const TYPE: MessageType = MessageType::Err;

    fn encode_body(&self, out: &mut Vec<u8>) {
        write_map_len(out, 1);
        out.extend_from_slice(b"\xa5Error");
        write_str(out, self.error.as_bytes());
    }

    fn body_len(&self) -> usize {
        1 + 6 + str_size(self.error.len())
    }

    fn decode_body(buf: &[u8]) -> Result<(Self, usize), DecodeError> {
        let mut r = Reader::new(buf);
        let mut m = Self::default();
        for _ in 0..r.read_map_len()? {
            match r.read_raw()? {
                b"Error" => m.error = String::from_utf8_lossy(r.read_raw()?).into_owned(),
                _ => r.skip()?,
            }
        }
        Ok((m, r.position()))
    }
}
