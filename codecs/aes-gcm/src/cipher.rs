//! One expanded AES-GCM cipher per key.
//!
//! Key expansion (AES round keys and the GHASH key) happens once, when a key is installed; the
//! per-packet paths only borrow an already expanded [`Cipher`].

use std::fmt;

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, Key, KeyInit};
use aes_gcm::aes::Aes192;
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use memberlist_core::encryption::SecretKey;

use crate::envelope::{NONCE_SIZE, TAG_SIZE};

/// AES-192-GCM with a 96-bit nonce and 128-bit tag (aes-gcm has no alias for it).
type Aes192Gcm = aes_gcm::AesGcm<Aes192, U12>;

/// A 96-bit AES-GCM nonce.
type Nonce = aes_gcm::Nonce<U12>;

/// A 128-bit AES-GCM tag.
pub(crate) type Tag = aes_gcm::Tag;

/// The AES-GCM primitive is deliberately opaque about why it failed (bad tag, or input too long
/// for GCM): both mean "this key cannot seal/open this input".
pub(crate) type AeadError = aes_gcm::aead::Error;

/// An expanded AES-GCM cipher; the variant follows the key length.
#[derive(Clone)]
pub(crate) enum Cipher {
    /// 16-byte key.
    Aes128(Aes128Gcm),
    /// 24-byte key.
    Aes192(Aes192Gcm),
    /// 32-byte key.
    Aes256(Aes256Gcm),
}

/// Copies `bytes` into an `N`-byte array without ever panicking: extra input is ignored and
/// missing input is zero. Callers pass exactly `N` bytes (a [`SecretKey`] is always 16, 24 or
/// 32 bytes long).
fn fixed<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    let n = bytes.len().min(N);
    out[..n].copy_from_slice(&bytes[..n]);
    out
}

impl Cipher {
    /// Expands `key` (AES-128, -192 or -256 by its length).
    pub(crate) fn new(key: &SecretKey) -> Self {
        let bytes = key.as_bytes();
        match key.len() {
            16 => Self::Aes128(Aes128Gcm::new(&Key::<Aes128Gcm>::from(fixed::<16>(bytes)))),
            24 => Self::Aes192(Aes192Gcm::new(&Key::<Aes192Gcm>::from(fixed::<24>(bytes)))),
            // `SecretKey` guarantees the only remaining length is 32.
            _ => Self::Aes256(Aes256Gcm::new(&Key::<Aes256Gcm>::from(fixed::<32>(bytes)))),
        }
    }

    /// Encrypts `buffer` in place and returns the tag.
    pub(crate) fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_SIZE],
        aad: &[u8],
        buffer: &mut [u8],
    ) -> Result<Tag, AeadError> {
        let nonce = Nonce::from(*nonce);
        let buffer = InOutBuf::from(buffer);
        match self {
            Self::Aes128(c) => c.encrypt_inout_detached(&nonce, aad, buffer),
            Self::Aes192(c) => c.encrypt_inout_detached(&nonce, aad, buffer),
            Self::Aes256(c) => c.encrypt_inout_detached(&nonce, aad, buffer),
        }
    }

    /// Authenticates `ciphertext` against `tag` and, only if it authenticates, writes the
    /// plaintext to `out` (which must be as long as `ciphertext`).
    pub(crate) fn open_to(
        &self,
        nonce: &[u8; NONCE_SIZE],
        aad: &[u8],
        ciphertext: &[u8],
        out: &mut [u8],
        tag: &[u8; TAG_SIZE],
    ) -> Result<(), AeadError> {
        let nonce = Nonce::from(*nonce);
        let tag = Tag::from(*tag);
        let buffer = InOutBuf::new(ciphertext, out).map_err(|_| AeadError {})?;
        match self {
            Self::Aes128(c) => c.decrypt_inout_detached(&nonce, aad, buffer, &tag),
            Self::Aes192(c) => c.decrypt_inout_detached(&nonce, aad, buffer, &tag),
            Self::Aes256(c) => c.decrypt_inout_detached(&nonce, aad, buffer, &tag),
        }
    }
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Aes128(_) => "AES-128-GCM",
            Self::Aes192(_) => "AES-192-GCM",
            Self::Aes256(_) => "AES-256-GCM",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_follows_key_length() {
        for (len, name) in [
            (16, "AES-128-GCM"),
            (24, "AES-192-GCM"),
            (32, "AES-256-GCM"),
        ] {
            let key = SecretKey::new(&vec![7u8; len]).expect("valid key");
            assert_eq!(format!("{:?}", Cipher::new(&key)), name);
        }
    }

    #[test]
    fn fixed_never_panics() {
        assert_eq!(fixed::<4>(&[1, 2]), [1, 2, 0, 0]);
        assert_eq!(fixed::<2>(&[1, 2, 3]), [1, 2]);
    }

    #[test]
    fn open_rejects_length_mismatch() {
        let cipher = Cipher::new(&SecretKey::new(&[1u8; 16]).expect("valid key"));
        let mut out = [0u8; 3];
        assert!(
            cipher
                .open_to(&[0; NONCE_SIZE], b"", &[0u8; 4], &mut out, &[0; TAG_SIZE])
                .is_err()
        );
    }
}
