//! Incremental UTF-8 validation across frame and segment boundaries (RFC 6455 §5.6, §8.1).
//!
//! A text message may be split anywhere, even inside a multi-byte character, so the validator
//! carries up to three bytes of an unfinished character between calls and reports the first
//! invalid byte by its offset in the message.

#[derive(Clone, Debug, Default)]
pub struct Utf8Validator {
    pending: [u8; 4],
    pending_len: usize,
    consumed: u64,
    error_at: Option<u64>,
}

impl Utf8Validator {
    /// Offset of the first invalid byte in the message, once one has been seen.
    pub fn error_at(&self) -> Option<u64> {
        self.error_at
    }

    /// Feed the next bytes of the message.
    pub fn feed(&mut self, mut data: &[u8]) {
        if self.error_at.is_some() || data.is_empty() {
            self.consumed += data.len() as u64;
            return;
        }
        // Finish a character left over from the previous call.
        while self.pending_len > 0 && !data.is_empty() {
            self.pending[self.pending_len] = data[0];
            self.pending_len += 1;
            self.consumed += 1;
            data = &data[1..];
            match std::str::from_utf8(&self.pending[..self.pending_len]) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_some() => {
                    self.error_at =
                        Some(self.consumed - self.pending_len as u64 + e.valid_up_to() as u64);
                    self.consumed += data.len() as u64;
                    return;
                }
                Err(_) => {} // still incomplete
            }
        }
        if data.is_empty() {
            return;
        }
        match std::str::from_utf8(data) {
            Ok(_) => self.consumed += data.len() as u64,
            Err(e) => match e.error_len() {
                Some(_) => {
                    self.error_at = Some(self.consumed + e.valid_up_to() as u64);
                    self.consumed += data.len() as u64;
                }
                None => {
                    let tail = &data[e.valid_up_to()..];
                    self.pending[..tail.len()].copy_from_slice(tail);
                    self.pending_len = tail.len();
                    self.consumed += data.len() as u64;
                }
            },
        }
    }

    /// Call at the end of the message: an unfinished character is an error there.
    pub fn finish(&mut self) -> Option<u64> {
        if self.error_at.is_none() && self.pending_len > 0 {
            self.error_at = Some(self.consumed - self.pending_len as u64);
        }
        self.error_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn validate_in_pieces(data: &[u8], cuts: &[usize]) -> Option<u64> {
        let mut v = Utf8Validator::default();
        let mut last = 0;
        for &c in cuts {
            let c = c.min(data.len()).max(last);
            v.feed(&data[last..c]);
            last = c;
        }
        v.feed(&data[last..]);
        v.finish()
    }

    #[test]
    fn character_split_across_fragments() {
        let snowman = "a☃b".as_bytes();
        assert_eq!(validate_in_pieces(snowman, &[2, 3]), None);
    }

    #[test]
    fn first_bad_byte_is_reported() {
        assert_eq!(validate_in_pieces(b"ab\xffcd", &[1]), Some(2));
        assert_eq!(
            validate_in_pieces(
                b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
                &[5]
            ),
            Some(11)
        );
    }

    #[test]
    fn truncated_character_at_end_is_an_error() {
        assert_eq!(validate_in_pieces(b"ab\xe2\x98", &[3]), Some(2));
    }

    proptest! {
        #[test]
        fn pieces_agree_with_std(data in proptest::collection::vec(any::<u8>(), 0..40),
                                 a in 0usize..40, b in 0usize..40) {
            let (a, b) = (a.min(b), a.max(b));
            let expected = match std::str::from_utf8(&data) {
                Ok(_) => None,
                Err(e) => Some(e.valid_up_to() as u64),
            };
            prop_assert_eq!(validate_in_pieces(&data, &[a, b]), expected);
        }
    }
}
