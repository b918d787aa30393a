//! The frame header (RFC 6455 §5.2), parsed with nom's streaming combinators.
//!
//! Pure: bytes in, a header or "need more bytes" out. Every bit pattern is a valid header as
//! far as the parser is concerned; whether it breaks a rule is decided in `rules`.

use nom::bytes::streaming::take;
use nom::number::streaming::{be_u16, be_u64, be_u8};
use nom::{IResult, Parser};

use super::opcode::OpCode;

/// The longest header: 2 fixed bytes, 8 bytes of 64-bit length, 4 bytes of masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// How the payload length was written on the wire (§5.2 "Payload length").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LengthForm {
    /// 0-125 in the 7-bit field.
    Short,
    /// 7-bit field 126, then a 16-bit length.
    Extended16,
    /// 7-bit field 127, then a 64-bit length.
    Extended64,
}

/// A decoded frame header, with the raw bits kept so they can be explained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub fin: bool,
    pub rsv1: bool,
    pub rsv2: bool,
    pub rsv3: bool,
    pub opcode: OpCode,
    pub masked: bool,
    /// The 7-bit length field as written (0-127).
    pub len7: u8,
    pub length_form: LengthForm,
    pub payload_len: u64,
    pub mask_key: Option<[u8; 4]>,
    /// 2 to 14 bytes.
    pub header_len: u8,
}

impl FrameHeader {
    /// True when the length was not written in the shortest form (§5.2: "the minimal number of
    /// bytes MUST be used to encode the length").
    pub fn length_not_minimal(&self) -> bool {
        match self.length_form {
            LengthForm::Short => false,
            LengthForm::Extended16 => self.payload_len < 126,
            LengthForm::Extended64 => self.payload_len <= 0xffff,
        }
    }

    /// True when a 64-bit length has its most significant bit set (§5.2 forbids it).
    pub fn length_msb_set(&self) -> bool {
        self.length_form == LengthForm::Extended64 && self.payload_len >> 63 == 1
    }
}

/// Parse one frame header, streaming: `Err(Incomplete)` when more bytes are needed.
pub fn parse_frame_header(input: &[u8]) -> IResult<&[u8], FrameHeader> {
    let start_len = input.len();
    let (input, b0) = be_u8(input)?;
    let (input, b1) = be_u8(input)?;
    let len7 = b1 & 0x7f;
    let (input, length_form, payload_len) = match len7 {
        126 => {
            let (i, l) = be_u16(input)?;
            (i, LengthForm::Extended16, u64::from(l))
        }
        127 => {
            let (i, l) = be_u64(input)?;
            (i, LengthForm::Extended64, l)
        }
        n => (input, LengthForm::Short, u64::from(n)),
    };
    let masked = b1 & 0x80 != 0;
    let (input, mask_key) = if masked {
        let (i, k) = take(4usize).parse(input)?;
        (i, Some([k[0], k[1], k[2], k[3]]))
    } else {
        (input, None)
    };
    let header = FrameHeader {
        fin: b0 & 0x80 != 0,
        rsv1: b0 & 0x40 != 0,
        rsv2: b0 & 0x20 != 0,
        rsv3: b0 & 0x10 != 0,
        opcode: OpCode::from_bits(b0),
        masked,
        len7,
        length_form,
        payload_len,
        mask_key,
        header_len: (start_len - input.len()) as u8,
    };
    Ok((input, header))
}

/// Outcome of decoding a header at the module edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderDecode {
    Complete(FrameHeader),
    /// At least this many more bytes are needed before the header is known.
    NeedMore(usize),
}

/// Decode a header from the start of `input` without consuming anything on "need more".
pub fn decode_frame_header(input: &[u8]) -> HeaderDecode {
    match parse_frame_header(input) {
        Ok((_, h)) => HeaderDecode::Complete(h),
        Err(nom::Err::Incomplete(nom::Needed::Size(n))) => HeaderDecode::NeedMore(n.get()),
        // The parser has no failure path: every bit pattern is a header. Kept total anyway.
        Err(_) => HeaderDecode::NeedMore(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header length §5.2 implies from the second byte alone: the parser must agree.
    fn header_len_from_first_bytes(b1: u8) -> usize {
        let ext = match b1 & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        2 + ext + if b1 & 0x80 != 0 { 4 } else { 0 }
    }

    fn complete(bytes: &[u8]) -> FrameHeader {
        match decode_frame_header(bytes) {
            HeaderDecode::Complete(h) => h,
            other => panic!("expected a header, got {other:?}"),
        }
    }

    // RFC 6455 §5.7 examples.
    #[test]
    fn rfc_single_frame_unmasked_text() {
        let h = complete(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert!(h.fin && !h.masked);
        assert_eq!(h.opcode, OpCode::Text);
        assert_eq!(h.payload_len, 5);
        assert_eq!(h.header_len, 2);
    }

    #[test]
    fn rfc_single_frame_masked_text() {
        let h = complete(&[
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ]);
        assert!(h.masked);
        assert_eq!(h.mask_key, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(h.header_len, 6);
    }

    #[test]
    fn rfc_fragmented_unmasked_text() {
        let first = complete(&[0x01, 0x03, 0x48, 0x65, 0x6c]);
        assert!(!first.fin);
        assert_eq!(first.opcode, OpCode::Text);
        let second = complete(&[0x80, 0x02, 0x6c, 0x6f]);
        assert!(second.fin);
        assert_eq!(second.opcode, OpCode::Continuation);
    }

    #[test]
    fn rfc_ping_and_pong() {
        assert_eq!(complete(&[0x89, 0x05]).opcode, OpCode::Ping);
        let pong = complete(&[0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(pong.opcode, OpCode::Pong);
        assert!(pong.masked);
    }

    #[test]
    fn rfc_256_bytes_binary_16_bit_length() {
        let h = complete(&[0x82, 0x7E, 0x01, 0x00]);
        assert_eq!(h.length_form, LengthForm::Extended16);
        assert_eq!(h.payload_len, 256);
        assert_eq!(h.header_len, 4);
    }

    #[test]
    fn rfc_64_kib_binary_64_bit_length() {
        let h = complete(&[0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]);
        assert_eq!(h.length_form, LengthForm::Extended64);
        assert_eq!(h.payload_len, 65536);
        assert!(!h.length_not_minimal());
    }

    #[test]
    fn need_more_reports_how_many() {
        assert_eq!(decode_frame_header(&[]), HeaderDecode::NeedMore(1));
        assert_eq!(decode_frame_header(&[0x81]), HeaderDecode::NeedMore(1));
        assert_eq!(
            decode_frame_header(&[0x82, 0x7f, 0]),
            HeaderDecode::NeedMore(7)
        );
        assert_eq!(
            decode_frame_header(&[0x81, 0x85, 1]),
            HeaderDecode::NeedMore(3)
        );
    }

    #[test]
    fn huge_and_non_minimal_lengths_are_representable() {
        let h = complete(&[0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert!(h.length_msb_set());
        assert_eq!(h.payload_len, u64::MAX);
        let h = complete(&[0x88, 0x7f, 0, 0, 0, 0, 0, 0, 0x01, 0x02]);
        assert!(h.length_not_minimal());
        let h = complete(&[0x88, 0x7e, 0, 5]);
        assert!(h.length_not_minimal());
    }

    #[test]
    fn header_len_prediction_matches_parser() {
        for b1 in 0..=255u8 {
            let mut bytes = vec![0x81, b1];
            bytes.extend_from_slice(&[0u8; 12]);
            assert_eq!(
                complete(&bytes).header_len as usize,
                header_len_from_first_bytes(b1)
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_or_ask_for_more(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..20)) {
            match decode_frame_header(&bytes) {
                HeaderDecode::Complete(h) => proptest::prop_assert!(h.header_len as usize <= bytes.len()),
                HeaderDecode::NeedMore(n) => proptest::prop_assert!(n >= 1 && bytes.len() + n <= MAX_HEADER_LEN),
            }
        }
    }
}
