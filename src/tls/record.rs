//! TLS records out of one direction of a byte stream (RFC 8446 §5.1, RFC 5246 §6.2): a record
//! may span many TCP segments and a segment may hold many records. Keeps only the unfinished
//! record; a record that claims more than any TLS version allows stops the reader.

/// Record header length: type, version, length.
pub const HEADER_LEN: usize = 5;
/// The longest record body any TLS version allows: 2^14 plaintext plus 2048 bytes of expansion
/// (RFC 5246 §6.2.3; TLS 1.3 allows only 256).
pub const MAX_BODY: usize = (1 << 14) + 2048;

pub const CHANGE_CIPHER_SPEC: u8 = 20;
pub const ALERT: u8 = 21;
pub const HANDSHAKE: u8 = 22;
pub const APPLICATION_DATA: u8 = 23;

/// A record content type's name (RFC 8446 §5.1).
pub fn content_type_name(t: u8) -> &'static str {
    match t {
        CHANGE_CIPHER_SPEC => "change_cipher_spec",
        ALERT => "alert",
        HANDSHAKE => "handshake",
        APPLICATION_DATA => "application_data",
        _ => "unknown",
    }
}

/// Could these 5 bytes be a record header? (A known content type, a TLS 1.x version, a length
/// no version exceeds.)
pub fn plausible_header(h: &[u8]) -> bool {
    h.len() >= HEADER_LEN
        && matches!(h[0], CHANGE_CIPHER_SPEC..=APPLICATION_DATA)
        && h[1] == 3
        && h[2] <= 4
        && usize::from(u16::from_be_bytes([h[3], h[4]])) <= MAX_BODY
}

/// One whole record, borrowed from the reader: `header` as sent, `body` mutable so it can be
/// decrypted in place, `offset` the stream offset of its first header byte.
pub struct Record<'a> {
    pub header: [u8; HEADER_LEN],
    pub body: &'a mut [u8],
    pub offset: u64,
}

impl Record<'_> {
    pub fn content_type(&self) -> u8 {
        self.header[0]
    }
}

/// Why the reader stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Broken {
    /// A header that is no TLS record (or claims a body over `MAX_BODY`).
    BadHeader { offset: u64 },
}

#[derive(Debug, Default)]
pub struct RecordReader {
    /// Bytes of the unfinished record (and, until taken, of whole records after it).
    buf: Vec<u8>,
    /// How much of `buf` was handed out as records already.
    used: usize,
    /// Stream offset of `buf[0]`.
    start: u64,
    broken: Option<Broken>,
}

impl RecordReader {
    /// A reader whose first byte is at stream offset `start`.
    pub fn new(start: u64) -> RecordReader {
        RecordReader {
            start,
            ..RecordReader::default()
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.broken.is_none() {
            self.compact();
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Forget what is held: bytes were lost. Reading resumes at `offset`, where the caller has
    /// found (or will look for) the next record.
    pub fn restart_at(&mut self, offset: u64) {
        self.buf.clear();
        self.used = 0;
        self.start = offset;
        self.broken = None;
    }

    pub fn broken(&self) -> Option<Broken> {
        self.broken
    }

    /// Bytes held that are not yet a whole record.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.used..]
    }

    /// Stream offset of the first byte not yet handed out.
    pub fn next_offset(&self) -> u64 {
        self.start + self.used as u64
    }

    /// The next whole record, if the bytes are in.
    pub fn next_record(&mut self) -> Option<Record<'_>> {
        let rest = &self.buf[self.used..];
        if self.broken.is_some() || rest.len() < HEADER_LEN {
            return None;
        }
        if !plausible_header(rest) {
            self.broken = Some(Broken::BadHeader {
                offset: self.next_offset(),
            });
            return None;
        }
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if rest.len() < HEADER_LEN + len {
            return None;
        }
        let header: [u8; HEADER_LEN] = rest[..HEADER_LEN].try_into().ok()?;
        let offset = self.next_offset();
        let at = self.used + HEADER_LEN;
        self.used = at + len;
        Some(Record {
            header,
            body: &mut self.buf[at..at + len],
            offset,
        })
    }

    /// Drop the records already handed out, so the buffer holds one record at most.
    fn compact(&mut self) {
        if self.used > 0 {
            self.buf.drain(..self.used);
            self.start += self.used as u64;
            self.used = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(t: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![t, 3, 3];
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn records_across_and_within_chunks() {
        let mut stream = record(HANDSHAKE, b"hello");
        stream.extend(record(APPLICATION_DATA, &[7; 300]));
        stream.extend(record(ALERT, &[1, 0]));
        for split in 0..stream.len() {
            let mut r = RecordReader::new(100);
            let mut seen = Vec::new();
            for chunk in [&stream[..split], &stream[split..]] {
                r.push(chunk);
                while let Some(rec) = r.next_record() {
                    seen.push((rec.content_type(), rec.body.len(), rec.offset));
                }
            }
            assert_eq!(
                seen,
                [
                    (HANDSHAKE, 5, 100),
                    (APPLICATION_DATA, 300, 110),
                    (ALERT, 2, 415)
                ],
                "split at {split}"
            );
        }
    }

    #[test]
    fn a_header_that_is_not_tls_stops_the_reader() {
        let mut r = RecordReader::new(0);
        r.push(b"GET / HTTP/1.1\r\n");
        assert!(r.next_record().is_none());
        assert_eq!(r.broken(), Some(Broken::BadHeader { offset: 0 }));
        let mut huge = vec![APPLICATION_DATA, 3, 3, 0xff, 0xff];
        huge.extend([0; 10]);
        let mut r = RecordReader::new(0);
        r.push(&huge);
        assert!(r.next_record().is_none());
        assert!(r.broken().is_some());
    }
}
