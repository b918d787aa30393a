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
        let result = self.inner.decode_with_cb(block, |name, value| {
            size += name.len() + value.len();
            if size <= MAX_FIELD_BYTES {
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                fields.push((text(&name), text(&value)));
            }
        });
        let why = match result {
            Err(e) if self.complete => format!("HPACK: {e}"),
            Err(e) => format!(
                "HPACK: {e} (the block refers to a table entry set before the capture or a hole)"
            ),
            Ok(()) if size > MAX_FIELD_BYTES => {
                format!("{size} bytes of fields, over the {MAX_FIELD_BYTES}-byte limit")
            }
            Ok(()) => return Ok(Headers(fields)),
        };
        self.lost();
        Err(why)
    }
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
}
