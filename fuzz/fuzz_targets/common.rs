// Shared setup for the fuzz targets: pipelines as a real node would configure them.
#![allow(dead_code)] // each target uses a different part
use std::sync::Arc;

use memberlist_aes_gcm::AesGcm;
use memberlist_core::codec::CodecRegistry;
use memberlist_core::encryption::{EnvelopeVersion, Keyring, SecretKey};
use memberlist_lz4::Lz4;
use memberlist_lzw::Lzw;
use memberlist_core::wire::{Label, Limits, Pipeline};

/// The AES-256 key of the Go captures used as seeds (bytes 0..32).
pub fn capture_key() -> SecretKey {
    let bytes: Vec<u8> = (0u8..32).collect();
    SecretKey::new(&bytes).expect("valid key")
}

pub fn aes() -> Arc<AesGcm> {
    let ascii = SecretKey::new(b"0123456789abcdef").expect("valid key");
    Arc::new(AesGcm::new(Keyring::with_keys(capture_key(), [ascii])))
}

fn codecs() -> CodecRegistry {
    CodecRegistry::new()
        .with_decoder(Arc::new(Lz4))
        .with_compressor(Arc::new(Lzw))
}

/// Small limits so the fuzzer explores the limit checks rather than the allocator.
fn limits() -> Limits {
    Limits {
        max_decompressed_size: 1 << 20,
        max_stream_message: 1 << 20,
        max_encrypted_stream: 1 << 20,
        max_user_state: 1 << 20,
        max_user_message: 1 << 20,
        max_push_nodes: 1 << 12,
        ..Limits::default()
    }
}

/// Four configurations picked by the first input byte: plain, encrypted, labeled + encrypted,
/// encrypted with GossipVerifyIncoming off.
pub fn pipelines() -> [Pipeline; 4] {
    let plain = Pipeline::new().with_codecs(codecs()).with_limits(limits());
    let enc = plain.clone().with_encryption(aes(), EnvelopeVersion::V1);
    let labeled = enc.clone().with_label(Label::new("prod").expect("short label"));
    let lenient = enc.clone().with_gossip_verify(false, true);
    [plain, enc, labeled, lenient]
}
