//! The CRC-32 wrapper (`hasCrcMsg`, 12): `0c | crc32 BE | payload`, CRC-32/IEEE over the
//! payload. Added to packets for peers advertising protocol version 5 or more.

use super::error::WireError;
use super::message::MessageType;

/// Bytes the CRC header adds.
pub const CRC_HEADER_LEN: usize = 5;

/// Appends `0c | crc32(payload) | payload` to `out`.
///
/// ```
/// use memberlist_core::wire::{write_crc_wrapped, strip_crc};
/// let mut out = Vec::new();
/// write_crc_wrapped(b"\x0b\x81\xa5SeqNo\x05", &mut out);
/// assert_eq!(out[0], 12);
/// assert_eq!(strip_crc(&out).unwrap(), b"\x0b\x81\xa5SeqNo\x05");
/// ```
pub fn write_crc_wrapped(payload: &[u8], out: &mut Vec<u8>) {
    out.reserve(CRC_HEADER_LEN + payload.len());
    out.push(MessageType::HasCrc.byte());
    out.extend_from_slice(&crc32fast::hash(payload).to_be_bytes());
    out.extend_from_slice(payload);
}

/// Verifies and strips the wrapper if `buf` has one; otherwise returns `buf`, as Go does.
pub fn strip_crc(buf: &[u8]) -> Result<&[u8], WireError> {
    if buf.len() < CRC_HEADER_LEN || buf[0] != MessageType::HasCrc.byte() {
        return Ok(buf);
    }
    let expected = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
    let payload = &buf[CRC_HEADER_LEN..];
    let actual = crc32fast::hash(payload);
    if expected != actual {
        return Err(WireError::CrcMismatch { expected, actual });
    }
    Ok(payload)
}
