//! Decimal numbers written a word at a time, for the text view and NDJSON: up to eight digits
//! are built in a register two at a time and stored with one 8-byte store, not copied from a
//! formatting buffer (a copy of a length known only at run time is a call to `memcpy`).

/// `"00"` to `"99"`: two decimal digits a lookup.
pub static DIGIT_PAIRS: [[u8; 2]; 100] = {
    let mut pairs = [[0; 2]; 100];
    let mut i = 0;
    while i < 100 {
        pairs[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    pairs
};

/// The decimal digits of `n`: 1 for 0. Counts and lengths are mostly short: a comparison or
/// three, where `ilog10` takes about 20 instructions.
#[inline]
pub fn decimal_digits(n: u64) -> usize {
    match n {
        0..=9 => 1,
        10..=99 => 2,
        100..=999 => 3,
        n => n.ilog10() as usize + 1,
    }
}

/// `n` in decimal appended to `out`; returns how many digits it took. Below 10^8 (packet
/// numbers, lengths, counts) see [`decimal_word`]; a larger number through `itoa`.
#[inline]
pub fn push_decimal(out: &mut Vec<u8>, n: u64) -> usize {
    if n >= 100_000_000 {
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(n);
        out.extend_from_slice(digits.as_bytes());
        return digits.len();
    }
    let (word, digits) = decimal_word(n);
    push_word(out, word, digits);
    digits
}

/// The decimal digits of `n`, below 10^8, as the bytes of a little-endian word (the first
/// digit in the lowest byte) and how many there are: two digits a step from the last, each
/// step shifting the ones before it up. No count of digits first, no loop over a buffer.
#[inline]
pub fn decimal_word(mut n: u64) -> (u64, usize) {
    debug_assert!(n < 100_000_000);
    let pair = |n: u64| u64::from(u16::from_le_bytes(DIGIT_PAIRS[n as usize]));
    let (mut word, mut digits) = (0, 0);
    while n >= 100 {
        word = word << 16 | pair(n % 100);
        n /= 100;
        digits += 2;
    }
    if n >= 10 {
        (word << 16 | pair(n), digits + 2)
    } else {
        (word << 8 | (u64::from(b'0') + n), digits + 1)
    }
}

/// The first `len` bytes of `word` (little-endian) appended to `out`: the whole word stored at
/// once and cut back, not a copy of `len` bytes.
#[inline]
pub fn push_word(out: &mut Vec<u8>, word: u64, len: usize) {
    let end = out.len() + len;
    out.extend_from_slice(&word.to_le_bytes());
    out.truncate(end);
}

/// Lower-case hex digits: every view writes bytes and escapes with these.
pub const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// A byte's two hex digits.
#[inline]
pub fn hex_pair(byte: u8) -> [u8; 2] {
    [
        HEX_DIGITS[usize::from(byte >> 4)],
        HEX_DIGITS[usize::from(byte & 15)],
    ]
}

/// A masking key's eight hex digits (lower case, as every view writes them) as the bytes of
/// a little-endian word, for [`push_word`]: every masked frame shows one.
#[inline]
pub fn hex_word(key: [u8; 4]) -> u64 {
    key.iter().rev().fold(0, |word, &byte| {
        word << 16 | u64::from(u16::from_le_bytes(hex_pair(byte)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every power of ten, and the numbers on either side of it, as `format!` writes them.
    #[test]
    fn numbers_are_written_as_format_writes_them() {
        let mut numbers = vec![0, u64::MAX, 12_345_678, 99_999_999];
        for p in 0..20 {
            let ten = 10u64.pow(p);
            numbers.extend([
                ten - 1,
                ten,
                ten + 1,
                ten.saturating_mul(3).saturating_add(7),
            ]);
        }
        for n in numbers {
            let mut out = b"x".to_vec();
            let digits = push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes(), "{n}");
            assert_eq!((digits, decimal_digits(n)), (out.len() - 1, out.len() - 1));
        }
    }

    #[test]
    fn a_mask_key_is_its_hex_digits() {
        for key in [
            [0, 0, 0, 0],
            [0x37, 0xfa, 0x21, 0x3d],
            [0xff; 4],
            [1, 0x23, 0x45, 0x67],
        ] {
            let mut out = Vec::new();
            push_word(&mut out, hex_word(key), 8);
            let want: String = key.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(out, want.into_bytes());
        }
    }
}
