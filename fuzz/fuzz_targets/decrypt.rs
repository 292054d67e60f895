//! Decryption: the AES-GCM envelope (versions 0 and 1) with the AAD taken from the input.
#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use memberlist_aes_gcm::AesGcm;
use memberlist_core::encryption::Encryption;

#[path = "common.rs"]
mod common;

static AES: LazyLock<Arc<AesGcm>> = LazyLock::new(common::aes);

fuzz_target!(|data: &[u8]| {
    let Some((&aad_len, rest)) = data.split_first() else {
        return;
    };
    let split = usize::from(aad_len).min(rest.len());
    let (aad, envelope) = rest.split_at(split);
    let mut out = Vec::new();
    if AES.decrypt(envelope, aad, &mut out).is_ok() {
        assert!(out.len() < envelope.len());
    }
});
