//! Test helpers: a behavioural model of Go's `compress/lzw` (LSB order, literal width 8, Go
//! 1.17 and later) and helpers for the captured Go packets in `tests/data`.
//!
//! The model follows the algorithm of Go's `lzw.Writer` and `lzw.Reader` step by step (same
//! code-width switches, same dictionary-full handling, same clear/EOF placement) so that the
//! tests can check, without a Go toolchain, that our streams decode under Go's rules and that
//! Go's streams decode under ours. It is validated against the real Go bytes in the tests.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;

const CLEAR: u32 = 256;
const EOF: u32 = 257;
/// Go's writer emits a clear code when its next code would reach this value.
const MAX_CODE: u32 = (1 << 12) - 1;
const MAX_WIDTH: u32 = 12;
const INVALID: u16 = 0xffff;

/// LSB-first bit packer, as Go's `writeLSB`.
struct BitSink {
    out: Vec<u8>,
    bits: u32,
    n_bits: u32,
    width: u32,
}

impl BitSink {
    fn write(&mut self, code: u32) {
        self.bits |= code << self.n_bits;
        self.n_bits += self.width;
        while self.n_bits >= 8 {
            self.out.push(self.bits as u8);
            self.bits >>= 8;
            self.n_bits -= 8;
        }
    }
}

/// Writer state besides the bit packer: `hi` is the last assigned code.
struct GoWriter {
    sink: BitSink,
    hi: u32,
    overflow: u32,
    table: HashMap<u32, u32>,
}

impl GoWriter {
    /// Go's `incHi`: returns true when it ran out of codes and emitted a clear code.
    fn inc_hi(&mut self) -> bool {
        self.hi += 1;
        if self.hi == self.overflow {
            self.sink.width += 1;
            self.overflow <<= 1;
        }
        if self.hi == MAX_CODE {
            self.sink.write(CLEAR);
            self.sink.width = 9;
            self.hi = EOF;
            self.overflow = CLEAR << 1;
            self.table.clear();
            return true;
        }
        false
    }
}

/// What Go's `lzw.NewWriter(w, lzw.LSB, 8)` writes for one `Write(input)` plus `Close()`.
pub fn go_compress(input: &[u8]) -> Vec<u8> {
    let mut w = GoWriter {
        sink: BitSink {
            out: Vec::new(),
            bits: 0,
            n_bits: 0,
            width: 9,
        },
        hi: EOF,
        overflow: CLEAR << 1,
        table: HashMap::new(),
    };
    w.sink.write(CLEAR);
    if let Some((&first, rest)) = input.split_first() {
        let mut code = u32::from(first);
        for &x in rest {
            let literal = u32::from(x);
            let key = (code << 8) | literal;
            if let Some(&next) = w.table.get(&key) {
                code = next;
                continue;
            }
            w.sink.write(code);
            code = literal;
            if w.inc_hi() {
                continue;
            }
            w.table.insert(key, w.hi);
        }
        w.sink.write(code);
        w.inc_hi();
    }
    w.sink.write(EOF);
    if w.sink.n_bits > 0 {
        w.sink.out.push(w.sink.bits as u8);
    }
    w.sink.out
}

/// What Go's `lzw.NewReader(r, lzw.LSB, 8)` yields when read to the end, or its error. Output
/// beyond `cap` bytes is reported as an error so that fuzzed inputs stay cheap.
pub fn go_decompress(input: &[u8], cap: usize) -> Result<Vec<u8>, &'static str> {
    let mut pos = 0usize;
    let (mut bits, mut n_bits, mut width) = (0u32, 0u32, 9u32);
    let (clear, eof) = (CLEAR as u16, EOF as u16);
    let (mut hi, mut overflow, mut last) = (eof, 1u16 << width, INVALID);
    let mut suffix = [0u8; 1 << MAX_WIDTH];
    let mut prefix = [0u16; 1 << MAX_WIDTH];
    let mut out = Vec::new();
    let mut word = Vec::new();
    loop {
        while n_bits < width {
            let Some(&byte) = input.get(pos) else {
                return Err("unexpected EOF");
            };
            pos += 1;
            bits |= u32::from(byte) << n_bits;
            n_bits += 8;
        }
        let code = (bits & ((1 << width) - 1)) as u16;
        bits >>= width;
        n_bits -= width;

        if code < clear {
            out.push(code as u8);
            if last != INVALID {
                suffix[usize::from(hi)] = code as u8;
                prefix[usize::from(hi)] = last;
            }
        } else if code == clear {
            width = 9;
            hi = eof;
            overflow = 1 << width;
            last = INVALID;
            continue;
        } else if code == eof {
            return Ok(out);
        } else if code <= hi {
            word.clear();
            let mut c = code;
            if code == hi && last != INVALID {
                c = last;
                while c >= clear {
                    c = prefix[usize::from(c)];
                }
                word.push(c as u8);
                c = last;
            }
            while c >= clear {
                word.push(suffix[usize::from(c)]);
                c = prefix[usize::from(c)];
            }
            word.push(c as u8);
            out.extend(word.iter().rev());
            if last != INVALID {
                suffix[usize::from(hi)] = c as u8;
                prefix[usize::from(hi)] = last;
            }
        } else {
            return Err("invalid code");
        }
        last = code;
        hi += 1;
        if hi >= overflow {
            if width == MAX_WIDTH {
                last = INVALID;
                hi -= 1;
            } else {
                width += 1;
                overflow = 1 << width;
            }
        }
        if out.len() > cap {
            return Err("output over cap");
        }
    }
}

/// The exact bytes of a capture file: every line not starting with `#`, hex-decoded.
pub fn capture_bytes(text: &str) -> Vec<u8> {
    let hex: String = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    hex::decode(hex).expect("capture hex")
}

/// The `Buf` of the first `compressMsg` (`09 82 a4 "Algo" 00 a3 "Buf" <str>`) in `packet`.
pub fn compress_msg_buf(packet: &[u8]) -> Option<&[u8]> {
    const HEADER: &[u8] = b"\x09\x82\xa4Algo\x00\xa3Buf";
    let at = packet.windows(HEADER.len()).position(|w| w == HEADER)?;
    let rest = &packet[at + HEADER.len()..];
    let (&tag, rest) = rest.split_first()?;
    let (len, rest) = match tag {
        0xa0..=0xbf => (usize::from(tag & 0x1f), rest),
        0xd9 => (usize::from(*rest.first()?), rest.get(1..)?),
        0xda => (
            usize::from(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?)),
            rest.get(2..)?,
        ),
        0xdb => (
            usize::try_from(u32::from_be_bytes(rest.get(..4)?.try_into().ok()?)).ok()?,
            rest.get(4..)?,
        ),
        _ => return None,
    };
    rest.get(..len)
}

/// A deterministic pseudo-random byte sequence (xorshift) over a small alphabet, which makes
/// LZW fill its dictionary quickly.
pub fn pseudo_text(len: usize, alphabet: u8, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b'a' + (state % u64::from(alphabet)) as u8
        })
        .collect()
}
