//! The [`go_struct!`] table: each message's encoding written once.
//!
//! Go writes a struct as a map keyed by the field names in sorted order (leaving out
//! `omitempty` fields at their zero value) and reads the keys in any order. One table per
//! struct lists its keys in that order, each with its Rust field and [field
//! codec](super::field); the macro derives the writer, the exact length and the reader.
//!
//! To add a message: declare the struct (with `Default`) as usual, add its type byte to the
//! `message_types!` list of [`MessageType`](super::MessageType) (and, if packets carry it,
//! its name to the `packet_messages!` list of [`Message`](super::Message)), then write its
//! table, keys in Go's sorted order (a table out of order does not compile):
//!
//! ```ignore
//! go_struct! {
//!     message Nack = Nack {
//!         "SeqNo" => seq_no: Uint;
//!     }
//! }
//! ```
//!
//! `message Name = Variant` also implements [`WireMessage`](super::WireMessage) with the type
//! byte `MessageType::Variant`; `struct Name, Twin<'_>` implements only the map encoding,
//! for `Name` and for borrowed twins with the same field names (written, never read). A key
//! may be followed by flags: `omitempty` (Go's tag: left out when empty) and `required`
//! (decoding refuses the struct when the field is absent or empty,
//! [`DecodeError::MissingField`]). Golden bytes of the new message belong in
//! `tests/spec_vectors.rs`.

use super::error::DecodeError;
use super::limits::Limits;
use super::msgpack::Reader;

/// Writing a Go struct's msgpack map (implemented by [`go_struct!`]).
pub(crate) trait GoWrite {
    /// Appends the map: keys in Go's sorted order.
    fn write_map(&self, out: &mut Vec<u8>);
    /// The exact length [`write_map`](GoWrite::write_map) appends.
    fn map_size(&self) -> usize;
}

/// Reading a Go struct's msgpack map (implemented by [`go_struct!`]).
pub(crate) trait GoRead: Sized {
    /// Reads the map: keys in any order, unknown keys skipped, counts within `limits`.
    fn read_map(r: &mut Reader<'_>, limits: &Limits) -> Result<Self, DecodeError>;
}

/// Whether `keys` are in strictly increasing byte order, as go-msgpack writes a struct's.
pub(crate) const fn keys_sorted(keys: &[&str]) -> bool {
    let mut i = 1;
    while i < keys.len() {
        let (a, b) = (keys[i - 1].as_bytes(), keys[i].as_bytes());
        let mut j = 0;
        while j < a.len() && j < b.len() && a[j] == b[j] {
            j += 1;
        }
        let less = if j < a.len() && j < b.len() {
            a[j] < b[j]
        } else {
            a.len() < b.len()
        };
        if !less {
            return false;
        }
        i += 1;
    }
    true
}

/// The fixstr of a key: its header byte, then the key. Keys are Go field names, so always
/// shorter than 32 bytes (checked when the table compiles).
pub(crate) const fn fixstr<const N: usize>(key: &str) -> [u8; N] {
    let k = key.as_bytes();
    assert!(k.len() + 1 == N && k.len() < 32, "a key is a fixstr");
    let mut out = [0u8; N];
    out[0] = 0xa0 | k.len() as u8;
    let mut i = 0;
    while i < k.len() {
        out[i + 1] = k[i];
        i += 1;
    }
    out
}

/// Derives the encoding of a Go struct from its table; see the [module](self) documentation.
macro_rules! go_struct {
    (message $name:ident = $variant:ident $(, $twin:ty)* { $($table:tt)* }) => {
        go_struct!(struct $name $(, $twin)* { $($table)* });

        impl $crate::wire::WireMessage for $name {
            const TYPE: $crate::wire::MessageType = $crate::wire::MessageType::$variant;

            #[inline]
            fn encode_body(&self, out: &mut Vec<u8>) {
                $crate::wire::go_struct::GoWrite::write_map(self, out);
            }

            #[inline]
            fn body_len(&self) -> usize {
                $crate::wire::go_struct::GoWrite::map_size(self)
            }

            fn decode_body(buf: &[u8]) -> Result<(Self, usize), $crate::wire::DecodeError> {
                let mut r = $crate::wire::msgpack::Reader::new(buf);
                let limits = $crate::wire::Limits::default();
                let m = $crate::wire::go_struct::GoRead::read_map(&mut r, &limits)?;
                Ok((m, r.position()))
            }
        }
    };
    (struct $name:ident $(, $twin:ty)* {
        $($key:literal => $f:ident : $codec:expr $(, $flag:ident)?;)*
    }) => {
        const _: () = assert!(
            $crate::wire::go_struct::keys_sorted(&[$($key),*]),
            "go_struct! keys must be in Go's sorted order"
        );
        go_struct!(@write { $($key => $f : $codec $(, $flag)?;)* } $name $(, $twin)*);

        impl $crate::wire::go_struct::GoRead for $name {
            fn read_map(
                r: &mut $crate::wire::msgpack::Reader<'_>,
                limits: &$crate::wire::Limits,
            ) -> Result<Self, $crate::wire::DecodeError> {
                let mut m = Self::default();
                for _ in 0..r.read_map_len()? {
                    let key = r.read_raw()?;
                    $(if key == $key.as_bytes() {
                        m.$f = $crate::wire::field::ReadField::read(&$codec, r, $key, limits)?;
                        continue;
                    })*
                    r.skip()?;
                }
                $(go_struct!(@check m, $key, $f, $codec $(, $flag)?);)*
                Ok(m)
            }
        }
    };
    (@write { $($table:tt)* }) => {};
    (@write { $($key:literal => $f:ident : $codec:expr $(, $flag:ident)?;)* }
        $ty:ty $(, $rest:ty)*) => {
        go_struct!(@write { $($key => $f : $codec $(, $flag)?;)* } $($rest),*);

        impl $crate::wire::go_struct::GoWrite for $ty {
            #[inline]
            fn write_map(&self, out: &mut Vec<u8>) {
                // Whether each field is written, by the field's name.
                $(let $f = go_struct!(@present self, $f, $codec $(, $flag)?);)*
                $crate::wire::msgpack::write_map_len(out, 0 $(+ usize::from($f))*);
                $(if $f {
                    out.extend_from_slice(&const {
                        $crate::wire::go_struct::fixstr::<{ $key.len() + 1 }>($key)
                    });
                    $crate::wire::field::Field::write(&$codec, &self.$f, out);
                })*
            }

            #[inline]
            fn map_size(&self) -> usize {
                $(let $f = go_struct!(@present self, $f, $codec $(, $flag)?);)*
                $crate::wire::msgpack::map_len_size(0 $(+ usize::from($f))*)
                    $(+ if $f {
                        1 + $key.len() + $crate::wire::field::Field::size(&$codec, &self.$f)
                    } else {
                        0
                    })*
            }
        }
    };
    (@present $s:ident, $f:ident, $codec:expr) => { true };
    (@present $s:ident, $f:ident, $codec:expr, required) => { true };
    (@present $s:ident, $f:ident, $codec:expr, omitempty) => {
        !$crate::wire::field::Field::is_empty(&$codec, &$s.$f)
    };
    (@check $m:ident, $key:literal, $f:ident, $codec:expr) => {};
    (@check $m:ident, $key:literal, $f:ident, $codec:expr, omitempty) => {};
    (@check $m:ident, $key:literal, $f:ident, $codec:expr, required) => {
        if $crate::wire::field::Field::is_empty(&$codec, &$m.$f) {
            return Err($crate::wire::DecodeError::MissingField($key));
        }
    };
}
pub(crate) use go_struct;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use smol_str::SmolStr;

    use super::*;
    use crate::wire::field::{Str, Uint};
    use crate::wire::msgpack::{write_map_len, write_str, write_uint};

    #[derive(Debug, Default, PartialEq)]
    struct Probe {
        name: SmolStr,
        port: u16,
    }

    go_struct! {
        struct Probe {
            "Name" => name: Str, required;
            "Port" => port: Uint, omitempty;
        }
    }

    #[test]
    fn keys_sort_bytewise() {
        assert!(keys_sorted(&[]));
        assert!(keys_sorted(&["Node", "SeqNo", "SourceAddr", "SourceNode"]));
        assert!(keys_sorted(&["Nod", "Node"]));
        assert!(!keys_sorted(&["Node", "Nod"]));
        assert!(!keys_sorted(&["SeqNo", "SeqNo"]));
        assert!(!keys_sorted(&["a", "B"]));
    }

    #[test]
    fn omitempty_required_and_unknown_keys() {
        let read = |b: &[u8]| Probe::read_map(&mut Reader::new(b), &Limits::default());
        let mut out = Vec::new();
        let p = Probe {
            name: "n".into(),
            port: 0,
        };
        p.write_map(&mut out);
        assert_eq!(out, b"\x81\xa4Name\xa1n");
        assert_eq!(out.len(), p.map_size());
        assert_eq!(read(&out).unwrap(), p);
        let p = Probe {
            name: "n".into(),
            port: 300,
        };
        out.clear();
        p.write_map(&mut out);
        assert_eq!(out.len(), p.map_size());
        assert_eq!(read(&out).unwrap(), p);
        // Unknown keys are skipped, in any order.
        out.clear();
        write_map_len(&mut out, 3);
        write_str(&mut out, b"Port");
        write_uint(&mut out, 7);
        write_str(&mut out, b"Extra");
        write_map_len(&mut out, 0);
        write_str(&mut out, b"Name");
        write_str(&mut out, b"x");
        assert_eq!(
            read(&out).unwrap(),
            Probe {
                name: "x".into(),
                port: 7
            }
        );
        // A required field absent or empty.
        assert_eq!(read(b"\x80"), Err(DecodeError::MissingField("Name")));
        assert_eq!(
            read(b"\x81\xa4Name\xa0"),
            Err(DecodeError::MissingField("Name"))
        );
    }
}
