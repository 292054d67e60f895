//! Go memberlist's AES-GCM envelope (see the [crate documentation](crate)).

use memberlist_core::encryption::{EncryptionError, EnvelopeVersion, SealFailure};

use crate::cipher::Cipher;

/// Size of the version byte that starts every envelope.
pub const VERSION_SIZE: usize = 1;

/// Size of the random AES-GCM nonce following the version byte.
pub const NONCE_SIZE: usize = 12;

/// Size of the AES-GCM authentication tag ending the envelope.
pub const TAG_SIZE: usize = 16;

/// AES block size: version 0 pads the plaintext to a multiple of it.
pub const BLOCK_SIZE: usize = 16;

/// Bytes a version 1 envelope adds to the plaintext (`1 + 12 + 16`), and the shortest valid
/// version 1 envelope.
pub const OVERHEAD_V1: usize = VERSION_SIZE + NONCE_SIZE + TAG_SIZE;

/// The most bytes a version 0 envelope adds to the plaintext (`1 + 12 + 16 + 16`: up to one full
/// block of padding), and the shortest valid version 0 envelope.
pub const MAX_OVERHEAD_V0: usize = OVERHEAD_V1 + BLOCK_SIZE;

/// Offset of the ciphertext in an envelope.
const HEADER_SIZE: usize = VERSION_SIZE + NONCE_SIZE;

/// The exact envelope length for a plaintext of `plaintext_len` bytes.
///
/// ```
/// use memberlist_aes_gcm::{encrypted_len, EnvelopeVersion};
///
/// assert_eq!(encrypted_len(EnvelopeVersion::V1, 18), 47);
/// // Version 0 pads 18 bytes to 32.
/// assert_eq!(encrypted_len(EnvelopeVersion::V0, 18), 61);
/// // A plaintext that is already a block multiple gets a whole block of padding.
/// assert_eq!(encrypted_len(EnvelopeVersion::V0, 16), 16 + 45);
/// ```
pub const fn encrypted_len(version: EnvelopeVersion, plaintext_len: usize) -> usize {
    match version {
        EnvelopeVersion::V1 => OVERHEAD_V1 + plaintext_len,
        EnvelopeVersion::V0 => OVERHEAD_V1 + plaintext_len + padding_len(plaintext_len),
    }
}

/// PKCS#7 padding for `len` bytes: 1 to 16 bytes.
const fn padding_len(len: usize) -> usize {
    BLOCK_SIZE - len % BLOCK_SIZE
}

/// The shortest envelope accepted for a version, and the most it adds to a plaintext.
pub(crate) const fn min_len(version: EnvelopeVersion) -> usize {
    match version {
        EnvelopeVersion::V0 => MAX_OVERHEAD_V0,
        EnvelopeVersion::V1 => OVERHEAD_V1,
    }
}

/// Seals `plaintext` with `cipher`, appending the envelope to `out`.
///
/// The plaintext is copied once, straight to its place in `out`, and encrypted there. On error
/// `out` is left as it was.
pub(crate) fn seal(
    cipher: &Cipher,
    version: EnvelopeVersion,
    nonce: &[u8; NONCE_SIZE],
    plaintext: &[u8],
    aad: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), EncryptionError> {
    let start = out.len();
    out.reserve(encrypted_len(version, plaintext.len()));
    out.push(version.byte());
    out.extend_from_slice(nonce);
    let body = out.len();
    out.extend_from_slice(plaintext);
    if version == EnvelopeVersion::V0 {
        let pad = padding_len(plaintext.len());
        // `pad` is 1..=16, so it fits a byte.
        out.resize(out.len() + pad, pad as u8);
    }
    match cipher.seal_in_place(nonce, aad, &mut out[body..]) {
        Ok(tag) => {
            out.extend_from_slice(&tag);
            Ok(())
        }
        Err(_) => {
            out.truncate(start);
            Err(EncryptionError::Seal(SealFailure::InputTooLong))
        }
    }
}

/// Opens `envelope` with the first of `ciphers` that authenticates it, appending the plaintext
/// to `out`. On error `out` is left as it was.
pub(crate) fn open(
    ciphers: &[Cipher],
    envelope: &[u8],
    aad: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), EncryptionError> {
    let (&vsn, _) = envelope.split_first().ok_or(EncryptionError::Empty)?;
    let version = match vsn {
        0 => EnvelopeVersion::V0,
        1 => EnvelopeVersion::V1,
        v => return Err(EncryptionError::UnsupportedVersion(v)),
    };
    let min = min_len(version);
    if envelope.len() < min {
        return Err(EncryptionError::TooShort {
            len: envelope.len(),
            min,
        });
    }

    // The length check above makes every split below succeed; they still fail softly.
    let too_short = || EncryptionError::TooShort {
        len: envelope.len(),
        min,
    };
    let (header, rest) = envelope
        .split_at_checked(HEADER_SIZE)
        .ok_or_else(too_short)?;
    let (ciphertext, tag) = rest
        .split_at_checked(rest.len().saturating_sub(TAG_SIZE))
        .ok_or_else(too_short)?;
    let nonce: &[u8; NONCE_SIZE] = header[VERSION_SIZE..].try_into().map_err(|_| too_short())?;
    let tag: &[u8; TAG_SIZE] = tag.try_into().map_err(|_| too_short())?;

    // Decrypt straight from the envelope into `out`. The tag is checked before any plaintext is
    // written, and every attempt rewrites the whole region from the (untouched) envelope anyway,
    // so a key that fails leaves nothing behind for the next one.
    let start = out.len();
    out.resize(start + ciphertext.len(), 0);
    let matched = ciphers.iter().any(|cipher| {
        cipher
            .open_to(nonce, aad, ciphertext, &mut out[start..], tag)
            .is_ok()
    });
    if !matched {
        out.truncate(start);
        return Err(EncryptionError::NoKeyMatched);
    }

    if version == EnvelopeVersion::V0 {
        // Padding as Go reads it, a little stricter (see `AesGcm::decrypt`).
        let plain_len = out.len() - start;
        let pad = out.last().map_or(0, |&n| usize::from(n));
        if pad == 0 || pad > plain_len {
            out.truncate(start);
            return Err(EncryptionError::BadPadding);
        }
        out.truncate(out.len() - pad);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use memberlist_core::encryption::SecretKey;

    fn cipher() -> Cipher {
        Cipher::new(&SecretKey::new(b"0123456789abcdef").expect("valid key"))
    }

    #[test]
    fn constants_match_go() {
        assert_eq!(OVERHEAD_V1, 29);
        assert_eq!(MAX_OVERHEAD_V0, 45);
    }

    #[test]
    fn padding_is_one_to_sixteen() {
        assert_eq!(padding_len(0), 16);
        assert_eq!(padding_len(1), 15);
        assert_eq!(padding_len(15), 1);
        assert_eq!(padding_len(16), 16);
        assert_eq!(padding_len(17), 15);
    }

    #[test]
    fn appends_after_existing_bytes() {
        let c = cipher();
        let mut sealed = b"prefix".to_vec();
        seal(
            &c,
            EnvelopeVersion::V0,
            &[3; 12],
            b"hello",
            b"",
            &mut sealed,
        )
        .expect("seal");
        assert_eq!(&sealed[..6], b"prefix");
        assert_eq!(sealed.len(), 6 + encrypted_len(EnvelopeVersion::V0, 5));
        let mut plain = b"keep".to_vec();
        open(&[c], &sealed[6..], b"", &mut plain).expect("open");
        assert_eq!(plain, b"keephello");
    }

    /// Seals a v0 envelope whose (authenticated) plaintext ends in `last`, bypassing padding.
    fn v0_with_raw_plaintext(c: &Cipher, plaintext: &[u8]) -> Vec<u8> {
        let mut env = Vec::new();
        seal(c, EnvelopeVersion::V1, &[9; 12], plaintext, b"", &mut env).expect("seal");
        env[0] = 0;
        env
    }

    #[test]
    fn bad_padding_is_rejected_and_out_untouched() {
        let c = cipher();
        let ciphers = [c.clone()];
        for plaintext in [[0u8; 16], [17u8; 16], [255u8; 16]] {
            let env = v0_with_raw_plaintext(&c, &plaintext);
            let mut out = b"x".to_vec();
            assert_eq!(
                open(&ciphers, &env, b"", &mut out),
                Err(EncryptionError::BadPadding)
            );
            assert_eq!(out, b"x");
        }
        // Like Go, padding bytes other than the last are not checked.
        let mut plaintext = [0u8; 16];
        plaintext[15] = 16;
        let env = v0_with_raw_plaintext(&c, &plaintext);
        let mut out = Vec::new();
        open(&ciphers, &env, b"", &mut out).expect("open");
        assert!(out.is_empty());
    }

    #[test]
    fn header_errors() {
        let ciphers = [cipher()];
        let mut out = Vec::new();
        assert_eq!(
            open(&ciphers, &[], b"", &mut out),
            Err(EncryptionError::Empty)
        );
        assert_eq!(
            open(&ciphers, &[2; 100], b"", &mut out),
            Err(EncryptionError::UnsupportedVersion(2))
        );
        assert_eq!(
            open(&ciphers, &[1; 28], b"", &mut out),
            Err(EncryptionError::TooShort { len: 28, min: 29 })
        );
        assert_eq!(
            open(&ciphers, &[0; 44], b"", &mut out),
            Err(EncryptionError::TooShort { len: 44, min: 45 })
        );
        assert_eq!(
            open(&ciphers, &[1; 29], b"", &mut out),
            Err(EncryptionError::NoKeyMatched)
        );
        assert_eq!(
            open(&[], &[1; 29], b"", &mut out),
            Err(EncryptionError::NoKeyMatched)
        );
        assert!(out.is_empty());
    }
}
