//! One direction of a TCP connection: sequence numbers to the byte stream its receiver reads.
//!
//! Delivers each byte once, in order. Retransmissions (whole or partial) are dropped, overlapping
//! segments keep the copy the receiver accepted (the first, unless it was doubtful: a bad
//! checksum or too low a TTL, decided by the flow table), out-of-order segments wait in a bounded
//! buffer, and bytes the capture lost become explicit gaps, never glued bytes. Like Linux, it
//! takes a FIN only where the stream reaches it and delivers nothing after it, and takes the byte
//! at the urgent pointer out of the stream (no SO_OOBINLINE).
//!
//! Offsets given to the layer above count the bytes the application reads: a byte taken out at
//! the urgent pointer shifts later offsets by one. Conflicts and notes give TCP stream offsets.

use std::collections::BTreeMap;

use super::note::{Control, Note, Refusal};
use crate::base::{recycle, PacketRef};

/// Out-of-order bytes one direction may hold before the oldest hole is declared lost. Large
/// enough for a full receive window on loopback (Linux allows up to 6 MiB by default).
pub const DEFAULT_MAX_PENDING: usize = 8 * 1024 * 1024;
/// What one buffered segment costs besides its bytes (its map slot, vector and allocation),
/// counted against the cap: a segment with one byte, or none (only its headers were captured,
/// the snap length cut the rest), must not be free. Measured: 1 Mi one-byte segments held out
/// of order took about 100 MiB more than none (bench/hostile-ooo.py).
const PENDING_ENTRY_COST: usize = 96;
/// How much recently delivered data is kept to check retransmissions against.
const RECENT_WINDOW: usize = 16 * 1024;

/// What a direction reports.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamEvent<'a> {
    /// In-order bytes at `offset` (0 = first byte after the SYN, or first byte seen).
    Data {
        offset: u64,
        bytes: &'a [u8],
        packet: PacketRef,
    },
    /// `len` bytes at `offset` are missing from the capture.
    Gap {
        offset: u64,
        len: u64,
        packet: PacketRef,
        cause: GapCause,
    },
    /// A retransmitted or overlapping copy differs from the bytes already kept.
    OverlapConflict {
        offset: u64,
        len: u64,
        packet: PacketRef,
        /// The copy seen first was doubtful (bad checksum, low TTL): this later one replaced it.
        first_replaced: bool,
    },
    /// Something the receiver did differently from what the capture shows at face value.
    Note { note: Note, packet: PacketRef },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GapCause {
    /// Later data arrived and the receiver acknowledged past the hole.
    AckedUnseen,
    /// The packet was cut by the capture's snap length.
    Snaplen,
    /// The out-of-order buffer was full.
    BufferLimit,
    /// The connection or capture ended with the hole still open.
    End,
}

/// A segment as the flow table hands it over.
#[derive(Clone, Copy, Debug)]
pub struct Incoming<'a> {
    /// Sequence number of the first payload byte.
    pub seq: u32,
    /// The captured payload.
    pub payload: &'a [u8],
    /// Payload length on the wire (more than captured when the snap length cut it).
    pub orig_len: usize,
    pub fin: bool,
    /// The urgent pointer, when URG is set.
    pub urgent_pointer: Option<u16>,
    /// The receiver probably dropped this copy: it is kept only until a trusted copy of the same
    /// bytes arrives, or the receiver acknowledges them.
    pub doubtful: bool,
    pub packet: PacketRef,
}

#[derive(Debug)]
struct Pending {
    bytes: Vec<u8>,
    /// Bytes the segment carried beyond what was captured (snap length).
    lost_tail: u64,
    /// From a doubtful copy: a trusted copy replaces it, and it waits for an ACK.
    doubtful: bool,
}

impl Pending {
    /// What this segment counts against the cap.
    fn cost(&self) -> usize {
        self.bytes.len() + PENDING_ENTRY_COST
    }
}

#[derive(Debug, Default)]
pub struct Reassembler {
    /// Sequence number of stream offset 0; None until the SYN or the first data segment.
    base_seq: Option<u32>,
    next_offset: u64,
    pending: BTreeMap<u64, Pending>,
    /// What `pending` holds: its bytes, and `PENDING_ENTRY_COST` per segment.
    pending_bytes: usize,
    max_pending: usize,
    recent: Vec<u8>,
    recent_start: u64,
    /// Where a FIN was seen ahead of the stream; taken when the stream reaches it exactly.
    fin_candidate: Option<u64>,
    /// The FIN the receiver took: the stream ends here.
    fin_offset: Option<u64>,
    /// Stream offset of the byte the latest urgent pointer points at, not yet delivered.
    urgent: Option<u64>,
    /// Bytes taken out of the stream at urgent pointers so far.
    removed: u64,
    /// ACKs from the peer that covered the current hole.
    hole_acks: u32,
}

impl Reassembler {
    pub fn new(max_pending: usize) -> Reassembler {
        Reassembler {
            max_pending,
            ..Default::default()
        }
    }

    /// Next in-order stream offset.
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// The receiver took this direction's FIN.
    pub fn is_finished(&self) -> bool {
        self.fin_offset.is_some()
    }

    /// The sequence number the receiver expects next (its RCV.NXT), counting an accepted FIN;
    /// None before any sequence number is known.
    pub fn expected_seq(&self) -> Option<u32> {
        let base = self.base_seq?;
        let fin = u64::from(self.fin_offset.is_some());
        Some(base.wrapping_add((self.next_offset + fin) as u32))
    }

    /// A SYN with this initial sequence number: data starts at `isn + 1`.
    pub fn on_syn(&mut self, isn: u32) {
        if self.base_seq.is_none() {
            self.base_seq = Some(isn.wrapping_add(1));
        }
    }

    /// Stream offset of a sequence number, unwrapped around the current position.
    fn offset_of(&self, seq: u32) -> Option<i64> {
        let base = self.base_seq?;
        let current = base.wrapping_add(self.next_offset as u32);
        Some(self.next_offset as i64 + i64::from(seq.wrapping_sub(current) as i32))
    }

    /// A trusted segment with no urgent data: `payload` is what was captured, `orig_len` what
    /// it carried on the wire. (The flow table calls [`Reassembler::receive`]; this is the
    /// tests' shorthand.)
    #[cfg(test)]
    pub fn on_segment(
        &mut self,
        seq: u32,
        payload: &[u8],
        orig_len: usize,
        fin: bool,
        packet: PacketRef,
        on: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        let seg = Incoming {
            seq,
            payload,
            orig_len,
            fin,
            urgent_pointer: None,
            doubtful: false,
            packet,
        };
        self.receive(seg, on);
    }

    /// A segment of this direction.
    pub fn receive(&mut self, seg: Incoming<'_>, on: &mut dyn FnMut(StreamEvent<'_>)) {
        let Incoming {
            seq,
            mut payload,
            orig_len,
            fin,
            packet,
            ..
        } = seg;
        if self.base_seq.is_none() {
            if payload.is_empty() && orig_len == 0 {
                return;
            }
            // Capture started mid-connection: the first bytes seen are offset 0.
            self.base_seq = Some(seq);
        }
        let Some(start) = self.offset_of(seq) else {
            return;
        };
        let mut end = start + orig_len as i64;
        if let Some(f) = self.fin_offset {
            // After its FIN the receiver takes no more data from this sender (Linux drops it in
            // CLOSE_WAIT and later states).
            let f = f as i64;
            let from = start.max(f);
            if end > from {
                // Bytes beyond the FIN (a bare ACK one past it carries none).
                let note = Note::AfterFin {
                    offset: from as u64,
                    len: (end - from) as u64,
                };
                on(StreamEvent::Note { note, packet });
            }
            end = end.min(f);
            payload = &payload[..payload.len().min((f - start).max(0) as usize)];
        } else if fin {
            self.note_fin(end, packet, on);
        }
        if let Some(p) = seg.urgent_pointer {
            self.note_urgent(start, p);
        }
        let orig_len = (end - start).max(0) as usize;
        if orig_len > 0 {
            self.take_data(start, payload, orig_len, seg.doubtful, packet, on);
        }
        self.settle_fin(packet, on);
    }

    /// Place the bytes of a segment at `start` (stream offset).
    fn take_data(
        &mut self,
        start: i64,
        payload: &[u8],
        orig_len: usize,
        doubtful: bool,
        packet: PacketRef,
        on: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        let end = start + orig_len as i64;
        let next = self.next_offset as i64;
        if end <= next {
            // Whole retransmission, or a keep-alive probe one byte before the window.
            self.check_against_recent(start, payload, packet, on);
            return;
        }
        if start < next {
            self.check_against_recent(start, payload, packet, on);
        }
        let skip = (next - start).max(0) as usize;
        let payload = payload.get(..orig_len).unwrap_or(payload);
        let lost_tail = (orig_len - payload.len()) as u64;
        let start = start.max(next) as u64;
        let captured = payload.get(skip..).unwrap_or(&[]);
        if !doubtful {
            self.replace_doubtful(start, captured, packet, on);
        }
        if start == self.next_offset && !doubtful {
            self.deliver(captured, lost_tail.min(end as u64 - start), packet, on);
            self.drain(packet, on);
        } else {
            self.insert_pending(start, captured, lost_tail, doubtful, packet, on);
            if self.pending_bytes > self.max_pending {
                self.skip_to_first_pending(GapCause::BufferLimit, packet, on);
            }
        }
    }

    /// A FIN ending at stream offset `end`: the receiver takes it when its stream reaches
    /// exactly there; one behind the stream is stale.
    fn note_fin(&mut self, end: i64, packet: PacketRef, on: &mut dyn FnMut(StreamEvent<'_>)) {
        let next = self.next_offset as i64;
        let why = if end < next {
            Some(Refusal::FinBehind)
        } else if end - next > self.max_pending as i64 {
            // Beyond any receive window this direction could have (RFC 9293 §3.10.7.4).
            Some(Refusal::OutOfWindow)
        } else {
            None
        };
        if let Some(why) = why {
            let note = Note::ControlIgnored {
                control: Control::Fin,
                why,
            };
            on(StreamEvent::Note { note, packet });
            return;
        }
        let end = end as u64;
        self.fin_candidate = Some(self.fin_candidate.map_or(end, |c| c.min(end)));
    }

    /// Take a FIN the stream has reached; forget one it went past (Linux drops an out-of-order
    /// FIN that in-order data overtook).
    fn settle_fin(&mut self, packet: PacketRef, on: &mut dyn FnMut(StreamEvent<'_>)) {
        let Some(c) = self.fin_candidate else {
            return;
        };
        if c > self.next_offset {
            return;
        }
        self.fin_candidate = None;
        if c < self.next_offset {
            let note = Note::ControlIgnored {
                control: Control::Fin,
                why: Refusal::FinBehind,
            };
            on(StreamEvent::Note { note, packet });
            return;
        }
        self.fin_offset = Some(c);
        // Buffered data beyond the FIN will never be read.
        if let Some((&first, _)) = self.pending.first_key_value() {
            let last = self
                .pending
                .last_key_value()
                .map(|(&s, p)| s + p.bytes.len() as u64 + p.lost_tail);
            let len = last.unwrap_or(first).saturating_sub(first.max(c));
            if len > 0 {
                let offset = first.max(c);
                on(StreamEvent::Note {
                    note: Note::AfterFin { offset, len },
                    packet,
                });
            }
            self.pending.clear();
            self.pending_bytes = 0;
        }
    }

    /// An urgent pointer on a segment at `start`: Linux points at the byte before it (RFC 6093
    /// §2) and keeps only the newest pointer not yet passed.
    fn note_urgent(&mut self, start: i64, pointer: u16) {
        let at = start + i64::from(pointer.saturating_sub(1));
        if at < self.next_offset as i64 {
            return; // already read: "do not replay urg ptr"
        }
        let at = at as u64;
        if self.urgent.is_none_or(|u| at > u) {
            self.urgent = Some(at);
        }
    }

    /// The peer acknowledged `ack`: a hole before that point that later data is waiting behind
    /// was lost by the capture, not the network (the receiver has it); a doubtful copy it covers
    /// is the one the receiver has, since no other came.
    pub fn on_peer_ack(
        &mut self,
        ack: u32,
        packet: PacketRef,
        on: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        let Some(ack_offset) = self.offset_of(ack) else {
            return;
        };
        let Some((&first, p)) = self.pending.first_key_value() else {
            return;
        };
        if first == self.next_offset && p.doubtful && ack_offset > first as i64 {
            self.release_doubtful(ack_offset as u64, packet, on);
            return;
        }
        if ack_offset < first as i64 {
            return;
        }
        // One such ACK may just have been captured before the data it acknowledges (a capture
        // point between the hosts, merged captures); a second one means the data is not coming.
        self.hole_acks += 1;
        if self.hole_acks < 2 {
            return;
        }
        while let Some((&first, _)) = self.pending.first_key_value() {
            if ack_offset < first as i64 {
                break;
            }
            self.skip_to_first_pending(GapCause::AckedUnseen, packet, on);
        }
    }

    /// The peer acknowledged the bytes before `ack`: their sender sends them again only when the
    /// ACK was lost after the capture point, and then with the same bytes, so the retransmission
    /// window lets them go. A direction whose bytes are all acknowledged (an idle one) keeps no
    /// window at all; a busy one keeps its unacknowledged bytes, as before at most
    /// `RECENT_WINDOW` to `2 * RECENT_WINDOW` of them.
    pub fn forget_acked(&mut self, ack: u32) {
        let Some(acked) = self.offset_of(ack) else {
            return;
        };
        let acked = (acked.max(0) as u64).min(self.next_offset);
        if acked <= self.recent_start || self.recent.is_empty() {
            return;
        }
        let drop = ((acked - self.recent_start) as usize).min(self.recent.len());
        self.recent_start += drop as u64;
        if drop == self.recent.len() {
            // Given back for the next segment of any connection on this thread: a busy
            // connection of small messages otherwise allocates and frees a window per segment
            // (1 % of the text view's instructions on many-small.pcap).
            recycle::give_back(std::mem::take(&mut self.recent));
            return;
        }
        self.recent.drain(..drop);
        // A window grown by a burst shrinks with it (realloc is amortised: at most once for
        // every halving).
        if self.recent.capacity() >= 1024 && self.recent.len() * 4 <= self.recent.capacity() {
            self.recent.shrink_to(self.recent.len() * 2);
        }
    }

    /// Deliver doubtful copies at the head of the stream, up to `until`.
    fn release_doubtful(
        &mut self,
        until: u64,
        packet: PacketRef,
        on: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        while let Some(mut entry) = self.pending.first_entry() {
            let at = *entry.key();
            if at != self.next_offset || at >= until {
                break;
            }
            entry.get_mut().doubtful = false;
            self.drain(packet, on);
            if self.next_offset == at {
                break; // nothing delivered (the stream ended at a FIN)
            }
        }
        self.settle_fin(packet, on);
    }

    /// The connection or the capture ended: report every remaining hole and deliver what waits.
    pub fn flush(&mut self, packet: PacketRef, on: &mut dyn FnMut(StreamEvent<'_>)) {
        for p in self.pending.values_mut() {
            p.doubtful = false;
        }
        while !self.pending.is_empty() {
            self.skip_to_first_pending(GapCause::End, packet, on);
        }
        self.settle_fin(packet, on);
    }

    fn skip_to_first_pending(
        &mut self,
        cause: GapCause,
        packet: PacketRef,
        on: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        let Some((&first, p)) = self.pending.first_key_value() else {
            return;
        };
        if first > self.next_offset {
            let len = first - self.next_offset;
            on(StreamEvent::Gap {
                offset: self.next_offset - self.removed,
                len,
                packet,
                cause,
            });
            self.next_offset = first;
            self.recent.clear();
            self.recent_start = first;
        } else if p.doubtful {
            // Forced on (the buffer is full): the doubtful copy is all there is.
            if let Some(mut e) = self.pending.first_entry() {
                e.get_mut().doubtful = false;
            }
        }
        self.drain(packet, on);
    }

    fn deliver(
        &mut self,
        bytes: &[u8],
        lost_tail: u64,
        packet: PacketRef,
        on: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        self.hole_acks = 0;
        if !bytes.is_empty() {
            self.remember(bytes);
            self.emit_data(bytes, packet, on);
        }
        if lost_tail > 0 {
            on(StreamEvent::Gap {
                offset: self.next_offset - self.removed,
                len: lost_tail,
                packet,
                cause: GapCause::Snaplen,
            });
            self.next_offset += lost_tail;
            self.recent.clear();
            self.recent_start = self.next_offset;
        }
        self.settle_fin(packet, on);
    }

    /// Hand in-order bytes up, without the byte at the urgent pointer.
    fn emit_data(&mut self, bytes: &[u8], packet: PacketRef, on: &mut dyn FnMut(StreamEvent<'_>)) {
        if self.urgent.is_some_and(|u| u < self.next_offset) {
            self.urgent = None; // the urgent byte fell in a hole of the capture
        }
        let end = self.next_offset + bytes.len() as u64;
        let urgent = self.urgent.filter(|&u| u < end);
        let (before, after) = match urgent {
            Some(u) => {
                let i = (u - self.next_offset) as usize;
                (&bytes[..i], Some((bytes[i], &bytes[i + 1..])))
            }
            None => (bytes, None),
        };
        if !before.is_empty() {
            on(StreamEvent::Data {
                offset: self.next_offset - self.removed,
                bytes: before,
                packet,
            });
        }
        self.next_offset += before.len() as u64;
        let Some((byte, after)) = after else {
            return;
        };
        on(StreamEvent::Note {
            note: Note::UrgentByte {
                offset: self.next_offset,
                byte,
            },
            packet,
        });
        self.urgent = None;
        self.removed += 1;
        self.next_offset += 1;
        if !after.is_empty() {
            on(StreamEvent::Data {
                offset: self.next_offset - self.removed,
                bytes: after,
                packet,
            });
            self.next_offset += after.len() as u64;
        }
    }

    /// Deliver buffered segments that are now in order. They are reported as arriving with
    /// `packet`, the one that made them deliverable (as Wireshark reports reassembled data).
    /// A doubtful copy at the head waits for a trusted one or an ACK.
    fn drain(&mut self, packet: PacketRef, on: &mut dyn FnMut(StreamEvent<'_>)) {
        while let Some(entry) = self.pending.first_entry() {
            let start = *entry.key();
            if start > self.next_offset || self.fin_offset.is_some() {
                break;
            }
            let total = entry.get().bytes.len() as u64 + entry.get().lost_tail;
            if entry.get().doubtful && start + total > self.next_offset {
                break;
            }
            let p = entry.remove();
            self.pending_bytes -= p.cost();
            if start + total <= self.next_offset {
                continue;
            }
            let skip = (self.next_offset - start) as usize;
            if skip <= p.bytes.len() {
                self.deliver(&p.bytes[skip..], p.lost_tail, packet, on);
            } else {
                let lost = start + total - self.next_offset;
                self.deliver(&[], lost, packet, on);
            }
        }
    }

    /// A trusted copy of `[start, start + bytes.len())` arrived: doubtful buffered copies of
    /// those bytes give way to it (what differs is reported).
    fn replace_doubtful(
        &mut self,
        start: u64,
        bytes: &[u8],
        packet: PacketRef,
        on: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        if self.pending.is_empty() {
            return; // the usual case: nothing buffered, nothing to replace
        }
        let end = start + bytes.len() as u64;
        let is_doubtful = |s: &u64| self.pending[s].doubtful;
        // Mostly none are: then nothing is collected.
        if !self.overlapping(start, end).any(|s| is_doubtful(&s)) {
            return;
        }
        let doubtful: Vec<u64> = self.overlapping(start, end).filter(is_doubtful).collect();
        for s in doubtful {
            let Some(p) = self.pending.remove(&s) else {
                continue;
            };
            self.pending_bytes -= p.cost();
            let p_end = s + p.bytes.len() as u64;
            let (o_start, o_end) = (s.max(start), p_end.min(end));
            let ours = &bytes[(o_start - start) as usize..(o_end - start) as usize];
            let theirs = &p.bytes[(o_start - s) as usize..(o_end - s) as usize];
            if ours != theirs {
                on(StreamEvent::OverlapConflict {
                    offset: o_start,
                    len: o_end - o_start,
                    packet,
                    first_replaced: true,
                });
            }
            // Keep the doubtful bytes outside the trusted copy.
            let keep = |from: u64, to: u64, lost_tail: u64| Pending {
                bytes: p.bytes[(from - s) as usize..(to - s) as usize].to_vec(),
                lost_tail,
                doubtful: true,
            };
            if s < start {
                self.hold(s, keep(s, start, 0));
            }
            if p_end > end {
                self.hold(end, keep(end, p_end, p.lost_tail));
            }
        }
    }

    /// Starts of buffered segments that overlap `[start, end)`. Buffered segments never overlap
    /// each other, so only the one starting before `start` and those starting inside can.
    fn overlapping(&self, start: u64, end: u64) -> impl Iterator<Item = u64> + '_ {
        let before = self.pending.range(..start).next_back();
        before
            .into_iter()
            .chain(self.pending.range(start..end))
            .filter(move |(&s, p)| s + p.bytes.len() as u64 > start)
            .map(|(&s, _)| s)
    }

    /// Buffer an out-of-order segment, keeping bytes already buffered where they overlap.
    fn insert_pending(
        &mut self,
        start: u64,
        bytes: &[u8],
        lost_tail: u64,
        doubtful: bool,
        packet: PacketRef,
        on: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        let end = start + bytes.len() as u64;
        // Pieces of [start, end) not covered by buffered segments.
        let mut cursor = start;
        let mut pieces: Vec<(u64, u64)> = Vec::new();
        for s in self.overlapping(start, end) {
            let p = &self.pending[&s];
            let p_end = s + p.bytes.len() as u64;
            let (o_start, o_end) = (s.max(start), p_end.min(end));
            if o_start < o_end {
                let ours = &bytes[(o_start - start) as usize..(o_end - start) as usize];
                let theirs = &p.bytes[(o_start - s) as usize..(o_end - s) as usize];
                if ours != theirs {
                    on(StreamEvent::OverlapConflict {
                        offset: o_start,
                        len: o_end - o_start,
                        packet,
                        first_replaced: false,
                    });
                }
            }
            if s > cursor {
                pieces.push((cursor, s.min(end)));
            }
            cursor = cursor.max(p_end);
        }
        if cursor < end {
            pieces.push((cursor, end));
        }
        let last_piece_end = pieces.last().map(|p| p.1);
        for (s, e) in pieces {
            let slice = &bytes[(s - start) as usize..(e - start) as usize];
            let tail = if Some(e) == last_piece_end && e == end {
                lost_tail
            } else {
                0
            };
            self.hold(
                s,
                Pending {
                    bytes: slice.to_vec(),
                    lost_tail: tail,
                    doubtful,
                },
            );
        }
        if lost_tail > 0 && last_piece_end != Some(end) {
            // The captured part ended inside bytes already buffered (or was empty): the part the
            // snap length cut off still has to become a gap, right after it.
            if !self.pending.contains_key(&end) {
                let tail = Pending {
                    bytes: Vec::new(),
                    lost_tail,
                    doubtful,
                };
                self.hold(end, tail);
            }
        }
    }

    /// Buffer `p` at `start`, counting it against the cap (and no longer counting a header-only
    /// segment it replaces).
    fn hold(&mut self, start: u64, p: Pending) {
        self.pending_bytes += p.cost();
        if let Some(old) = self.pending.insert(start, p) {
            self.pending_bytes -= old.cost();
        }
    }

    fn remember(&mut self, bytes: &[u8]) {
        if bytes.len() >= RECENT_WINDOW {
            self.recent.clear();
            self.recent
                .extend_from_slice(&bytes[bytes.len() - RECENT_WINDOW..]);
            self.recent_start = self.next_offset + (bytes.len() - RECENT_WINDOW) as u64;
            return;
        }
        if self.recent.capacity() == 0 {
            self.recent = recycle::buffer();
        }
        self.recent.extend_from_slice(bytes);
        if self.recent.len() > 2 * RECENT_WINDOW {
            let drop = self.recent.len() - RECENT_WINDOW;
            self.recent.drain(..drop);
            self.recent_start += drop as u64;
        }
        if self.recent.len() == bytes.len() {
            self.recent_start = self.next_offset;
        }
    }

    /// Compare a retransmitted copy with the delivered bytes still remembered.
    fn check_against_recent(
        &self,
        start: i64,
        payload: &[u8],
        packet: PacketRef,
        on: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        let r_start = self.recent_start as i64;
        let r_end = r_start + self.recent.len() as i64;
        let p_end = start + payload.len() as i64;
        let (o_start, o_end) = (start.max(r_start), p_end.min(r_end));
        if o_start >= o_end {
            return;
        }
        let ours = &payload[(o_start - start) as usize..(o_end - start) as usize];
        let kept = &self.recent[(o_start - r_start) as usize..(o_end - r_start) as usize];
        // A keep-alive probe carries one garbage byte before the window; not a conflict.
        if ours != kept && payload.len() > 1 {
            on(StreamEvent::OverlapConflict {
                offset: o_start as u64,
                len: (o_end - o_start) as u64,
                packet,
                first_replaced: false,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum Out {
        Data(u64, Vec<u8>),
        Gap(u64, u64, GapCause),
        Conflict(u64, u64),
        Note(Note),
    }

    impl Out {
        fn of(e: StreamEvent<'_>) -> Out {
            match e {
                StreamEvent::Data { offset, bytes, .. } => Out::Data(offset, bytes.to_vec()),
                StreamEvent::Gap {
                    offset, len, cause, ..
                } => Out::Gap(offset, len, cause),
                StreamEvent::OverlapConflict { offset, len, .. } => Out::Conflict(offset, len),
                StreamEvent::Note { note, .. } => Out::Note(note),
            }
        }
    }

    fn run(isn: Option<u32>, segments: &[(u32, &[u8])], acks: &[(usize, u32)]) -> Vec<Out> {
        let mut r = Reassembler::new(1 << 20);
        let mut out = Vec::new();
        let mut on = |e: StreamEvent<'_>| out.push(Out::of(e));
        if let Some(isn) = isn {
            r.on_syn(isn);
        }
        for (i, (seq, data)) in segments.iter().enumerate() {
            r.on_segment(*seq, data, data.len(), false, PacketRef::default(), &mut on);
            for (after, ack) in acks {
                if *after == i {
                    r.on_peer_ack(*ack, PacketRef::default(), &mut on);
                }
            }
        }
        r.flush(PacketRef::default(), &mut on);
        out
    }

    fn joined(out: &[Out]) -> Vec<u8> {
        out.iter()
            .flat_map(|o| {
                if let Out::Data(_, d) = o {
                    d.clone()
                } else {
                    vec![]
                }
            })
            .collect()
    }

    #[test]
    fn in_order() {
        let out = run(Some(99), &[(100, b"abc"), (103, b"def")], &[]);
        assert_eq!(
            out,
            vec![Out::Data(0, b"abc".to_vec()), Out::Data(3, b"def".to_vec())]
        );
    }

    #[test]
    fn out_of_order_is_reordered() {
        let out = run(Some(99), &[(103, b"def"), (100, b"abc"), (106, b"g")], &[]);
        assert_eq!(joined(&out), b"abcdefg");
    }

    #[test]
    fn duplicate_and_partial_retransmission_delivered_once() {
        let out = run(
            Some(99),
            &[(100, b"abc"), (100, b"abc"), (101, b"bcdef"), (104, b"ef")],
            &[],
        );
        assert_eq!(joined(&out), b"abcdef");
        assert!(!out.iter().any(|o| matches!(o, Out::Conflict(..))));
    }

    #[test]
    fn conflicting_overlap_keeps_first_and_reports() {
        let out = run(Some(99), &[(100, b"abc"), (101, b"XY")], &[]);
        assert_eq!(joined(&out), b"abc");
        assert!(out.contains(&Out::Conflict(1, 2)));
        let out = run(
            Some(99),
            &[(103, b"def"), (104, b"EFg"), (100, b"abc")],
            &[],
        );
        assert_eq!(joined(&out), b"abcdefg");
        assert!(out.contains(&Out::Conflict(4, 2)));
    }

    #[test]
    fn acknowledged_bytes_leave_the_retransmission_window() {
        let mut r = Reassembler::new(1 << 20);
        r.on_syn(99);
        let mut conflicts = Vec::new();
        let mut on = |e: StreamEvent<'_>| {
            if let StreamEvent::OverlapConflict { offset, len, .. } = e {
                conflicts.push((offset, len));
            }
        };
        let p = PacketRef::default();
        r.on_segment(100, b"abcdef", 6, false, p, &mut on);
        r.forget_acked(103); // the peer has "abc"
        assert_eq!((r.recent.as_slice(), r.recent_start), (&b"def"[..], 3));
        // A different copy of bytes not yet acknowledged is still a conflict.
        r.on_segment(103, b"XY", 2, false, p, &mut on);
        r.forget_acked(106);
        // All acknowledged: the direction is idle and keeps no window.
        assert_eq!(r.recent.capacity(), 0);
        r.on_segment(100, b"XYZ", 3, false, p, &mut on);
        r.on_segment(106, b"g", 1, false, p, &mut on);
        assert_eq!((r.recent.as_slice(), r.recent_start), (&b"g"[..], 6));
        assert_eq!(conflicts, [(3, 2)]);
    }

    #[test]
    fn lost_segment_becomes_a_gap_when_acked_past_twice() {
        let out = run(
            Some(99),
            &[(100, b"abc"), (106, b"ghi"), (109, b"j")],
            &[(1, 109), (2, 110)],
        );
        assert_eq!(
            out,
            vec![
                Out::Data(0, b"abc".to_vec()),
                Out::Gap(3, 3, GapCause::AckedUnseen),
                Out::Data(6, b"ghi".to_vec()),
                Out::Data(9, b"j".to_vec())
            ]
        );
    }

    #[test]
    fn an_ack_captured_before_its_data_is_not_a_gap() {
        // Capture order: the second segment, the receiver's ACK of both, then the first.
        let out = run(Some(99), &[(103, b"def"), (100, b"abc")], &[(0, 106)]);
        assert_eq!(joined(&out), b"abcdef");
        assert!(!out.iter().any(|o| matches!(o, Out::Gap(..))));
    }

    #[test]
    fn lost_segment_at_end_of_capture() {
        let out = run(Some(99), &[(100, b"abc"), (106, b"ghi")], &[]);
        assert_eq!(out[1], Out::Gap(3, 3, GapCause::End));
    }

    #[test]
    fn sequence_numbers_wrap() {
        let isn = u32::MAX - 2;
        let out = run(
            Some(isn),
            &[(u32::MAX - 1, b"ab"), (0, b"cd"), (2, b"ef")],
            &[],
        );
        assert_eq!(joined(&out), b"abcdef");
    }

    #[test]
    fn mid_stream_start_uses_first_segment() {
        let out = run(None, &[(5000, b"xyz"), (5003, b"w")], &[]);
        assert_eq!(
            out,
            vec![Out::Data(0, b"xyz".to_vec()), Out::Data(3, b"w".to_vec())]
        );
    }

    #[test]
    fn keep_alive_probe_is_not_data() {
        let out = run(Some(99), &[(100, b"abc"), (102, b"\0")], &[]);
        assert_eq!(joined(&out), b"abc");
        assert!(!out.iter().any(|o| matches!(o, Out::Conflict(..))));
    }

    /// Issue 11: segments whose payload the snap length cut off entirely (only headers
    /// captured) were held out of order for free, without bound. Each now costs
    /// `PENDING_ENTRY_COST` against the cap, so a flood of them is let go as gaps.
    #[test]
    fn header_only_segments_count_against_the_cap() {
        let cap = 64 * 1024;
        let mut r = Reassembler::new(cap);
        r.on_syn(0);
        let mut gaps = 0;
        let mut on = |e: StreamEvent<'_>| gaps += u32::from(matches!(e, StreamEvent::Gap { .. }));
        for i in 0..100_000u32 {
            // 1460 bytes on the wire, none captured, each well ahead of the stream.
            r.on_segment(
                1000 + 2000 * i,
                &[],
                1460,
                false,
                PacketRef::default(),
                &mut on,
            );
            assert!(r.pending_bytes() <= cap + PENDING_ENTRY_COST, "{i}");
        }
        assert!(r.pending.len() <= cap / PENDING_ENTRY_COST + 1);
        assert!(gaps > 90_000, "{gaps}");
    }

    #[test]
    fn snaplen_truncation_is_a_gap() {
        let mut r = Reassembler::new(1 << 20);
        r.on_syn(0);
        let mut out = Vec::new();
        r.on_segment(1, b"ab", 5, false, PacketRef::default(), &mut |e| {
            out.push(format!("{e:?}"))
        });
        r.on_segment(6, b"z", 1, false, PacketRef::default(), &mut |e| {
            out.push(format!("{e:?}"))
        });
        assert_eq!(out.len(), 3);
        assert!(out[1].contains("Gap { offset: 2, len: 3"));
        assert!(out[2].contains("offset: 5"));
    }

    #[test]
    fn snaplen_cut_segment_ending_inside_buffered_data_still_leaves_a_gap() {
        let mut r = Reassembler::new(1 << 20);
        r.on_syn(0);
        let mut out = Vec::new();
        let mut on = |e: StreamEvent<'_>| out.push(format!("{e:?}"));
        // Buffered first: bytes 10..20. Then a segment at 5 carrying 100 bytes on the wire, of
        // which only 15 (5..20) were captured. Then the hole 0..5 is filled.
        r.on_segment(11, &[1; 10], 10, false, PacketRef::default(), &mut on);
        r.on_segment(6, &[2; 15], 100, false, PacketRef::default(), &mut on);
        r.on_segment(1, &[3; 5], 5, false, PacketRef::default(), &mut on);
        assert_eq!(r.next_offset(), 105, "{out:?}");
        assert!(
            out.iter()
                .any(|e| e.contains("Gap { offset: 20, len: 85") && e.contains("Snaplen")),
            "{out:?}"
        );
    }

    #[test]
    fn buffer_limit_forces_a_gap() {
        let mut r = Reassembler::new(4);
        r.on_syn(0);
        let mut gaps = 0;
        r.on_segment(11, b"abcdef", 6, false, PacketRef::default(), &mut |e| {
            if matches!(
                e,
                StreamEvent::Gap {
                    cause: GapCause::BufferLimit,
                    ..
                }
            ) {
                gaps += 1
            }
        });
        assert_eq!(gaps, 1);
        assert_eq!(r.next_offset(), 16);
    }

    /// Feed `Incoming` segments (after a SYN with ISN 99) and collect what comes out.
    fn feed(segments: &[Incoming<'_>], acks: &[(usize, u32)]) -> Vec<Out> {
        let mut r = Reassembler::new(1 << 20);
        r.on_syn(99);
        let mut out = Vec::new();
        let mut on = |e: StreamEvent<'_>| out.push(Out::of(e));
        for (i, seg) in segments.iter().enumerate() {
            r.receive(*seg, &mut on);
            for (after, ack) in acks {
                if *after == i {
                    r.on_peer_ack(*ack, PacketRef::default(), &mut on);
                }
            }
        }
        r.flush(PacketRef::default(), &mut on);
        out
    }

    fn seg(seq: u32, payload: &[u8]) -> Incoming<'_> {
        Incoming {
            seq,
            payload,
            orig_len: payload.len(),
            fin: false,
            urgent_pointer: None,
            doubtful: false,
            packet: PacketRef::default(),
        }
    }

    fn doubtful(seq: u32, payload: &[u8]) -> Incoming<'_> {
        Incoming {
            doubtful: true,
            ..seg(seq, payload)
        }
    }

    fn fin(seq: u32, payload: &[u8]) -> Incoming<'_> {
        Incoming {
            fin: true,
            ..seg(seq, payload)
        }
    }

    #[test]
    fn a_doubtful_copy_gives_way_to_a_trusted_one() {
        let out = feed(
            &[doubtful(100, b"XXXX"), seg(100, b"abc"), seg(103, b"d")],
            &[],
        );
        assert_eq!(joined(&out), b"abcd");
        assert!(out.contains(&Out::Conflict(0, 3)), "{out:?}");
        assert!(out.contains(&Out::Conflict(3, 1)), "{out:?}");
    }

    #[test]
    fn a_doubtful_copy_no_other_copy_of_is_taken_once_acked_or_at_the_end() {
        let out = feed(&[doubtful(100, b"abc"), seg(103, b"def")], &[(0, 103)]);
        assert_eq!(joined(&out), b"abcdef");
        assert!(!out.iter().any(|o| matches!(o, Out::Conflict(..))));
        let out = feed(&[doubtful(100, b"abc")], &[]);
        assert_eq!(out, vec![Out::Data(0, b"abc".to_vec())]);
    }

    #[test]
    fn a_trusted_copy_is_not_replaced_by_a_doubtful_one() {
        let out = feed(
            &[seg(103, b"def"), doubtful(103, b"XYZ"), seg(100, b"abc")],
            &[],
        );
        assert_eq!(joined(&out), b"abcdef");
        assert!(out.contains(&Out::Conflict(3, 3)));
    }

    #[test]
    fn nothing_after_a_fin_is_delivered_and_its_slot_is_no_gap() {
        let out = feed(&[fin(100, b"abc"), seg(104, b"def"), seg(103, b"x")], &[]);
        assert_eq!(
            out,
            vec![
                Out::Data(0, b"abc".to_vec()),
                Out::Note(Note::AfterFin { offset: 4, len: 3 }),
                Out::Note(Note::AfterFin { offset: 3, len: 1 }),
            ]
        );
    }

    #[test]
    fn a_bare_ack_after_the_fin_is_nothing_to_report() {
        // The FIN took a sequence number: the sender's later ACKs come one past it.
        let out = feed(&[fin(100, b"abc"), seg(104, b""), seg(104, b"")], &[]);
        assert_eq!(out, vec![Out::Data(0, b"abc".to_vec())]);
    }

    #[test]
    fn a_fin_ahead_is_taken_when_the_stream_reaches_it() {
        let mut r = Reassembler::new(1 << 20);
        r.on_syn(99);
        let mut on = |_: StreamEvent<'_>| {};
        r.receive(fin(103, b"def"), &mut on);
        assert!(!r.is_finished());
        r.receive(seg(100, b"abc"), &mut on);
        assert!(r.is_finished());
        assert_eq!(
            r.expected_seq(),
            Some(107),
            "the FIN takes a sequence number"
        );
    }

    #[test]
    fn a_fin_behind_the_stream_is_ignored() {
        let fin_behind = Note::ControlIgnored {
            control: Control::Fin,
            why: Refusal::FinBehind,
        };
        let out = feed(&[seg(100, b"abcdef"), fin(101, b""), seg(106, b"g")], &[]);
        assert_eq!(joined(&out), b"abcdefg");
        assert!(out.contains(&Out::Note(fin_behind)));
        // Overtaken while it waited: in-order data went past it (Linux drops it from its
        // out-of-order queue).
        let out = feed(&[fin(103, b""), seg(100, b"abcdef")], &[]);
        assert_eq!(joined(&out), b"abcdef");
        assert!(out.contains(&Out::Note(fin_behind)));
    }

    #[test]
    fn the_byte_at_the_urgent_pointer_leaves_the_stream() {
        let urgent = |seq, payload, pointer| Incoming {
            urgent_pointer: Some(pointer),
            ..seg(seq, payload)
        };
        // send(b"abX", MSG_OOB) then "cd": Linux points one past the urgent byte.
        let out = feed(&[urgent(100, b"abX", 3), seg(103, b"cd")], &[]);
        assert_eq!(
            out,
            vec![
                Out::Data(0, b"ab".to_vec()),
                Out::Note(Note::UrgentByte {
                    offset: 2,
                    byte: b'X'
                }),
                Out::Data(2, b"cd".to_vec()),
            ]
        );
        // The pointer may point into a later segment; offsets above count what is read.
        let out = feed(&[urgent(100, b"ab", 4), seg(102, b"cXde")], &[]);
        assert_eq!(joined(&out), b"abcde");
        assert_eq!(out.last(), Some(&Out::Data(3, b"de".to_vec())));
        // An urgent byte lost in a hole of the capture goes with it (found by fuzzing).
        let out = feed(&[urgent(100, b"ab", 5), seg(106, b"xyz")], &[]);
        assert_eq!(out.last(), Some(&Out::Data(6, b"xyz".to_vec())), "{out:?}");
        // A pointer to bytes already read (a retransmission) is not replayed.
        let out = feed(
            &[seg(100, b"abX"), urgent(100, b"abX", 3), seg(103, b"cd")],
            &[],
        );
        assert_eq!(joined(&out), b"abXcd");
        assert!(!out.iter().any(|o| matches!(o, Out::Note(_))));
    }

    proptest::proptest! {
        #[test]
        fn any_order_and_duplication_gives_the_same_stream(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..200),
            cuts in proptest::collection::vec(0usize..200, 0..10),
            order in proptest::collection::vec(proptest::prelude::any::<u32>(), 0..20),
            isn in proptest::prelude::any::<u32>(),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % data.len()).collect();
            cuts.push(0);
            cuts.push(data.len());
            cuts.sort();
            cuts.dedup();
            let mut segs: Vec<(u32, Vec<u8>)> = cuts.windows(2)
                .map(|w| (isn.wrapping_add(1).wrapping_add(w[0] as u32), data[w[0]..w[1]].to_vec()))
                .collect();
            // Shuffle deterministically from `order`, and duplicate some segments.
            for (i, o) in order.iter().enumerate() {
                let n = segs.len();
                let (a, b) = (i % n, (*o as usize) % n);
                segs.swap(a, b);
                if o % 3 == 0 { let s = segs[b].clone(); segs.push(s); }
            }
            let refs: Vec<(u32, &[u8])> = segs.iter().map(|(s, d)| (*s, d.as_slice())).collect();
            let out = run(Some(isn), &refs, &[]);
            proptest::prop_assert_eq!(joined(&out), data);
            proptest::prop_assert!(!out.iter().any(|o| matches!(o, Out::Gap(..) | Out::Conflict(..))));
        }
    }
}

/// One per direction of every connection (issue 14: an open idle connection costs at most
/// 2 KiB); an idle direction's retransmission window is empty (see `forget_acked`).
#[cfg(test)]
mod size {
    #[test]
    fn a_reassembler_stays_small() {
        let size = std::mem::size_of::<super::Reassembler>();
        assert!(size <= 152, "Reassembler is {size} bytes");
    }
}
