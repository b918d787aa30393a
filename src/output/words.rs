//! Printable ASCII eight bytes at a time, for the text view's previews and NDJSON strings, which
//! escape it alike (a backslash before `"` and `\`): the tests on a little-endian word that
//! tell which of its bytes are printable or take a backslash, exact for each byte (no carry
//! crosses into the next), and the stores that write a word with its escapes.

/// Eight bytes as a little-endian word (byte `i` in bits `8i..8i+8`).
#[inline]
pub fn word_of(bytes: &[u8]) -> u64 {
    <[u8; 8]>::try_from(bytes).map_or(0, u64::from_le_bytes)
}

pub const LOW_BITS: u64 = 0x0101_0101_0101_0101;
pub const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// How many bytes a mask of top bits (as [`printable_word_escapes`] makes) marks: the bits
/// moved to the bottom of each byte and summed into the top byte.
#[inline]
pub fn count_marked(mask: u64) -> usize {
    ((mask >> 7).wrapping_mul(LOW_BITS) >> 56) as usize
}

/// When all eight bytes of `word` are printable ASCII (` ` to `~`), the top bit of each that a
/// quoted preview or a JSON string escapes (`"` and `\`: two columns each in a preview);
/// `None` when any is not.
#[inline]
pub fn printable_word_escapes(word: u64) -> Option<u64> {
    let low = word & !HIGH_BITS;
    // A byte's top bit is set after adding 0x60 from 0x20 up, and after adding 1 only at 0x7f
    // (neither sum carries out of the byte).
    let below_space = !(low + LOW_BITS * 0x60) & HIGH_BITS;
    let delete = (low + LOW_BITS) & HIGH_BITS;
    if (word & HIGH_BITS) | below_space | delete != 0 {
        return None;
    }
    // Every byte is below 0x80 here, and so is each byte of a word xored with an ASCII byte:
    // adding 0x7f sets the top bit of every byte but a zero one, and never carries. Both tests
    // in one: a byte is marked when either sum left its top bit clear.
    let sums = (word ^ (LOW_BITS * u64::from(b'"'))).wrapping_add(!HIGH_BITS)
        & (word ^ (LOW_BITS * u64::from(b'\\'))).wrapping_add(!HIGH_BITS);
    Some(!sums & HIGH_BITS)
}

/// Eight printable ASCII bytes stored at `dst[at..]` with a backslash before each that
/// `escapes` marks; returns where they end. `dst` has eight bytes of room past them: the word
/// is stored whole and the output moves on only past the bytes before the next escape (JSON
/// has a quote every few bytes, and a store or a call per run between them cost more).
#[inline]
pub fn push_escaped_word(dst: &mut [u8], mut at: usize, word: u64, mut escapes: u64) -> usize {
    // The word's bytes from `from` on are stored at `at`.
    let mut from = 0;
    loop {
        dst[at..at + 8].copy_from_slice(&(word >> (8 * from)).to_le_bytes());
        if escapes == 0 {
            return at + 8 - from;
        }
        // The next escaped byte: a backslash before it, and it and the rest stored again.
        let next = (escapes.trailing_zeros() / 8) as usize;
        at += next - from;
        dst[at] = b'\\';
        at += 1;
        from = next;
        escapes &= escapes - 1;
    }
}
