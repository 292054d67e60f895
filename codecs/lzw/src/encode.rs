//! The LZW encoder, producing exactly the bytes Go's `compress/lzw` writer produces.
//!
//! Output is a pure function of the input for a given LZW variant only if the encoder makes the
//! same choices as Go's at every step: greedy longest match, a leading clear code, code width
//! growing when the next code reaches the width's limit, a clear code as soon as the next code
//! would be 4095 (Go never assigns codes 4095 and above), and a final EOF code padded to a byte.
//! This module makes exactly those choices.
//!
//! (weezl's encoder is not used because its output differs from Go's: weezl 0.2.1 clears the
//! dictionary one entry later than Go, and it loses the 17th successor of a dictionary entry
//! when converting its compact node representation, wasting a code.)

/// Bits per literal code.
const LITERAL_BITS: u32 = 8;
/// The clear code, `1 << LITERAL_BITS`.
const CLEAR: u32 = 1 << LITERAL_BITS;
/// The end-of-data code.
const EOF: u32 = CLEAR + 1;
/// Go's writer emits a clear code when the next code to assign would reach this value.
const MAX_CODE: u32 = (1 << 12) - 1;
/// Hash table size: four times the number of codes, like Go's, so probing stays short.
const TABLE_SIZE: usize = 4 << 12;
const TABLE_MASK: u32 = TABLE_SIZE as u32 - 1;
/// An empty hash slot. Valid slots hold `key << 12 | code` with `code >= 258`, never zero.
const EMPTY: u32 = 0;

/// LSB-first packing of variable-width codes into bytes.
struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Pending bits, least significant first; fewer than 8 between calls.
    bits: u32,
    n_bits: u32,
    width: u32,
}

impl BitWriter<'_> {
    fn write(&mut self, code: u32) {
        self.bits |= code << self.n_bits;
        self.n_bits += self.width;
        while self.n_bits >= 8 {
            self.out.push(self.bits as u8);
            self.bits >>= 8;
            self.n_bits -= 8;
        }
    }

    /// Writes the final partial byte, if any.
    fn finish(self) {
        if self.n_bits > 0 {
            self.out.push(self.bits as u8);
        }
    }
}

/// Encoder state besides the bit writer.
struct Dictionary {
    /// The most recently assigned code.
    hi: u32,
    /// The code at which `hi` no longer fits the current width.
    overflow: u32,
    /// Open-addressing hash table from `prefix << 8 | byte` to its code.
    table: Vec<u32>,
}

impl Dictionary {
    fn new() -> Self {
        Dictionary {
            hi: EOF,
            overflow: CLEAR << 1,
            table: vec![EMPTY; TABLE_SIZE],
        }
    }

    /// Advances `hi` after a code was written. Returns `false` when the dictionary was full and
    /// has been reset (a clear code was written), in which case no entry must be added.
    fn advance(&mut self, w: &mut BitWriter<'_>) -> bool {
        self.hi += 1;
        if self.hi == self.overflow {
            w.width += 1;
            self.overflow <<= 1;
        }
        if self.hi == MAX_CODE {
            w.write(CLEAR);
            w.width = LITERAL_BITS + 1;
            self.hi = EOF;
            self.overflow = CLEAR << 1;
            self.table.fill(EMPTY);
            return false;
        }
        true
    }
}

/// The slot index where probing for `key` starts.
fn slot(key: u32) -> usize {
    (((key >> 12) ^ key) & TABLE_MASK) as usize
}

/// Appends the LZW stream for `input` to `out`.
pub(crate) fn encode(input: &[u8], out: &mut Vec<u8>) {
    let mut w = BitWriter {
        out,
        bits: 0,
        n_bits: 0,
        width: LITERAL_BITS + 1,
    };
    w.write(CLEAR);
    if let Some((&first, rest)) = input.split_first() {
        let mut dict = Dictionary::new();
        let mut code = u32::from(first);
        'bytes: for &byte in rest {
            let literal = u32::from(byte);
            // `code` < 4096, so `key` < 2^20 and `key << 12` fits in 32 bits.
            let key = (code << 8) | literal;
            let mut index = slot(key);
            // The table never holds more than 4095 - 258 entries, so an empty slot exists.
            while let Some(&entry) = dict.table.get(index).filter(|&&e| e != EMPTY) {
                if entry >> 12 == key {
                    code = entry & MAX_CODE;
                    continue 'bytes;
                }
                index = (index + 1) & TABLE_MASK as usize;
            }
            w.write(code);
            code = literal;
            if dict.advance(&mut w) {
                if let Some(entry) = dict.table.get_mut(index) {
                    *entry = (key << 12) | dict.hi;
                }
            }
        }
        w.write(code);
        dict.advance(&mut w);
    }
    w.write(EOF);
    w.finish();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(input, &mut out);
        out
    }

    #[test]
    fn empty_is_clear_then_eof() {
        assert_eq!(encoded(&[]), [0x00, 0x03, 0x02]);
    }

    #[test]
    fn single_byte() {
        // clear (256), 'a' (97), EOF (257), 9 bits each, LSB first.
        let bits: u32 = 256 | (97 << 9) | (257 << 18);
        assert_eq!(encoded(b"a"), bits.to_le_bytes()[..4]);
    }

    #[test]
    fn slot_stays_in_table() {
        for key in [0, 1, (4095 << 8) | 255, u32::MAX >> 12] {
            assert!(slot(key) < TABLE_SIZE);
        }
    }
}
