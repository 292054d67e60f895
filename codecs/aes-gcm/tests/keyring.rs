//! Keyring management through the `Encryption` trait, key sizes and concurrency.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use memberlist_aes_gcm::{
    AesGcm, Encryption, EncryptionError, EnvelopeVersion, Keyring, KeyringError, MAX_OVERHEAD_V0,
    OVERHEAD_V1, SecretKey,
};

const VERSIONS: [EnvelopeVersion; 2] = [EnvelopeVersion::V0, EnvelopeVersion::V1];

fn key(byte: u8, len: usize) -> SecretKey {
    SecretKey::new(&vec![byte; len]).unwrap()
}

fn seal(enc: &dyn Encryption, plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    enc.encrypt(EnvelopeVersion::V1, plaintext, b"aad", &mut out)
        .unwrap();
    out
}

fn open(enc: &dyn Encryption, envelope: &[u8]) -> Result<Vec<u8>, EncryptionError> {
    let mut out = Vec::new();
    enc.decrypt(envelope, b"aad", &mut out).map(|()| out)
}

#[test]
fn rotation_through_the_trait() {
    let old = key(1, 32);
    let new = key(2, 16);
    let enc: Box<dyn Encryption> = Box::new(AesGcm::from_key(old.clone()));
    assert_eq!(enc.name(), "aes-gcm");
    let only_new = AesGcm::from_key(new.clone());

    let from_old = seal(&*enc, b"sealed with old");

    // Install: still sealing with the old key, both keys open.
    enc.install_key(new.clone());
    enc.install_key(new.clone());
    assert_eq!(enc.keyring().keys(), &[old.clone(), new.clone()]);
    assert_eq!(
        open(&only_new, &seal(&*enc, b"x")),
        Err(EncryptionError::NoKeyMatched)
    );
    assert_eq!(open(&*enc, &seal(&only_new, b"y")).unwrap(), b"y");

    // Use: the new key seals; old packets still open.
    assert_eq!(enc.use_key(&key(3, 16)), Err(KeyringError::KeyNotFound));
    enc.use_key(&new).unwrap();
    assert_eq!(enc.keyring().primary(), &new);
    assert_eq!(open(&only_new, &seal(&*enc, b"z")).unwrap(), b"z");
    assert_eq!(open(&*enc, &from_old).unwrap(), b"sealed with old");

    // Remove: the primary is refused, the old key goes, old packets no longer open.
    assert_eq!(enc.remove_key(&new), Err(KeyringError::RemovePrimary));
    assert_eq!(enc.remove_key(&key(3, 16)), Err(KeyringError::KeyNotFound));
    enc.remove_key(&old).unwrap();
    assert_eq!(enc.keyring(), Keyring::new(new.clone()));
    assert_eq!(open(&*enc, &from_old), Err(EncryptionError::NoKeyMatched));
    assert_eq!(enc.remove_key(&old), Err(KeyringError::KeyNotFound));
}

#[test]
fn every_key_size_round_trips_both_versions() {
    for len in [16, 24, 32] {
        let enc = AesGcm::from_key(key(0x5a, len));
        for version in VERSIONS {
            for size in [0, 1, 15, 16, 17, 1400] {
                let plaintext: Vec<u8> = (0..size).map(|i| i as u8).collect();
                let mut sealed = Vec::new();
                enc.encrypt(version, &plaintext, b"label", &mut sealed)
                    .unwrap();
                assert_eq!(sealed[0], version.byte());
                assert!(sealed.len() <= plaintext.len() + enc.overhead(version));
                if version == EnvelopeVersion::V1 {
                    assert_eq!(sealed.len(), plaintext.len() + OVERHEAD_V1);
                } else {
                    assert_eq!((sealed.len() - OVERHEAD_V1) % 16, 0);
                }
                let mut opened = Vec::new();
                enc.decrypt(&sealed, b"label", &mut opened).unwrap();
                assert_eq!(opened, plaintext, "AES-{} {version:?} {size}", len * 8);
            }
        }
    }
}

#[test]
fn overheads_match_go() {
    let enc = AesGcm::from_key(key(1, 16));
    assert_eq!(enc.overhead(EnvelopeVersion::V1), 29);
    assert_eq!(enc.overhead(EnvelopeVersion::V0), 45);
    assert_eq!(MAX_OVERHEAD_V0, 45);
}

#[test]
fn keys_of_different_sizes_coexist() {
    let enc = AesGcm::keyring_from_bytes([vec![1u8; 16], vec![2u8; 24], vec![3u8; 32]]).unwrap();
    for (i, len) in [16, 24, 32].into_iter().enumerate() {
        let single = AesGcm::from_key(key(i as u8 + 1, len));
        for version in VERSIONS {
            let mut sealed = Vec::new();
            single.encrypt(version, b"hi", b"", &mut sealed).unwrap();
            let mut out = Vec::new();
            enc.decrypt(&sealed, b"", &mut out).unwrap();
            assert_eq!(out, b"hi");
        }
    }
}

#[test]
fn nonces_are_fresh() {
    let enc = AesGcm::from_key(key(1, 16));
    let a = seal(&enc, b"same");
    let b = seal(&enc, b"same");
    assert_ne!(a[1..13], b[1..13]);
    assert_ne!(a, b);
}

#[test]
fn keyring_from_bytes_errors() {
    assert_eq!(
        AesGcm::keyring_from_bytes(Vec::<[u8; 16]>::new()).err(),
        Some(KeyringError::InvalidKeySize(0))
    );
    assert_eq!(
        AesGcm::keyring_from_bytes([vec![1u8; 16], vec![2u8; 31]]).err(),
        Some(KeyringError::InvalidKeySize(31))
    );
    let enc = AesGcm::keyring_from_bytes([[1u8; 16], [1u8; 16], [2u8; 16]]).unwrap();
    assert_eq!(enc.keyring().keys(), &[key(1, 16), key(2, 16)]);
}

#[test]
fn concurrent_rotation_keeps_traffic_flowing() {
    let keys: Vec<SecretKey> = (1..=8).map(|i| key(i, 16 + 8 * (i as usize % 3))).collect();
    // Every key stays installed; only the primary moves, so everything sealed must open.
    let enc = Arc::new(AesGcm::new(Keyring::with_keys(
        keys[0].clone(),
        keys[1..].iter().cloned(),
    )));
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let enc = Arc::clone(&enc);
            std::thread::spawn(move || {
                for i in 0..500u32 {
                    let plaintext = [t as u8, i as u8, (i >> 8) as u8];
                    let mut sealed = Vec::new();
                    enc.encrypt(EnvelopeVersion::V1, &plaintext, b"", &mut sealed)
                        .unwrap();
                    let mut out = Vec::new();
                    enc.decrypt(&sealed, b"", &mut out).unwrap();
                    assert_eq!(out, plaintext);
                }
            })
        })
        .collect();
    let extra = key(0xF0, 32);
    for round in 0..200 {
        enc.use_key(&keys[round % keys.len()]).unwrap();
        enc.install_key(extra.clone());
        // `extra` is never made primary, so it can always be removed.
        enc.remove_key(&extra).unwrap();
    }
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(enc.keyring().keys().len(), keys.len());
}
