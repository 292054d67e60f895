//! Compound messages (type 7): `07 | count:u8 | count × len:u16 BE | parts`.

use super::error::{DecodeError, WireError};
use super::message::MessageType;

/// Most parts per compound this implementation sends. Go v0.2.2 misparses compounds of 128 or
/// more parts, so 127 is the safe maximum for mixed clusters.
pub const MAX_COMPOUND_PARTS: usize = 127;

/// Longest single part (the length field is a u16).
pub const MAX_PART_LEN: usize = u16::MAX as usize;

/// Encodes `parts` as one compound message. Every part must be a complete, non-empty message;
/// at most [`MAX_COMPOUND_PARTS`] parts of at most 65,535 bytes each.
///
/// ```
/// use memberlist_core::wire::encode_compound;
/// let mut out = Vec::new();
/// encode_compound(&[&b"\x0b\x81\xa5SeqNo\x01"[..], &b"\x0b\x81\xa5SeqNo\x02"[..]], &mut out).unwrap();
/// assert_eq!(&out[..6], &[7, 2, 0, 9, 0, 9]);
/// ```
pub fn encode_compound<P: AsRef<[u8]>>(parts: &[P], out: &mut Vec<u8>) -> Result<(), WireError> {
    if parts.len() > MAX_COMPOUND_PARTS {
        return Err(WireError::TooManyParts {
            parts: parts.len(),
            limit: MAX_COMPOUND_PARTS,
        });
    }
    let mut total = 2 + 2 * parts.len();
    for (i, p) in parts.iter().enumerate() {
        let len = p.as_ref().len();
        if len == 0 {
            return Err(WireError::EmptyPart(i));
        }
        if len > MAX_PART_LEN {
            return Err(WireError::PartTooLarge(len));
        }
        total += len;
    }
    out.reserve(total);
    out.push(MessageType::Compound.byte());
    out.push(parts.len() as u8);
    for p in parts {
        out.extend_from_slice(&(p.as_ref().len() as u16).to_be_bytes());
    }
    for p in parts {
        out.extend_from_slice(p.as_ref());
    }
    Ok(())
}

/// Encodes any number of parts as compounds of at most [`MAX_COMPOUND_PARTS`] parts each; a
/// single part is returned bare, as Go sends a lone message.
pub fn encode_compounds<P: AsRef<[u8]>>(parts: &[P]) -> Result<Vec<Vec<u8>>, WireError> {
    parts
        .chunks(MAX_COMPOUND_PARTS)
        .map(|chunk| {
            if let [single] = chunk {
                let single = single.as_ref();
                if single.is_empty() {
                    return Err(WireError::EmptyPart(0));
                }
                return Ok(single.to_vec());
            }
            let mut out = Vec::new();
            encode_compound(chunk, &mut out)?;
            Ok(out)
        })
        .collect()
}

/// The parts of a decoded compound body (after the `07` type byte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompoundParts<'a> {
    /// Complete parts, in order.
    pub parts: Vec<&'a [u8]>,
    /// How many declared parts were cut off by the end of the buffer (dropped, as in Go).
    pub truncated: usize,
}

/// Splits a compound body. A length table shorter than declared is an error; parts cut off by
/// the end of the buffer are counted in `truncated` and dropped, as Go does.
///
/// ```
/// use memberlist_core::wire::decode_compound;
/// let body = [2u8, 0, 1, 0, 5, 0x0b, 0x0b, 0x0b]; // second part truncated
/// let parts = decode_compound(&body).unwrap();
/// assert_eq!(parts.parts, vec![&[0x0b][..]]);
/// assert_eq!(parts.truncated, 1);
/// ```
pub fn decode_compound(body: &[u8]) -> Result<CompoundParts<'_>, DecodeError> {
    let (&count, rest) = body.split_first().ok_or(DecodeError::UnexpectedEof)?;
    let count = usize::from(count);
    if rest.len() < count * 2 {
        return Err(DecodeError::UnexpectedEof);
    }
    let (table, mut data) = rest.split_at(count * 2);
    let mut parts = Vec::with_capacity(count);
    for (i, len) in table.chunks_exact(2).enumerate() {
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if data.len() < len {
            return Ok(CompoundParts {
                parts,
                truncated: count - i,
            });
        }
        let (part, tail) = data.split_at(len);
        parts.push(part);
        data = tail;
    }
    Ok(CompoundParts {
        parts,
        truncated: 0,
    })
}
