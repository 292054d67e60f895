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
//!
//! # Cost
//!
//! Every input byte costs one hash-table probe (most often a single load and compare); every
//! emitted code additionally costs an append to a 64-bit bit buffer (flushed four bytes at a
//! time), one comparison for code-width changes and dictionary resets, and two stores. The
//! tables are fixed-size arrays indexed through masks, so the hot loop has no bounds checks,
//! and they are kept per thread and emptied entry by entry, so an encoding allocates nothing.

use std::cell::Cell;

/// Bits per literal code.
const LITERAL_BITS: u32 = 8;
/// The clear code, `1 << LITERAL_BITS`.
const CLEAR: u32 = 1 << LITERAL_BITS;
/// The end-of-data code.
const EOF: u32 = CLEAR + 1;
/// The first dictionary code.
const FIRST_ENTRY: u32 = EOF + 1;
/// Go's writer emits a clear code when the next code to assign would reach this value.
const MAX_CODE: u32 = (1 << 12) - 1;
/// Number of 12-bit codes.
const CODES: usize = 1 << 12;
/// Largest hash table: four times the number of codes, like Go's, so probing stays short.
const TABLE_SIZE: usize = 4 * CODES;
/// Masks any index into the hash table.
const TABLE_MASK: usize = TABLE_SIZE - 1;
/// Smallest hash table used, for tiny inputs.
const MIN_TABLE_SIZE: usize = 64;
/// An empty hash slot. Valid slots hold `key << 12 | code`, and as prefix codes are at most
/// 4094 a key (`prefix << 8 | byte`) is at most `0xffeff`, so no valid slot is all ones.
const EMPTY: u32 = u32::MAX;
/// Most dictionary entries between two clear codes (codes 258 to 4094).
#[cfg(test)]
const MAX_ENTRIES: usize = (MAX_CODE - FIRST_ENTRY) as usize;

/// The encoder's memory (72 KiB), reused by the encodings of one thread.
struct Tables {
    /// Open-addressing hash table from `prefix << 8 | byte` to its code, stored as
    /// `key << 12 | code`; all [`EMPTY`] between encodings. An encoding uses a prefix of it
    /// (see [`table_size`]).
    slots: [u32; TABLE_SIZE],
    /// `slot_of[code]` is the slot holding dictionary entry `code`, for the entries assigned
    /// since the table was last emptied, so that emptying it costs one store per entry rather
    /// than a pass over the whole table.
    slot_of: [u16; CODES],
}

impl Tables {
    /// Fresh, empty tables.
    fn new() -> Box<Self> {
        Box::new(Tables {
            slots: [EMPTY; TABLE_SIZE],
            slot_of: [0; CODES],
        })
    }

    /// Empties the slots of dictionary entries `FIRST_ENTRY..=last`.
    fn empty(&mut self, last: u32) {
        let codes = FIRST_ENTRY as usize..(last as usize + 1).min(CODES);
        for &index in self.slot_of.get(codes).unwrap_or_default() {
            self.slots[usize::from(index) & TABLE_MASK] = EMPTY;
        }
    }
}

thread_local! {
    /// This thread's [`Tables`], taken out while an encoding runs.
    static TABLES: Cell<Option<Box<Tables>>> = const { Cell::new(None) };
}

/// LSB-first packing of variable-width codes into bytes.
struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Pending bits, least significant first; fewer than 32 between calls.
    bits: u64,
    n_bits: u32,
    /// Bits per code.
    width: u32,
    /// Once `out` is longer than this, the stream cannot fit any more.
    end: usize,
}

impl BitWriter<'_> {
    /// Appends `code` (`width` bits). Returns `true` if the output is now known to be longer
    /// than `end` (checked only when whole bytes are flushed, which is when `out` grows).
    #[inline(always)]
    fn write(&mut self, code: u32) -> bool {
        self.bits |= u64::from(code) << self.n_bits;
        self.n_bits += self.width;
        if self.n_bits >= 32 {
            self.out
                .extend_from_slice(&(self.bits as u32).to_le_bytes());
            self.bits >>= 32;
            self.n_bits -= 32;
            return self.out.len() > self.end;
        }
        false
    }

    /// Writes the pending bits, the last byte padded with zeros.
    fn finish(&mut self) {
        let bytes = self.bits.to_le_bytes();
        let n_bytes = self.n_bits.div_ceil(8) as usize;
        self.out
            .extend_from_slice(bytes.get(..n_bytes).unwrap_or(&bytes));
    }
}

/// The slot index where probing for `key` starts, under `mask` (table size minus one).
#[inline(always)]
fn slot(key: u32, mask: usize) -> usize {
    (key.wrapping_mul(0x9e37_79b1) >> 18) as usize & mask
}

/// The hash table size for `len` input bytes: at least four slots per entry the input can add
/// (one per byte, at most 4095 - 258 before a clear), so the load stays at most 1/4 as with
/// Go's fixed table, while a small input touches few cache lines.
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
    let mut tables = TABLES
        .try_with(Cell::take)
        .ok()
        .flatten()
        .unwrap_or_else(Tables::new);
    let start = out.len();
    let mask = (table_size(input.len()) - 1) & TABLE_MASK;
    let end = start.saturating_add(max_len);
    let (fits, last) = encode_with(&mut tables, mask, input, out, end);
    tables.empty(last);
    if !fits {
        out.truncate(start);
    }
    // Ignored for the same reason: the tables are then simply dropped.
    let _ = TABLES.try_with(|cell| cell.set(Some(tables)));
    fits
}

/// Encodes `input` with the empty `tables`, using the `mask + 1` first hash slots, appending
/// to `out`. Returns whether the output stayed within `end` bytes (it stops as soon as it is
/// known not to), and the last dictionary code assigned, whose entries remain to be emptied.
fn encode_with(
    tables: &mut Tables,
    mask: usize,
    input: &[u8],
    out: &mut Vec<u8>,
    end: usize,
) -> (bool, u32) {
    let mut w = BitWriter {
        out,
        bits: 0,
        n_bits: 0,
        width: LITERAL_BITS + 1,
        end,
    };
    // The most recently assigned code: entries `FIRST_ENTRY..=hi` are in the table.
    let mut hi = EOF;
    // The value of `hi` at which the code width grows (512, 1024, 2048), or at which the
    // dictionary is full (`MAX_CODE`), whichever comes first.
    let mut next_event = CLEAR << 1;
    w.write(CLEAR);
    if let Some((&first, rest)) = input.split_first() {
        let mut code = u32::from(first);
        'bytes: for &byte in rest {
            // `code` <= 4094, so `key` < 2^20 and `key << 12` fits in 32 bits.
            let key = (code << 8) | u32::from(byte);
            let mut index = slot(key, mask);
            // The table holds at most a quarter as many entries as slots (see `table_size`),
            // so probing ends at an empty slot.
            loop {
                let entry = tables.slots[index & TABLE_MASK];
                if entry >> 12 == key {
                    code = entry & MAX_CODE;
                    continue 'bytes;
                }
                if entry == EMPTY {
                    break;
                }
                index = (index + 1) & mask;
            }
            if w.write(code) {
                return (false, hi);
            }
            code = key & 0xff;
            hi += 1;
            if hi == next_event {
                if hi == MAX_CODE {
                    // Whether this overflows `end` is seen by a later check.
                    w.write(CLEAR);
                    w.width = LITERAL_BITS + 1;
                    tables.empty(MAX_CODE - 1);
                    hi = EOF;
                    next_event = CLEAR << 1;
                    continue;
                }
                w.width += 1;
                next_event = (hi << 1).min(MAX_CODE);
            }
            tables.slots[index & TABLE_MASK] = (key << 12) | hi;
            // `index` <= TABLE_MASK < 2^16.
            tables.slot_of[hi as usize & (CODES - 1)] = index as u16;
        }
        w.write(code);
        // Go's writer advances `hi` once more when closing; all that is left of that is the
        // width of the EOF code, and a clear code first if the codes ran out.
        if hi + 1 == next_event {
            if next_event == MAX_CODE {
                w.write(CLEAR);
                w.width = LITERAL_BITS + 1;
            } else {
                w.width += 1;
            }
        }
    }
    w.write(EOF);
    w.finish();
    (w.out.len() <= w.end, hi)
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
        let tables = TABLES
            .with(Cell::take)
            .expect("tables are returned after use");
        assert!(tables.slots.iter().all(|&slot| slot == EMPTY));
    }
}
