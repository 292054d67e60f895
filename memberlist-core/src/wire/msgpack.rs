//! The small subset of MessagePack that Go memberlist uses, written exactly as go-msgpack
//! writes it and read as leniently as go-msgpack reads it.
//!
//! Writing: strings and byte slices in the raw/str family (`a0`-`bf`, `da`, `db`, never
//! `d9`/`c4`), a nil byte slice as `c0`, integers in their smallest form (signed ones in
//! go-msgpack v2's style). Reading: byte fields as any str/bin form or an array of small
//! integers, integers in any width or signedness that fits.

use std::borrow::Cow;

use super::error::DecodeError;

/// Maximum nesting of maps/arrays the skipper follows. Go's structs are flat, so anything
/// deeper than this inside an unknown field is hostile.
const MAX_SKIP_DEPTH: usize = 64;

// ---- Writing ----

/// Writes a length header: `fix | n` below `fix_max`, else `marker16` and 16 bits, else
/// `marker16 + 1` and 32 bits (the layout of map and raw string headers).
#[inline]
fn write_len(out: &mut Vec<u8>, n: usize, fix: u8, fix_max: usize, marker16: u8) {
    if n < fix_max {
        out.push(fix | n as u8);
    } else if n <= usize::from(u16::MAX) {
        out.push(marker16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(marker16 + 1);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// Encoded size of a header [`write_len`] writes.
const fn len_size(n: usize, fix_max: usize) -> usize {
    match n {
        _ if n < fix_max => 1,
        0..=0xffff => 3,
        _ => 5,
    }
}

/// Writes a map header for `n` entries.
pub(crate) fn write_map_len(out: &mut Vec<u8>, n: usize) {
    write_len(out, n, 0x80, 16, 0xde);
}

/// Encoded size of a map header for `n` entries.
pub(crate) const fn map_len_size(n: usize) -> usize {
    len_size(n, 16)
}

/// Writes a string or byte slice in the raw/str family (`a0|n`, `da`, `db`).
pub(crate) fn write_str(out: &mut Vec<u8>, bytes: &[u8]) {
    write_len(out, bytes.len(), 0xa0, 32, 0xda);
    out.extend_from_slice(bytes);
}

/// Writes a Go `[]byte` field that is nil when empty (`c0`), else a raw string.
pub(crate) fn write_nil_or_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.is_empty() {
        out.push(0xc0);
    } else {
        write_str(out, bytes);
    }
}

/// Writes an unsigned integer in its smallest form (`cc`..`cf` and 1, 2, 4 or 8 bytes).
pub(crate) fn write_uint(out: &mut Vec<u8>, v: u64) {
    match uint_size(v) - 1 {
        0 => out.push(v as u8),
        n => {
            out.push(0xcc + n.trailing_zeros() as u8);
            out.extend_from_slice(&v.to_be_bytes()[8 - n..]);
        }
    }
}

/// Writes a signed Go `int` as go-msgpack v2 does (fixint, then int8/16/32/64: `d0`..`d3`).
pub(crate) fn write_int(out: &mut Vec<u8>, v: i64) {
    match int_size(v) - 1 {
        0 => out.push(v as i8 as u8),
        n => {
            out.push(0xd0 + n.trailing_zeros() as u8);
            out.extend_from_slice(&v.to_be_bytes()[8 - n..]);
        }
    }
}

/// Writes a bool.
pub(crate) fn write_bool(out: &mut Vec<u8>, v: bool) {
    out.push(if v { 0xc3 } else { 0xc2 });
}

/// Encoded size of a raw string of `n` bytes, header included.
pub(crate) const fn str_size(n: usize) -> usize {
    n + len_size(n, 32)
}

/// Encoded size of a nil-when-empty byte field.
pub(crate) const fn nil_or_bytes_size(n: usize) -> usize {
    if n == 0 { 1 } else { str_size(n) }
}

/// Encoded size of an unsigned integer.
pub(crate) const fn uint_size(v: u64) -> usize {
    match v {
        0..=0x7f => 1,
        0x80..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Encoded size of a signed integer written by [`write_int`].
pub(crate) const fn int_size(v: i64) -> usize {
    // The first arm that matches wins: -128..-32 take `d0`, 128..=255 already `d1`.
    match v {
        -32..=0x7f => 1,
        -0x80..=-33 => 2,
        -0x8000..=0x7fff => 3,
        -0x8000_0000..=0x7fff_ffff => 5,
        _ => 9,
    }
}

// ---- Reading ----

/// A cursor over a msgpack buffer.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// The unread bytes.
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Consumes `n` bytes (at most the unread ones).
    #[inline]
    pub(crate) fn advance(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.buf.len());
    }

    #[inline]
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self.buf.get(self.pos).ok_or(DecodeError::UnexpectedEof)?;
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::UnexpectedEof)?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or(DecodeError::UnexpectedEof)?;
        self.pos = end;
        Ok(s)
    }

    #[inline]
    fn be(&mut self, n: usize) -> Result<u64, DecodeError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    /// Reads a map header (nil counts as an empty map, as Go decodes nil into a zero struct).
    #[inline]
    pub(crate) fn read_map_len(&mut self) -> Result<usize, DecodeError> {
        let b = self.byte()?;
        match b {
            0x80..=0x8f => Ok(usize::from(b & 0x0f)),
            0xde => Ok(self.be(2)? as usize),
            0xdf => Ok(self.be(4)? as usize),
            0xc0 => Ok(0),
            _ => Err(DecodeError::UnexpectedType {
                expected: "map",
                found: b,
            }),
        }
    }

    /// Reads a string or byte field in any str/bin form; nil reads as empty.
    #[inline(always)]
    pub(crate) fn read_raw(&mut self) -> Result<&'a [u8], DecodeError> {
        // Fast paths: Go writes every key and short string as a fixstr, and an empty byte
        // slice as nil.
        if let Some(&b) = self.buf.get(self.pos) {
            if b & 0xe0 == 0xa0 {
                let start = self.pos + 1;
                let end = start + usize::from(b & 0x1f);
                if let Some(s) = self.buf.get(start..end) {
                    self.pos = end;
                    return Ok(s);
                }
            } else if b == 0xc0 {
                self.pos += 1;
                return Ok(&[]);
            }
        }
        self.read_raw_slow()
    }

    #[cold]
    #[inline(never)]
    fn read_raw_slow(&mut self) -> Result<&'a [u8], DecodeError> {
        let b = self.byte()?;
        let len = match b {
            0xa0..=0xbf => usize::from(b & 0x1f),
            0xd9 | 0xc4 => self.be(1)? as usize,
            0xda | 0xc5 => self.be(2)? as usize,
            0xdb | 0xc6 => self.be(4)? as usize,
            0xc0 => 0,
            _ => {
                return Err(DecodeError::UnexpectedType {
                    expected: "string",
                    found: b,
                });
            }
        };
        self.take(len)
    }

    /// Reads a UTF-8 string field.
    pub(crate) fn read_str(&mut self, field: &'static str) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.read_raw()?).map_err(|_| DecodeError::InvalidUtf8 { field })
    }

    /// Reads a `[]byte` field: any str/bin form, nil, or an array of integers 0..=255.
    #[inline(always)]
    pub(crate) fn read_bytes(&mut self) -> Result<Cow<'a, [u8]>, DecodeError> {
        match self.buf.get(self.pos) {
            Some(0x90..=0x9f | 0xdc | 0xdd) => self.read_byte_array(),
            _ => self.read_raw().map(Cow::Borrowed),
        }
    }

    #[cold]
    #[inline(never)]
    fn read_byte_array(&mut self) -> Result<Cow<'a, [u8]>, DecodeError> {
        let b = self.byte()?;
        let len = match b {
            0x90..=0x9f => usize::from(b & 0x0f),
            0xdc => self.be(2)? as usize,
            _ => self.be(4)? as usize,
        };
        // Every element takes at least one byte, so this bounds the allocation by the input.
        if len > self.buf.len() - self.pos {
            return Err(DecodeError::UnexpectedEof);
        }
        let mut v = Vec::with_capacity(len);
        for _ in 0..len {
            let x = self.read_u64()?;
            v.push(u8::try_from(x).map_err(|_| DecodeError::IntegerOverflow)?);
        }
        Ok(Cow::Owned(v))
    }

    /// Reads any integer form as a signed value.
    pub(crate) fn read_i64(&mut self) -> Result<i64, DecodeError> {
        let b = self.byte()?;
        Ok(match b {
            0x00..=0x7f => i64::from(b),
            0xe0..=0xff => i64::from(b as i8),
            0xcc => self.be(1)? as i64,
            0xcd => self.be(2)? as i64,
            0xce => self.be(4)? as i64,
            0xcf => i64::try_from(self.be(8)?).map_err(|_| DecodeError::IntegerOverflow)?,
            0xd0 => i64::from(self.be(1)? as u8 as i8),
            0xd1 => i64::from(self.be(2)? as u16 as i16),
            0xd2 => i64::from(self.be(4)? as u32 as i32),
            0xd3 => self.be(8)? as i64,
            0xc0 => 0,
            _ => {
                return Err(DecodeError::UnexpectedType {
                    expected: "integer",
                    found: b,
                });
            }
        })
    }

    /// Reads any integer form as an unsigned value; negative values are an error.
    #[inline(always)]
    pub(crate) fn read_u64(&mut self) -> Result<u64, DecodeError> {
        match self.buf.get(self.pos..) {
            Some([b @ 0x00..=0x7f, ..]) => {
                self.pos += 1;
                return Ok(u64::from(*b));
            }
            Some([0xcd, hi, lo, ..]) => {
                self.pos += 3;
                return Ok(u64::from(u16::from_be_bytes([*hi, *lo])));
            }
            _ => {}
        }
        self.read_u64_slow()
    }

    #[cold]
    #[inline(never)]
    fn read_u64_slow(&mut self) -> Result<u64, DecodeError> {
        let b = *self.buf.get(self.pos).ok_or(DecodeError::UnexpectedEof)?;
        match b {
            0xcc..=0xcf => {
                self.pos += 1;
                self.be(1 << (b - 0xcc))
            }
            _ => u64::try_from(self.read_i64()?).map_err(|_| DecodeError::NegativeInteger),
        }
    }

    /// Reads an unsigned integer that must fit in `T`.
    #[inline]
    pub(crate) fn read_uint<T: TryFrom<u64>>(&mut self) -> Result<T, DecodeError> {
        T::try_from(self.read_u64()?).map_err(|_| DecodeError::IntegerOverflow)
    }

    /// Reads a bool (`c2`/`c3`, fixint 0/1, or nil as false).
    pub(crate) fn read_bool(&mut self) -> Result<bool, DecodeError> {
        let b = self.byte()?;
        match b {
            0xc3 | 0x01 => Ok(true),
            0xc2 | 0x00 | 0xc0 => Ok(false),
            _ => Err(DecodeError::UnexpectedType {
                expected: "bool",
                found: b,
            }),
        }
    }

    /// Skips one complete value of any type.
    pub(crate) fn skip(&mut self) -> Result<(), DecodeError> {
        // Counts of values still to skip, one entry per open container.
        let mut pending: [u64; MAX_SKIP_DEPTH] = [0; MAX_SKIP_DEPTH];
        let mut depth = 0usize;
        pending[0] = 1;
        loop {
            while pending[depth] == 0 {
                if depth == 0 {
                    return Ok(());
                }
                depth -= 1;
            }
            pending[depth] -= 1;
            let b = self.byte()?;
            let children: u64 = match b {
                0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => 0,
                0x80..=0x8f => 2 * u64::from(b & 0x0f),
                0x90..=0x9f => u64::from(b & 0x0f),
                0xdc => self.be(2)?,
                0xdd => self.be(4)?,
                0xde => 2 * self.be(2)?,
                0xdf => 2 * self.be(4)?,
                0xc1 => {
                    return Err(DecodeError::UnexpectedType {
                        expected: "msgpack value",
                        found: b,
                    });
                }
                // The rest are scalars: skip their payload.
                _ => {
                    let payload = match b {
                        0xa0..=0xbf => usize::from(b & 0x1f),
                        0xc4 | 0xd9 => self.be(1)? as usize,
                        0xc5 | 0xda => self.be(2)? as usize,
                        0xc6 | 0xdb => self.be(4)? as usize,
                        // Extensions: a type byte, then the data.
                        0xc7 => self.be(1)? as usize + 1,
                        0xc8 => self.be(2)? as usize + 1,
                        0xc9 => (self.be(4)? as usize).saturating_add(1),
                        0xcc | 0xd0 => 1,
                        0xcd | 0xd1 | 0xd4 => 2,
                        0xd5 => 3,
                        0xca | 0xce | 0xd2 => 4,
                        0xd6 => 5,
                        0xcb | 0xcf | 0xd3 => 8,
                        0xd7 => 9,
                        _ => 17, // 0xd8, fixext 16
                    };
                    self.take(payload)?;
                    0
                }
            };
            if children > 0 {
                depth += 1;
                if depth >= MAX_SKIP_DEPTH {
                    return Err(DecodeError::TooDeep);
                }
                pending[depth] = children;
            }
        }
    }
}

/// Scans one complete msgpack value at the start of `buf` without decoding it.
///
/// Returns `Ok(Some(len))` when a whole value is present, `Ok(None)` when more bytes are needed,
/// and an error for malformed input.
pub(crate) fn value_len(buf: &[u8]) -> Result<Option<usize>, DecodeError> {
    let mut r = Reader::new(buf);
    match r.skip() {
        Ok(()) => Ok(Some(r.position())),
        Err(DecodeError::UnexpectedEof) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
#[path = "msgpack_tests.rs"]
mod tests;
