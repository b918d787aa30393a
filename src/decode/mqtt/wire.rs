//! Reading MQTT's data representation (MQTT 5.0 §1.5, 3.1.1 §1.5): integers, variable byte
//! integers, length-prefixed UTF-8 strings and binary data, and the fixed header (§2.1). Every
//! read is checked against the bytes there are; a failure says at which byte and what.

/// Why a packet cannot be read: the byte (from the packet's first byte) and what was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed {
    pub at: usize,
    pub what: String,
}

impl Malformed {
    pub fn new(at: usize, what: impl Into<String>) -> Malformed {
        Malformed {
            at,
            what: what.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Malformed>;

/// A fixed header: the first byte (type and flags), its length and the remaining length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedHeader {
    pub first: u8,
    pub header_len: usize,
    pub remaining: usize,
}

impl FixedHeader {
    /// Bytes of the whole packet.
    pub fn total(&self) -> usize {
        self.header_len + self.remaining
    }
}

/// The fixed header at the start of `b`, `Ok(None)` when more bytes are needed to know it.
pub fn fixed_header(b: &[u8]) -> Result<Option<FixedHeader>> {
    let Some(&first) = b.first() else {
        return Ok(None);
    };
    let mut remaining = 0usize;
    for i in 0..4 {
        let Some(&byte) = b.get(1 + i) else {
            return Ok(None);
        };
        remaining |= usize::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some(FixedHeader {
                first,
                header_len: 2 + i,
                remaining,
            }));
        }
    }
    Err(Malformed::new(
        4,
        "the remaining length runs past four bytes (§1.5.5)",
    ))
}

/// A cursor over one packet's bytes; positions are from the packet's first byte.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Read `bytes`, whose first byte is at `pos` of the packet.
    pub fn new(bytes: &'a [u8], pos: usize) -> Reader<'a> {
        Reader { bytes, pos }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// Bytes left unread.
    pub fn left(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if self.left() < n {
            return Err(Malformed::new(
                self.pos,
                format!("{what} needs {n} bytes, {} left", self.left()),
            ));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// The bytes up to the end of the packet.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = self.bytes.get(self.pos..).unwrap_or(&[]);
        self.pos = self.bytes.len();
        s
    }

    pub fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }

    pub fn u16(&mut self, what: &str) -> Result<u16> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self, what: &str) -> Result<u32> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A variable byte integer (§1.5.5): at most four bytes.
    pub fn varint(&mut self, what: &str) -> Result<u32> {
        let start = self.pos;
        let mut value = 0u32;
        for i in 0..4 {
            let byte = self.u8(what)?;
            value |= u32::from(byte & 0x7F) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Malformed::new(
            start,
            format!("{what}: a variable byte integer longer than four bytes"),
        ))
    }

    /// Binary data: a two-byte length and that many bytes (§1.5.6).
    pub fn binary(&mut self, what: &str) -> Result<&'a [u8]> {
        let len = self.u16(what)?;
        self.take(usize::from(len), what)
    }

    /// A UTF-8 encoded string (§1.5.4): well-formed UTF-8 without U+0000.
    pub fn utf8(&mut self, what: &str) -> Result<&'a str> {
        let start = self.pos + 2;
        let b = self.binary(what)?;
        let s = std::str::from_utf8(b).map_err(|e| {
            Malformed::new(
                start + e.valid_up_to(),
                format!("{what} is not well-formed UTF-8 (§1.5.4)"),
            )
        })?;
        if let Some(i) = s.find('\0') {
            return Err(Malformed::new(
                start + i,
                format!("{what} contains U+0000 (§1.5.4)"),
            ));
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_headers_need_their_length_bytes() {
        assert_eq!(fixed_header(&[]), Ok(None));
        assert_eq!(fixed_header(&[0x30]), Ok(None));
        assert_eq!(fixed_header(&[0x30, 0x80]), Ok(None));
        let h = fixed_header(&[0x30, 0xC1, 0x02]).unwrap().unwrap();
        assert_eq!((h.header_len, h.remaining, h.total()), (3, 321, 324));
        let max = fixed_header(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F])
            .unwrap()
            .unwrap();
        assert_eq!(max.remaining, 268_435_455, "the largest (§1.5.5)");
        assert!(fixed_header(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]).is_err());
    }

    #[test]
    fn strings_are_checked() {
        let mut r = Reader::new(&[0, 2, b'a', b'b', 0, 1, 0xFF], 0);
        assert_eq!(r.utf8("topic"), Ok("ab"));
        let e = r.utf8("topic").unwrap_err();
        assert_eq!(e.at, 6);
        assert!(e.what.contains("UTF-8"), "{}", e.what);
        let mut r = Reader::new(&[0, 3, b'a'], 0);
        assert!(r.utf8("topic").unwrap_err().what.contains("needs 3 bytes"));
        let mut r = Reader::new(&[0, 1, 0], 0);
        assert!(r.utf8("topic").unwrap_err().what.contains("U+0000"));
    }

    #[test]
    fn varints_stop_at_four_bytes() {
        let mut r = Reader::new(&[0x80, 0x01], 0);
        assert_eq!(r.varint("n"), Ok(128));
        let mut r = Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x01], 0);
        assert!(r.varint("n").is_err());
    }
}
