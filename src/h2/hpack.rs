//! HPACK (RFC 7541) field blocks, one decoder per direction, on `loona-hpack` (see
//! docs/design.md for why that crate).
//!
//! The dynamic table is state shared with the encoder. When a block is missing (a hole, or a
//! capture that starts mid-connection) or does not decode, the decoder starts over with an
//! empty table: the encoder only ever refers to entries by their distance from the newest, so
//! with a table that holds only the entries seen since, every reference decodes to the right
//! field or fails as out of bounds. A field is never decoded to a wrong value.

use loona_hpack::Decoder;

use crate::http::Headers;

/// The dynamic table size every decoder starts with (RFC 9113 §6.5.2).
const DEFAULT_TABLE_SIZE: usize = 4096;
/// Largest dynamic table allowed, whatever SETTINGS_HEADER_TABLE_SIZE says (memory bound).
const MAX_TABLE_SIZE: usize = 1 << 20;
/// Largest decoded field list (names and values) kept from one block.
pub const MAX_FIELD_BYTES: usize = 256 << 10;

pub struct FieldDecoder {
    inner: Decoder<'static>,
    allowed: usize,
    /// Every block since the start of the connection was decoded: no entry can be missing.
    complete: bool,
}

impl std::fmt::Debug for FieldDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldDecoder")
            .field("allowed", &self.allowed)
            .field("complete", &self.complete)
            .finish()
    }
}

impl FieldDecoder {
    /// A decoder from the start of the connection.
    pub fn new() -> FieldDecoder {
        FieldDecoder::with(DEFAULT_TABLE_SIZE, true)
    }

    /// A decoder that joins a connection already under way: its table misses entries.
    pub fn joined() -> FieldDecoder {
        FieldDecoder::with(MAX_TABLE_SIZE, false)
    }

    fn with(allowed: usize, complete: bool) -> FieldDecoder {
        let mut inner = Decoder::new();
        inner.set_max_allowed_table_size(allowed);
        FieldDecoder {
            inner,
            allowed,
            complete,
        }
    }

    /// The table state is known from the start (no block lost or failed so far).
    pub fn complete(&self) -> bool {
        self.complete
    }

    /// The decoding side advertised SETTINGS_HEADER_TABLE_SIZE `size`: the encoder may grow the
    /// table up to it.
    pub fn allow(&mut self, size: u32) {
        let size = (size as usize).clamp(DEFAULT_TABLE_SIZE, MAX_TABLE_SIZE);
        if size > self.allowed {
            self.allowed = size;
            self.inner.set_max_allowed_table_size(size);
        }
    }

    /// A block of this direction was lost: later references to its entries must fail.
    pub fn lost(&mut self) {
        *self = FieldDecoder::with(self.allowed.max(DEFAULT_TABLE_SIZE), false);
    }

    /// The fields of one whole block (HEADERS and its CONTINUATIONs joined).
    pub fn decode(&mut self, block: &[u8]) -> Result<Headers, String> {
        let mut fields = Vec::new();
        let mut size = 0usize;
        // One field at a time, to stop at the limit: a field that adds a table entry copies
        // it, and a 2-byte field can name a 1 MiB entry, so a whole block could cost ~10⁵ MiB
        // of copying. Each field copies at most what it hands to `keep`.
        let mut result = Ok(());
        let mut at = 0;
        while at < block.len() && result.is_ok() && size <= MAX_FIELD_BYTES {
            let end = field_end(block, at).unwrap_or(block.len());
            result = self.inner.decode_with_cb(&block[at..end], |name, value| {
                keep(&mut fields, &mut size, &name, &value);
            });
            at = end;
        }
        let why = match result {
            Err(e) if self.complete => format!("HPACK: {e}"),
            Err(e) => format!(
                "HPACK: {e} (the block refers to a table entry set before the capture or a hole)"
            ),
            Ok(()) if size > MAX_FIELD_BYTES => {
                format!("over {MAX_FIELD_BYTES} bytes of fields (the limit)")
            }
            Ok(()) => return Ok(Headers(fields)),
        };
        self.lost();
        Err(why)
    }
}

/// A decoded field, while the block's fields stay under the limit; `size` counts them all.
fn keep(fields: &mut Vec<(String, String)>, size: &mut usize, name: &[u8], value: &[u8]) {
    *size += name.len() + value.len();
    if *size <= MAX_FIELD_BYTES {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        fields.push((text(name), text(value)));
    }
}

/// Where the field representation at `at` ends, with any table size updates before it (a
/// block may not end with one, RFC 7541 §4.2). None when it runs past the block or its
/// integers overflow: the decoder then gets the rest whole and reports why.
fn field_end(block: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let first = *block.get(at)?;
        if first & 0xe0 != 0x20 {
            break;
        }
        at = integer_end(block, at, 5)?.1; // dynamic table size update
    }
    let first = block[at];
    let prefix = match first {
        _ if first & 0x80 != 0 => return Some(integer_end(block, at, 7)?.1), // indexed
        _ if first & 0x40 != 0 => 6, // literal, added to the table
        _ => 4,                      // literal, not added (or never)
    };
    let (name_index, mut at) = integer_end(block, at, prefix)?;
    if name_index == 0 {
        at = string_end(block, at)?;
    }
    string_end(block, at)
}

/// A string literal (RFC 7541 §5.2): its length (after the Huffman bit), then its bytes.
fn string_end(block: &[u8], at: usize) -> Option<usize> {
    let (len, at) = integer_end(block, at, 7)?;
    let end = at.checked_add(usize::try_from(len).ok()?)?;
    (end <= block.len()).then_some(end)
}

/// An integer with an N-bit prefix (RFC 7541 §5.1) at `at`: its value and where it ends.
fn integer_end(block: &[u8], at: usize, prefix: u32) -> Option<(u64, usize)> {
    let max = (1u64 << prefix) - 1;
    let value = u64::from(*block.get(at)?) & max;
    if value < max {
        return Some((value, at + 1));
    }
    let mut value = max;
    for (i, &b) in block.get(at + 1..)?.iter().enumerate().take(8) {
        value = value.checked_add(u64::from(b & 0x7f) << (7 * i))?;
        if b & 0x80 == 0 {
            return Some((value, at + 2 + i));
        }
    }
    None
}

impl Default for FieldDecoder {
    fn default() -> Self {
        FieldDecoder::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7541 C.3: three requests without Huffman coding, sharing the dynamic table.
    const C3: [&[u8]; 3] = [
        b"\x82\x86\x84\x41\x0fwww.example.com",
        b"\x82\x86\x84\xbe\x58\x08no-cache",
        b"\x82\x87\x85\xbf\x40\x0acustom-key\x0ccustom-value",
    ];

    #[test]
    fn rfc7541_c3_decodes_with_the_shared_table() {
        let mut d = FieldDecoder::new();
        let third = C3.iter().map(|b| d.decode(b).unwrap()).last().unwrap();
        assert_eq!(third.get(":authority").as_deref(), Some("www.example.com"));
        assert_eq!(third.get("custom-key").as_deref(), Some("custom-value"));
        assert_eq!(third.get(":path").as_deref(), Some("/index.html"));
        assert!(d.complete());
    }

    #[test]
    fn a_lost_block_makes_references_fail_never_lie() {
        let mut d = FieldDecoder::new();
        d.decode(C3[0]).unwrap();
        d.lost();
        // The second block refers to entry 62 (":authority" from block 1): unknown now.
        let err = d.decode(C3[1]).unwrap_err();
        assert!(err.contains("before the capture or a hole"), "{err}");
        // The third adds its own entry and refers to one it never saw: it fails too.
        assert!(d.decode(C3[2]).is_err());
        // A block that uses only the static table and literals still decodes.
        assert!(d.decode(b"\x82\x86\x84").is_ok());
    }

    #[test]
    fn table_growth_is_bounded_by_settings() {
        let mut d = FieldDecoder::new();
        // A size update to 8192 before SETTINGS allowed it.
        assert!(d.decode(b"\x3f\xe1\x3f\x82").is_err());
        let mut d = FieldDecoder::new();
        d.allow(8192);
        assert!(d.decode(b"\x3f\xe1\x3f\x82").is_ok());
        d.allow(u32::MAX);
        assert_eq!(d.allowed, MAX_TABLE_SIZE);
    }

    /// An integer with an N-bit prefix (RFC 7541 §5.1), the first byte's other bits `high`.
    fn integer(high: u8, prefix: u32, value: usize) -> Vec<u8> {
        let max = (1usize << prefix) - 1;
        if value < max {
            return vec![high | value as u8];
        }
        let (mut out, mut rest) = (vec![high | max as u8], value - max);
        while rest >= 0x80 {
            out.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        out.push(rest as u8);
        out
    }

    #[test]
    fn a_block_copying_a_big_entry_over_and_over_stops_at_the_limit() {
        // A 256 KiB name in a 1 MiB table, then 2-byte fields that each add an entry with that
        // name again (index 62, empty value): ~390 000 copies of 256 KiB in a 1 MiB block if
        // decoded to its end (≈ 2.5 min here, 20 000 copies take 7.7 s), two once the limit stops
        // it.
        let mut block = integer(0x20, 5, 1 << 20);
        block.extend(integer(0x40, 6, 0));
        block.extend(integer(0, 7, MAX_FIELD_BYTES));
        block.resize(block.len() + MAX_FIELD_BYTES, b'a');
        block.push(0);
        while block.len() < 1 << 20 {
            block.extend([0x7e, 0x00]);
        }
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut d = FieldDecoder::new();
            d.allow(1 << 20);
            let _ = tx.send(d.decode(&block));
        });
        let got = rx.recv_timeout(std::time::Duration::from_secs(10));
        let err = got.expect("decoded in under 10 s").unwrap_err();
        assert!(err.contains("bytes of fields"), "{err}");
    }

    #[test]
    fn fields_are_found_one_at_a_time() {
        // Indexed, literal with a new name (Huffman bit set), size update then a literal with an
        // indexed name, a long length; and cut short.
        let block = [
            0x82, 0x40, 0x81, 0xff, 0x00, 0x3f, 0xe1, 0x1f, 0x0f, 0x2f, 0x00,
        ];
        assert_eq!(field_end(&block, 0), Some(1));
        assert_eq!(field_end(&block, 1), Some(5));
        assert_eq!(field_end(&block, 5), Some(11));
        assert_eq!(field_end(&block[..10], 5), None);
        assert_eq!(
            field_end(&[0x3f, 0xe1, 0x1f], 0),
            None,
            "a size update at the end"
        );
        assert_eq!(integer_end(&[0x7f, 0xff, 0xff, 0xff], 0, 7), None);
        // The RFC 7541 C.3 blocks still decode with the shared table (split field by field).
        let mut d = FieldDecoder::new();
        for b in C3 {
            d.decode(b).unwrap();
        }
    }
}
