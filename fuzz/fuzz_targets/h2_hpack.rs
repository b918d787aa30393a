//! (i) HPACK field blocks of one direction: `h2::hpack::FieldDecoder` fed arbitrary blocks,
//! with `allow` (SETTINGS_HEADER_TABLE_SIZE) and `lost` (a block missed) between them.
//!
//! Input: a sequence of ops, `[op] [args]`: op % 4 = 0 a block `[len u16 BE][len bytes]`,
//! 1 `allow([u32 BE])`, 2 `lost()`, 3 a fresh decoder (`new` when op < 128, else `joined`).
//!
//! Oracles, besides no panic / hang / RSS blow-up:
//! * the fields of a decoded block hold at most `MAX_FIELD_BYTES` bytes of names and values
//!   (counted as the decoder received them: the lossy UTF-8 text may be longer);
//! * a decoder that called `lost()` (or is `joined`) is not `complete()` until a fresh one;
//!   a failed block makes it incomplete too;
//! * a block that decodes decodes to the same fields with a decoder that saw the same history
//!   (determinism; the two are fed alike from the start).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsdissect::h2::hpack::{FieldDecoder, MAX_FIELD_BYTES};

fn field_bytes(fields: &wsdissect::http::Headers) -> usize {
    // U+FFFD (3 bytes) replaces each invalid byte: count it as one received byte.
    fields
        .0
        .iter()
        .map(|(n, v)| received_len(n) + received_len(v))
        .sum()
}

fn received_len(text: &str) -> usize {
    text.chars()
        .map(|c| match c {
            '\u{fffd}' => 1,
            c => c.len_utf8(),
        })
        .sum()
}

fuzz_target!(|data: &[u8]| {
    let mut decoders = [FieldDecoder::new(), FieldDecoder::new()];
    let mut complete = true;
    let mut rest = data;
    while let Some((&op, after)) = rest.split_first() {
        rest = after;
        match op % 4 {
            0 => {
                let [hi, lo, after @ ..] = rest else {
                    return;
                };
                let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(after.len());
                let (block, after) = after.split_at(len);
                rest = after;
                let a = decoders[0].decode(block);
                let b = decoders[1].decode(block);
                assert_eq!(a, b, "two decoders with the same history differ");
                match a {
                    Ok(fields) => assert!(
                        field_bytes(&fields) <= MAX_FIELD_BYTES,
                        "{} bytes of fields kept",
                        field_bytes(&fields)
                    ),
                    Err(_) => complete = false,
                }
            }
            1 => {
                let [a, b, c, d, after @ ..] = rest else {
                    return;
                };
                rest = after;
                let size = u32::from_be_bytes([*a, *b, *c, *d]);
                decoders.iter_mut().for_each(|d| d.allow(size));
            }
            2 => {
                decoders.iter_mut().for_each(FieldDecoder::lost);
                complete = false;
            }
            _ => {
                let fresh = || match op < 128 {
                    true => FieldDecoder::new(),
                    false => FieldDecoder::joined(),
                };
                decoders = [fresh(), fresh()];
                complete = op < 128;
            }
        }
        for d in &decoders {
            assert_eq!(d.complete(), complete, "complete() after op {op}");
        }
    }
});
