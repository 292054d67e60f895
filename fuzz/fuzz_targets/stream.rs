//! Stream framing: label preamble, encrypted and compressed frames, push/pull, user messages,
//! fed in chunks of fuzzer-chosen sizes to both roles.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use memberlist_core::wire::{Pipeline, StreamDecoder, StreamRole};

#[path = "common.rs"]
mod common;

static PIPELINES: LazyLock<[Pipeline; 4]> = LazyLock::new(common::pipelines);

fuzz_target!(|data: &[u8]| {
    let [selector, chunk, rest @ ..] = data else {
        return;
    };
    let pipeline = &PIPELINES[usize::from(selector % 4)];
    let role = if selector & 0x80 == 0 {
        StreamRole::Acceptor
    } else {
        StreamRole::Dialer
    };
    let chunk = usize::from(*chunk).max(1);
    let mut decoder = StreamDecoder::new(role);
    for piece in rest.chunks(chunk) {
        decoder.feed(piece);
        match decoder.poll(pipeline) {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) => {}
        }
    }
});
