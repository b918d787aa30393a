//! What a WebSocket session reports: each frame as it was on the wire, each message as the
//! application received it, and per-direction counts. The layer above adds nothing but carries
//! them as events.

use super::close::CloseInfo;
use super::frame::{FrameHeader, MAX_HEADER_LEN};
use super::opcode::OpCode;
use crate::base::{ConnId, Direction, PacketRef, StreamId};
use crate::decode::Decoded;
use std::fmt;

/// The payload bytes kept for display: unmasked (and, later, inflated), possibly cut short.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Payload {
    pub bytes: Vec<u8>,
    /// Length on the wire; `bytes.len() < len` means the kept copy was cut at the limit.
    pub len: u64,
}

impl Payload {
    pub fn truncated(&self) -> bool {
        (self.bytes.len() as u64) < self.len
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub conn: ConnId,
    /// The HTTP/2 stream carrying the session (RFC 8441); None over HTTP/1.1.
    pub stream: Option<StreamId>,
    pub dir: Direction,
    /// 1-based frame number within this direction.
    pub index: u64,
    pub first_packet: PacketRef,
    pub last_packet: PacketRef,
    /// Offset of the frame's first header byte in this direction's stream (the TCP stream, or
    /// the decrypted or HTTP/2 stream it is carried in).
    pub stream_offset: u64,
    pub header: FrameHeader,
    pub header_bytes: [u8; MAX_HEADER_LEN],
    pub payload: Payload,
    /// Payload bytes lost in a capture gap.
    pub lost: u64,
    pub close: Option<CloseInfo>,
    /// On a pong: the round-trip time from the matching ping, in nanoseconds.
    pub rtt_ns: Option<u64>,
    /// What RSV1 means on this session (what the handshake negotiated).
    pub rsv1_meaning: Rsv1Meaning,
    /// Payload bytes that never arrived: the capture or input ended inside this frame. Such
    /// frames are reported only when asked for (`Limits::partial_frames`, the teaching view).
    pub missing: u64,
}

/// What RSV1 means on a session: RFC 6455 §5.2 reserves it for extensions, and
/// permessage-deflate (RFC 7692 §6) uses it to mark a compressed message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Rsv1Meaning {
    /// No extension was negotiated: RSV1 must be 0.
    #[default]
    Undefined,
    /// permessage-deflate was negotiated: RSV1 on a message's first frame marks it compressed.
    Deflate,
    /// The handshake was not seen: RSV1 is taken to mean permessage-deflate.
    AssumedDeflate,
}

impl Frame {
    /// The frame starts a permessage-deflate compressed message (RSV1 on a text or binary
    /// frame of a session where RSV1 means that).
    pub fn starts_compressed_message(&self) -> bool {
        self.header.rsv1
            && self.rsv1_meaning != Rsv1Meaning::Undefined
            && matches!(self.header.opcode, OpCode::Text | OpCode::Binary)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub conn: ConnId,
    /// The HTTP/2 stream carrying the session (RFC 8441); None over HTTP/1.1.
    pub stream: Option<StreamId>,
    pub dir: Direction,
    /// 1-based message number within this direction.
    pub index: u64,
    pub opcode: OpCode,
    pub payload: Payload,
    pub fragments: u32,
    pub first_packet: PacketRef,
    pub last_packet: PacketRef,
    /// Text messages: offset of the first invalid UTF-8 byte, if any.
    pub utf8_error: Option<u64>,
    /// Bytes of the message lost in a capture gap.
    pub lost: u64,
    /// Where those bytes were, in the message (uncompressed messages: a compressed one cannot
    /// be inflated past a hole, `inflate_error` says so). The kept payload stops at the first
    /// hole: bytes on either side of one are never joined. At most [`MAX_HOLES`] are listed;
    /// `lost` counts them all.
    pub holes: Vec<Hole>,
    /// permessage-deflate: the payload above is the inflated one.
    pub compressed: bool,
    /// Payload bytes on the wire (the compressed size when `compressed`).
    pub wire_len: u64,
    /// Inflation failed or stopped; the payload is what was inflated before that.
    pub inflate_error: Option<InflateFailure>,
    /// What the message carries in its application protocol, when the session has a decoder
    /// and the message is that protocol's.
    pub decoded: Option<Box<Decoded>>,
}

impl Message {
    /// The kept payload as text, when this is a text message and the kept bytes are valid UTF-8
    /// (a copy cut at the limit is cut back to a character boundary).
    pub fn text(&self) -> Option<&str> {
        if self.opcode != OpCode::Text
            || self.utf8_error.is_some()
            || self.lost > 0
            || self.inflate_error.is_some()
        {
            return None;
        }
        match std::str::from_utf8(&self.payload.bytes) {
            Ok(s) => Some(s),
            Err(e) if e.error_len().is_none() && self.payload.truncated() => {
                std::str::from_utf8(&self.payload.bytes[..e.valid_up_to()]).ok()
            }
            Err(_) => None,
        }
    }

    /// [`Message::text`] without checking the bytes again: the session fed every byte of a
    /// text message to its UTF-8 check, and `utf8_error` is its verdict, so the kept bytes
    /// (a prefix) are UTF-8 but for a character the limit may have cut, which is cut back to
    /// its start here. For writers that escape bytes (NDJSON): checking 7 MB of text a second
    /// time was 2 % of that view.
    pub fn text_bytes(&self) -> Option<&[u8]> {
        if self.opcode != OpCode::Text
            || self.utf8_error.is_some()
            || self.lost > 0
            || self.inflate_error.is_some()
        {
            return None;
        }
        let bytes = &self.payload.bytes[..];
        if !self.payload.truncated() {
            return Some(bytes);
        }
        Some(&bytes[..whole_characters(bytes)])
    }
}

/// How many bytes of `bytes`, UTF-8 but perhaps cut inside its last character, hold whole
/// characters.
fn whole_characters(bytes: &[u8]) -> usize {
    // The last character starts at most three bytes from the end.
    let Some(start) = (bytes.len().saturating_sub(4)..bytes.len())
        .rev()
        .find(|&i| bytes[i] & 0xc0 != 0x80)
    else {
        return bytes.len();
    };
    // Only the last character is looked at: std says whether it is whole.
    match bytes[start..].utf8_chunks().next() {
        Some(chunk) if chunk.invalid().is_empty() => bytes.len(),
        _ => start,
    }
}

/// The most holes a message lists (each is 16 bytes; a message may span millions of
/// one-byte holes).
pub const MAX_HOLES: usize = 64;

/// Bytes of a message missing from the capture: `len` bytes from byte `offset` of the
/// message's payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hole {
    pub offset: u64,
    pub len: u64,
}

impl fmt::Display for Hole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bytes {}–{} missing",
            self.offset,
            self.offset + self.len - 1
        )
    }
}

/// Why a compressed message's payload is not (all) its inflated content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InflateFailure {
    /// The inflated size passed the limit (`--max-inflate`): a deflate bomb, or just too big.
    Limit(u64),
    /// The bytes do not inflate; zlib's reason.
    Corrupt(String),
    /// Earlier compressed data of this direction is missing and context takeover is on.
    ContextUnknown,
    /// Bytes of this message are missing from the capture.
    BytesMissing,
    /// The session's inflate budget (this many bytes, `--max-inflate-total`) was spent.
    BudgetSpent(u64),
}

impl fmt::Display for InflateFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InflateFailure::Limit(l) => write!(f, "inflated size passed the {l}-byte limit"),
            InflateFailure::Corrupt(why) => f.write_str(why),
            InflateFailure::ContextUnknown => f.write_str("compression context unknown"),
            InflateFailure::BytesMissing => {
                f.write_str("compressed bytes missing from the capture")
            }
            InflateFailure::BudgetSpent(total) => {
                write!(f, "the session's {total}-byte inflate budget is spent")
            }
        }
    }
}

/// Per-direction counters, for summaries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirStats {
    pub frames: u64,
    pub messages: u64,
    pub payload_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_message(bytes: &[u8], len: u64) -> Message {
        Message {
            conn: ConnId(1),
            stream: None,
            dir: Direction::ClientToServer,
            index: 1,
            opcode: OpCode::Text,
            payload: Payload {
                bytes: bytes.to_vec(),
                len,
            },
            fragments: 1,
            first_packet: PacketRef::default(),
            last_packet: PacketRef::default(),
            utf8_error: None,
            lost: 0,
            holes: Vec::new(),
            compressed: false,
            wire_len: len,
            inflate_error: None,
            decoded: None,
        }
    }

    /// The unchecked bytes are what the checked text would be, for text cut anywhere by the
    /// limit (inside characters of one to four bytes too).
    #[test]
    fn text_bytes_are_the_text_cut_at_any_byte() {
        let whole = "a\u{e9}\u{20ac}\u{1f600}z\"\\".as_bytes();
        for cut in 0..=whole.len() {
            let m = text_message(&whole[..cut], whole.len() as u64);
            let checked = m.text().map(str::as_bytes);
            assert_eq!(m.text_bytes(), checked, "cut at {cut}");
            assert!(checked.is_some(), "cut at {cut}");
        }
    }

    #[test]
    fn no_text_bytes_for_what_is_not_whole_valid_text() {
        let mut binary = text_message(b"abc", 3);
        binary.opcode = OpCode::Binary;
        let mut invalid = text_message(b"a\xffb", 3);
        invalid.utf8_error = Some(1);
        let mut lost = text_message(b"ab", 3);
        lost.lost = 1;
        for m in [binary, invalid, lost] {
            assert_eq!(m.text_bytes(), None);
            assert_eq!(m.text(), None);
        }
    }
}
