//! Packet pipeline: label, decryption, CRC, compound, decompression and every message decoder.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use memberlist_core::wire::Pipeline;

#[path = "common.rs"]
mod common;

static PIPELINES: LazyLock<[Pipeline; 4]> = LazyLock::new(common::pipelines);

fuzz_target!(|data: &[u8]| {
    let Some((&selector, datagram)) = data.split_first() else {
        return;
    };
    let pipeline = &PIPELINES[usize::from(selector % 4)];
    if let Ok(decoded) = pipeline.decode_packet(datagram) {
        // Whatever decoded must re-encode without panicking.
        for m in &decoded.messages {
            let _ = m.to_bytes();
        }
    }
});
