//! Frames over one direction of a byte stream, incrementally, as a pull decoder.
//!
//! A frame may start in one segment and end many segments later, and a segment may hold many
//! frames. The caller hands the decoder each chunk as an [`Input`] and pulls events with
//! [`FrameDecoder::next`] until it returns `None`; the events borrow the decoder (its unmasking
//! buffer) or the input, so nothing calls back into the caller and no payload is copied for it.
//! The decoder keeps at most one partial header (14 bytes), a capped copy of the current frame's
//! payload and, just after finding a frame boundary, the bytes it hunted through.

use super::frame::{decode_frame_header, FrameHeader, HeaderDecode, MAX_HEADER_LEN};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::mask::apply_mask;
use super::resync::{check, Boundary, Criteria, Expect, Verdict, AFTER_GAP};
use crate::base::{recycle, PacketRef};

/// A frame whose last byte has arrived.
#[derive(Clone, Debug)]
pub struct CompletedFrame {
    pub header: FrameHeader,
    pub header_bytes: [u8; MAX_HEADER_LEN],
    pub stream_offset: u64,
    pub first_packet: PacketRef,
    pub last_packet: PacketRef,
    /// The start of the unmasked payload, at most the decoder's keep limit.
    pub kept: Vec<u8>,
    /// Payload bytes missing because of a capture gap.
    pub lost: u64,
}

/// The next bytes of the stream, consumed as the decoder walks them.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    bytes: &'a [u8],
    packet: PacketRef,
}

impl<'a> Input<'a> {
    /// `bytes` arrived with `packet`.
    pub fn new(bytes: &'a [u8], packet: PacketRef) -> Input<'a> {
        Input { bytes, packet }
    }

    /// Nothing more to read, at `packet` (to drain what a gap or a boundary left pending).
    pub fn empty(packet: PacketRef) -> Input<'a> {
        Input { bytes: &[], packet }
    }

    /// The packet the bytes came with.
    pub fn packet(&self) -> PacketRef {
        self.packet
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        head
    }
}

/// What the decoder reports while it walks the stream.
#[derive(Debug)]
pub enum FrameEvent<'a> {
    /// A header is complete; its payload follows.
    Start {
        header: &'a FrameHeader,
    },
    /// The next unmasked payload bytes of the current frame.
    Payload {
        header: &'a FrameHeader,
        data: &'a [u8],
    },
    /// Payload bytes of the current frame were lost in a capture gap.
    Lost {
        header: &'a FrameHeader,
        len: u64,
    },
    /// Frame boundaries were found again after `skipped` bytes that could not be framed; the
    /// frames found carry this MASK bit.
    Resync {
        skipped: u64,
        at: u64,
        masked: bool,
    },
    End(CompletedFrame),
}

#[derive(Debug)]
struct InFlight {
    header: FrameHeader,
    header_bytes: [u8; MAX_HEADER_LEN],
    stream_offset: u64,
    first_packet: PacketRef,
    received: u64,
    lost: u64,
    kept: Vec<u8>,
    /// Lost bytes (a gap inside the payload) not yet reported.
    lost_unreported: u64,
    /// The packet at which the last payload byte arrived (or was lost): the frame is complete.
    completed_at: Option<PacketRef>,
}

impl InFlight {
    fn remaining(&self) -> u64 {
        self.header.payload_len - self.received - self.lost
    }

    /// The frame as reported, its kept bytes taken (the box is kept for the next frame).
    fn take_completed(&mut self) -> CompletedFrame {
        CompletedFrame {
            header: self.header,
            header_bytes: self.header_bytes,
            stream_offset: self.stream_offset,
            first_packet: self.first_packet,
            last_packet: self.completed_at.unwrap_or(self.first_packet),
            kept: std::mem::take(&mut self.kept),
            lost: self.lost,
        }
    }

    /// Note that the payload is whole, if it is.
    fn check_complete(&mut self, packet: PacketRef) {
        if self.remaining() == 0 {
            self.completed_at = Some(packet);
        }
    }
}

/// Bytes after a boundary found by hunting, framed but not yet walked.
#[derive(Debug, Default)]
struct Replay {
    bytes: Vec<u8>,
    pos: usize,
    packet: PacketRef,
}

/// Where the framed stream is: a partial header, or the frame in flight.
#[derive(Debug)]
struct Framer {
    partial: [u8; MAX_HEADER_LEN],
    partial_len: usize,
    partial_offset: u64,
    partial_packet: PacketRef,
    /// Boxed: between frames (an idle connection) it is none, and should cost little.
    current: Option<Box<InFlight>>,
    /// The last frame's box, reused by the next frame while the connection is busy (a box
    /// allocated and freed a frame was about 1 % of the default view's instructions); let go
    /// when the connection goes quiet ([`FrameDecoder::compact`]).
    spare: Option<Box<InFlight>>,
    /// Stream offset of the next byte expected.
    next_offset: u64,
    keep_limit: usize,
    /// The last masked payload chunk, unmasked.
    scratch: Vec<u8>,
}

#[derive(Debug)]
pub struct FrameDecoder {
    framer: Framer,
    expect: Expect,
    /// Looking for a frame boundary (boxed: rare, and an idle connection should cost little).
    hunt: Option<Box<Hunt>>,
    criteria: Criteria,
    /// Boxed: only just after a hunt found a boundary.
    replay: Option<Box<Replay>>,
}

impl Hunt {
    /// Add the next chunk (a TCP segment, so its start is a likely frame start) and look for a
    /// boundary: open candidates that can now be decided first, then offsets never examined.
    fn add(&mut self, data: &[u8], expect: &Expect, criteria: &Criteria) -> Option<Boundary> {
        if self.aligned.len() < MAX_ALIGNED {
            self.aligned.push(self.buf.len());
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() > MAX_HUNT || (self.buf.len() > HUNT_SCAN && self.open_aligned == 0) {
            self.drop_front(self.buf.len() - HUNT_SCAN / 2);
        }
        // Once a boundary is found the hunt ends, so every fresh offset counts as examined.
        let len = self.buf.len();
        let ready = self.decidable(len);
        let fresh = self.next_candidate..len;
        self.next_candidate = len;
        for c in ready.into_iter().chain(fresh) {
            let aligned = self.aligned.binary_search(&c).is_ok();
            match check(&self.buf, c, aligned, expect, criteria) {
                Verdict::Accept(b) => return Some(b),
                // Segment starts are all kept (bounded by `aligned`); other offsets up to a cap,
                // since random payload bytes leave many half-plausible candidates.
                Verdict::Wait { until } if aligned || self.open_unaligned < MAX_OPEN_UNALIGNED => {
                    self.open.push(Reverse((until, c)));
                    if aligned {
                        self.open_aligned += 1;
                    } else {
                        self.open_unaligned += 1;
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// Open candidates whose verdict can change now that the buffer holds `len` bytes.
    fn decidable(&mut self, len: usize) -> Vec<usize> {
        let mut ready = Vec::new();
        while let Some(&Reverse((until, c))) = self.open.peek() {
            if until > len {
                break;
            }
            self.open.pop();
            if self.aligned.binary_search(&c).is_ok() {
                self.open_aligned -= 1;
            } else {
                self.open_unaligned -= 1;
            }
            ready.push(c);
        }
        ready
    }

    /// Forget the first `n` bytes held, shifting every offset kept.
    fn drop_front(&mut self, n: usize) {
        self.buf.drain(..n);
        self.start += n as u64;
        self.dropped += n as u64;
        self.next_candidate = self.next_candidate.saturating_sub(n);
        self.aligned = self
            .aligned
            .iter()
            .filter_map(|c| c.checked_sub(n))
            .collect();
        self.open = self
            .open
            .drain()
            .filter_map(|Reverse((until, c))| {
                c.checked_sub(n)
                    .map(|c| Reverse((until.saturating_sub(n), c)))
            })
            .collect();
        self.recount_open();
    }

    fn recount_open(&mut self) {
        let aligned = self
            .open
            .iter()
            .filter(|Reverse((_, c))| self.aligned.binary_search(c).is_ok())
            .count();
        self.open_aligned = aligned;
        self.open_unaligned = self.open.len() - aligned;
    }
}

/// Looking for a frame boundary: bytes since framing was lost, and the candidates still open.
#[derive(Debug, Default)]
struct Hunt {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    start: u64,
    /// Bytes dropped from the front of `buf` to bound it.
    dropped: u64,
    /// Next offset in `buf` never examined.
    next_candidate: usize,
    /// Candidates that were plausible but needed more bytes, by the buffer length at which
    /// their verdict can change: each is looked at again only when it can be decided.
    open: BinaryHeap<Reverse<(usize, usize)>>,
    /// How many of `open` are segment starts, and how many are not.
    open_aligned: usize,
    open_unaligned: usize,
    /// Offsets in `buf` where a fed chunk (a TCP segment) started, ascending.
    aligned: Vec<usize>,
}

/// Segment starts remembered while hunting (one per fed chunk; the hunt buffer is bounded).
const MAX_ALIGNED: usize = 16 * 1024;
/// Half-plausible candidates that are not segment starts, kept open at once.
const MAX_OPEN_UNALIGNED: usize = 256;

/// Bytes held while hunting for a frame boundary. Past `HUNT_SCAN` bytes the front is dropped
/// unless a plausible frame at a segment start is still arriving (a long frame); `MAX_HUNT` is
/// the hard bound.
const HUNT_SCAN: usize = 256 * 1024;
const MAX_HUNT: usize = 8 << 20;

/// An unfinished frame at the end of the bytes seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Incomplete {
    /// `have` header bytes so far; at least `need` more before the header is known.
    Header {
        stream_offset: u64,
        have: usize,
        need: usize,
        bytes: [u8; MAX_HEADER_LEN],
    },
    /// The header is complete; `need` payload bytes are missing.
    Payload {
        stream_offset: u64,
        have: u64,
        need: u64,
        header: FrameHeader,
    },
}

/// Why a gap could not be absorbed.
#[derive(Debug, PartialEq, Eq)]
pub enum GapOutcome {
    /// The gap fell inside a payload: framing is intact.
    InsidePayload,
    /// The gap hit a frame header or crossed a frame boundary: framing is lost.
    Desynced,
}

impl FrameDecoder {
    /// `start_offset`: stream offset of the first WebSocket byte; `keep_limit`: how many payload
    /// bytes of each frame to keep for display.
    pub fn new(start_offset: u64, keep_limit: usize) -> FrameDecoder {
        FrameDecoder::with_expect(
            start_offset,
            keep_limit,
            Expect {
                masked: None,
                max_payload: u64::MAX,
            },
        )
    }

    /// A decoder for one direction: `expect` says what a plausible header looks like there,
    /// used when hunting for frame boundaries.
    pub fn with_expect(start_offset: u64, keep_limit: usize, expect: Expect) -> FrameDecoder {
        FrameDecoder {
            framer: Framer {
                partial: [0; MAX_HEADER_LEN],
                partial_len: 0,
                partial_offset: start_offset,
                partial_packet: PacketRef::default(),
                current: None,
                spare: None,
                next_offset: start_offset,
                keep_limit,
                scratch: Vec::new(),
            },
            expect,
            hunt: None,
            criteria: AFTER_GAP,
            replay: None,
        }
    }

    /// The connection is quiet: let go of what only a busy one reuses.
    pub fn compact(&mut self) {
        self.framer.spare = None;
    }

    /// Framing is unknown from here on (capture started mid-stream): look for a boundary.
    pub fn start_hunting(&mut self) {
        self.framer.current = None;
        self.framer.partial_len = 0;
        self.hunt = Some(Box::new(Hunt {
            start: self.framer.next_offset,
            ..Hunt::default()
        }));
    }

    /// Change what a plausible header looks like (once the direction is known) and how much
    /// evidence a boundary needs.
    pub fn set_hunt_rules(&mut self, expect: Expect, criteria: Criteria) {
        self.expect = expect;
        self.criteria = criteria;
    }

    /// Bytes examined so far without finding a boundary.
    pub fn hunted_bytes(&self) -> u64 {
        self.hunt
            .as_ref()
            .map_or(0, |h| h.dropped + h.buf.len() as u64)
    }

    pub fn is_hunting(&self) -> bool {
        self.hunt.is_some()
    }

    pub fn next_offset(&self) -> u64 {
        self.framer.next_offset
    }

    /// What the unfinished frame at the end of the bytes fed so far still needs, if any.
    pub fn incomplete(&self) -> Option<Incomplete> {
        let fr = &self.framer;
        if let Some(f) = &fr.current {
            return Some(Incomplete::Payload {
                stream_offset: f.stream_offset,
                have: f.received + f.lost,
                need: f.remaining(),
                header: f.header,
            });
        }
        if fr.partial_len > 0 {
            let need = match decode_frame_header(&fr.partial[..fr.partial_len]) {
                HeaderDecode::NeedMore(n) => n,
                HeaderDecode::Complete(_) => 0,
            };
            // Only the bytes held: the rest of the buffer is left from earlier headers.
            let mut bytes = [0u8; MAX_HEADER_LEN];
            bytes[..fr.partial_len].copy_from_slice(&fr.partial[..fr.partial_len]);
            return Some(Incomplete::Header {
                stream_offset: fr.partial_offset,
                have: fr.partial_len,
                need,
                bytes,
            });
        }
        None
    }

    /// Take the frame in flight, cut short (its payload incomplete), and how many of its payload
    /// bytes never arrived. The decoder then waits for a new header.
    pub fn take_unfinished(&mut self) -> Option<(CompletedFrame, u64)> {
        let f = self.framer.current.take()?;
        let missing = f.remaining();
        Some((self.framer.complete(f), missing))
    }

    /// The next event from what was fed before and from `input`, consuming `input` as it goes.
    /// `None` once `input` is used up and nothing is pending; then feed the next chunk. Events
    /// come in stream order: `Start`, `Payload`/`Lost`…, `End` per frame, `Resync` when hunting
    /// finds a boundary.
    pub fn next<'s, 'i: 's>(&'s mut self, input: &mut Input<'i>) -> Option<FrameEvent<'s>> {
        let lost =
            (self.framer.current.as_mut()).map_or(0, |f| std::mem::take(&mut f.lost_unreported));
        if lost > 0 {
            let header = &self.framer.current.as_ref()?.header;
            return Some(FrameEvent::Lost { header, len: lost });
        }
        if let Some(f) = self.framer.current.take_if(|f| f.completed_at.is_some()) {
            self.framer.release_scratch();
            return Some(FrameEvent::End(self.framer.complete(f)));
        }
        if self.hunt.is_some() {
            let bytes = input.take(input.bytes.len());
            return self.hunt_feed(bytes, input.packet);
        }
        loop {
            let replay = self.replay.as_deref().filter(|r| r.pos < r.bytes.len());
            let from_replay = replay.is_some();
            let (bytes, packet) = match replay {
                Some(r) => (&r.bytes[r.pos..], r.packet),
                None if !input.bytes.is_empty() => (input.bytes, input.packet),
                None => {
                    self.replay = None;
                    return None;
                }
            };
            if self.framer.current.is_none() {
                let used = self.framer.take_header(bytes, packet);
                if let Some(r) = self.replay.as_deref_mut().filter(|_| from_replay) {
                    r.pos += used;
                } else {
                    input.take(used);
                }
                if self.framer.current.is_some() {
                    let header = &self.framer.current.as_ref()?.header;
                    return Some(FrameEvent::Start { header });
                }
                // A header split across chunks: wait for the rest.
                continue;
            }
            let (used, unmasked) = self.framer.take_payload(bytes, packet);
            let data: &[u8] = if let Some(r) = self.replay.as_deref_mut().filter(|_| from_replay) {
                let start = r.pos;
                r.pos += used;
                if unmasked {
                    &self.framer.scratch
                } else {
                    &r.bytes[start..start + used]
                }
            } else {
                let taken = input.take(used);
                if unmasked {
                    &self.framer.scratch
                } else {
                    taken
                }
            };
            let header = &self.framer.current.as_ref()?.header;
            return Some(FrameEvent::Payload { header, data });
        }
    }

    /// Add bytes to the hunt; when a boundary is found, the bytes from it on are replayed as
    /// framed input.
    fn hunt_feed(&mut self, data: &[u8], packet: PacketRef) -> Option<FrameEvent<'static>> {
        let expect = self.expect;
        let criteria = self.criteria;
        let hunt = self.hunt.as_mut()?;
        let boundary = hunt.add(data, &expect, &criteria)?;
        let hunt = self.hunt.take()?;
        let at = boundary.offset;
        let skipped = hunt.dropped + at as u64;
        self.framer.next_offset = hunt.start + at as u64;
        self.expect.masked = Some(boundary.masked);
        self.replay = Some(Box::new(Replay {
            bytes: hunt.buf,
            pos: at,
            packet,
        }));
        Some(FrameEvent::Resync {
            skipped,
            at: self.framer.next_offset,
            masked: boundary.masked,
        })
    }

    /// An unknown number of bytes of the stream are missing (the framing that carried them,
    /// such as HTTP/2's, was lost): whatever was in flight is dropped and the next bytes are
    /// hunted for a frame boundary; offsets go on from where the known bytes ended.
    pub fn lose_position(&mut self) {
        self.replay = None;
        let start = match &self.hunt {
            Some(h) => h.start + h.buf.len() as u64,
            None => self.framer.next_offset,
        };
        self.framer.next_offset = start;
        self.framer.current = None;
        self.framer.partial_len = 0;
        let dropped = self
            .hunt
            .as_ref()
            .map_or(0, |h| h.dropped + h.buf.len() as u64);
        self.hunt = Some(Box::new(Hunt {
            start,
            dropped,
            ..Hunt::default()
        }));
    }

    /// `len` bytes of the stream are missing from the capture. Inside a payload, the loss (and
    /// the frame's end, if it was the rest of the frame) is then reported by [`Self::next`].
    pub fn gap(&mut self, len: u64, packet: PacketRef) -> GapOutcome {
        self.replay = None;
        if let Some(h) = self.hunt.as_mut() {
            // Bytes before the gap cannot chain into bytes after it: the hunt starts over after it.
            let start = h.start + h.buf.len() as u64 + len;
            let dropped = h.dropped + h.buf.len() as u64 + len;
            **h = Hunt {
                start,
                dropped,
                ..Hunt::default()
            };
            self.framer.next_offset = start;
            return GapOutcome::Desynced;
        }
        let fr = &mut self.framer;
        fr.next_offset += len;
        if fr.partial_len == 0 {
            if let Some(frame) = fr.current.as_mut().filter(|f| len <= f.remaining()) {
                frame.lost += len;
                frame.lost_unreported += len;
                frame.check_complete(packet);
                return GapOutcome::InsidePayload;
            }
        }
        fr.current = None;
        fr.partial_len = 0;
        self.hunt = Some(Box::new(Hunt {
            start: fr.next_offset,
            ..Hunt::default()
        }));
        GapOutcome::Desynced
    }
}

/// An unmasking buffer grown past this by a large frame is let go when the frame ends, so a
/// connection between messages does not keep its largest chunk (issue 14); smaller ones are
/// kept, so small frames reuse theirs.
const SCRATCH_KEEP: usize = 4096;

impl Framer {
    /// The frame `f` (taken from `current`) as reported; its box is kept as the spare.
    fn complete(&mut self, mut f: Box<InFlight>) -> CompletedFrame {
        let done = f.take_completed();
        self.spare = Some(f);
        done
    }

    /// The frame in flight ended: a large unmasking buffer is let go.
    fn release_scratch(&mut self) {
        if self.scratch.capacity() > SCRATCH_KEEP {
            self.scratch = Vec::new();
        }
    }

    /// Parse a header from the stream, using the partial-header buffer only when a header is
    /// split across chunks. Returns bytes consumed; `current` is set when the header is whole.
    fn take_header(&mut self, data: &[u8], packet: PacketRef) -> usize {
        let (header, consumed, header_bytes) = if self.partial_len == 0 {
            match decode_frame_header(data) {
                HeaderDecode::Complete(h) => {
                    let mut hb = [0u8; MAX_HEADER_LEN];
                    hb[..h.header_len as usize].copy_from_slice(&data[..h.header_len as usize]);
                    self.partial_offset = self.next_offset;
                    self.partial_packet = packet;
                    (h, h.header_len as usize, hb)
                }
                HeaderDecode::NeedMore(_) => {
                    self.partial[..data.len()].copy_from_slice(data);
                    self.partial_len = data.len();
                    self.partial_offset = self.next_offset;
                    self.partial_packet = packet;
                    self.next_offset += data.len() as u64;
                    return data.len();
                }
            }
        } else {
            let room = MAX_HEADER_LEN - self.partial_len;
            let add = room.min(data.len());
            self.partial[self.partial_len..self.partial_len + add].copy_from_slice(&data[..add]);
            match decode_frame_header(&self.partial[..self.partial_len + add]) {
                HeaderDecode::Complete(h) => {
                    let used = h.header_len as usize - self.partial_len;
                    self.partial_len = 0;
                    // Only the header: the buffer also holds payload bytes taken to complete it.
                    let mut hb = [0u8; MAX_HEADER_LEN];
                    hb[..h.header_len as usize]
                        .copy_from_slice(&self.partial[..h.header_len as usize]);
                    (h, used, hb)
                }
                HeaderDecode::NeedMore(_) => {
                    self.partial_len += add;
                    self.next_offset += add as u64;
                    return add;
                }
            }
        };
        let start = self.partial_offset;
        self.next_offset = start + header.header_len as u64;
        let mut frame = InFlight {
            header,
            header_bytes,
            stream_offset: start,
            first_packet: self.partial_packet,
            received: 0,
            lost: 0,
            kept: recycle::buffer(),
            lost_unreported: 0,
            completed_at: None,
        };
        // An empty payload: the frame is already whole.
        frame.check_complete(packet);
        self.current = Some(recycle::boxed(&mut self.spare, frame));
        consumed
    }

    /// Take the next payload bytes of the frame in flight. Returns bytes consumed, and whether
    /// they were masked (then their unmasked copy is in `scratch`).
    fn take_payload(&mut self, data: &[u8], packet: PacketRef) -> (usize, bool) {
        let Some(frame) = self.current.as_mut() else {
            return (0, false);
        };
        let n = frame.remaining().min(data.len() as u64) as usize;
        let chunk = &data[..n];
        let position = frame.received + frame.lost;
        let unmasked: &[u8] = match frame.header.mask_key {
            Some(key) => {
                self.scratch.clear();
                self.scratch.extend_from_slice(chunk);
                apply_mask(&mut self.scratch, key, position);
                &self.scratch
            }
            None => chunk,
        };
        let keep_room = self.keep_limit.saturating_sub(frame.kept.len());
        // The kept copy stops at the first lost byte: never joined across a hole.
        if keep_room > 0 && frame.lost == 0 {
            frame.kept.extend_from_slice(&unmasked[..keep_room.min(n)]);
        }
        frame.received += n as u64;
        self.next_offset += n as u64;
        frame.check_complete(packet);
        (n, frame.header.mask_key.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::opcode::OpCode;

    /// Feed one chunk and hand every event it yields to `on`.
    fn feed(
        dec: &mut FrameDecoder,
        bytes: &[u8],
        packet: PacketRef,
        on: &mut dyn FnMut(FrameEvent<'_>),
    ) {
        let mut input = Input::new(bytes, packet);
        while let Some(ev) = dec.next(&mut input) {
            on(ev);
        }
    }

    /// A gap, then whatever it completes.
    fn gap(
        dec: &mut FrameDecoder,
        len: u64,
        packet: PacketRef,
        on: &mut dyn FnMut(FrameEvent<'_>),
    ) -> GapOutcome {
        let outcome = dec.gap(len, packet);
        feed(dec, &[], packet, on);
        outcome
    }

    fn frames_of(chunks: &[&[u8]]) -> Vec<(OpCode, Vec<u8>, u64)> {
        let mut dec = FrameDecoder::new(0, 1 << 20);
        let mut out = Vec::new();
        for c in chunks {
            feed(&mut dec, c, PacketRef::default(), &mut |ev| {
                if let FrameEvent::End(f) = ev {
                    out.push((f.header.opcode, f.kept, f.stream_offset));
                }
            });
        }
        out
    }

    #[test]
    fn pulls_one_event_at_a_time_and_takes_only_what_it_walked() {
        let mut dec = FrameDecoder::new(0, 64);
        let bytes = [0x81, 0x02, b'h', b'i', 0x89, 0x00];
        let mut input = Input::new(&bytes, PacketRef::default());
        assert!(matches!(
            dec.next(&mut input),
            Some(FrameEvent::Start { .. })
        ));
        assert_eq!(input.bytes.len(), 4, "only the header is taken");
        match dec.next(&mut input) {
            Some(FrameEvent::Payload { data, .. }) => assert_eq!(data, b"hi"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(dec.next(&mut input), Some(FrameEvent::End(_))));
        assert!(matches!(
            dec.next(&mut input),
            Some(FrameEvent::Start { .. })
        ));
        assert!(matches!(dec.next(&mut input), Some(FrameEvent::End(_))));
        assert!(dec.next(&mut input).is_none());
        assert_eq!(dec.next_offset(), 6);
    }

    #[test]
    fn after_a_resync_the_hunted_bytes_are_replayed_in_order() {
        let mut dec = FrameDecoder::with_expect(
            0,
            64,
            Expect {
                masked: Some(false),
                max_payload: 1 << 20,
            },
        );
        dec.start_hunting();
        // The tail of an unseen frame, then two frames in the same segment.
        let bytes = [9, 9, 0x81, 0x01, b'a', 0x82, 0x01, b'b'];
        let mut input = Input::new(&bytes[..2], PacketRef::default());
        assert!(dec.next(&mut input).is_none());
        let mut input = Input::new(&bytes[2..], PacketRef::default());
        let mut seen = Vec::new();
        while let Some(ev) = dec.next(&mut input) {
            seen.push(match ev {
                FrameEvent::Resync { skipped, at, .. } => format!("resync {skipped} {at}"),
                FrameEvent::Start { header } => format!("start {:?}", header.opcode),
                FrameEvent::Payload { data, .. } => format!("payload {data:?}"),
                FrameEvent::Lost { len, .. } => format!("lost {len}"),
                FrameEvent::End(f) => format!("end {}", f.stream_offset),
            });
        }
        assert_eq!(
            seen,
            [
                "resync 2 2",
                "start Text",
                "payload [97]",
                "end 2",
                "start Binary",
                "payload [98]",
                "end 5"
            ]
        );
    }

    const MASKED_HELLO: [u8; 11] = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];

    #[test]
    fn one_segment_many_frames() {
        let mut bytes = MASKED_HELLO.to_vec();
        bytes.extend_from_slice(&[0x89, 0x00, 0x82, 0x02, 1, 2]);
        let frames = frames_of(&[&bytes]);
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0].1, b"Hello");
        assert_eq!(frames[1].0, OpCode::Ping);
        assert_eq!(frames[2], (OpCode::Binary, vec![1, 2], 13));
    }

    #[test]
    fn every_split_point_gives_the_same_frames() {
        let mut bytes = MASKED_HELLO.to_vec();
        bytes.extend_from_slice(&[0x82, 0x7e, 0x00, 0x80]);
        bytes.extend(std::iter::repeat_n(7u8, 128));
        let whole = frames_of(&[&bytes]);
        for i in 0..bytes.len() {
            for j in i..bytes.len() {
                assert_eq!(
                    frames_of(&[&bytes[..i], &bytes[i..j], &bytes[j..]]),
                    whole,
                    "split {i},{j}"
                );
            }
        }
    }

    /// Found by the ws_session fuzz target: a header completed across chunks carried the
    /// payload bytes taken with it (and leftovers of earlier split headers) after its end, so
    /// the frame record depended on where the segments ended.
    #[test]
    fn header_bytes_do_not_depend_on_the_split() {
        let bytes = [
            0x8a, 0x05, b'H', b'e', b'l', b'l', b'o', 0x89, 0x05, b'H', b'e', b'l', b'l', b'o',
        ];
        let headers = |chunks: &[&[u8]]| {
            let mut dec = FrameDecoder::new(0, 16);
            let mut out = Vec::new();
            for c in chunks {
                feed(&mut dec, c, PacketRef::default(), &mut |ev| {
                    if let FrameEvent::End(f) = ev {
                        out.push(f.header_bytes);
                    }
                });
            }
            out
        };
        let mut want = [0u8; MAX_HEADER_LEN];
        want[..2].copy_from_slice(&[0x89, 0x05]);
        assert_eq!(headers(&[&bytes])[1], want);
        assert_eq!(headers(&[&bytes[..8], &bytes[8..]])[1], want);
        assert_eq!(headers(&[&bytes[..1], &bytes[1..8], &bytes[8..]])[1], want);

        // What an unfinished header reports holds only its own bytes.
        let mut dec = FrameDecoder::new(0, 16);
        feed(&mut dec, &[0x82, 0x7e], PacketRef::default(), &mut |_| {});
        feed(
            &mut dec,
            &[0x00, 0x02, 1, 2, 0x82],
            PacketRef::default(),
            &mut |_| {},
        );
        let Some(Incomplete::Header { have, bytes, .. }) = dec.incomplete() else {
            panic!("expected an unfinished header");
        };
        assert_eq!(have, 1);
        assert_eq!(bytes[1..], [0u8; MAX_HEADER_LEN - 1]);
    }

    #[test]
    fn a_frame_claiming_2_pow_63_bytes_allocates_nothing() {
        let mut dec = FrameDecoder::new(0, 16);
        let mut starts = 0;
        feed(
            &mut dec,
            &[
                0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3,
            ],
            PacketRef::default(),
            &mut |ev| {
                if let FrameEvent::Start { header } = ev {
                    assert_eq!(header.payload_len, i64::MAX as u64);
                    starts += 1;
                }
            },
        );
        assert_eq!(starts, 1);
        assert!(
            matches!(dec.incomplete(), Some(Incomplete::Payload { need, .. }) if need == i64::MAX as u64 - 3)
        );
    }

    #[test]
    fn gap_inside_payload_keeps_framing() {
        let mut dec = FrameDecoder::new(0, 64);
        let mut ends = Vec::new();
        let mut cb = |ev: FrameEvent<'_>| {
            if let FrameEvent::End(f) = ev {
                ends.push((f.kept.len(), f.lost));
            }
        };
        feed(
            &mut dec,
            &[0x82, 0x0a, 1, 2, 3],
            PacketRef::default(),
            &mut cb,
        );
        assert_eq!(
            gap(&mut dec, 4, PacketRef::default(), &mut cb),
            GapOutcome::InsidePayload
        );
        feed(
            &mut dec,
            &[8, 9, 10, 0x81, 0x00],
            PacketRef::default(),
            &mut cb,
        );
        // The kept copy stops at the hole (issue 11: 1 2 3 and 8 9 10 are never joined).
        assert_eq!(ends, vec![(3, 4), (0, 0)]);
    }

    #[test]
    fn gap_over_a_header_hunts_and_resyncs() {
        let mut dec = FrameDecoder::with_expect(
            0,
            64,
            Expect {
                masked: Some(false),
                max_payload: 1 << 20,
            },
        );
        let mut events = Vec::new();
        let mut cb = |e: FrameEvent<'_>| match e {
            FrameEvent::Resync { skipped, at, .. } => events.push(format!("resync {skipped} {at}")),
            FrameEvent::End(f) => {
                events.push(format!("frame {:?} {}", f.header.opcode, f.stream_offset))
            }
            _ => {}
        };
        feed(&mut dec, &[0x82, 0x02, 1, 2], PacketRef::default(), &mut cb);
        assert_eq!(
            gap(&mut dec, 3, PacketRef::default(), &mut cb),
            GapOutcome::Desynced
        );
        assert!(dec.is_hunting());
        // The rest of the lost frame's payload, then two whole frames starting a segment.
        feed(&mut dec, &[9, 9], PacketRef::default(), &mut cb);
        feed(
            &mut dec,
            &[0x81, 0x01, b'a', 0x81, 0x01, b'b'],
            PacketRef::default(),
            &mut cb,
        );
        assert_eq!(
            events,
            vec![
                "frame Binary 0",
                "resync 2 9",
                "frame Text 9",
                "frame Text 12"
            ]
        );
    }
}

/// One per direction of every session (issue 14: an open idle connection costs at most 2 KiB):
/// the frame in flight, a hunt and its replay are boxed, since an idle direction has none.
#[cfg(test)]
mod size {
    #[test]
    fn a_decoder_stays_small() {
        let size = std::mem::size_of::<super::FrameDecoder>();
        // 152 bytes, and 8 for the spare frame box a busy connection reuses.
        assert!(size <= 160, "FrameDecoder is {size} bytes");
    }
}
