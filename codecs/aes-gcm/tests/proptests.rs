//! Property tests: round trips, tampering, and arbitrary input never panicking.
#![allow(clippy::unwrap_used)]

use memberlist_aes_gcm::{
    AesGcm, Encryption, EncryptionError, EnvelopeVersion, SecretKey, encrypted_len,
};
use proptest::prelude::*;

fn version() -> impl Strategy<Value = EnvelopeVersion> {
    prop_oneof![Just(EnvelopeVersion::V0), Just(EnvelopeVersion::V1)]
}

fn key() -> impl Strategy<Value = SecretKey> {
    prop_oneof![Just(16usize), Just(24), Just(32)]
        .prop_flat_map(|len| proptest::collection::vec(any::<u8>(), len))
        .prop_map(|bytes| SecretKey::new(&bytes).unwrap())
}

fn sealed(enc: &AesGcm, version: EnvelopeVersion, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    enc.encrypt(version, plaintext, aad, &mut out).unwrap();
    out
}

proptest! {
    #[test]
    fn round_trip(
        key in key(),
        version in version(),
        plaintext in proptest::collection::vec(any::<u8>(), 0..2048),
        aad in proptest::collection::vec(any::<u8>(), 0..64),
        prefix in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        let enc = AesGcm::from_key(key);
        let mut envelope = prefix.clone();
        enc.encrypt(version, &plaintext, &aad, &mut envelope).unwrap();
        prop_assert_eq!(&envelope[..prefix.len()], &prefix[..]);
        let envelope = &envelope[prefix.len()..];
        prop_assert_eq!(envelope.len(), encrypted_len(version, plaintext.len()));

        let mut out = prefix.clone();
        enc.decrypt(envelope, &aad, &mut out).unwrap();
        prop_assert_eq!(&out[..prefix.len()], &prefix[..]);
        prop_assert_eq!(&out[prefix.len()..], &plaintext[..]);
    }

    #[test]
    fn fixed_nonce_is_deterministic_and_opens(
        key in key(),
        version in version(),
        nonce in any::<[u8; 12]>(),
        plaintext in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let enc = AesGcm::from_key(key);
        let mut a = Vec::new();
        let mut b = Vec::new();
        enc.encrypt_with_nonce(version, nonce, &plaintext, b"", &mut a).unwrap();
        enc.encrypt_with_nonce(version, nonce, &plaintext, b"", &mut b).unwrap();
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(&a[1..13], &nonce[..]);
        let mut out = Vec::new();
        enc.decrypt(&a, b"", &mut out).unwrap();
        prop_assert_eq!(out, plaintext);
    }

    #[test]
    fn wrong_aad_fails(
        version in version(),
        plaintext in proptest::collection::vec(any::<u8>(), 0..256),
        aad in proptest::collection::vec(any::<u8>(), 0..32),
        other in proptest::collection::vec(any::<u8>(), 0..32),
    ) {
        prop_assume!(aad != other);
        let enc = AesGcm::from_key(SecretKey::new(&[7; 32]).unwrap());
        let envelope = sealed(&enc, version, &plaintext, &aad);
        let mut out = b"untouched".to_vec();
        prop_assert_eq!(
            enc.decrypt(&envelope, &other, &mut out),
            Err(EncryptionError::NoKeyMatched)
        );
        prop_assert_eq!(out, b"untouched");
    }

    #[test]
    fn tampered_body_fails(
        version in version(),
        plaintext in proptest::collection::vec(any::<u8>(), 0..256),
        index in any::<prop::sample::Index>(),
        flip in 1u8..,
    ) {
        let enc = AesGcm::from_key(SecretKey::new(&[7; 16]).unwrap());
        let mut envelope = sealed(&enc, version, &plaintext, b"");
        // Everything after the version byte (nonce, ciphertext, tag) is authenticated.
        let i = 1 + index.index(envelope.len() - 1);
        envelope[i] ^= flip;
        prop_assert_eq!(
            enc.decrypt(&envelope, b"", &mut Vec::new()),
            Err(EncryptionError::NoKeyMatched)
        );
    }

    #[test]
    fn truncated_or_extended_fails(
        version in version(),
        plaintext in proptest::collection::vec(any::<u8>(), 0..256),
        cut in any::<prop::sample::Index>(),
        extra in proptest::collection::vec(any::<u8>(), 1..32),
    ) {
        let enc = AesGcm::from_key(SecretKey::new(&[7; 24]).unwrap());
        let envelope = sealed(&enc, version, &plaintext, b"");
        let short = &envelope[..cut.index(envelope.len())];
        prop_assert!(enc.decrypt(short, b"", &mut Vec::new()).is_err());
        let mut long = envelope.clone();
        long.extend_from_slice(&extra);
        prop_assert!(enc.decrypt(&long, b"", &mut Vec::new()).is_err());
    }

    #[test]
    fn arbitrary_input_never_panics(
        vsn in prop_oneof![Just(0u8), Just(1u8), any::<u8>()],
        rest in proptest::collection::vec(any::<u8>(), 0..128),
        aad in proptest::collection::vec(any::<u8>(), 0..16),
    ) {
        let enc = AesGcm::keyring_from_bytes([&[1u8; 16][..], &[2u8; 32][..]]).unwrap();
        let mut envelope = vec![vsn];
        envelope.extend_from_slice(&rest);
        let mut out = b"keep".to_vec();
        prop_assert!(enc.decrypt(&envelope, &aad, &mut out).is_err());
        prop_assert_eq!(out, b"keep");
        prop_assert!(enc.decrypt(&rest, &aad, &mut Vec::new()).is_err());
    }

    #[test]
    fn mutated_envelopes_never_panic(
        version in version(),
        plaintext in proptest::collection::vec(any::<u8>(), 0..128),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let enc = AesGcm::from_key(SecretKey::new(&[3; 32]).unwrap());
        let mut envelope = sealed(&enc, version, &plaintext, b"");
        for (index, byte) in edits {
            let i = index.index(envelope.len());
            envelope[i] = byte;
        }
        let mut out = Vec::new();
        match enc.decrypt(&envelope, b"", &mut out) {
            // Only the version byte is unauthenticated (as in Go): switching it can reinterpret
            // padding, but never yields bytes that were not in the padded plaintext.
            Ok(()) => prop_assert!(out.len() <= plaintext.len() + 16),
            Err(_) => prop_assert!(out.is_empty()),
        }
    }
}

#[test]
fn empty_is_rejected() {
    let enc = AesGcm::from_key(SecretKey::new(&[7; 16]).unwrap());
    assert_eq!(
        enc.decrypt(&[], b"", &mut Vec::new()),
        Err(EncryptionError::Empty)
    );
}
