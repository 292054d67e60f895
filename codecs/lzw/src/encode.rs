//! The LZW encoder, producing exactly the bytes Go's `compress/lzw` writer produces by making
//! the same choices at every step (see the crate documentation's stream format).
//!
//! (weezl's encoder is not used because its output differs from Go's: weezl 0.2.1 clears the
//! dictionary one entry later than Go, and it loses the 17th successor of a dictionary entry
//! when converting its compact node representation, wasting a code.)
//!
//! The loop's design (a 64-bit bit buffer, an output grown beforehand, mask-indexed per-thread
//! tables emptied entry by entry) and its cost are in BENCHMARKS.md ("Encoder, second pass").

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
    #[inline(always)]
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

/// LSB-first packing of variable-width codes into a byte buffer of fixed length (writing to
/// a slice keeps calls, and so register spills, out of the encoding loop).
struct BitWriter<'a> {
    buf: &'a mut [u8],
    /// Bytes of `buf` written.
    pos: usize,
    /// Pending bits, least significant first; fewer than 32 between calls.
    bits: u64,
    n_bits: u32,
    /// Bits per code.
    width: u32,
}

impl BitWriter<'_> {
    /// Appends `code` (`width` bits), flushing four bytes once 32 bits are pending. Returns
    /// `false`, writing nothing, if those bytes do not fit the buffer.
    #[inline(always)]
    fn write(&mut self, code: u32) -> bool {
        let bits = self.bits | u64::from(code) << self.n_bits;
        let n_bits = self.n_bits + self.width;
        if n_bits >= 32 {
            match self.buf.get_mut(self.pos..self.pos + 4) {
                Some(dst) => dst.copy_from_slice(&(bits as u32).to_le_bytes()),
                None => return false,
            }
            self.pos += 4;
            self.bits = bits >> 32;
            self.n_bits = n_bits - 32;
        } else {
            self.bits = bits;
            self.n_bits = n_bits;
        }
        true
    }

    /// Writes the pending bits, the last byte padded with zeros, and returns the length of the
    /// stream, or `None` if it does not fit the buffer.
    fn finish(&mut self) -> Option<usize> {
        let bytes = self.bits.to_le_bytes();
        let n_bytes = self.n_bits.div_ceil(8) as usize;
        let end = self.pos + n_bytes;
        self.buf
            .get_mut(self.pos..end)?
            .copy_from_slice(bytes.get(..n_bytes)?);
        Some(end)
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

/// An upper bound of the stream length for `len` input bytes. The stream holds a clear code,
/// at most one code per input byte, a clear code per 3,837 of those (when the dictionary is
/// full, and possibly once more on closing) and the EOF code, each at most 12 bits.
fn max_stream_len(len: usize) -> usize {
    let codes = len.saturating_add(len / 2048).saturating_add(4);
    codes.saturating_mul(12).div_ceil(8)
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
    // The stream is written into `out` grown by this many bytes, then truncated to its length.
    let mut room = max_stream_len(input.len()).min(max_len);
    let fits = loop {
        out.resize(start.saturating_add(room), 0);
        let buf = out.get_mut(start..).unwrap_or_default();
        let (len, last) = encode_into(&mut tables, mask, input, buf);
        tables.empty(last);
        match len {
            Some(len) => {
                out.truncate(start + len);
                break true;
            }
            None if room >= max_len => {
                out.truncate(start);
                break false;
            }
            // Not expected (`max_stream_len` is an upper bound), but harmless: try again with
            // more room.
            None => room = room.saturating_mul(2).min(max_len),
        }
    };
    // Ignored for the same reason: the tables are then simply dropped.
    let _ = TABLES.try_with(|cell| cell.set(Some(tables)));
    fits
}

/// Encodes `input` with the empty `tables`, using the `mask + 1` first hash slots, into `buf`.
/// Returns the stream's length, or `None` as soon as it is known not to fit `buf`, and the
/// last dictionary code assigned, whose table entries remain to be emptied.
fn encode_into(
    tables: &mut Tables,
    mask: usize,
    input: &[u8],
    buf: &mut [u8],
) -> (Option<usize>, u32) {
    let mut w = BitWriter {
        buf,
        pos: 0,
        bits: 0,
        n_bits: 0,
        width: LITERAL_BITS + 1,
    };
    // The most recently assigned code: entries `FIRST_ENTRY..=hi` are in the table.
    let mut hi = EOF;
    // The value of `hi` at which the code width grows (512, 1024, 2048), or at which the
    // dictionary is full (`MAX_CODE`), whichever comes first.
    let mut next_event = CLEAR << 1;
    // Nine bits: no flush.
    w.write(CLEAR);
    if let Some((&first, rest)) = input.split_first() {
        // The code of the longest match so far, shifted left by 8 bits (ready to take the
        // next byte as part of a key).
        let mut prefix = u32::from(first) << 8;
        'bytes: for &byte in rest {
            // The prefix code is at most 4094, so `key` < 2^20 and `key << 12` fits in 32 bits.
            let key = prefix | u32::from(byte);
            let mut index = slot(key, mask);
            // The table holds at most a quarter as many entries as slots (see `table_size`),
            // so probing ends at an empty slot.
            loop {
                let entry = tables.slots[index & TABLE_MASK];
                if entry >> 12 == key {
                    prefix = (entry << 8) & (MAX_CODE << 8);
                    continue 'bytes;
                }
                if entry == EMPTY {
                    break;
                }
                index = (index + 1) & mask;
            }
            if !w.write(key >> 8) {
                return (None, hi);
            }
            prefix = (key & 0xff) << 8;
            hi += 1;
            if hi == next_event {
                if hi == MAX_CODE {
                    tables.empty(MAX_CODE - 1);
                    hi = EOF;
                    next_event = CLEAR << 1;
                    if !w.write(CLEAR) {
                        return (None, hi);
                    }
                    w.width = LITERAL_BITS + 1;
                    continue;
                }
                w.width += 1;
                next_event = (hi << 1).min(MAX_CODE);
            }
            tables.slots[index & TABLE_MASK] = (key << 12) | hi;
            // `index` <= TABLE_MASK < 2^16.
            tables.slot_of[hi as usize & (CODES - 1)] = index as u16;
        }
        if !w.write(prefix >> 8) {
            return (None, hi);
        }
        // Go's writer advances `hi` once more when closing; all that is left of that is the
        // width of the EOF code, and a clear code first if the codes ran out.
        if hi + 1 == next_event {
            if next_event == MAX_CODE {
                if !w.write(CLEAR) {
                    return (None, hi);
                }
                w.width = LITERAL_BITS + 1;
            } else {
                w.width += 1;
            }
        }
    }
    let len = if w.write(EOF) { w.finish() } else { None };
    (len, hi)
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
    fn max_stream_len_is_an_upper_bound() {
        // Noise takes about one code per byte (the most codes per byte), with dictionary
        // resets; one repeated byte takes the fewest.
        let noise: Vec<u8> = (0..20_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for len in (0..300).chain([3_900, 4_000, 8_000, 20_000]) {
            let input = &noise[..len];
            assert!(encoded(input).len() <= max_stream_len(len), "{len}");
            assert!(encoded(&vec![7; len]).len() <= max_stream_len(len), "{len}");
        }
        assert_eq!(max_stream_len(0), 6);
        assert_eq!(max_stream_len(usize::MAX), usize::MAX / 8 + 1);
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
