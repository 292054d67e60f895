//! Known-answer vectors: Go memberlist's envelope for a fixed key and nonce.
#![allow(clippy::unwrap_used)]

use memberlist_aes_gcm::{AesGcm, Encryption, EnvelopeVersion, SecretKey, encrypted_len};

const KEY: &[u8] = b"0123456789abcdef";
const NONCE: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
/// An ack message (`[02]` + msgpack {Payload: nil, SeqNo: 1}).
const PLAINTEXT: &str = "0282a75061796c6f6164c0a55365714e6f01";

struct Vector {
    name: &'static str,
    version: EnvelopeVersion,
    aad: &'static [u8],
    envelope: &'static str,
}

const VECTORS: &[Vector] = &[
    Vector {
        name: "v1, no AAD",
        version: EnvelopeVersion::V1,
        aad: b"",
        envelope: "01000102030405060708090a0bffbd634d7f0d57598942c7bf93fec1636fd6e854d4c96d97f73de9bacbd3d73bb56d",
    },
    Vector {
        name: "v1, label AAD",
        version: EnvelopeVersion::V1,
        aad: b"prod",
        envelope: "01000102030405060708090a0bffbd634d7f0d57598942c7bf93fec1636fd641e4e675479348fec66c7ce6a07e2b5a",
    },
    Vector {
        name: "v0, no AAD",
        version: EnvelopeVersion::V0,
        aad: b"",
        envelope: "00000102030405060708090a0bffbd634d7f0d57598942c7bf93fec1636fd659f409bd44457967e4fde1a5a56247f0a03c3217e8e215319142263e5b3c",
    },
    Vector {
        name: "v1 stream, header + label AAD",
        version: EnvelopeVersion::V1,
        aad: b"\x0a\x00\x00\x00\x2fprod",
        envelope: "01000102030405060708090a0bffbd634d7f0d57598942c7bf93fec1636fd6eb24d881fb29d572cfa48ba9f7390d98",
    },
];

fn enc() -> AesGcm {
    AesGcm::from_key(SecretKey::new(KEY).unwrap())
}

#[test]
fn seal_matches_vectors() {
    let enc = enc();
    let plaintext = hex::decode(PLAINTEXT).unwrap();
    for v in VECTORS {
        let mut out = Vec::new();
        enc.encrypt_with_nonce(v.version, NONCE, &plaintext, v.aad, &mut out)
            .unwrap();
        assert_eq!(hex::encode(&out), v.envelope, "{}", v.name);
        assert_eq!(
            out.len(),
            encrypted_len(v.version, plaintext.len()),
            "{}",
            v.name
        );
    }
}

#[test]
fn open_matches_vectors() {
    let enc = enc();
    let plaintext = hex::decode(PLAINTEXT).unwrap();
    for v in VECTORS {
        let envelope = hex::decode(v.envelope).unwrap();
        let mut out = Vec::new();
        enc.decrypt(&envelope, v.aad, &mut out).unwrap();
        assert_eq!(out, plaintext, "{}", v.name);
    }
}

#[test]
fn v0_vector_carries_pkcs7_padding() {
    // Decrypting the v0 vector as if it were v1 exposes the raw padded plaintext.
    let enc = enc();
    let mut envelope = hex::decode(VECTORS[2].envelope).unwrap();
    assert_eq!(envelope.len(), 61);
    envelope[0] = 1;
    // The version byte is not authenticated, so this opens and keeps the padding.
    let mut raw = Vec::new();
    enc.decrypt(&envelope, b"", &mut raw).unwrap();
    let mut expected = hex::decode(PLAINTEXT).unwrap();
    expected.extend_from_slice(&[0x0e; 14]);
    assert_eq!(raw, expected);
}

#[test]
fn wrong_aad_or_key_fails() {
    let enc = enc();
    let other = AesGcm::from_key(SecretKey::new(b"fedcba9876543210").unwrap());
    for v in VECTORS {
        let envelope = hex::decode(v.envelope).unwrap();
        let mut out = Vec::new();
        let err = enc.decrypt(&envelope, b"other", &mut out).unwrap_err();
        assert_eq!(
            err,
            memberlist_aes_gcm::EncryptionError::NoKeyMatched,
            "{}",
            v.name
        );
        let err = other.decrypt(&envelope, v.aad, &mut out).unwrap_err();
        assert_eq!(
            err,
            memberlist_aes_gcm::EncryptionError::NoKeyMatched,
            "{}",
            v.name
        );
        assert!(out.is_empty());
    }
}
