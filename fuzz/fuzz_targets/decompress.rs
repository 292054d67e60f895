//! Decompression: LZW (Go's algorithm 0) and lz4, with a bounded output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memberlist_core::codec::Codec;
use memberlist_lz4::Lz4;
use memberlist_lzw::Lzw;

const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let mut out = Vec::new();
    let result = if selector & 1 == 0 {
        Lzw.decompress(input, LIMIT, &mut out)
    } else {
        Lz4.decompress(input, LIMIT, &mut out)
    };
    assert!(out.len() <= LIMIT, "output exceeds the limit");
    if result.is_ok() && selector & 1 == 0 {
        // Whatever decompressed must compress and come back unchanged.
        let mut again = Vec::new();
        Lzw.compress(&out, &mut again).expect("compress");
        let mut back = Vec::new();
        Lzw.decompress(&again, LIMIT, &mut back).expect("round trip");
        assert_eq!(back, out);
    }
});
