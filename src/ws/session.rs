//! One WebSocket session: both directions' frame decoders, and what the protocol remembers
//! between frames (the open fragmented message, the close handshake, pings waiting for their
//! pong, the inflaters, UTF-8 across fragments). Bytes of either direction in; frames,
//! messages and diagnostics out through [`Report`]. Knows nothing of what carries the bytes.

use std::collections::VecDeque;

use super::close::{parse_close, CloseInfo};
use super::decoder::{CompletedFrame, FrameDecoder, FrameEvent, GapOutcome, Incomplete, Input};
use super::deflate::{DeflateParams, Inflater};
use super::frame::FrameHeader;
use super::message::PartialMessage;
use super::opcode::OpCode;
use super::record::{DirStats, Frame, InflateFailure, Message, Payload, Rsv1Meaning};
use super::resync::Expect;
use super::rules::{self as ws_rules, Finding};
use crate::base::rules::{self, Rule};
use crate::base::{recycle, ConnId, Diagnostic, Direction, PacketRef, StreamId};
use crate::decode::{AppDecoder, AppMessage};

/// Claimed payload lengths above this are not believed while probing or hunting.
pub const PLAUSIBLE_MAX_PAYLOAD: u64 = 1 << 30;
/// Pings waiting for their pong, per direction.
const MAX_PENDING_PINGS: usize = 64;

/// Which session: the connection, and the HTTP/2 stream when the session is one of many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionKey {
    pub conn: ConnId,
    pub stream: Option<StreamId>,
}

/// What a session keeps of each payload, and how far it inflates.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Payload bytes kept per frame for display.
    pub frame_keep: usize,
    /// Payload bytes kept per message.
    pub message_keep: usize,
    /// Largest inflated size of one compressed message (deflate bomb guard).
    pub inflate_limit: u64,
    /// Largest inflated size of all the compressed messages of a session, both directions
    /// together: many messages each under `inflate_limit` cost time too. Past it, messages are
    /// not inflated (`inflate-budget`).
    pub inflate_total: u64,
    /// Report a frame cut short by the end (with `Frame::missing`), so its header is shown
    /// with the rules it breaks under it (the teaching view).
    pub partial_frames: bool,
}

/// Payload bytes of each message an application decoder reads at most (past it, the decoder
/// sees the start of the message, marked not whole).
pub const APP_MESSAGE_KEEP: usize = 1 << 20;

/// Payload bytes of each of a session's first messages kept for the recognisers (an opening
/// packet is small; a session not recognised then drops its decoder).
pub const RECOGNISE_KEEP: usize = 4096;

/// Where a session's records go; the layer above turns them into its events.
pub trait Report {
    fn frame(&mut self, frame: Frame);
    fn message(&mut self, message: Message);
    fn diagnostic(&mut self, diagnostic: Diagnostic);
}

/// What a session leaves behind when it ends.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    pub stats: [DirStats; 2],
    pub close: [Option<CloseInfo>; 2],
}

/// A WebSocket session, both directions, indexed by [`Direction::index`].
#[derive(Debug)]
pub struct Session {
    decoders: [FrameDecoder; 2],
    state: State,
}

/// Everything but the decoders: the decoder of one direction lends its events (which borrow
/// its buffers) while this is updated.
#[derive(Debug)]
struct State {
    key: SessionKey,
    limits: Limits,
    /// An extension (permessage-deflate) gives RSV1 a meaning.
    rsv1_defined: bool,
    /// The handshake was not seen; the session was recognised from its frames.
    inferred: bool,
    dirs: [DirState; 2],
    /// Bytes inflated so far, both directions (against `Limits::inflate_total`).
    inflated: u64,
    /// What decodes the messages' application protocol (Socket.IO, MQTT…), if asked.
    app: Option<Box<AppDecoder>>,
}

#[derive(Debug, Default)]
struct DirState {
    /// The open message (boxed: an idle direction has none, and should cost little).
    message: Option<Box<PartialMessage>>,
    /// The last message's box, reused by the next one while the connection is busy; let go
    /// when it goes quiet ([`Session::compact`]).
    spare_message: Option<Box<PartialMessage>>,
    stats: DirStats,
    /// The frame being decoded is a data frame (its payload belongs to the open message).
    in_data_frame: bool,
    pings: VecDeque<(Vec<u8>, PacketRef)>,
    /// This side's close frame, once sent.
    close: Option<CloseInfo>,
    /// Rules broken by the header of the frame in flight, reported once the frame is complete.
    header_findings: Vec<(Finding, PacketRef)>,
    /// permessage-deflate is on: this direction's decompressor (boxed: most sessions have
    /// none, and an idle connection should cost little).
    inflater: Option<Box<Inflater>>,
}

impl Session {
    /// A session opened by a handshake: the first WebSocket byte of each direction is at
    /// `starts` in its stream, and `deflate` is what the server accepted.
    pub fn opened(
        key: SessionKey,
        limits: Limits,
        starts: [u64; 2],
        deflate: Option<DeflateParams>,
    ) -> Session {
        let decoder = |dir: Direction| {
            let expect = Expect {
                masked: Some(dir == Direction::ClientToServer),
                max_payload: PLAUSIBLE_MAX_PAYLOAD,
            };
            FrameDecoder::with_expect(starts[dir.index()], limits.frame_keep, expect)
        };
        let mut dirs: [DirState; 2] = Default::default();
        if let Some(p) = &deflate {
            dirs[0].inflater = Some(Box::new(Inflater::new(p.client_no_context_takeover)));
            dirs[1].inflater = Some(Box::new(Inflater::new(p.server_no_context_takeover)));
        }
        Session {
            decoders: [
                decoder(Direction::ClientToServer),
                decoder(Direction::ServerToClient),
            ],
            state: State {
                key,
                limits,
                rsv1_defined: deflate.is_some(),
                inferred: false,
                dirs,
                inflated: 0,
                app: None,
            },
        }
    }

    /// A session recognised from its frames, without a handshake: `decoders` (by direction)
    /// have been hunting. Extensions are unknown, so RSV1 is taken to mean permessage-deflate.
    pub fn recognised(key: SessionKey, limits: Limits, decoders: [FrameDecoder; 2]) -> Session {
        let mut dirs: [DirState; 2] = Default::default();
        for d in &mut dirs {
            d.inflater = Some(Box::new(Inflater::new(false)));
        }
        Session {
            decoders,
            state: State {
                key,
                limits,
                rsv1_defined: true,
                inferred: true,
                dirs,
                inflated: 0,
                app: None,
            },
        }
    }

    /// Decode the messages' application protocol with `app` (the layer above knows the
    /// subprotocol, the request target and `--decode`).
    pub fn decode_with(&mut self, app: AppDecoder) {
        self.state.app = Some(Box::new(app));
    }

    /// The framing of `dir` is unknown from its first byte (what would tell, such as the end
    /// of an upgrade request, is missing from the capture): hunt for the first frame boundary.
    pub fn hunt(&mut self, dir: Direction) {
        self.decoders[dir.index()].start_hunting();
    }

    /// The next bytes of direction `dir`.
    pub fn feed(&mut self, dir: Direction, bytes: &[u8], packet: PacketRef, out: &mut dyn Report) {
        self.pull(dir, &mut Input::new(bytes, packet), out);
    }

    /// Walk `input` to its end, reporting what it completes.
    pub fn pull(&mut self, dir: Direction, input: &mut Input<'_>, out: &mut dyn Report) {
        let packet = input.packet();
        let Session { decoders, state } = self;
        while let Some(ev) = decoders[dir.index()].next(input) {
            state.apply(dir, ev, packet, out);
        }
    }

    /// Hunting found the first frame boundary of `dir` (reported by the decoder as `Resync`
    /// before the session existed).
    pub fn resynced(
        &mut self,
        dir: Direction,
        skipped: u64,
        at: u64,
        packet: PacketRef,
        out: &mut dyn Report,
    ) {
        self.state.resynced(dir, skipped, at, packet, out);
    }

    /// `len` bytes of `dir` at stream offset `offset` are missing from the capture.
    pub fn gap(
        &mut self,
        dir: Direction,
        offset: u64,
        len: u64,
        packet: PacketRef,
        out: &mut dyn Report,
    ) {
        let outcome = self.decoders[dir.index()].gap(len, packet);
        // The loss inside a payload, and the frame it completes, if any.
        self.pull(dir, &mut Input::empty(packet), out);
        let st = &mut self.state;
        let msg = format!("{len} bytes missing from the capture at stream offset {offset}");
        st.diag(out, dir, packet, &rules::STREAM_GAP, msg);
        if outcome == GapOutcome::Desynced {
            let msg = "the gap hit a frame header: looking for the next frame boundary";
            st.diag(out, dir, packet, &rules::STREAM_DESYNC, msg.into());
            if let Some(msg) = st.dirs[dir.index()].drop_message() {
                st.diag(out, dir, packet, &rules::STREAM_DESYNC, msg);
            }
        }
    }

    /// Bytes of `dir` were lost in a hole that also took the framing that carried them (an
    /// HTTP/2 frame header): how many is unknown, so the decoder hunts for the next frame.
    pub fn lost_position(&mut self, dir: Direction, packet: PacketRef, out: &mut dyn Report) {
        self.decoders[dir.index()].lose_position();
        let st = &mut self.state;
        let msg = "bytes of this stream may be missing: a hole in the capture hit the framing that carries them; looking for the next frame boundary";
        st.diag(out, dir, packet, &rules::STREAM_DESYNC, msg.into());
        if let Some(msg) = st.dirs[dir.index()].drop_message() {
            st.diag(out, dir, packet, &rules::STREAM_DESYNC, msg);
        }
    }

    /// The connection is idle: let go of what only a message in progress needs (a direction's
    /// decompressor keeps its window, deflated; see [`Inflater::compact`]).
    pub fn compact(&mut self) {
        for d in &mut self.state.dirs {
            d.spare_message = None;
            if let Some(inf) = d.inflater.as_mut().filter(|_| d.message.is_none()) {
                inf.compact();
            }
        }
        for d in &mut self.decoders {
            d.compact();
        }
    }

    /// What the unfinished frame of `dir` still needs, if any.
    pub fn incomplete(&self, dir: Direction) -> Option<Incomplete> {
        self.decoders[dir.index()].incomplete()
    }

    /// The input of `dir` is over, perhaps inside a frame's payload: report the rules that
    /// frame's header breaks, under the frame itself when partial frames are asked for.
    pub fn flush_unfinished(&mut self, dir: Direction, out: &mut dyn Report) {
        let Session { decoders, state } = self;
        if state.limits.partial_frames {
            if let Some((f, missing)) = decoders[dir.index()].take_unfinished() {
                state.unfinished_frame(dir, f, missing, out);
            }
        }
        state.report_header_findings(dir, out);
    }

    /// The session is over (its connection or stream ended): report frames cut short.
    pub fn end(mut self, packet: PacketRef, out: &mut dyn Report) -> Summary {
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            let incomplete = self.decoders[dir.index()].incomplete();
            // A frame cut off by the end: its header's problems still count.
            self.flush_unfinished(dir, out);
            let state = &self.state;
            if let Some(Incomplete::Payload {
                stream_offset,
                have,
                need,
                header,
            }) = incomplete
            {
                let what = match state.key.stream {
                    Some(_) => "stream",
                    None => "connection",
                };
                let msg = format!(
                    "the {what} ended {have} bytes into a {} frame (stream offset {stream_offset}) that declared {} payload bytes; {need} never arrived",
                    header.opcode, header.payload_len
                );
                state.diag(out, dir, packet, &rules::FRAME_INCOMPLETE, msg);
            }
        }
        let [c, s] = self.state.dirs;
        Summary {
            stats: [c.stats, s.stats],
            close: [c.close, s.close],
        }
    }
}

impl DirState {
    /// Forget the open message (framing was lost); says what was lost, if anything.
    fn drop_message(&mut self) -> Option<String> {
        let m = self.message.take()?;
        if let Some(inf) = self.inflater.as_mut().filter(|_| m.compressed) {
            inf.lose_context();
        }
        Some(format!(
            "the open {} message ({} fragments so far) is lost in the gap",
            m.opcode, m.fragments
        ))
    }
}

/// The two directions' states, `dir`'s first.
fn this_and_other(dirs: &mut [DirState; 2], dir: Direction) -> (&mut DirState, &mut DirState) {
    let [c, s] = dirs;
    match dir {
        Direction::ClientToServer => (c, s),
        Direction::ServerToClient => (s, c),
    }
}

impl State {
    fn diag(
        &self,
        out: &mut dyn Report,
        dir: Direction,
        packet: PacketRef,
        rule: &'static Rule,
        message: String,
    ) {
        out.diagnostic(Diagnostic {
            conn: self.key.conn,
            stream: self.key.stream,
            dir: Some(dir),
            packet: Some(packet),
            rule,
            message,
        });
    }

    fn apply(
        &mut self,
        dir: Direction,
        ev: FrameEvent<'_>,
        packet: PacketRef,
        out: &mut dyn Report,
    ) {
        match ev {
            FrameEvent::Start { header } => self.frame_started(dir, header, packet),
            FrameEvent::Payload { data, .. } => self.payload(dir, data),
            FrameEvent::Lost { len, .. } => {
                let st = &mut self.dirs[dir.index()];
                if let Some(m) = st.message.as_mut().filter(|_| st.in_data_frame) {
                    m.lose(len, st.inflater.as_deref_mut());
                }
            }
            FrameEvent::End(f) => self.frame_ended(dir, f, out),
            FrameEvent::Resync { skipped, at, .. } => self.resynced(dir, skipped, at, packet, out),
        }
    }

    fn resynced(
        &self,
        dir: Direction,
        skipped: u64,
        at: u64,
        packet: PacketRef,
        out: &mut dyn Report,
    ) {
        let msg =
            format!("frame boundary found at stream offset {at} after skipping {skipped} bytes");
        self.diag(out, dir, packet, &rules::STREAM_RESYNC, msg);
    }

    /// A header is complete: check it, and open or continue a message.
    fn frame_started(&mut self, dir: Direction, h: &FrameHeader, packet: PacketRef) {
        let mut found = ws_rules::header_findings(h, dir, self.rsv1_defined);
        let rsv1_defined = self.rsv1_defined;
        let budget_left = self.limits.inflate_total.saturating_sub(self.inflated);
        let inflate = (
            self.limits.inflate_limit.min(budget_left),
            self.limits.inflate_total,
        );
        let st = &mut self.dirs[dir.index()];
        // Reserved data opcodes (0x3-0x7) are not part of any message.
        st.in_data_frame = matches!(
            h.opcode,
            OpCode::Text | OpCode::Binary | OpCode::Continuation
        );
        if st.close.is_some() && !h.opcode.is_control() {
            found.push((
                &rules::DATA_AFTER_CLOSE,
                format!("{} frame after this side sent a close frame", h.opcode),
            ));
        }
        match h.opcode {
            OpCode::Text | OpCode::Binary => {
                st.open_message(h, packet, rsv1_defined, inflate, &mut found)
            }
            OpCode::Continuation => match st.message.as_mut() {
                Some(m) => m.fragments += 1,
                None => found.push((
                    &rules::CONTINUATION_WITHOUT_START,
                    "continuation frame with no fragmented message open".to_string(),
                )),
            },
            _ => {}
        }
        // Reported right after the frame itself, so every view shows them under it.
        st.header_findings
            .extend(found.into_iter().map(|f| (f, packet)));
    }

    fn payload(&mut self, dir: Direction, data: &[u8]) {
        let message_keep = self.message_keep();
        let st = &mut self.dirs[dir.index()];
        // Only data frames feed the message; control frames in between do not.
        if let Some(m) = st.message.as_mut().filter(|_| st.in_data_frame) {
            let cap = m.inflate_cap;
            m.add_wire_bytes(data, st.inflater.as_deref_mut(), message_keep, cap);
        }
    }

    /// A frame is complete: report it, then its message if it was the last fragment.
    fn frame_ended(&mut self, dir: Direction, f: CompletedFrame, out: &mut dyn Report) {
        let h = f.header;
        let (st, other) = this_and_other(&mut self.dirs, dir);
        st.stats.frames += 1;
        st.stats.payload_bytes += h.payload_len;
        let mut found = Vec::new();
        let mut close = None;
        let mut rtt_ns = None;
        match h.opcode {
            OpCode::Close => {
                let info = parse_close(&f.kept);
                found = ws_rules::close_findings(&f.kept, &info);
                st.close = Some(info.clone());
                close = Some(info);
            }
            OpCode::Ping => {
                if st.pings.len() == MAX_PENDING_PINGS {
                    st.pings.pop_front();
                }
                st.pings.push_back((f.kept.clone(), f.first_packet));
            }
            OpCode::Pong => match answered_ping(&mut other.pings, &f.kept) {
                Some(ping) => rtt_ns = Some(f.last_packet.ts.0.saturating_sub(ping.ts.0)),
                None => found.push((
                    &rules::PONG_UNSOLICITED,
                    "pong with no matching ping".into(),
                )),
            },
            _ => {}
        }
        let last_packet = f.last_packet;
        let index = st.stats.frames;
        out.frame(Frame {
            conn: self.key.conn,
            stream: self.key.stream,
            dir,
            index,
            first_packet: f.first_packet,
            last_packet,
            stream_offset: f.stream_offset,
            header: h,
            header_bytes: f.header_bytes,
            payload: Payload {
                bytes: f.kept,
                len: h.payload_len,
            },
            lost: f.lost,
            close,
            rtt_ns,
            rsv1_meaning: self.rsv1_meaning(),
            missing: 0,
        });
        self.report_header_findings(dir, out);
        for (rule, msg) in found {
            self.diag(out, dir, last_packet, rule, msg);
        }
        let is_data = matches!(
            h.opcode,
            OpCode::Text | OpCode::Binary | OpCode::Continuation
        );
        if is_data && h.fin {
            self.finish_message(dir, last_packet, out);
        }
    }

    fn rsv1_meaning(&self) -> Rsv1Meaning {
        match (self.rsv1_defined, self.inferred) {
            (false, _) => Rsv1Meaning::Undefined,
            (true, false) => Rsv1Meaning::Deflate,
            (true, true) => Rsv1Meaning::AssumedDeflate,
        }
    }

    /// A frame cut short by the end of the input: reported as it is, with the payload bytes
    /// that arrived and how many never did. It is not counted, and its message stays open.
    fn unfinished_frame(
        &mut self,
        dir: Direction,
        f: CompletedFrame,
        missing: u64,
        out: &mut dyn Report,
    ) {
        let index = self.dirs[dir.index()].stats.frames + 1;
        out.frame(Frame {
            conn: self.key.conn,
            stream: self.key.stream,
            dir,
            index,
            first_packet: f.first_packet,
            last_packet: f.last_packet,
            stream_offset: f.stream_offset,
            header: f.header,
            header_bytes: f.header_bytes,
            payload: Payload {
                bytes: f.kept,
                len: f.header.payload_len,
            },
            lost: f.lost,
            close: None,
            rtt_ns: None,
            rsv1_meaning: self.rsv1_meaning(),
            missing,
        });
    }

    fn report_header_findings(&mut self, dir: Direction, out: &mut dyn Report) {
        let found = std::mem::take(&mut self.dirs[dir.index()].header_findings);
        for ((rule, msg), at) in found {
            self.diag(out, dir, at, rule, msg);
        }
    }

    /// The final fragment of `dir`'s open message is in: inflate the rest and report it.
    fn finish_message(&mut self, dir: Direction, last_packet: PacketRef, out: &mut dyn Report) {
        let keep = self.message_keep();
        let shown = self.limits.message_keep;
        let limit = self.limits.inflate_limit;
        let inferred = self.inferred;
        let st = &mut self.dirs[dir.index()];
        let Some(mut boxed) = st.message.take() else {
            return;
        };
        let m = &mut *boxed;
        st.stats.messages += 1;
        let mut inflate_finding = match st.inflater.as_mut().filter(|_| m.compressed) {
            Some(inf) => m.finish_inflating(inf, keep, m.inflate_cap, inferred),
            None => None,
        };
        if m.compressed {
            self.inflated = self.inflated.saturating_add(m.len);
        }
        // Stopped by what was left of the session's budget, not by the per-message limit.
        if matches!(m.inflate_error, Some(InflateFailure::Limit(_))) && m.inflate_cap < limit {
            let total = self.limits.inflate_total;
            m.inflate_error = Some(InflateFailure::BudgetSpent(total));
            let msg = format!("the session's inflate budget of {total} bytes is spent: this message was inflated only up to it, and later compressed messages are not inflated");
            inflate_finding = Some((&rules::INFLATE_BUDGET, msg));
        }
        let utf8_error = m.utf8_error();
        let mut message = Message {
            conn: self.key.conn,
            stream: self.key.stream,
            dir,
            index: st.stats.messages,
            opcode: m.opcode,
            payload: Payload {
                bytes: std::mem::take(&mut m.payload),
                len: m.len,
            },
            fragments: m.fragments,
            first_packet: m.first_packet,
            last_packet,
            utf8_error,
            lost: m.lost,
            holes: std::mem::take(&mut m.holes),
            compressed: m.compressed,
            wire_len: m.wire_len,
            inflate_error: m.inflate_error.take(),
            decoded: None,
        };
        // Cut at the keep limit, not at a hole (a hole is no memory limit).
        let truncated_big = m.kept_to_limit && keep > 1 << 20;
        // Its buffers went to the event: the box is kept for the next message.
        st.spare_message = Some(boxed);
        let app_findings = self.decode_app(&mut message);
        // The decoder read up to `APP_MESSAGE_KEEP`; the views keep what they were asked to.
        message.payload.bytes.truncate(shown);
        out.message(message);
        for (rule, msg) in app_findings {
            self.diag(out, dir, last_packet, rule, msg);
        }
        if let Some((rule, msg)) = inflate_finding {
            self.diag(out, dir, last_packet, rule, msg);
        }
        if let Some(at) = utf8_error {
            let msg = format!("text message is not valid UTF-8 at byte {at}");
            self.diag(out, dir, last_packet, &rules::INVALID_UTF8_TEXT, msg);
        }
        if truncated_big {
            let msg = format!("message kept only up to {keep} bytes");
            self.diag(out, dir, last_packet, &rules::PAYLOAD_LIMIT, msg);
        }
    }
}

impl State {
    /// Payload bytes kept per message: more than the views show once an application decoder
    /// is chosen, since it must read whole messages.
    fn message_keep(&self) -> usize {
        let keep = self.limits.message_keep;
        match self.app.as_deref() {
            Some(app) if app.protocol().is_some() => keep.max(APP_MESSAGE_KEEP),
            // Recognisers read the first messages whole, whatever --max-payload says.
            Some(_) => keep.max(RECOGNISE_KEEP),
            None => keep,
        }
    }

    /// Hand a whole message to the application decoder, keeping what it decoded on the message.
    fn decode_app(&mut self, message: &mut Message) -> Vec<Finding> {
        let mut found = Vec::new();
        if let Some(app) = self.app.as_mut() {
            let whole = !message.payload.truncated()
                && message.lost == 0
                && message.inflate_error.is_none()
                && message.utf8_error.is_none();
            let view = AppMessage {
                dir: message.dir,
                index: message.index,
                text: message.opcode == OpCode::Text,
                bytes: &message.payload.bytes,
                whole,
                ts: message.last_packet.ts,
            };
            message.decoded = app.decode(&view, &mut found).map(Box::new);
            // A session no recogniser took costs nothing more.
            if app.gave_up() {
                self.app = None;
            }
        }
        found
    }
}

impl DirState {
    /// A text or binary frame opens a message (dropping one left open, which breaks §5.4).
    fn open_message(
        &mut self,
        h: &FrameHeader,
        packet: PacketRef,
        rsv1_defined: bool,
        (inflate_cap, inflate_total): (u64, u64),
        found: &mut Vec<Finding>,
    ) {
        if let Some(old) = &self.message {
            found.push((
                &rules::NEW_MESSAGE_WHILE_FRAGMENTED,
                format!("{} frame while a fragmented {} message ({} fragments) is open; the open message is dropped", h.opcode, old.opcode, old.fragments),
            ));
            if old.compressed {
                if let Some(inf) = self.inflater.as_mut() {
                    inf.abandon_message();
                }
            }
        }
        let compressed = h.rsv1 && rsv1_defined && self.inflater.is_some();
        let mut m = PartialMessage::open(h.opcode, packet, compressed);
        m.inflate_cap = inflate_cap;
        if compressed && inflate_cap == 0 {
            // The session's budget is spent (said once, when it was): not inflated, and with
            // takeover the window would need this message, so it is unknown from here on.
            m.inflate_error = Some(InflateFailure::BudgetSpent(inflate_total));
            if let Some(inf) = self.inflater.as_mut() {
                inf.lose_context();
            }
        } else if compressed && self.inflater.as_deref().is_some_and(Inflater::context_lost) {
            let msg =
                "earlier compressed data of this direction is missing and context takeover is on";
            found.push((&rules::DEFLATE_CONTEXT_UNKNOWN, msg.to_string()));
            m.inflate_error = Some(InflateFailure::ContextUnknown);
        }
        self.message = Some(recycle::boxed(&mut self.spare_message, m));
    }
}

/// The ping a pong answers: the oldest unanswered one with the same payload. Everything older
/// will not be answered (§5.5.3: a pong may answer only the most recent ping).
fn answered_ping(pings: &mut VecDeque<(Vec<u8>, PacketRef)>, pong: &[u8]) -> Option<PacketRef> {
    let i = pings.iter().position(|(p, _)| p == pong)?;
    let (_, ping) = pings.remove(i)?;
    pings.drain(..i);
    if pings.is_empty() {
        // All answered: an idle direction keeps no queue.
        *pings = VecDeque::new();
    }
    Some(ping)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::Timestamp;
    use crate::ws::record::Hole;

    #[derive(Default)]
    struct Seen {
        frames: Vec<Frame>,
        messages: Vec<Message>,
        rules: Vec<&'static str>,
    }

    impl Report for Seen {
        fn frame(&mut self, frame: Frame) {
            self.frames.push(frame);
        }
        fn message(&mut self, message: Message) {
            self.messages.push(message);
        }
        fn diagnostic(&mut self, d: Diagnostic) {
            self.rules.push(d.rule.name);
        }
    }

    const C2S: Direction = Direction::ClientToServer;
    const S2C: Direction = Direction::ServerToClient;

    fn session(deflate: Option<DeflateParams>) -> Session {
        let key = SessionKey {
            conn: ConnId(7),
            stream: Some(StreamId(3)),
        };
        let limits = Limits {
            frame_keep: 4096,
            message_keep: 1024,
            inflate_limit: 1 << 20,
            inflate_total: u64::MAX,
            partial_frames: false,
        };
        Session::opened(key, limits, [0, 0], deflate)
    }

    fn at(ms: u64) -> PacketRef {
        PacketRef {
            number: ms,
            ts: Timestamp(ms * 1_000_000),
        }
    }

    /// A masked client frame (key 00 00 00 00 keeps the payload readable).
    fn client(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![first, 0x80 | payload.len() as u8, 0, 0, 0, 0];
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn fragments_with_a_ping_between_and_its_pong() {
        let mut s = session(None);
        let mut seen = Seen::default();
        s.feed(C2S, &client(0x01, b"Hel"), at(1), &mut seen);
        s.feed(C2S, &client(0x89, b"p"), at(2), &mut seen);
        s.feed(S2C, &[0x8a, 0x01, b'p'], at(5), &mut seen);
        s.feed(C2S, &client(0x80, b"lo"), at(6), &mut seen);
        assert!(seen.rules.is_empty(), "{:?}", seen.rules);
        assert_eq!(seen.frames.len(), 4);
        assert_eq!(seen.frames[2].rtt_ns, Some(3_000_000));
        let m = &seen.messages[0];
        assert_eq!((m.text(), m.fragments, m.index), (Some("Hello"), 2, 1));
        assert_eq!((m.conn, m.stream), (ConnId(7), Some(StreamId(3))));
        let summary = s.end(at(7), &mut seen);
        assert_eq!(summary.stats[0].frames, 3);
        assert_eq!(summary.stats[0].messages, 1);
        assert_eq!(summary.stats[1].frames, 1);
    }

    /// Issue 11: a session's compressed messages share one inflate budget. Three messages of
    /// 60 inflated bytes against a budget of 100: the first whole, the second up to the
    /// budget (one diagnostic), the third not inflated at all.
    #[test]
    fn the_inflate_budget_is_per_session() {
        use std::io::Write;
        let key = SessionKey {
            conn: ConnId(1),
            stream: None,
        };
        let limits = Limits {
            frame_keep: 4096,
            message_keep: 4096,
            inflate_limit: 1 << 20,
            inflate_total: 100,
            partial_frames: false,
        };
        let params = DeflateParams {
            server_no_context_takeover: true,
            ..DeflateParams::default()
        };
        let mut s = Session::opened(key, limits, [0, 0], Some(params));
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&[b'a'; 60]).unwrap();
        enc.flush().unwrap();
        let mut body = enc.finish().unwrap();
        while body.ends_with(&[0x03, 0x00]) {
            body.truncate(body.len() - 2);
        }
        body.truncate(body.len() - 4); // the sync tail, stripped (RFC 7692 §7.2.1)
        let mut frame = vec![0xc2, body.len() as u8];
        frame.extend_from_slice(&body);
        let mut seen = Seen::default();
        for i in 1..=3 {
            s.feed(S2C, &frame, at(i), &mut seen);
        }
        let lens: Vec<(usize, Option<String>)> = (seen.messages.iter())
            .map(|m| {
                (
                    m.payload.bytes.len(),
                    m.inflate_error.as_ref().map(|e| e.to_string()),
                )
            })
            .collect();
        let spent = Some("the session's 100-byte inflate budget is spent".to_string());
        assert_eq!(lens, [(60, None), (40, spent.clone()), (0, spent)]);
        assert_eq!(seen.rules, ["inflate-budget"]);
    }

    #[test]
    fn history_rules() {
        let mut s = session(None);
        let mut seen = Seen::default();
        s.feed(C2S, &client(0x80, b"x"), at(1), &mut seen);
        s.feed(S2C, &[0x8a, 0x00], at(2), &mut seen);
        s.feed(C2S, &client(0x88, &[0x03, 0xe8]), at(3), &mut seen);
        s.feed(C2S, &client(0x81, b"late"), at(4), &mut seen);
        assert_eq!(
            seen.rules,
            [
                "continuation-without-start",
                "pong-unsolicited",
                "data-after-close"
            ]
        );
        let summary = s.end(at(5), &mut seen);
        assert_eq!(summary.close[0].as_ref().and_then(|c| c.code), Some(1000));
    }

    #[test]
    fn rfc7692_compressed_hello_inflates() {
        let mut s = session(Some(DeflateParams::default()));
        let mut seen = Seen::default();
        s.feed(
            S2C,
            &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
            at(1),
            &mut seen,
        );
        let m = &seen.messages[0];
        assert_eq!(
            (m.text(), m.compressed, m.wire_len),
            (Some("Hello"), true, 7)
        );
    }

    #[test]
    fn a_gap_in_a_payload_is_lost_bytes_one_over_a_header_loses_framing() {
        let mut s = session(None);
        let mut seen = Seen::default();
        s.feed(S2C, &[0x02, 0x04, b'a', b'b'], at(1), &mut seen);
        s.gap(S2C, 4, 2, at(2), &mut seen);
        assert_eq!(seen.frames[0].lost, 2);
        assert_eq!(seen.rules, ["stream-gap"]);
        s.gap(S2C, 6, 3, at(3), &mut seen);
        assert_eq!(
            seen.rules,
            ["stream-gap", "stream-gap", "stream-desync", "stream-desync"],
            "the open binary message is lost with the framing"
        );
        assert!(seen.messages.is_empty());
    }

    /// Issue 11: the bytes on either side of a hole were kept as one payload, and the payload
    /// cut short by the hole was reported as a memory limit.
    #[test]
    fn a_hole_in_a_message_is_marked_and_never_glued() {
        let key = SessionKey {
            conn: ConnId(1),
            stream: None,
        };
        let limits = Limits {
            frame_keep: 64 << 20,
            message_keep: 64 << 20,
            inflate_limit: 1 << 20,
            inflate_total: u64::MAX,
            partial_frames: false,
        };
        let mut s = Session::opened(key, limits, [0, 0], None);
        let mut seen = Seen::default();
        // A text frame of 12 bytes in two fragments: "abc" [3 lost] "ghi", then "jkl"
        // [2 lost, 1 more lost] "pq".
        s.feed(S2C, &[0x01, 0x09, b'a', b'b', b'c'], at(1), &mut seen);
        s.gap(S2C, 5, 3, at(2), &mut seen);
        s.feed(S2C, b"ghi", at(3), &mut seen);
        s.feed(S2C, &[0x80, 0x06, b'j'], at(4), &mut seen);
        s.gap(S2C, 14, 2, at(5), &mut seen);
        s.gap(S2C, 16, 1, at(6), &mut seen);
        s.feed(S2C, b"pq", at(7), &mut seen);
        let m = &seen.messages[0];
        assert_eq!((m.payload.len, m.lost), (15, 6));
        assert_eq!(
            m.holes,
            [Hole { offset: 3, len: 3 }, Hole { offset: 10, len: 3 }]
        );
        assert_eq!(m.payload.bytes, b"abc", "nothing after the first hole");
        assert_eq!(seen.frames[0].payload.bytes, b"abc");
        assert_eq!(seen.frames[1].payload.bytes, b"j");
        assert!(!seen.rules.contains(&"payload-limit"), "{:?}", seen.rules);
        assert!(
            !seen.rules.contains(&"invalid-utf8-text"),
            "{:?}",
            seen.rules
        );
    }

    #[test]
    fn a_frame_cut_off_is_drawn_before_its_header_rules_when_asked() {
        let key = SessionKey {
            conn: ConnId(1),
            stream: None,
        };
        let limits = Limits {
            frame_keep: 64,
            message_keep: 64,
            inflate_limit: 1 << 20,
            inflate_total: u64::MAX,
            partial_frames: true,
        };
        let mut s = Session::opened(key, limits, [0, 0], None);
        // A client frame whose 64-bit length has its top bit set, then the server's close.
        let mut bad = vec![0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0];
        bad.extend_from_slice(b"12345");
        let mut seen = Seen::default();
        s.feed(C2S, &bad, at(1), &mut seen);
        s.feed(S2C, &[0x88, 0x02, 0x03, 0xf1], at(2), &mut seen);
        assert_eq!(seen.frames.len(), 1);
        assert!(seen.rules.is_empty(), "nothing reported before the frame");
        s.end(at(3), &mut seen);
        let f = &seen.frames[1];
        assert_eq!((f.dir, f.index, f.missing), (C2S, 1, (1 << 63) + 5 - 5));
        assert_eq!(f.payload.bytes, b"12345");
        assert_eq!(seen.rules, ["length-msb-set", "frame-incomplete"]);
    }

    #[test]
    fn rsv1_means_what_was_negotiated() {
        let mut seen = Seen::default();
        session(None).feed(S2C, &[0xc1, 0x00], at(1), &mut seen);
        session(Some(DeflateParams::default())).feed(S2C, &[0xc1, 0x01, 0x00], at(1), &mut seen);
        let meanings: Vec<_> = seen.frames.iter().map(|f| f.rsv1_meaning).collect();
        assert_eq!(meanings, [Rsv1Meaning::Undefined, Rsv1Meaning::Deflate]);
        assert!(!seen.frames[0].starts_compressed_message());
        assert!(seen.frames[1].starts_compressed_message());
    }

    #[test]
    fn a_frame_cut_off_by_the_end_is_reported() {
        let mut s = session(None);
        let mut seen = Seen::default();
        s.feed(S2C, &[0x82, 0x7e, 0x00, 0x05, 1, 2], at(1), &mut seen);
        s.end(at(2), &mut seen);
        assert_eq!(seen.rules, ["length-not-minimal", "frame-incomplete"]);
    }
}
/// What every open session costs whatever it carries (issue 14: an idle connection should
/// cost at most 2 KiB). The inflaters, a resync's hunt, the frame in flight, the open
/// message and the application decoder are boxed, since an idle session has none of them.
#[cfg(test)]
mod size {
    #[test]
    fn a_session_stays_small() {
        let session = std::mem::size_of::<super::Session>();
        // 736 bytes with the application decoder's box, and 32 for the spare frame and
        // message boxes of each direction (a busy connection reuses them).
        assert!(session <= 776, "Session is {session} bytes");
    }
}
