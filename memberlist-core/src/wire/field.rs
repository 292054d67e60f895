//! How each kind of Go struct field is written and read: the field codecs that the
//! [`go_struct!`](super::go_struct) tables name.
//!
//! A codec is chosen per field, not per Rust type, because Go writes one type several ways
//! (an address is nil-when-empty in `Addr` but a plain string in `SourceAddr`). Each
//! implements [`Field`] for owned and borrowed types alike, so that a borrowed twin of a
//! struct (such as `PushNodeStateRef`) is written by the same table.

use std::borrow::Cow;

use bytes::Bytes;
use smol_str::SmolStr;

use super::error::DecodeError;
use super::ip::IpBytes;
use super::limits::{Limit, Limits};
use super::msgpack::{
    Reader, int_size, nil_or_bytes_size, str_size, uint_size, write_bool, write_int,
    write_nil_or_bytes, write_str, write_uint,
};
use super::node::{NodeState, Vsn};

/// One field's msgpack form: how a value of type `T` is written and sized.
pub(crate) trait Field<T: ?Sized> {
    /// Whether Go's `omitempty` leaves the value out (the zero value of its Go type).
    fn is_empty(&self, v: &T) -> bool;
    /// Appends the value.
    fn write(&self, v: &T, out: &mut Vec<u8>);
    /// The exact length [`write`](Field::write) appends.
    fn size(&self, v: &T) -> usize;
}

/// One field's msgpack form, read: implemented for the owned types only (borrowed twins
/// are written, never read).
pub(crate) trait ReadField<T> {
    /// Reads the value of the field named `key`, within `limits`.
    fn read(
        &self,
        r: &mut Reader<'_>,
        key: &'static str,
        limits: &Limits,
    ) -> Result<T, DecodeError>;
}

/// An unsigned integer in its smallest form (Go `uint8`/`uint16`/`uint32`).
pub(crate) struct Uint;
/// A Go `int`, in go-msgpack v2's signed forms.
pub(crate) struct Int;
/// A Go `bool`.
pub(crate) struct Bool;
/// A Go `string` read as UTF-8 (a name: invalid UTF-8 is an error).
pub(crate) struct Str;
/// A Go `string` read leniently (free text such as an error: invalid UTF-8 is replaced).
pub(crate) struct LossyStr;
/// A Go `[]byte` that is nil (`c0`) when empty.
pub(crate) struct NilBytes;
/// A Go `[]byte` or `string` written as a raw string even when empty.
pub(crate) struct Raw;
/// A Go `int` count or length, refused when negative or above the named limit.
pub(crate) struct Count(pub(crate) Limit);

/// Implements [`Field`] of a codec for some types from three expressions of the value `v`
/// (the `omitempty` test, the writer into `out`, the size), and [`ReadField`] from an
/// expression of the reader `r`, the key and the limits.
macro_rules! field {
    ($codec:ty: $($t:ty),+; |$v:ident, $out:ident| $empty:expr, $write:expr, $size:expr) => {$(
        impl Field<$t> for $codec {
            #[inline]
            fn is_empty(&self, $v: &$t) -> bool {
                $empty
            }
            #[inline]
            fn write(&self, $v: &$t, $out: &mut Vec<u8>) {
                $write
            }
            #[inline]
            fn size(&self, $v: &$t) -> usize {
                $size
            }
        }
    )+};
    ($codec:ty: $($t:ty),+; |$self:ident, $r:ident, $key:pat_param, $limits:pat_param| $read:expr) => {$(
        impl ReadField<$t> for $codec {
            #[inline]
            fn read(
                &$self,
                $r: &mut Reader<'_>,
                $key: &'static str,
                $limits: &Limits,
            ) -> Result<$t, DecodeError> {
                $read
            }
        }
    )+};
}

field!(Uint: u8, u16, u32; |v, out| *v == 0, write_uint(out, u64::from(*v)), uint_size(u64::from(*v)));
field!(Uint: u8, u16, u32; |self, r, _, _| r.read_uint());
field!(Int: NodeState; |v, out| v.as_i64() == 0, write_int(out, v.as_i64()), int_size(v.as_i64()));
field!(Int: NodeState; |self, r, _, _| Ok(NodeState::from_i64(r.read_i64()?)));
field!(Bool: bool; |v, out| !*v, write_bool(out, *v), { let _ = v; 1 });
field!(Bool: bool; |self, r, _, _| r.read_bool());
field!(Str: SmolStr, &str; |v, out| v.is_empty(), write_str(out, v.as_bytes()), str_size(v.len()));
field!(Str: SmolStr; |self, r, key, _| read_name(r, key));
field!(LossyStr: String; |v, out| v.is_empty(), write_str(out, v.as_bytes()), str_size(v.len()));
field!(LossyStr: String; |self, r, _, _| Ok(String::from_utf8_lossy(r.read_raw()?).into_owned()));
field!(NilBytes: Bytes, &[u8], IpBytes, Vsn;
    |v, out| bytes_of(v).is_empty(), write_nil_or_bytes(out, bytes_of(v)), nil_or_bytes_size(bytes_of(v).len()));
field!(NilBytes: Bytes, IpBytes, Vsn; |self, r, _, _| FromBytes::from_received(r.read_bytes()?));
field!(Raw: Bytes, &[u8], IpBytes; |v, out| bytes_of(v).is_empty(), write_str(out, bytes_of(v)), str_size(bytes_of(v).len()));
field!(Raw: Bytes, IpBytes; |self, r, _, _| FromBytes::from_received(r.read_bytes()?));
field!(Count: u32; |v, out| *v == 0, write_int(out, i64::from(*v)), int_size(i64::from(*v)));
field!(Count: u32; |self, r, _, limits| checked_count(r.read_i64()?, self.0, limits.count_limit(self.0)));

/// The bytes of a byte-like field value, owned or borrowed.
#[inline]
fn bytes_of<T: AsRef<[u8]>>(v: &T) -> &[u8] {
    v.as_ref()
}

/// Byte-like values made from the bytes of a received `[]byte` field.
trait FromBytes: Sized {
    fn from_received(raw: Cow<'_, [u8]>) -> Result<Self, DecodeError>;
}

impl FromBytes for Bytes {
    fn from_received(raw: Cow<'_, [u8]>) -> Result<Self, DecodeError> {
        Ok(Bytes::copy_from_slice(&raw))
    }
}

impl FromBytes for IpBytes {
    fn from_received(raw: Cow<'_, [u8]>) -> Result<Self, DecodeError> {
        IpBytes::new(&raw)
    }
}

impl FromBytes for Vsn {
    fn from_received(raw: Cow<'_, [u8]>) -> Result<Self, DecodeError> {
        Ok(Vsn::from_slice(&raw))
    }
}

/// Reads a name, kept inline by `SmolStr` when it is short enough.
pub(crate) fn read_name(r: &mut Reader<'_>, field: &'static str) -> Result<SmolStr, DecodeError> {
    let s = r.read_str(field)?;
    Ok(if s.len() <= 23 {
        SmolStr::new_inline(s)
    } else {
        SmolStr::new(s)
    })
}

/// Checks a Go `int` count: not negative and at most `limit`.
pub(crate) fn checked_count(v: i64, what: Limit, limit: u32) -> Result<u32, DecodeError> {
    let v = u64::try_from(v).map_err(|_| DecodeError::NegativeInteger)?;
    if v > u64::from(limit) {
        return Err(what.exceeded(v, u64::from(limit)));
    }
    Ok(v as u32)
}
