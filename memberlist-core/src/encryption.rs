//! Encryption plugins and the keyring.
//!
//! Go memberlist seals packets and streams with AES-GCM (the `memberlist-aes-gcm` crate); the
//! core only knows the [`Encryption`] trait. The authenticated data is the label for packets,
//! the 5-byte `encryptMsg` header plus the label for streams.

use std::fmt;

/// Errors from managing keys.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyringError {
    /// A key is not 16, 24 or 32 bytes long.
    #[error("key size must be 16, 24 or 32 bytes, got {0}")]
    InvalidKeySize(usize),
    /// The key is not in the keyring.
    #[error("the requested key is not in the keyring")]
    KeyNotFound,
    /// Removing the primary key is refused: make another key primary first.
    #[error("removing the primary key is not allowed; make another key primary first")]
    RemovePrimary,
}

/// Errors from sealing or opening an envelope.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncryptionError {
    /// The input is empty.
    #[error("cannot decrypt empty payload")]
    Empty,
    /// The envelope version byte is not 0 or 1.
    #[error("unsupported encryption version {0}")]
    UnsupportedVersion(u8),
    /// The envelope is shorter than the version's minimum.
    #[error("payload is too small to decrypt: {len} bytes, need at least {min}")]
    TooShort {
        /// Length received.
        len: usize,
        /// Minimum for this envelope version.
        min: usize,
    },
    /// No key of the keyring authenticated the envelope.
    #[error("no installed keys could decrypt the message")]
    NoKeyMatched,
    /// Version 0 padding is inconsistent with the plaintext length.
    #[error("invalid PKCS#7 padding")]
    BadPadding,
    /// Sealing failed (should not happen with valid keys).
    #[error("encryption failed: {0}")]
    Seal(SealFailure),
}

/// Why an envelope could not be sealed, in [`EncryptionError::Seal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealFailure {
    /// The keyring has no primary key to seal with.
    #[error("the keyring has no primary key")]
    NoPrimaryKey,
    /// The operating system gave no random bytes for the nonce.
    #[error("cannot draw a random nonce from the operating system")]
    NoRandomness,
    /// The cipher refused the input (plaintext or associated data beyond its limits).
    #[error("the cipher refused the input (plaintext or associated data too long)")]
    InputTooLong,
}

/// Envelope versions of Go memberlist's AES-GCM encryption; receivers accept both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum EnvelopeVersion {
    /// PKCS#7-padded plaintext (protocol version 1).
    V0 = 0,
    /// Unpadded plaintext (protocol version ≥ 2). The default.
    #[default]
    V1 = 1,
}

impl EnvelopeVersion {
    /// The envelope version Go uses for a given local protocol version.
    ///
    /// ```
    /// use memberlist_core::encryption::EnvelopeVersion;
    /// assert_eq!(EnvelopeVersion::for_protocol(1), EnvelopeVersion::V0);
    /// assert_eq!(EnvelopeVersion::for_protocol(2), EnvelopeVersion::V1);
    /// ```
    pub fn for_protocol(protocol_version: u8) -> Self {
        if protocol_version < 2 {
            Self::V0
        } else {
            Self::V1
        }
    }

    /// The version byte written at the start of the envelope.
    pub fn byte(self) -> u8 {
        self as u8
    }
}

/// A symmetric key of 16, 24 or 32 bytes (AES-128, AES-192 or AES-256).
///
/// Its `Debug` output never shows the key material.
///
/// ```
/// use memberlist_core::encryption::SecretKey;
/// let key = SecretKey::new(b"0123456789abcdef").unwrap();
/// assert_eq!(key.len(), 16);
/// assert!(SecretKey::new(&[0u8; 10]).is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecretKey {
    bytes: [u8; 32],
    len: u8,
}

impl SecretKey {
    /// Validates and copies a key.
    pub fn new(bytes: &[u8]) -> Result<Self, KeyringError> {
        match bytes.len() {
            16 | 24 | 32 => {
                let mut buf = [0u8; 32];
                buf[..bytes.len()].copy_from_slice(bytes);
                Ok(Self {
                    bytes: buf,
                    len: bytes.len() as u8,
                })
            }
            n => Err(KeyringError::InvalidKeySize(n)),
        }
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The key length in bytes (16, 24 or 32).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(AES-{}, ..)", self.len() * 8)
    }
}

impl TryFrom<&[u8]> for SecretKey {
    type Error = KeyringError;
    fn try_from(value: &[u8]) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

/// An ordered set of keys. The first key is the *primary*: it seals everything sent; every key
/// is tried, in order, to open what arrives. A keyring always holds at least its primary key.
///
/// Key rotation on a live cluster: [`add`](Keyring::add) the new key everywhere, then
/// [`use_key`](Keyring::use_key) it everywhere, then [`remove`](Keyring::remove) the old one.
///
/// ```
/// use memberlist_core::encryption::{Keyring, KeyringError, SecretKey};
///
/// let old = SecretKey::new(&[1u8; 32]).unwrap();
/// let new = SecretKey::new(&[2u8; 16]).unwrap();
/// let mut ring = Keyring::new(old.clone());
/// ring.add(new.clone());
/// assert_eq!(ring.remove(&old), Err(KeyringError::RemovePrimary));
/// ring.use_key(&new).unwrap();
/// ring.remove(&old).unwrap();
/// assert_eq!(ring.keys(), &[new]);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Keyring {
    keys: Vec<SecretKey>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl Keyring {
    /// A keyring holding only `primary`.
    pub fn new(primary: SecretKey) -> Self {
        Self {
            keys: vec![primary],
        }
    }

    /// A keyring with `primary` first, followed by `others` (duplicates are dropped).
    pub fn with_keys(primary: SecretKey, others: impl IntoIterator<Item = SecretKey>) -> Self {
        let mut ring = Self::new(primary);
        for key in others {
            ring.add(key);
        }
        ring
    }

    /// Appends a key, to decrypt with (a key already present is not added twice).
    pub fn add(&mut self, key: SecretKey) {
        if !self.keys.contains(&key) {
            self.keys.push(key);
        }
    }

    /// Makes an installed key the primary one.
    pub fn use_key(&mut self, key: &SecretKey) -> Result<(), KeyringError> {
        let key = self.keys.remove(self.position(key)?);
        self.keys.insert(0, key);
        Ok(())
    }

    /// Removes a key. Removing the primary key is refused; removing an absent key is an error.
    pub fn remove(&mut self, key: &SecretKey) -> Result<(), KeyringError> {
        if self.primary() == key {
            return Err(KeyringError::RemovePrimary);
        }
        self.keys.remove(self.position(key)?);
        Ok(())
    }

    fn position(&self, key: &SecretKey) -> Result<usize, KeyringError> {
        let found = self.keys.iter().position(|k| k == key);
        found.ok_or(KeyringError::KeyNotFound)
    }

    /// All keys, primary first.
    pub fn keys(&self) -> &[SecretKey] {
        &self.keys
    }

    /// The key used to encrypt.
    pub fn primary(&self) -> &SecretKey {
        &self.keys[0]
    }
}

/// An encryption plugin: seals with the primary key, opens with any installed key. Shared
/// between threads; the keyring may change at runtime (key rotation). `aad` is chosen by the
/// framing layer.
pub trait Encryption: Send + Sync + fmt::Debug {
    /// A short human-readable name for logs.
    fn name(&self) -> &'static str;

    /// The most bytes [`encrypt`](Encryption::encrypt) adds to a payload for this version
    /// (Go budgets 29 for v1 and 45 for v0).
    fn overhead(&self, version: EnvelopeVersion) -> usize;

    /// The exact envelope length for a plaintext of `plaintext_len` bytes (streams
    /// authenticate it in their header). The default is Go's AES-GCM envelope.
    fn sealed_len(&self, version: EnvelopeVersion, plaintext_len: usize) -> usize {
        match version {
            EnvelopeVersion::V1 => 1 + 12 + plaintext_len + 16,
            EnvelopeVersion::V0 => 1 + 12 + plaintext_len + (16 - plaintext_len % 16) + 16,
        }
    }

    /// Seals `plaintext` with the primary key, appending the envelope to `out`.
    fn encrypt(
        &self,
        version: EnvelopeVersion,
        plaintext: &[u8],
        aad: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), EncryptionError>;

    /// Opens an envelope with the first key that authenticates it, appending the plaintext to
    /// `out`. Both envelope versions are accepted.
    fn decrypt(
        &self,
        envelope: &[u8],
        aad: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), EncryptionError>;

    /// A snapshot of the installed keys.
    fn keyring(&self) -> Keyring;

    /// Installs a key for decryption (no-op if present).
    fn install_key(&self, key: SecretKey);

    /// Makes an installed key primary.
    fn use_key(&self, key: &SecretKey) -> Result<(), KeyringError>;

    /// Removes a non-primary key.
    fn remove_key(&self, key: &SecretKey) -> Result<(), KeyringError>;
}
