//! Finding frame boundaries in a byte stream whose framing is unknown: a capture that starts
//! after the handshake (or mid-frame), or a stream after a capture gap.
//!
//! A candidate offset is accepted when a chain of well-formed frame headers starts there, each
//! frame's payload skipped to the next header. "Well-formed" is strict (RFC 6455 §5.2): a known
//! opcode, RSV2/RSV3 clear, RSV1 only on a data frame, control frames final and at most 125
//! bytes, lengths in minimal form, and the MASK bit the direction requires. Random bytes, TLS
//! records and HTTP text almost never chain.

use super::frame::{decode_frame_header, FrameHeader, HeaderDecode};
use super::rules;

/// What a plausible header must look like.
#[derive(Clone, Copy, Debug)]
pub struct Expect {
    /// Some(true) for client-to-server, Some(false) for server-to-client, None when unknown
    /// (then every frame of the chain must agree with the first).
    pub masked: Option<bool>,
    /// Longest payload believed; a larger claimed length rejects the candidate.
    pub max_payload: u64,
}

/// A boundary found at `offset`, with `frames` headers chained and the MASK bit they share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Boundary {
    pub offset: usize,
    pub frames: usize,
    pub masked: bool,
}

/// Could this header start a frame here? Every structural rule of §5.2 and §5.5 holds (the
/// same checks the session reports as violations), the length is believable and the MASK bit is
/// the one the direction needs. Written as a list of conditions, one per line.
pub fn plausible(h: &FrameHeader, expect: &Expect) -> bool {
    !h.opcode.is_reserved()
        && !h.rsv2
        && !h.rsv3
        && !rules::rsv1_misplaced(h)
        && !rules::control_too_long(h)
        && !rules::control_fragmented(h)
        && !h.length_not_minimal()
        && !h.length_msb_set()
        && h.payload_len <= expect.max_payload
        && expect.masked.is_none_or(|m| m == h.masked)
}

/// Where a chain of plausible headers from one offset got to.
enum Chain {
    /// A header that breaks the rules: not a boundary.
    Broken,
    /// `frames` headers chained (the last may still be arriving); nothing more can be known
    /// until the buffer holds `until` bytes.
    Open {
        frames: usize,
        masked: Option<bool>,
        until: usize,
    },
    /// `frames` whole frames chained, the last ending exactly at the end of the buffer.
    ExactEnd { frames: usize, masked: bool },
    /// `frames` (the most asked for) chained.
    Long { frames: usize, masked: bool },
}

/// Follow the chain of frames starting at `offset`, up to `max_frames`.
fn chain(buf: &[u8], offset: usize, expect: &Expect, max_frames: usize) -> Chain {
    let mut at = offset;
    let mut frames = 0;
    let mut masked = None;
    loop {
        if frames == max_frames {
            return Chain::Long {
                frames,
                masked: masked.unwrap_or(false),
            };
        }
        if at == buf.len() && frames > 0 {
            return Chain::ExactEnd {
                frames,
                masked: masked.unwrap_or(false),
            };
        }
        let h = match decode_frame_header(&buf[at..]) {
            HeaderDecode::Complete(h) => h,
            HeaderDecode::NeedMore(n) => {
                return Chain::Open {
                    frames,
                    masked,
                    until: at + n,
                }
            }
        };
        let e = Expect {
            masked: expect.masked.or(masked),
            ..*expect
        };
        if !plausible(&h, &e) {
            return Chain::Broken;
        }
        masked = Some(h.masked);
        frames += 1;
        let end = at as u64 + u64::from(h.header_len) + h.payload_len;
        if end > buf.len() as u64 {
            // The frame is still arriving; its end, and the next header, decide.
            let until = usize::try_from(end).unwrap_or(usize::MAX);
            return Chain::Open {
                frames,
                masked,
                until,
            };
        }
        at = end as usize;
    }
}

/// The verdict on one candidate offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not a frame boundary, whatever bytes follow.
    Reject,
    /// Plausible so far; nothing can change until the buffer holds `until` bytes.
    Wait {
        until: usize,
    },
    Accept(Boundary),
}

/// How much evidence a candidate needs. Frames usually start where the sender's write started,
/// which is where a TCP segment starts, so those candidates need less; anywhere else needs a
/// long chain (with random bytes, each plausible header is roughly a 1-in-25 chance).
#[derive(Clone, Copy, Debug)]
pub struct Criteria {
    /// Frames to chain from a segment start.
    pub aligned: usize,
    /// Frames that suffice from a segment start when the chain ends exactly where the bytes end.
    pub aligned_exact_end: usize,
    /// Frames to chain from any other offset.
    pub unaligned: usize,
}

/// After a gap, in a direction already known to be WebSocket.
pub const AFTER_GAP: Criteria = Criteria {
    aligned: 2,
    aligned_exact_end: 1,
    unaligned: 6,
};
/// Deciding that an unknown connection is WebSocket at all.
pub const RECOGNISE: Criteria = Criteria {
    aligned: 3,
    aligned_exact_end: 2,
    unaligned: 6,
};

/// Judge one candidate.
pub fn check(buf: &[u8], offset: usize, aligned: bool, expect: &Expect, c: &Criteria) -> Verdict {
    let (min, exact_min) = if aligned {
        (c.aligned, c.aligned_exact_end)
    } else {
        (c.unaligned, usize::MAX)
    };
    let accept = |frames, masked| {
        Verdict::Accept(Boundary {
            offset,
            frames,
            masked,
        })
    };
    match chain(buf, offset, expect, min) {
        Chain::Broken => Verdict::Reject,
        Chain::Long { frames, masked } => accept(frames, masked),
        Chain::ExactEnd { frames, masked } if frames >= exact_min => accept(frames, masked),
        Chain::ExactEnd { .. } => Verdict::Wait {
            until: buf.len() + 1,
        },
        Chain::Open {
            frames,
            masked: Some(masked),
            ..
        } if frames >= min => accept(frames, masked),
        Chain::Open { until, .. } => Verdict::Wait { until },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first accepted offset in `buf` (scanning at most `scan_limit` candidates); `aligned`
    /// lists the offsets where TCP segments started, ascending.
    pub fn find_boundary(
        buf: &[u8],
        aligned: &[usize],
        expect: &Expect,
        c: &Criteria,
        scan_limit: usize,
    ) -> Option<Boundary> {
        (0..buf.len().min(scan_limit)).find_map(|offset| {
            match check(
                buf,
                offset,
                aligned.binary_search(&offset).is_ok(),
                expect,
                c,
            ) {
                Verdict::Accept(b) => Some(b),
                _ => None,
            }
        })
    }

    const ANY: Expect = Expect {
        masked: None,
        max_payload: 1 << 24,
    };

    fn masked_text(payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0x81, 0x80 | payload.len() as u8, 1, 2, 3, 4];
        v.extend(
            payload
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ [1, 2, 3, 4][i % 4]),
        );
        v
    }

    #[test]
    fn finds_frames_after_the_tail_of_an_earlier_one() {
        let mut buf = b"tail of a frame whose header we never saw".to_vec();
        let start = buf.len();
        for _ in 0..3 {
            buf.extend(masked_text(b"hello"));
        }
        let b = find_boundary(&buf, &[0, start], &ANY, &RECOGNISE, 1 << 16).unwrap();
        assert_eq!(
            b,
            Boundary {
                offset: start,
                frames: 3,
                masked: true
            }
        );
    }

    #[test]
    fn direction_is_enforced() {
        let buf: Vec<u8> = (0..3).flat_map(|_| masked_text(b"x")).collect();
        let server = Expect {
            masked: Some(false),
            ..ANY
        };
        assert_eq!(
            find_boundary(&buf, &[0], &server, &RECOGNISE, 1 << 16),
            None
        );
    }

    #[test]
    fn http_and_tls_do_not_chain() {
        let http = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
        assert_eq!(find_boundary(http, &[0], &ANY, &RECOGNISE, 1 << 16), None);
        let tls = [
            0x17, 0x03, 0x03, 0x00, 0x20, 0xaa, 0xbb, 0xcc, 0xdd, 0x17, 0x03, 0x03, 0x00, 0x05,
        ];
        assert_eq!(
            find_boundary(&tls, &[0, 9], &ANY, &RECOGNISE, 1 << 16),
            None
        );
    }

    #[test]
    fn one_frame_ending_exactly_at_a_segment_end_is_enough_after_a_gap() {
        let buf = masked_text(b"only one");
        assert_eq!(
            find_boundary(&buf, &[0], &ANY, &AFTER_GAP, 1 << 16).map(|b| b.offset),
            Some(0)
        );
        assert_eq!(find_boundary(&buf, &[0], &ANY, &RECOGNISE, 1 << 16), None);
    }

    #[test]
    fn random_bytes_rarely_chain_from_unaligned_offsets() {
        // A masked payload is as good as random: 64 KiB of it must not look like frames.
        let mut x: u32 = 12345;
        let buf: Vec<u8> = (0..65536)
            .map(|_| {
                x = x.wrapping_mul(1664525).wrapping_add(1013904223);
                (x >> 24) as u8
            })
            .collect();
        let client = Expect {
            masked: Some(true),
            max_payload: 1 << 30,
        };
        assert_eq!(
            find_boundary(&buf, &[], &client, &AFTER_GAP, usize::MAX),
            None
        );
    }
}
