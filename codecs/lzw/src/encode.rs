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

use std::cell::Cell;

/// Bits per literal code.
const LITERAL_BITS: u32 = 8;
/// The clear code, `1 << LITERAL_BITS`.
const CLEAR: u32 = 1 << LITERAL_BITS;
/// The end-of-data code.
const EOF: u32 = CLEAR + 1;
/// Go's writer emits a clear code when the next code to assign would reach this value.
const MAX_CODE: u32 = (1 << 12) - 1;
/// Largest hash table: four times the number of codes, like Go's, so probing stays short.
const TABLE_SIZE: usize = 4 << 12;
/// Smallest hash table used, for tiny inputs.
const MIN_TABLE_SIZE: usize = 64;
/// An empty hash slot. Valid slots hold `key << 12 | code` with `code >= 258`, never zero.
const EMPTY: u32 = 0;
/// Most dictionary entries between two clear codes (codes 258 to 4094).
const MAX_ENTRIES: usize = (MAX_CODE - EOF - 1) as usize;

/// The encoder's memory, reused by the encodings of one thread.
#[derive(Default)]
struct Tables {
    /// [`TABLE_SIZE`] slots, all [`EMPTY`] between encodings; an encoding uses a prefix of it
    /// (see [`table_size`]).
    table: Vec<u32>,
    /// The slots filled since the table was last emptied, so that emptying it costs one store
    /// per entry rather than a pass over the whole table.
    touched: Vec<u16>,
}

thread_local! {
    /// This thread's [`Tables`], taken out while an encoding runs.
    static TABLES: Cell<Tables> = const {
        Cell::new(Tables {
            table: Vec::new(),
            touched: Vec::new(),
        })
    };
}

/// LSB-first packing of variable-width codes into bytes.
struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Pending bits, least significant first; fewer than 8 between calls.
    bits: u32,
    n_bits: u32,
    width: u32,
}

impl BitWriter<'_> {
    #[inline]
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
struct Dictionary<'t> {
    /// The most recently assigned code.
    hi: u32,
    /// The code at which `hi` no longer fits the current width.
    overflow: u32,
    /// Open-addressing hash table from `prefix << 8 | byte` to its code; its length is a power
    /// of two.
    table: &'t mut [u32],
    /// The slots of `table` filled so far.
    touched: &'t mut Vec<u16>,
}

impl Dictionary<'_> {
    /// Advances `hi` after a code was written. Returns `false` when the dictionary was full and
    /// has been reset (a clear code was written), in which case no entry must be added.
    #[inline]
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
            empty_touched(self.table, self.touched);
            return false;
        }
        true
    }

    /// Stores `entry` in slot `index` (an empty slot found by probing).
    #[inline]
    fn insert(&mut self, index: usize, entry: u32) {
        if let Some(slot) = self.table.get_mut(index) {
            *slot = entry;
            // `index` < TABLE_SIZE = 2^14, so it fits.
            self.touched.push(index as u16);
        }
    }
}

/// The slot index where probing for `key` starts, in a table of `mask + 1` slots.
#[inline]
fn slot(key: u32, mask: usize) -> usize {
    ((key >> 12) ^ key) as usize & mask
}

/// Empties the `touched` slots of `table`, leaving it all [`EMPTY`].
fn empty_touched(table: &mut [u32], touched: &mut Vec<u16>) {
    for &index in touched.iter() {
        if let Some(slot) = table.get_mut(usize::from(index)) {
            *slot = EMPTY;
        }
    }
    touched.clear();
}

/// The hash table size for `len` input bytes: at least four slots per entry the input can add
/// (one per byte, at most 4095 - 258 before a clear), so the load stays at most 1/4 as with
/// Go's fixed table, while small inputs only clear a small table.
fn table_size(len: usize) -> usize {
    (len.min(TABLE_SIZE / 4) * 4)
        .next_power_of_two()
        .max(MIN_TABLE_SIZE)
}

/// Appends the LZW stream for `input` to `out`.
pub(crate) fn encode(input: &[u8], out: &mut Vec<u8>) {
    encode_within(input, usize::MAX, out);
}

/// Appends the LZW stream for `input` to `out` if it is at most `max_len` bytes long and
/// returns `true`; otherwise stops as soon as the stream is known to be longer, leaves `out` as
/// it was and returns `false`.
pub(crate) fn encode_within(input: &[u8], max_len: usize, out: &mut Vec<u8>) -> bool {
    // A thread being torn down has no tables left to lend: use fresh ones then.
    let mut tables = TABLES.try_with(Cell::take).unwrap_or_default();
    if tables.table.len() != TABLE_SIZE {
        tables.table = vec![EMPTY; TABLE_SIZE];
        tables.touched = Vec::with_capacity(MAX_ENTRIES);
    }
    let Tables { table, touched } = &mut tables;
    let size = table_size(input.len());
    let start = out.len();
    let fits = match table.get_mut(..size) {
        Some(prefix) => encode_with(prefix, touched, input, start.saturating_add(max_len), out),
        None => false,
    };
    if !fits {
        out.truncate(start);
    }
    empty_touched(table, touched);
    // Ignored for the same reason: the tables are then simply dropped.
    let _ = TABLES.try_with(|cell| cell.set(tables));
    fits
}

/// Encodes `input` with the all-empty hash `table` (power-of-two length), recording the slots
/// it fills in `touched`, giving up (returning `false`) once `out` grows beyond `end` bytes.
fn encode_with(
    table: &mut [u32],
    touched: &mut Vec<u16>,
    input: &[u8],
    end: usize,
    out: &mut Vec<u8>,
) -> bool {
    let mut w = BitWriter {
        out,
        bits: 0,
        n_bits: 0,
        width: LITERAL_BITS + 1,
    };
    w.write(CLEAR);
    if let Some((&first, rest)) = input.split_first() {
        let mask = table.len().saturating_sub(1);
        let mut dict = Dictionary {
            hi: EOF,
            overflow: CLEAR << 1,
            table,
            touched,
        };
        let mut code = u32::from(first);
        'bytes: for &byte in rest {
            let literal = u32::from(byte);
            // `code` < 4096, so `key` < 2^20 and `key << 12` fits in 32 bits.
            let key = (code << 8) | literal;
            let mut index = slot(key, mask);
            // The table holds at most a quarter as many entries as slots (see `table_size`),
            // so an empty slot exists.
            while let Some(&entry) = dict.table.get(index).filter(|&&e| e != EMPTY) {
                if entry >> 12 == key {
                    code = entry & MAX_CODE;
                    continue 'bytes;
                }
                index = (index + 1) & mask;
            }
            w.write(code);
            if w.out.len() > end {
                return false;
            }
            code = literal;
            if dict.advance(&mut w) {
                dict.insert(index, (key << 12) | dict.hi);
            }
        }
        w.write(code);
        dict.advance(&mut w);
    }
    w.write(EOF);
    w.finish();
    out.len() <= end
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
        for size in [MIN_TABLE_SIZE, 1024, TABLE_SIZE] {
            for key in [0, 1, (4095 << 8) | 255, u32::MAX >> 12] {
                assert!(slot(key, size - 1) < size);
            }
        }
    }

    #[test]
    fn table_size_keeps_load_at_most_a_quarter() {
        assert_eq!(table_size(0), MIN_TABLE_SIZE);
        assert_eq!(table_size(93), 512);
        assert_eq!(table_size(4000), TABLE_SIZE);
        assert_eq!(table_size(usize::MAX), TABLE_SIZE);
        for len in 1..5000 {
            // Entries added: one per byte after the first, at most 4095 - 258 between clears.
            let entries = (len - 1).min(MAX_ENTRIES);
            assert!(entries * 4 <= table_size(len), "{len}");
        }
    }

    #[test]
    fn within_stops_early_and_restores_out() {
        let input: Vec<u8> = (0..=255).collect();
        let full = encoded(&input);
        let mut out = b"keep".to_vec();
        assert!(!encode_within(&input, full.len() - 1, &mut out));
        assert_eq!(out, b"keep");
        assert!(encode_within(&input, full.len(), &mut out));
        assert_eq!(&out[4..], &full[..]);
    }

    #[test]
    fn reused_table_gives_the_same_output_and_is_left_empty() {
        let big = b"memberlist gossip ".repeat(400);
        let small = b"ping ping ping";
        let first = encoded(small);
        let _ = encoded(&big);
        // A dictionary that fills up (clear codes), and an encoding that gives up early.
        let noise: Vec<u8> = (0..20_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let _ = encoded(&noise);
        assert!(!encode_within(&noise, 100, &mut Vec::new()));
        assert_eq!(encoded(small), first);
        let tables = TABLES.with(Cell::take);
        assert_eq!(tables.table.len(), TABLE_SIZE);
        assert!(tables.table.iter().all(|&slot| slot == EMPTY));
        assert!(tables.touched.is_empty());
    }
}
