//! The stream decoder refuses an encrypted frame declared longer than
//! `Limits::max_encrypted_stream` before decrypting anything, and the error names the limit
//! that `memberlist_limit_exceeded_total` counts.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use memberlist::aes_gcm::AesGcm;
use memberlist::encryption::{EnvelopeVersion, Keyring, SecretKey};
use memberlist::metrics::DropReason;
use memberlist::wire::{Limit, Limits, Pipeline, StreamDecoder, StreamRole};

#[test]
fn an_oversized_encrypted_frame_is_refused_under_its_limit() {
    let aes = Arc::new(AesGcm::new(Keyring::new(
        SecretKey::new(&[1u8; 16]).unwrap(),
    )));
    let limits = Limits {
        max_encrypted_stream: 4096,
        ..Limits::default()
    };
    let pipeline = Pipeline::new()
        .with_encryption(aes, EnvelopeVersion::V1)
        .with_limits(limits);
    // Encrypt message type, then a big-endian length of 4097.
    let mut dec = StreamDecoder::new(StreamRole::Acceptor);
    dec.feed(&[0x0a, 0x00, 0x00, 0x10, 0x01]);
    let error = dec.poll(&pipeline).unwrap_err();
    assert_eq!(error.limit(), Some(Limit::EncryptedStream), "{error}");
    assert_eq!(DropReason::from(&error), DropReason::Limit);
    // At the limit the decoder waits for the frame instead.
    let mut dec = StreamDecoder::new(StreamRole::Acceptor);
    dec.feed(&[0x0a, 0x00, 0x00, 0x10, 0x00]);
    assert_eq!(dec.poll(&pipeline).unwrap(), None);
}
