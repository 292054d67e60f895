//! AES-GCM encryption for memberlist-rs, wire-compatible with HashiCorp's Go memberlist.
//!
//! [`AesGcm`] implements [`Encryption`] with Go's envelope:
//!
//! ```text
//! vsn:u8 | nonce:12 random bytes | ciphertext || tag:16
//! ```
//!
//! - AES-GCM with a 12-byte nonce and a 16-byte tag. The key length (16, 24 or 32 bytes) selects
//!   AES-128, AES-192 or AES-256.
//! - **Version 1** encrypts the plaintext as is: the envelope is [`OVERHEAD_V1`] (29) bytes
//!   longer than the plaintext.
//! - **Version 0** (protocol version 1 peers) first pads the plaintext with PKCS#7 to a multiple
//!   of 16 bytes, adding up to [`MAX_OVERHEAD_V0`] (45) bytes.
//! - Receivers accept both versions, whatever they send themselves, and try every key of the
//!   [`Keyring`] in order (primary first).
//! - The additional authenticated data is chosen by the caller: Go uses the packet label for
//!   packets, and the 5-byte stream header followed by the label for streams.
//!
//! Each installed key is expanded once into a cached cipher, so sealing and opening do no key
//! schedule work. The keyring can change at runtime ([`Encryption::install_key`],
//! [`Encryption::use_key`], [`Encryption::remove_key`]) while other threads keep encrypting.
//!
//! ```
//! use memberlist_aes_gcm::{AesGcm, Encryption, EnvelopeVersion, SecretKey};
//!
//! let enc = AesGcm::from_key(SecretKey::new(&[7u8; 32])?);
//!
//! let mut sealed = Vec::new();
//! enc.encrypt(EnvelopeVersion::V1, b"hello", b"label", &mut sealed)?;
//! assert_eq!(sealed.len(), 5 + enc.overhead(EnvelopeVersion::V1));
//!
//! let mut opened = Vec::new();
//! enc.decrypt(&sealed, b"label", &mut opened)?;
//! assert_eq!(opened, b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod cipher;
mod envelope;

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

pub use memberlist_core::encryption::{
    Encryption, EncryptionError, EnvelopeVersion, Keyring, KeyringError, SealFailure, SecretKey,
};

pub use envelope::{
    BLOCK_SIZE, MAX_OVERHEAD_V0, NONCE_SIZE, OVERHEAD_V1, TAG_SIZE, VERSION_SIZE, encrypted_len,
};

use cipher::Cipher;

/// The keyring and one expanded cipher per key, in the same order (primary first).
///
/// A `State` is never modified: keyring changes build a new one and swap it in.
struct State {
    keyring: Keyring,
    ciphers: Vec<Cipher>,
}

impl State {
    /// Expands every key of `keyring`, reusing the ciphers `previous` already holds.
    fn build(keyring: Keyring, previous: Option<&State>) -> Self {
        let ciphers = keyring
            .keys()
            .iter()
            .map(|key| {
                previous
                    .and_then(|prev| {
                        let index = prev.keyring.keys().iter().position(|k| k == key)?;
                        prev.ciphers.get(index).cloned()
                    })
                    .unwrap_or_else(|| Cipher::new(key))
            })
            .collect();
        Self { keyring, ciphers }
    }
}

/// AES-GCM encryption with Go memberlist's envelope (versions 0 and 1) and a live keyring.
///
/// Sealing uses the primary key; opening tries every installed key, primary first. The type is
/// cheap to share (`Arc<AesGcm>` or `&AesGcm` across threads): sealing and opening only take a
/// brief read lock to grab the current keys, and keyring changes swap in a new set.
///
/// ```
/// use memberlist_aes_gcm::{AesGcm, Encryption, EncryptionError, EnvelopeVersion, SecretKey};
///
/// let old = SecretKey::new(b"0123456789abcdef")?;
/// let new = SecretKey::new(&[9u8; 32])?;
/// let enc = AesGcm::from_key(old.clone());
///
/// let mut sealed_with_old = Vec::new();
/// enc.encrypt(EnvelopeVersion::V1, b"ping", b"", &mut sealed_with_old)?;
///
/// // Rotate: install the new key, make it primary, then drop the old one.
/// enc.install_key(new.clone());
/// enc.use_key(&new)?;
/// enc.remove_key(&old)?;
///
/// let mut out = Vec::new();
/// assert_eq!(
///     enc.decrypt(&sealed_with_old, b"", &mut out),
///     Err(EncryptionError::NoKeyMatched)
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AesGcm {
    state: RwLock<Arc<State>>,
}

impl AesGcm {
    /// Encryption with every key of `keyring`; its primary key seals.
    ///
    /// ```
    /// use memberlist_aes_gcm::{AesGcm, Encryption, Keyring, SecretKey};
    ///
    /// let primary = SecretKey::new(&[1u8; 16])?;
    /// let other = SecretKey::new(&[2u8; 24])?;
    /// let enc = AesGcm::new(Keyring::with_keys(primary.clone(), [other]));
    /// assert_eq!(enc.keyring().primary(), &primary);
    /// assert_eq!(enc.keyring().keys().len(), 2);
    /// # Ok::<(), memberlist_aes_gcm::KeyringError>(())
    /// ```
    pub fn new(keyring: Keyring) -> Self {
        Self {
            state: RwLock::new(Arc::new(State::build(keyring, None))),
        }
    }

    /// Encryption with a single key.
    ///
    /// ```
    /// use memberlist_aes_gcm::{AesGcm, Encryption, SecretKey};
    ///
    /// let enc = AesGcm::from_key(SecretKey::new(b"0123456789abcdef")?);
    /// assert_eq!(enc.keyring().keys().len(), 1);
    /// # Ok::<(), memberlist_aes_gcm::KeyringError>(())
    /// ```
    pub fn from_key(key: SecretKey) -> Self {
        Self::new(Keyring::new(key))
    }

    /// Encryption from raw keys, the first one primary (like Go's `NewKeyring(keys, primary)`
    /// with `keys[0]` as primary). Duplicates are dropped.
    ///
    /// # Errors
    ///
    /// [`KeyringError::InvalidKeySize`] with the offending length if a key is not 16, 24 or 32
    /// bytes long, and `InvalidKeySize(0)` if `keys` is empty (a keyring needs a primary key).
    ///
    /// ```
    /// use memberlist_aes_gcm::{AesGcm, Encryption, KeyringError};
    ///
    /// let enc = AesGcm::keyring_from_bytes([[1u8; 32], [2u8; 32]])?;
    /// assert_eq!(enc.keyring().primary().as_bytes(), &[1u8; 32]);
    ///
    /// assert_eq!(
    ///     AesGcm::keyring_from_bytes(Vec::<Vec<u8>>::new()).err(),
    ///     Some(KeyringError::InvalidKeySize(0))
    /// );
    /// assert_eq!(
    ///     AesGcm::keyring_from_bytes([&b"short"[..]]).err(),
    ///     Some(KeyringError::InvalidKeySize(5))
    /// );
    /// # Ok::<(), KeyringError>(())
    /// ```
    pub fn keyring_from_bytes<I>(keys: I) -> Result<Self, KeyringError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let mut keys = keys.into_iter();
        let primary = keys.next().ok_or(KeyringError::InvalidKeySize(0))?;
        let mut keyring = Keyring::new(SecretKey::new(primary.as_ref())?);
        for key in keys {
            keyring.add(SecretKey::new(key.as_ref())?);
        }
        Ok(Self::new(keyring))
    }

    /// Seals `plaintext` with the primary key and the given `nonce`, appending the envelope to
    /// `out`.
    ///
    /// **For tests and reproducing known vectors only.** AES-GCM loses all confidentiality and
    /// integrity if a nonce is ever reused with the same key; [`Encryption::encrypt`] draws a
    /// fresh random nonce for every message and is what production code must use.
    ///
    /// # Errors
    ///
    /// [`EncryptionError::Seal`] if AES-GCM refuses the input (plaintext beyond 2³⁶ − 32 bytes).
    /// `out` is left as it was on error.
    ///
    /// ```
    /// use memberlist_aes_gcm::{AesGcm, EnvelopeVersion, SecretKey};
    ///
    /// let enc = AesGcm::from_key(SecretKey::new(b"0123456789abcdef")?);
    /// let nonce = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    /// let mut out = Vec::new();
    /// enc.encrypt_with_nonce(EnvelopeVersion::V1, nonce, b"payload", b"", &mut out)?;
    /// assert_eq!(out[0], 1);
    /// assert_eq!(&out[1..13], &nonce);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn encrypt_with_nonce(
        &self,
        version: EnvelopeVersion,
        nonce: [u8; NONCE_SIZE],
        plaintext: &[u8],
        aad: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), EncryptionError> {
        let state = self.snapshot();
        // Unreachable: a keyring always holds its primary key.
        let primary = state
            .ciphers
            .first()
            .ok_or(EncryptionError::Seal(SealFailure::NoPrimaryKey))?;
        envelope::seal(primary, version, &nonce, plaintext, aad, out)
    }

    /// The current keys and ciphers. The read lock is held only to clone the `Arc`.
    fn snapshot(&self) -> Arc<State> {
        // A panic while holding the lock cannot leave a half-updated state (the state is
        // swapped whole), so a poisoned lock is safe to keep using.
        Arc::clone(&self.state.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Applies `change` to a copy of the keyring and swaps in the result. The write lock is
    /// held throughout so concurrent changes do not overwrite each other.
    fn update(
        &self,
        change: impl FnOnce(&mut Keyring) -> Result<(), KeyringError>,
    ) -> Result<(), KeyringError> {
        let mut guard = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let mut keyring = guard.keyring.clone();
        change(&mut keyring)?;
        if keyring != guard.keyring {
            *guard = Arc::new(State::build(keyring, Some(&guard)));
        }
        Ok(())
    }
}

impl fmt::Debug for AesGcm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.snapshot();
        f.debug_struct("AesGcm")
            .field("ciphers", &state.ciphers)
            .finish()
    }
}

impl From<Keyring> for AesGcm {
    fn from(keyring: Keyring) -> Self {
        Self::new(keyring)
    }
}

impl From<SecretKey> for AesGcm {
    fn from(key: SecretKey) -> Self {
        Self::from_key(key)
    }
}

impl Encryption for AesGcm {
    fn name(&self) -> &'static str {
        "aes-gcm"
    }

    /// 29 bytes for version 1, 45 for version 0 (the most padding can add), as in Go.
    fn overhead(&self, version: EnvelopeVersion) -> usize {
        envelope::min_len(version)
    }

    /// Seals with the primary key and a fresh random nonce from the operating system.
    ///
    /// Fails with [`EncryptionError::Seal`] if no random nonce can be obtained or AES-GCM
    /// refuses the input; `out` is then left as it was.
    fn encrypt(
        &self,
        version: EnvelopeVersion,
        plaintext: &[u8],
        aad: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), EncryptionError> {
        let mut nonce = [0u8; NONCE_SIZE];
        getrandom::fill(&mut nonce).map_err(|e| {
            tracing::error!(error = %e, "the operating system gave no random bytes for a nonce");
            EncryptionError::Seal(SealFailure::NoRandomness)
        })?;
        self.encrypt_with_nonce(version, nonce, plaintext, aad, out)
    }

    /// Opens a version 0 or 1 envelope with the first installed key that authenticates it.
    ///
    /// Errors, checked in this order: [`EncryptionError::Empty`],
    /// [`EncryptionError::UnsupportedVersion`] (version byte above 1),
    /// [`EncryptionError::TooShort`] (below 29 bytes for version 1, 45 for version 0),
    /// [`EncryptionError::NoKeyMatched`], and for version 0 [`EncryptionError::BadPadding`].
    /// `out` is left as it was on error.
    ///
    /// Version 0 padding is handled like Go: the last plaintext byte says how many bytes to
    /// drop, and the other padding bytes are not checked. A count of 0 or one larger than the
    /// plaintext is rejected with `BadPadding`; that is slightly stricter than Go, which keeps
    /// the whole plaintext for 0 and panics on an oversized count.
    ///
    /// As in Go, the version byte itself is not authenticated: anyone can turn a version 1
    /// envelope into a version 0 one, which then opens as a truncated plaintext (its last byte
    /// read as a padding count) or fails with `BadPadding`. The framing layer's own checks
    /// (message type, CRC, msgpack) are what reject such a truncated message.
    fn decrypt(
        &self,
        envelope: &[u8],
        aad: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), EncryptionError> {
        let state = self.snapshot();
        envelope::open(&state.ciphers, envelope, aad, out)
    }

    fn keyring(&self) -> Keyring {
        self.snapshot().keyring.clone()
    }

    fn install_key(&self, key: SecretKey) {
        // `Keyring::add` cannot fail.
        let _ = self.update(|ring| {
            ring.add(key);
            Ok(())
        });
    }

    fn use_key(&self, key: &SecretKey) -> Result<(), KeyringError> {
        self.update(|ring| ring.use_key(key))
    }

    fn remove_key(&self, key: &SecretKey) -> Result<(), KeyringError> {
        self.update(|ring| ring.remove(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ciphers_are_reused_across_changes() {
        let a = SecretKey::new(&[1; 16]).expect("key");
        let b = SecretKey::new(&[2; 24]).expect("key");
        let enc = AesGcm::from_key(a.clone());
        enc.install_key(b.clone());
        enc.use_key(&b).expect("installed");
        let state = enc.snapshot();
        assert_eq!(state.keyring.keys(), &[b, a]);
        assert_eq!(format!("{:?}", state.ciphers), "[AES-192-GCM, AES-128-GCM]");
    }

    #[test]
    fn unchanged_keyring_keeps_state() {
        let a = SecretKey::new(&[1; 16]).expect("key");
        let enc = AesGcm::from_key(a.clone());
        let before = enc.snapshot();
        enc.install_key(a.clone());
        enc.use_key(&a).expect("primary");
        assert!(Arc::ptr_eq(&before, &enc.snapshot()));
    }

    #[test]
    fn debug_hides_key_material() {
        let enc = AesGcm::from_key(SecretKey::new(&[0xAB; 32]).expect("key"));
        let dbg = format!("{enc:?}");
        assert_eq!(dbg, "AesGcm { ciphers: [AES-256-GCM] }");
    }

    #[test]
    fn poisoned_lock_is_recovered() {
        let enc = Arc::new(AesGcm::from_key(SecretKey::new(&[1; 16]).expect("key")));
        let poisoner = Arc::clone(&enc);
        let _ = std::thread::spawn(move || {
            let _guard = poisoner.state.write();
            panic!("poison the lock");
        })
        .join();
        assert!(enc.state.is_poisoned());
        let mut out = Vec::new();
        enc.encrypt(EnvelopeVersion::V1, b"x", b"", &mut out)
            .expect("seal");
        enc.install_key(SecretKey::new(&[2; 16]).expect("key"));
        assert_eq!(enc.keyring().keys().len(), 2);
    }
}
