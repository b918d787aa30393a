//! A message being assembled from its data frames (RFC 6455 §5.4): the kept start of its
//! application bytes (inflated when compressed), its length, what was lost, and UTF-8 checked
//! across fragments.

use super::deflate::{InflateError, Inflater};
use super::opcode::OpCode;
use super::record::{Hole, InflateFailure, MAX_HOLES};
use super::rules::Finding;
use super::utf8::Utf8Validator;
use crate::base::rules;
use crate::base::{recycle, PacketRef};

#[derive(Debug)]
pub struct PartialMessage {
    pub opcode: OpCode,
    /// The start of the application bytes, up to the keep limit.
    pub payload: Vec<u8>,
    /// Application bytes so far (inflated when compressed), counting lost ones when known.
    pub len: u64,
    pub lost: u64,
    /// Where bytes were lost (uncompressed messages), the first `MAX_HOLES`.
    pub holes: Vec<Hole>,
    /// The kept copy stopped at the keep limit (not at a hole).
    pub kept_to_limit: bool,
    pub fragments: u32,
    pub first_packet: PacketRef,
    /// Text messages: checked incrementally, after inflation when compressed.
    pub utf8: Option<Utf8Validator>,
    pub compressed: bool,
    /// Payload bytes on the wire (compressed when `compressed`).
    pub wire_len: u64,
    pub inflate_error: Option<InflateFailure>,
    /// Inflate this message up to this many bytes: the per-message limit, or what is left of
    /// the session's budget when that is less.
    pub inflate_cap: u64,
}

impl PartialMessage {
    /// A message opened by a text or binary frame.
    pub fn open(opcode: OpCode, packet: PacketRef, compressed: bool) -> PartialMessage {
        PartialMessage {
            opcode,
            payload: recycle::buffer(),
            len: 0,
            lost: 0,
            holes: Vec::new(),
            kept_to_limit: false,
            fragments: 1,
            first_packet: packet,
            utf8: (opcode == OpCode::Text).then(Utf8Validator::default),
            compressed,
            wire_len: 0,
            inflate_error: None,
            inflate_cap: u64::MAX,
        }
    }

    /// Application bytes (inflated when compressed) of the message.
    /// After a hole only the length grows: the bytes after it are not joined to those before.
    pub fn append(&mut self, data: &[u8], keep: usize) {
        self.len += data.len() as u64;
        // Bytes were lost: nothing after the first hole is kept or checked as UTF-8.
        if self.lost > 0 {
            return;
        }
        // Once a byte was left out, nothing after it is kept, even if the limit rose since (an
        // application decoder was chosen mid-message): kept bytes are never spliced.
        let room = match self.kept_to_limit {
            true => 0,
            false => keep.saturating_sub(self.payload.len()),
        };
        if data.len() > room {
            self.kept_to_limit = true;
        }
        self.payload
            .extend_from_slice(&data[..room.min(data.len())]);
        if let Some(v) = self.utf8.as_mut() {
            v.feed(data);
        }
    }

    /// The next payload bytes from the wire: kept as they are, or inflated.
    pub fn add_wire_bytes(
        &mut self,
        data: &[u8],
        inflater: Option<&mut Inflater>,
        keep: usize,
        limit: u64,
    ) {
        self.wire_len += data.len() as u64;
        if !self.compressed {
            self.append(data, keep);
        } else if self.inflate_error.is_none() {
            if let Some(inf) = inflater {
                inf.feed(data, limit, &mut |out| self.append(out, keep));
            }
        }
    }

    /// `len` payload bytes are missing from the capture. A compressed message cannot be
    /// inflated past them, and the window is lost for the messages after it.
    pub fn lose(&mut self, len: u64, inflater: Option<&mut Inflater>) {
        self.lost += len;
        self.wire_len += len;
        if self.compressed {
            self.inflate_error
                .get_or_insert(InflateFailure::BytesMissing);
            if let Some(inf) = inflater {
                inf.lose_context();
            }
        } else {
            self.note_hole(len);
            self.len += len;
        }
    }

    /// `len` bytes missing at the current end of the message: a new hole, or the end of the
    /// last one growing (one gap reported in several pieces).
    fn note_hole(&mut self, len: u64) {
        let at = self.len;
        if let Some(h) = self.holes.last_mut().filter(|h| h.offset + h.len == at) {
            h.len += len;
        } else if self.holes.len() < MAX_HOLES {
            self.holes.push(Hole { offset: at, len });
        }
    }

    /// The last frame is in: inflate the rest. Returns the rule broken if inflation stopped.
    /// `inferred`: the handshake was not seen, so a failure means the window is unknown rather
    /// than corrupt data.
    pub fn finish_inflating(
        &mut self,
        inflater: &mut Inflater,
        keep: usize,
        limit: u64,
        inferred: bool,
    ) -> Option<Finding> {
        if self.inflate_error.is_some() {
            inflater.lose_context();
            return None;
        }
        let (failure, finding) =
            match inflater.finish_message(limit, &mut |out| self.append(out, keep))? {
                InflateError::Limit(l) => (
                    InflateFailure::Limit(l),
                    (
                        &rules::INFLATE_LIMIT,
                        format!("message inflated past {l} bytes; stopped there"),
                    ),
                ),
                InflateError::Corrupt(why) if inferred => {
                    // Without the handshake the window (takeover) is unknown: start afresh.
                    inflater.reset();
                    let msg = format!("cannot inflate without the earlier messages' window: {why}");
                    (
                        InflateFailure::ContextUnknown,
                        (&rules::DEFLATE_CONTEXT_UNKNOWN, msg),
                    )
                }
                InflateError::Corrupt(why) => {
                    let msg = format!("compressed message does not inflate: {why}");
                    (InflateFailure::Corrupt(why), (&rules::DEFLATE_ERROR, msg))
                }
            };
        self.inflate_error = Some(failure);
        Some(finding)
    }

    /// Offset of the first invalid UTF-8 byte of a text message, if any. With bytes lost, only
    /// an error already seen counts (the missing bytes may have completed a character).
    pub fn utf8_error(&mut self) -> Option<u64> {
        let lost = self.lost;
        let v = self.utf8.as_mut()?;
        if lost == 0 {
            v.finish()
        } else {
            v.error_at()
        }
    }
}
