//! Tests of `wire/msgpack.rs`.
#![allow(clippy::unwrap_used)]
use super::*;
use proptest::prelude::*;

#[test]
fn strings_use_raw_family() {
    let mut out = Vec::new();
    write_str(&mut out, &[7u8; 40]);
    assert_eq!(&out[..3], &[0xda, 0x00, 0x28]);
    out.clear();
    write_str(&mut out, b"node-b");
    assert_eq!(out, b"\xa6node-b");
    out.clear();
    write_str(&mut out, &vec![0u8; 70_000]);
    assert_eq!(&out[..5], &[0xdb, 0, 1, 0x11, 0x70]);
}

#[test]
fn ints_match_go_msgpack_v2() {
    let cases: &[(i64, &[u8])] = &[
        (0, &[0]),
        (127, &[0x7f]),
        (128, &[0xd1, 0, 0x80]),
        (200, &[0xd1, 0, 0xc8]),
        (-1, &[0xff]),
        (-33, &[0xd0, 0xdf]),
        (40_000, &[0xd2, 0, 0, 0x9c, 0x40]),
    ];
    for (v, want) in cases {
        let mut out = Vec::new();
        write_int(&mut out, *v);
        assert_eq!(&out, want, "value {v}");
        assert_eq!(int_size(*v), want.len());
        assert_eq!(Reader::new(&out).read_i64().unwrap(), *v);
    }
}

#[test]
fn uints_smallest_form() {
    let mut out = Vec::new();
    write_uint(&mut out, 7946);
    assert_eq!(out, [0xcd, 0x1f, 0x0a]);
    out.clear();
    write_uint(&mut out, 70_000);
    assert_eq!(out, [0xce, 0, 1, 0x11, 0x70]);
}

#[test]
fn lenient_reads() {
    // bytes as bin8, str8 and an array of ints
    assert_eq!(
        &*Reader::new(&[0xc4, 2, 1, 2]).read_bytes().unwrap(),
        &[1, 2]
    );
    assert_eq!(&*Reader::new(&[0xd9, 1, 9]).read_bytes().unwrap(), &[9]);
    assert_eq!(
        &*Reader::new(&[0x93, 1, 0xcc, 0xff, 0xd1, 0, 3])
            .read_bytes()
            .unwrap(),
        &[1, 255, 3]
    );
    // u16 read from int32
    assert_eq!(
        Reader::new(&[0xd2, 0, 0, 0x1f, 0x0a])
            .read_uint::<u16>()
            .unwrap(),
        7946
    );
    assert!(Reader::new(&[0xff]).read_u64().is_err());
    assert!(Reader::new(&[0xce, 0, 1, 0, 0]).read_uint::<u16>().is_err());
    assert!(Reader::new(&[0x01]).read_bool().unwrap());
}

#[test]
fn skip_is_bounded() {
    // A huge claimed array with no elements is an EOF, not an allocation.
    assert_eq!(
        Reader::new(&[0xdd, 0xff, 0xff, 0xff, 0xff]).skip(),
        Err(DecodeError::UnexpectedEof)
    );
    // Deep nesting is refused.
    let deep = vec![0x91u8; 1000];
    assert_eq!(Reader::new(&deep).skip(), Err(DecodeError::TooDeep));
    assert_eq!(value_len(&[0x82, 0xa1, b'a', 1]).unwrap(), None);
    assert_eq!(
        value_len(&[0x82, 0xa1, b'a', 1, 0xa1, b'b', 2, 0xff]).unwrap(),
        Some(7)
    );
}

proptest! {
    #[test]
    fn skip_never_panics(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut r = Reader::new(&data);
        let _ = r.skip();
        let _ = Reader::new(&data).read_bytes();
    }

    #[test]
    fn int_round_trip(v in any::<i64>()) {
        let mut out = Vec::new();
        write_int(&mut out, v);
        prop_assert_eq!(out.len(), int_size(v));
        prop_assert_eq!(Reader::new(&out).read_i64().unwrap(), v);
    }

    #[test]
    fn uint_round_trip(v in any::<u64>()) {
        let mut out = Vec::new();
        write_uint(&mut out, v);
        prop_assert_eq!(out.len(), uint_size(v));
        prop_assert_eq!(Reader::new(&out).read_u64().unwrap(), v);
    }
}
