//! Bodies of the wrapper and stream-only messages: the stream user-message header, the
//! `compress` wrapper and the `errResp` reply.

use std::borrow::Cow;

use bytes::Bytes;

use super::error::DecodeError;
use super::field::{Count, LossyStr, Raw, Uint};
use super::go_struct::{GoWrite, go_struct};
use super::limits::Limit;
use super::message::MessageType;
use super::msgpack::{Reader, str_size};

/// Header of a user message sent over a stream (`userMsgHeader`); `user_msg_len` raw bytes
/// follow it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserMsgHeader {
    /// Length of the user payload that follows.
    pub user_msg_len: u32,
}

go_struct! {
    struct UserMsgHeader {
        "UserMsgLen" => user_msg_len: Count(Limit::UserMessage);
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
    out.reserve(1 + header.map_size() + payload.len());
    out.push(MessageType::User.byte());
    header.write_map(out);
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

/// A [`Compress`] around borrowed bytes, written without copying them first.
struct CompressRef<'a> {
    algo: u8,
    buf: &'a [u8],
}

go_struct! {
    message Compress = Compress, CompressRef<'_> {
        "Algo" => algo: Uint;
        "Buf" => buf: Raw;
    }
}

/// Writes a `compress` message (`09` + body) around already compressed bytes.
pub(crate) fn encode_compress(algo: u8, compressed: &[u8], out: &mut Vec<u8>) {
    let body = CompressRef {
        algo,
        buf: compressed,
    };
    out.reserve(1 + body.map_size());
    out.push(MessageType::Compress.byte());
    body.write_map(out);
}

/// Length of a `compress` message holding `n` compressed bytes with a small algorithm id.
pub(crate) fn compress_len(n: usize) -> usize {
    1 + 1 + 5 + 1 + 4 + str_size(n)
}

/// Decodes a `compress` body ([`Compress`]'s fields) without copying its buffer.
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

go_struct! {
    message ErrorResponse = Err {
        "Error" => error: LossyStr;
    }
}
