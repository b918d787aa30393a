//! What each HTTP/2 frame of one side does to the connection's streams: field blocks open
//! requests and answer them, DATA feeds the WebSocket sessions, END_STREAM, RST_STREAM and
//! GOAWAY end them.

use std::collections::BTreeMap;

use crate::base::rules;
use crate::base::{Direction, PacketRef, StreamId};
use crate::event::{Event, Handshake, Http2Frame, Http2Request, StreamEnd, StreamEndReason};
use crate::h2::frame::{self, flags, FrameHeader, FrameType, Malformed, Setting};
use crate::h2::hpack::FieldDecoder;
use crate::h2::reader::{FrameReader, FrameSink, Item, MAX_HELD_FRAME};
use crate::http::{Exchange, Headers};
use crate::tcp::EndReason;
use crate::ws::decoder::Input;
use crate::ws::deflate::DeflateParams;
use crate::ws::session::{Session, SessionKey};

use super::infer::StreamProbe;
use super::stream::{final_status, initiator, H2Stream, Kind, OtherRequest, Requested};
use super::{Block, Out, MAX_CLOSED, MAX_STREAMS};

/// One side's items, applied to the connection.
pub(super) struct Frames<'a, 'b> {
    /// Decodes the field blocks this side sends.
    pub fields: &'a mut FieldDecoder,
    /// Decodes the other side's: this side's SETTINGS bound its table.
    pub peer_fields: &'a mut FieldDecoder,
    /// Reads the other side's frames: this side's SETTINGS bound their size.
    pub peer_reader: &'a mut FrameReader,
    pub block: &'a mut Option<Block>,
    pub streams: &'a mut BTreeMap<u32, H2Stream>,
    pub out: Out<'a, 'b>,
}

impl FrameSink for Frames<'_, '_> {
    fn item(&mut self, item: Item<'_>) {
        match item {
            Item::Preface => {}
            Item::BadPreface => {
                let msg = "the client's first bytes after the start of the preface are not the rest of it";
                self.out.diag(None, &rules::H2_PREFACE_INVALID, msg.into());
            }
            Item::Header(h) => self.header(h),
            Item::Data {
                stream,
                frame_len,
                bytes,
            } => self.data(stream, frame_len, bytes),
            Item::DataLost { stream, len } => self.data_lost(stream, len),
            Item::DataEnd(h) if h.end_stream() => self.end_stream(h.stream),
            Item::DataEnd(_) => {}
            Item::Frame(h, payload) => self.frame(h, payload),
            Item::Skipped(h) => self.skipped(h),
            Item::Lost { .. } => self.framing_lost(),
            Item::Resync { skipped } => {
                let msg = format!("HTTP/2 frame boundary found after skipping {skipped} bytes");
                self.out.diag(None, &rules::STREAM_RESYNC, msg);
            }
        }
    }
}

impl Frames<'_, '_> {
    fn dir(&self) -> Direction {
        self.out.dir()
    }

    /// The teaching view shows every HTTP/2 frame (DATA ones before the WebSocket frames they
    /// carry).
    fn record(&mut self, header: FrameHeader, detail: String) {
        if self.out.cx.cfg.tls_records {
            let record = Http2Frame {
                conn: self.out.cx.meta.id,
                dir: self.dir(),
                packet: self.out.packet,
                header,
                detail,
            };
            self.out.emit(Event::Http2Frame(record));
        }
    }

    fn malformed(&mut self, stream: u32, Malformed(why): Malformed) {
        let stream = (stream != 0).then_some(stream);
        self.out.diag(stream, &rules::H2_MALFORMED, why);
    }

    fn header(&mut self, h: FrameHeader) {
        if self.block.is_some() && h.kind != FrameType::CONTINUATION {
            let why = format!(
                "a {} frame where the CONTINUATION of a field block was due",
                h.kind
            );
            self.malformed(h.stream, Malformed(why));
            self.lose_fields();
        }
        if h.kind == FrameType::DATA {
            self.record(h, String::new());
        }
        let on_stream = matches!(h.kind, FrameType::DATA | FrameType::HEADERS);
        if on_stream && h.stream == 0 {
            let why = format!("a {} frame on stream 0, which is the connection's", h.kind);
            self.malformed(0, Malformed(why));
        }
    }

    fn frame(&mut self, h: FrameHeader, payload: &[u8]) {
        let field_block = matches!(
            h.kind,
            FrameType::HEADERS | FrameType::CONTINUATION | FrameType::PUSH_PROMISE
        );
        if !field_block {
            self.record(h, detail(&h, payload));
        }
        let done = match h.kind {
            FrameType::HEADERS => self.headers(h, payload),
            FrameType::CONTINUATION => self.continuation(h, payload),
            FrameType::PUSH_PROMISE => self.push_promise(h, payload),
            FrameType::SETTINGS if h.flags & flags::ACK == 0 => self.settings(payload),
            FrameType::RST_STREAM => frame::rst_stream_code(payload).map(|code| {
                let by = self.dir();
                self.finish(h.stream, StreamEndReason::Reset { by, code });
            }),
            FrameType::GOAWAY => frame::parse_goaway(payload).map(|g| self.goaway(g)),
            _ => Ok(()),
        };
        if let Err(why) = done {
            if field_block {
                self.record(h, "malformed".into());
            }
            self.malformed(h.stream, why);
        }
    }

    fn headers(&mut self, h: FrameHeader, payload: &[u8]) -> Result<(), Malformed> {
        let fragment = frame::headers_fragment(&h, payload).inspect_err(|_| self.lose_fields())?;
        let block = Block {
            stream: h.stream,
            end_stream: h.end_stream(),
            promised: None,
            bytes: Vec::new(),
        };
        self.fragment(h, block, fragment);
        Ok(())
    }

    fn push_promise(&mut self, h: FrameHeader, payload: &[u8]) -> Result<(), Malformed> {
        let (promised, fragment) =
            frame::push_promise(&h, payload).inspect_err(|_| self.lose_fields())?;
        let block = Block {
            stream: h.stream,
            end_stream: false,
            promised: Some(promised),
            bytes: Vec::new(),
        };
        self.fragment(h, block, &fragment);
        Ok(())
    }

    fn continuation(&mut self, h: FrameHeader, payload: &[u8]) -> Result<(), Malformed> {
        let Some(block) = self.block.take().filter(|b| b.stream == h.stream) else {
            return Err(Malformed(format!(
                "CONTINUATION on stream {} with no field block open there",
                h.stream
            )));
        };
        self.fragment(h, block, payload);
        Ok(())
    }

    /// A piece of a field block, carried by the frame `h`: decode it once the block is whole.
    /// The teaching view shows the frame with the fields it completed.
    fn fragment(&mut self, h: FrameHeader, mut block: Block, piece: &[u8]) {
        if !h.end_headers() {
            self.record(h, "part of a field block".into());
        }
        if block.bytes.len() + piece.len() > MAX_HELD_FRAME as usize {
            let why = format!(
                "a field block on stream {} over {MAX_HELD_FRAME} bytes",
                block.stream
            );
            self.out
                .diag(Some(block.stream), &rules::H2_FRAME_TOO_LARGE, why);
            self.lose_fields();
            return;
        }
        if !h.end_headers() {
            block.bytes.extend_from_slice(piece);
            *self.block = Some(block);
            return;
        }
        let whole = if block.bytes.is_empty() {
            self.fields.decode(piece)
        } else {
            block.bytes.extend_from_slice(piece);
            self.fields.decode(&block.bytes)
        };
        match whole {
            Ok(fields) => {
                self.record(h, fields_summary(&fields));
                self.field_block(&block, fields)
            }
            Err(why) => {
                self.record(h, "fields not decodable".into());
                let msg = format!("the field block on stream {}: {why}", block.stream);
                self.out
                    .diag(Some(block.stream), &rules::H2_FIELD_BLOCK_UNDECODABLE, msg);
            }
        }
        if block.end_stream {
            self.end_stream(block.stream);
        }
    }

    /// Field blocks of this side can no longer be decoded with certainty.
    fn lose_fields(&mut self) {
        *self.block = None;
        self.fields.lost();
    }

    fn field_block(&mut self, block: &Block, fields: Headers) {
        if let Some(promised) = block.promised {
            // A pushed request: the server answers it on the promised stream.
            let packet = self.out.packet;
            self.open(
                promised,
                Kind::Other(Box::new(OtherRequest::from_fields(&fields, packet))),
            );
            return;
        }
        let stream = block.stream;
        if fields.get(":method").is_some() {
            self.out.cx.shared.client_side.get_or_insert(self.out.side);
        }
        let answering = self.dir() == Direction::ServerToClient;
        let new = self.is_new(stream);
        match self.streams.get_mut(&stream).map(|s| &mut s.kind) {
            None if fields.get(":method").is_some() && new => self.request(stream, fields),
            None if fields.get(":method").is_some() => {
                let msg = format!("a request on stream {stream}, an id already used: stream ids only increase (RFC 9113 §5.1.1); it is ignored");
                self.out.diag(Some(stream), &rules::H2_MALFORMED, msg);
            }
            Some(Kind::Requested(_)) if answering => self.answer(stream, fields),
            Some(Kind::Other(o)) if answering && o.status.is_none() => {
                o.status = final_status(&fields);
                if o.status.is_some() {
                    self.report_request(stream);
                }
            }
            _ => {}
        }
    }

    /// A new request on `stream`: an extended CONNECT for a WebSocket, or anything else.
    fn request(&mut self, stream: u32, fields: Headers) {
        let protocol = fields.get(":protocol").map(|p| p.into_owned());
        let websocket = protocol
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case("websocket"));
        let method = fields.get(":method").unwrap_or_default();
        if let (Some(p), false) = (&protocol, websocket || method == "CONNECT") {
            let msg = format!(":protocol {p:?} on a {method} request");
            self.out
                .diag(Some(stream), &rules::H2_PROTOCOL_NOT_CONNECT, msg);
        }
        let packet = self.out.packet;
        if !websocket {
            self.open(
                stream,
                Kind::Other(Box::new(OtherRequest::from_fields(&fields, packet))),
            );
            return;
        }
        self.out.announce(false);
        let requested = Requested {
            fields,
            packet,
            connect_enabled: self.out.conn.connect_enabled,
            early: Vec::new(),
            early_len: 0,
            early_dropped: 0,
        };
        self.open(stream, Kind::Requested(Box::new(requested)));
    }

    /// Follow a new stream, if there is room.
    fn open(&mut self, stream: u32, kind: Kind) -> bool {
        let live = self
            .streams
            .len()
            .saturating_sub(self.out.conn.closed.len());
        if live >= MAX_STREAMS {
            if !self.out.conn.overflow_reported {
                self.out.conn.overflow_reported = true;
                let msg =
                    format!("over {MAX_STREAMS} streams open at once: new ones are not followed");
                self.out.diag(Some(stream), &rules::H2_STREAMS_LIMIT, msg);
            }
            return false;
        }
        let last = &mut self.out.conn.last_opened[(stream % 2) as usize];
        *last = (*last).max(stream);
        self.streams.insert(stream, H2Stream::new(kind));
        true
    }

    /// `stream` is above every id its initiator used before: a stream that was never open
    /// (ended streams are forgotten after a while; their ids are never reused).
    fn is_new(&self, stream: u32) -> bool {
        stream > self.out.conn.last_opened[(stream % 2) as usize]
    }

    /// The server answered the extended CONNECT on `stream`: the handshake, and the session.
    fn answer(&mut self, stream: u32, fields: Headers) {
        if final_status(&fields).is_none() {
            return; // informational (1xx): the final answer is still to come
        }
        let Some(s) = self.streams.get_mut(&stream) else {
            return;
        };
        let Kind::Requested(req) = std::mem::replace(&mut s.kind, Kind::Refused) else {
            return;
        };
        self.out.conn.early_budget += req.early_len;
        let packet = self.out.packet;
        let exchange = Exchange::from_extended_connect(
            &req.fields,
            req.packet,
            &fields,
            packet,
            req.connect_enabled,
        );
        let accepted = exchange.accepted();
        let deflate = exchange
            .extensions
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case("permessage-deflate"))
            .map(DeflateParams::from_extension);
        let hints = (exchange.subprotocol.clone(), exchange.target.clone());
        self.report_handshake(stream, exchange, req.packet);
        if !accepted {
            if req.early_len > 0 {
                let msg = format!(
                    "{} bytes of client DATA on the stream the server refused",
                    req.early_len
                );
                self.out
                    .diag(Some(stream), &rules::H2_DATA_AFTER_REFUSAL, msg);
            }
            return;
        }
        let session = self.open_session(stream, &req, deflate, hints);
        if let Some(s) = self.streams.get_mut(&stream) {
            s.kind = Kind::WebSocket(Box::new(session));
        }
    }

    /// The handshake event, then the rules it breaks, each at the packet that broke it.
    fn report_handshake(&mut self, stream: u32, exchange: Exchange, request_packet: PacketRef) {
        let violations = exchange.violations();
        let handshake = Handshake {
            conn: self.out.cx.meta.id,
            stream: Some(StreamId(stream)),
            exchange,
        };
        self.out.emit(Event::Handshake(Box::new(handshake)));
        for v in violations {
            let (dir, at) = match v.in_request {
                true => (Direction::ClientToServer, request_packet),
                false => (Direction::ServerToClient, self.out.packet),
            };
            self.out
                .diag_at(Some(stream), Some(dir), at, v.rule, v.message);
        }
    }

    /// The session an accepted extended CONNECT opens, fed the client DATA held meanwhile.
    fn open_session(
        &mut self,
        stream: u32,
        req: &Requested,
        deflate: Option<DeflateParams>,
        (subprotocol, target): (Option<String>, String),
    ) -> Session {
        let key = SessionKey {
            conn: self.out.cx.meta.id,
            stream: Some(StreamId(stream)),
        };
        let mut session = Session::opened(key, self.out.cx.limits(), [0, 0], deflate);
        let cx = &*self.out.cx;
        cx.decode_messages(&mut session, subprotocol.as_deref(), Some(&target));
        let c2s = Direction::ClientToServer;
        for (at, bytes) in &req.early {
            session.feed(c2s, bytes, *at, self.out.cx);
        }
        if req.early_dropped > 0 {
            let offset = req.early_len as u64;
            let packet = self.out.packet;
            session.gap(c2s, offset, req.early_dropped, packet, self.out.cx);
        }
        session
    }

    fn settings(&mut self, payload: &[u8]) -> Result<(), Malformed> {
        for s in frame::parse_settings(payload)? {
            match s.id {
                // The size this side's decoder allows: it bounds the other side's encoder.
                Setting::HEADER_TABLE_SIZE => self.peer_fields.allow(s.value),
                Setting::MAX_FRAME_SIZE => self.peer_reader.allow_frame_size(s.value),
                Setting::ENABLE_CONNECT_PROTOCOL if self.dir() == Direction::ServerToClient => {
                    self.out.conn.connect_enabled = s.value == 1;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn goaway(&mut self, g: frame::GoAway) {
        let by = self.dir();
        self.out.conn.goaway = Some((by, g.code));
        if g.code != frame::ErrorCode(0) {
            let debug = String::from_utf8_lossy(&g.debug);
            let msg = format!(
                "GOAWAY {} from the {} (last stream {}) {debug:?}",
                g.code,
                by.sender(),
                g.last_stream
            );
            self.out.diag(None, &rules::H2_GOAWAY_ERROR, msg);
        }
        // Streams the receiver opened above the last one the sender processed never will be.
        let receiver = match by {
            Direction::ClientToServer => Direction::ServerToClient,
            Direction::ServerToClient => Direction::ClientToServer,
        };
        let dropped: Vec<u32> = self
            .streams
            .range(g.last_stream + 1..)
            .filter(|(id, _)| initiator(**id) == receiver)
            .map(|(id, _)| *id)
            .collect();
        for id in dropped {
            self.finish(id, StreamEndReason::GoAway { by, code: g.code });
        }
    }

    fn data(&mut self, stream: u32, frame_len: u32, bytes: &[u8]) {
        let dir = self.dir();
        if stream == 0 {
            return; // reported at its header (a connection error, RFC 9113 §6.1)
        }
        if !self.streams.contains_key(&stream) && !self.probe_unknown(stream) {
            return;
        }
        let Some(s) = self.streams.get_mut(&stream) else {
            return;
        };
        s.offset[dir.index()] += bytes.len() as u64;
        let packet = self.out.packet;
        if s.ended[dir.index()] {
            // The receiver discards it (STREAM_CLOSED): it is not shown as WebSocket data.
            if !std::mem::replace(&mut s.odd_data_reported[dir.index()], true) {
                let msg = format!(
                    "a {frame_len}-byte DATA frame from the {} after its END_STREAM",
                    dir.sender()
                );
                self.out
                    .diag(Some(stream), &rules::H2_DATA_AFTER_END_STREAM, msg);
            }
            return;
        }
        match &mut s.kind {
            Kind::WebSocket(session) => session.feed(dir, bytes, packet, self.out.cx),
            Kind::Requested(r) if dir == Direction::ClientToServer => {
                r.hold(bytes, packet, &mut self.out.conn.early_budget)
            }
            Kind::Refused => {
                if !std::mem::replace(&mut s.odd_data_reported[dir.index()], true) {
                    let msg = format!("a {frame_len}-byte DATA frame from the {} on a stream whose extended CONNECT was refused", dir.sender());
                    self.out
                        .diag(Some(stream), &rules::H2_DATA_AFTER_REFUSAL, msg);
                }
            }
            Kind::Unknown(_) => self.probe(stream, bytes),
            Kind::Requested(_) | Kind::Other(_) | Kind::Closed => {}
        }
    }

    /// DATA on a stream never seen opened: follow it as a possible WebSocket when its opening
    /// may have been missed (the capture started late, or field blocks were lost).
    fn probe_unknown(&mut self, stream: u32) -> bool {
        let missed = !self.fields.complete() || !self.peer_fields.complete();
        missed
            && self.open(
                stream,
                Kind::Unknown(Box::new(StreamProbe::new(
                    self.out.cx.cfg.frame_keep,
                    [0, 0],
                ))),
            )
    }

    fn probe(&mut self, stream: u32, bytes: &[u8]) {
        let side = self.out.side;
        let packet = self.out.packet;
        let Some(s) = self.streams.get_mut(&stream) else {
            return;
        };
        let Kind::Unknown(probe) = &mut s.kind else {
            return;
        };
        let mut input = Input::new(bytes, packet);
        let Some(found) = probe.feed(side, &mut input) else {
            if probe.exhausted() {
                // Not WebSocket: nothing more to learn from it.
                s.kind = Kind::Closed;
                self.remember_closed(stream);
            }
            return;
        };
        let Kind::Unknown(probe) = std::mem::replace(&mut s.kind, Kind::Closed) else {
            return;
        };
        let cx = &mut *self.out.cx;
        cx.shared.client_side.get_or_insert(found.client);
        let key = SessionKey {
            conn: cx.meta.id,
            stream: Some(StreamId(stream)),
        };
        let mut session = probe.into_session(key, cx.limits(), found.client, side);
        cx.decode_messages(&mut session, None, None);
        self.out.announce(true);
        let client = self.out.cx.meta.endpoints[found.client];
        let msg = format!("stream {stream}: its extended CONNECT was not seen; WebSocket assumed because its frames were recognised; the client is {client}");
        self.out.diag(Some(stream), &rules::INFERRED_WEBSOCKET, msg);
        let dir = self.dir();
        session.resynced(dir, found.skipped, found.at, packet, self.out.cx);
        session.pull(dir, &mut input, self.out.cx);
        if let Some(s) = self.streams.get_mut(&stream) {
            s.kind = Kind::WebSocket(Box::new(session));
        }
    }

    fn data_lost(&mut self, stream: u32, len: u64) {
        let (dir, side, packet) = (self.dir(), self.out.side, self.out.packet);
        let Some(s) = self.streams.get_mut(&stream) else {
            return;
        };
        let at = s.offset[dir.index()];
        s.offset[dir.index()] += len;
        match &mut s.kind {
            Kind::WebSocket(session) => session.gap(dir, at, len, packet, self.out.cx),
            Kind::Requested(r) if dir == Direction::ClientToServer => r.early_dropped += len,
            Kind::Unknown(p) => p.gap(side, len, packet),
            _ => {}
        }
    }

    /// A hole took this side's framing: every stream may have lost DATA, and field blocks.
    fn framing_lost(&mut self) {
        self.lose_fields();
        let (dir, side, packet) = (self.dir(), self.out.side, self.out.packet);
        for s in self.streams.values_mut() {
            match &mut s.kind {
                Kind::WebSocket(session) => session.lost_position(dir, packet, self.out.cx),
                Kind::Requested(r) if dir == Direction::ClientToServer => r.early_dropped += 1,
                Kind::Unknown(p) => p.gap(side, 1, packet),
                _ => {}
            }
        }
    }

    fn skipped(&mut self, h: FrameHeader) {
        let msg = format!(
            "a {}-byte {} frame on stream {} was skipped",
            h.len, h.kind, h.stream
        );
        let rule = match h.kind {
            FrameType::DATA => &rules::H2_MALFORMED,
            _ => &rules::H2_FRAME_TOO_LARGE,
        };
        self.out
            .diag((h.stream != 0).then_some(h.stream), rule, msg);
        if matches!(
            h.kind,
            FrameType::HEADERS | FrameType::CONTINUATION | FrameType::PUSH_PROMISE
        ) {
            self.lose_fields();
        }
    }

    fn end_stream(&mut self, stream: u32) {
        let dir = self.dir();
        let Some(s) = self.streams.get_mut(&stream) else {
            return;
        };
        s.ended[dir.index()] = true;
        if s.both_ended() {
            self.finish(stream, StreamEndReason::EndStream);
        }
    }

    /// The stream is over: its session's summary, or its request line.
    fn finish(&mut self, stream: u32, reason: StreamEndReason) {
        let Some(s) = self.streams.get_mut(&stream) else {
            return;
        };
        s.ended = [true; 2];
        if matches!(s.kind, Kind::Closed) {
            return; // ended before (a RST_STREAM after END_STREAM both ways): remembered once
        }
        let kind = std::mem::replace(&mut s.kind, Kind::Closed);
        match kind {
            Kind::WebSocket(session) => {
                let packet = self.out.packet;
                let summary = session.end(packet, self.out.cx);
                for (total, s) in self.out.conn.totals.iter_mut().zip(&summary.stats) {
                    total.frames += s.frames;
                    total.messages += s.messages;
                    total.payload_bytes += s.payload_bytes;
                }
                self.out.emit(Event::StreamEnd(StreamEnd {
                    conn: self.out.cx.meta.id,
                    stream: StreamId(stream),
                    reason,
                    packet,
                    stats: summary.stats,
                    close: summary.close,
                }));
            }
            Kind::Other(o) if !o.reported => {
                let line = request_line(self.out.cx.meta.id, stream, &o);
                self.out.emit(line);
            }
            Kind::Requested(req) => {
                self.out.conn.early_budget += req.early_len;
                self.unanswered(stream, &req, reason)
            }
            Kind::Other(_) | Kind::Refused | Kind::Unknown(_) | Kind::Closed => {}
        }
        self.remember_closed(stream);
    }

    /// An extended CONNECT that got no answer: what its request broke (often why), and that.
    fn unanswered(&mut self, stream: u32, req: &Requested, reason: StreamEndReason) {
        let none = Headers::default();
        let exchange = Exchange::from_extended_connect(
            &req.fields,
            req.packet,
            &none,
            req.packet,
            req.connect_enabled,
        );
        let c2s = Some(Direction::ClientToServer);
        for v in exchange.violations().into_iter().filter(|v| v.in_request) {
            self.out
                .diag_at(Some(stream), c2s, req.packet, v.rule, v.message);
        }
        let msg = format!(
            "the WebSocket request on stream {stream} ended ({}) with no answer",
            reason.describe()
        );
        self.out
            .diag(Some(stream), &rules::HANDSHAKE_NO_RESPONSE, msg);
    }

    fn remember_closed(&mut self, stream: u32) {
        let closed = &mut self.out.conn.closed;
        closed.push_back(stream);
        while closed.len() > MAX_CLOSED {
            if let Some(old) = closed.pop_front() {
                self.streams.remove(&old);
            }
        }
    }

    /// The request on `stream` got its final answer: its line goes out.
    fn report_request(&mut self, stream: u32) {
        let conn = self.out.cx.meta.id;
        if let Some(Kind::Other(o)) = self.streams.get_mut(&stream).map(|s| &mut s.kind) {
            if !std::mem::replace(&mut o.reported, true) {
                self.out.emit(request_line(conn, stream, o));
            }
        }
    }

    /// The connection ended: every stream still open ends with it.
    pub fn end_all(&mut self, reason: EndReason) {
        let reason = match self.out.conn.goaway {
            Some((by, code)) => StreamEndReason::GoAway { by, code },
            None => StreamEndReason::Connection(reason),
        };
        let open: Vec<u32> = self
            .streams
            .iter()
            .filter(|(_, s)| !matches!(s.kind, Kind::Closed))
            .map(|(id, _)| *id)
            .collect();
        for id in open {
            self.finish(id, reason);
        }
    }
}

fn request_line(conn: crate::base::ConnId, stream: u32, o: &OtherRequest) -> Event {
    Event::Http2Request(Http2Request {
        conn,
        stream: StreamId(stream),
        packet: o.packet,
        method: o.method.clone(),
        path: o.path.clone(),
        status: o.status,
        upgraded: o.upgraded,
    })
}

/// The fields a block carried, for the teaching view: the pseudo-fields and the WebSocket
/// ones (the view wraps them), cut short only when a block is huge.
fn fields_summary(fields: &Headers) -> String {
    const MAX: usize = 512;
    let shown: Vec<String> = fields
        .0
        .iter()
        .filter(|(n, _)| n.starts_with(':') || n.starts_with("sec-websocket"))
        .map(|(n, v)| format!("{n} {v}"))
        .collect();
    let mut line = shown.join("  ");
    if line.chars().count() > MAX {
        line = line.chars().take(MAX - 1).collect::<String>() + "…";
    }
    let others = fields.0.len() - shown.len();
    if others > 0 {
        line.push_str(&format!("  (+{others} more)"));
    }
    line
}

/// A few words on what a frame's payload says, for the teaching view.
fn detail(h: &FrameHeader, payload: &[u8]) -> String {
    match h.kind {
        FrameType::SETTINGS => frame::parse_settings(payload)
            .map(|s| {
                s.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default(),
        FrameType::RST_STREAM => frame::rst_stream_code(payload)
            .map(|c| c.to_string())
            .unwrap_or_default(),
        FrameType::GOAWAY => frame::parse_goaway(payload)
            .map(|g| format!("last stream {} {}", g.last_stream, g.code))
            .unwrap_or_default(),
        FrameType::WINDOW_UPDATE if payload.len() == 4 => {
            let inc =
                u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]) & 0x7fff_ffff;
            format!("+{inc}")
        }
        _ => String::new(),
    }
}
