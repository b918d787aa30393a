//! One TCP connection above TCP: the HTTP upgrade, then WebSocket frames and messages in both
//! directions. Turns ordered stream bytes into events; all protocol knowledge it applies comes
//! from `http` and `ws`.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::event::{
    CloseInfo, ConnectionEnd, ConnectionInfo, Diagnostic, DirStats, Direction, EndReason, Event,
    Frame, Gap, Message, PacketRef, Payload,
};
use crate::http::{self, Handshake, Head, Request};
use crate::tcp::{Application, FlowMeta, StreamEvent};
use crate::ws::close::{classify_close_code, CloseCodeClass};
use crate::ws::deflate::{DeflateParams, InflateError, Inflater};
use crate::ws::frame::FrameHeader;
use crate::ws::opcode::OpCode;
use crate::ws::resync::{Expect, AFTER_GAP, RECOGNISE};
use crate::ws::rules::{self, Rule};
use crate::ws::stream::{CompletedFrame, FrameDecoder, FrameEvent, GapOutcome, Incomplete};
use crate::ws::utf8::Utf8Validator;

/// Limits and choices that shape what the conversation keeps.
#[derive(Clone, Debug)]
pub struct DissectConfig {
    /// Payload bytes kept per frame for display.
    pub frame_keep: usize,
    /// Payload bytes kept per message (the whole message with `--full-payload`, up to the limit).
    pub message_keep: usize,
    /// Ports whose connections are WebSocket even without a visible handshake (like
    /// Wireshark's "decode as").
    pub ws_ports: Vec<u16>,
    /// Largest inflated size of one compressed message (deflate bomb guard).
    pub inflate_limit: u64,
}

impl Default for DissectConfig {
    fn default() -> Self {
        DissectConfig {
            frame_keep: 4096,
            message_keep: 1024,
            inflate_limit: 64 << 20,
            ws_ports: Vec::new(),
        }
    }
}

/// Client bytes that arrive after the upgrade request but before the 101 are held this far.
const MAX_EARLY_CLIENT_BYTES: usize = 1 << 20;
/// Pings waiting for their pong, per direction.
const MAX_PENDING_PINGS: usize = 64;

#[derive(Debug)]
enum Phase {
    /// Waiting for the first request bytes.
    Start,
    /// The upgrade request is in; waiting for the response.
    AwaitResponse,
    WebSocket,
    /// No HTTP upgrade at the start of the stream (the capture began mid-connection, or the
    /// port is forced with --ws-port): looking for WebSocket frames in both directions.
    Probe,
    /// Not a WebSocket connection, or one that was refused: ignore the rest.
    Ignored,
}

#[derive(Debug)]
struct PartialMessage {
    opcode: OpCode,
    payload: Vec<u8>,
    len: u64,
    lost: u64,
    fragments: u32,
    first_packet: PacketRef,
    utf8: Option<Utf8Validator>,
    compressed: bool,
    wire_len: u64,
    inflate_error: Option<String>,
}

impl PartialMessage {
    /// Application bytes (inflated when compressed) of the message.
    fn append(&mut self, data: &[u8], keep: usize) {
        self.len += data.len() as u64;
        let room = keep.saturating_sub(self.payload.len());
        self.payload
            .extend_from_slice(&data[..room.min(data.len())]);
        if let Some(v) = self.utf8.as_mut() {
            v.feed(data);
        }
    }
}

#[derive(Debug)]
struct DirState {
    decoder: FrameDecoder,
    message: Option<PartialMessage>,
    frames: u64,
    messages: u64,
    payload_bytes: u64,
    close_sent: bool,
    /// The frame being decoded is a data frame (its payload belongs to the open message).
    in_data_frame: bool,
    pings: VecDeque<(Vec<u8>, PacketRef)>,
    close: Option<CloseInfo>,
    /// Rules broken by the header of the frame in flight, reported once the frame is complete.
    header_diags: Vec<(&'static Rule, String, PacketRef)>,
    /// permessage-deflate was negotiated: this direction's decompressor.
    inflater: Option<Inflater>,
}

impl DirState {
    fn new(start: u64, keep: usize, dir: Direction) -> DirState {
        let expect = Expect {
            masked: Some(dir == Direction::ClientToServer),
            max_payload: PLAUSIBLE_MAX_PAYLOAD,
        };
        DirState {
            decoder: FrameDecoder::with_expect(start, keep, expect),
            message: None,
            frames: 0,
            messages: 0,
            payload_bytes: 0,
            close_sent: false,
            in_data_frame: false,
            pings: VecDeque::new(),
            close: None,
            header_diags: Vec::new(),
            inflater: None,
        }
    }
}

pub struct Conversation {
    cfg: Arc<DissectConfig>,
    phase: Phase,
    client_side: Option<usize>,
    heads: [Vec<u8>; 2],
    request: Option<(Request, PacketRef)>,
    /// Stream offset where the request head ended (first WebSocket byte from the client).
    client_ws_start: u64,
    early_client: Vec<u8>,
    dirs: Option<Box<[DirState; 2]>>,
    rsv1_allowed: bool,
    announced: bool,
    diagnostics: u64,
    /// Recognised from its frames: the handshake (and so the extensions) was not seen.
    inferred: bool,
}

/// Bytes examined (both directions together) for WebSocket frames in a connection whose
/// handshake was not seen, before it is taken as not WebSocket. The hunt itself holds at most
/// a bounded window of them.
const MAX_PROBE: u64 = 16 << 20;
/// Claimed payload lengths above this are not believed while probing or hunting.
const PLAUSIBLE_MAX_PAYLOAD: u64 = 1 << 30;

impl Conversation {
    pub fn new(cfg: Arc<DissectConfig>, meta: &FlowMeta) -> Conversation {
        Conversation {
            cfg,
            phase: Phase::Start,
            client_side: meta.client_side,
            heads: [Vec::new(), Vec::new()],
            request: None,
            client_ws_start: 0,
            early_client: Vec::new(),
            dirs: None,
            rsv1_allowed: false,
            inferred: false,
            announced: false,
            diagnostics: 0,
        }
    }

    fn dir_of(&self, side: usize) -> Direction {
        match self.client_side {
            Some(c) if c == side => Direction::ClientToServer,
            Some(_) => Direction::ServerToClient,
            None => Direction::from_index(side),
        }
    }

    fn diag(
        &mut self,
        meta: &FlowMeta,
        dir: Option<Direction>,
        packet: PacketRef,
        rule: &'static Rule,
        message: String,
        out: &mut Vec<Event>,
    ) {
        self.diagnostics += 1;
        out.push(Event::Diagnostic(Diagnostic {
            conn: meta.id,
            dir,
            packet: Some(packet),
            rule,
            message,
        }));
    }

    fn on_data(
        &mut self,
        meta: &FlowMeta,
        side: usize,
        offset: u64,
        bytes: &[u8],
        packet: PacketRef,
        out: &mut Vec<Event>,
    ) {
        match self.phase {
            Phase::Ignored => {}
            Phase::Start => self.on_request_bytes(meta, side, offset, bytes, packet, out),
            Phase::AwaitResponse => {
                if Some(side) == self.client_side {
                    if self.early_client.len() + bytes.len() <= MAX_EARLY_CLIENT_BYTES {
                        self.early_client.extend_from_slice(bytes);
                    }
                } else {
                    self.on_response_bytes(meta, side, offset, bytes, packet, out);
                }
            }
            Phase::WebSocket => self.feed_frames(meta, self.dir_of(side), bytes, packet, out),
            Phase::Probe => self.on_probe_bytes(meta, side, bytes, packet, out),
        }
    }

    /// The server side forced by --ws-port, if any.
    fn forced_server(&self, meta: &FlowMeta) -> Option<usize> {
        (0..2).find(|&s| self.cfg.ws_ports.contains(&meta.endpoints[s].port()))
    }

    /// Start looking for frames in both directions of a connection whose handshake was not seen.
    fn start_probe(&mut self, meta: &FlowMeta, side: usize, offset: u64) {
        self.phase = Phase::Probe;
        self.heads = [Vec::new(), Vec::new()];
        let keep = self.cfg.frame_keep;
        let forced = self.forced_server(meta);
        // Until one direction is recognised, sides stand in for directions (side 0 first).
        let mut dirs = Box::new([
            DirState::new(0, keep, Direction::ClientToServer),
            DirState::new(0, keep, Direction::ServerToClient),
        ]);
        for (s, d) in dirs.iter_mut().enumerate() {
            let masked = forced.map(|server| s != server);
            let criteria = if forced.is_some() {
                AFTER_GAP
            } else {
                RECOGNISE
            };
            d.decoder = FrameDecoder::with_expect(
                if s == side { offset } else { 0 },
                keep,
                Expect {
                    masked,
                    max_payload: PLAUSIBLE_MAX_PAYLOAD,
                },
            );
            d.decoder.set_hunt_rules(
                Expect {
                    masked,
                    max_payload: PLAUSIBLE_MAX_PAYLOAD,
                },
                criteria,
            );
            d.decoder.start_hunting();
            // Extensions are unknown: RSV1 is taken to mean permessage-deflate.
            d.inflater = Some(Inflater::new(false));
        }
        self.dirs = Some(dirs);
        self.rsv1_allowed = true;
    }

    fn on_probe_bytes(
        &mut self,
        meta: &FlowMeta,
        side: usize,
        bytes: &[u8],
        packet: PacketRef,
        out: &mut Vec<Event>,
    ) {
        let forced = self.forced_server(meta);
        let Some(dirs) = self.dirs.as_mut() else {
            return;
        };
        let st = &mut dirs[side];
        let mut pending: Vec<PendingOut> = Vec::new();
        st.decoder
            .feed(bytes, packet, &mut |ev| pending.push(PendingOut::from(ev)));
        let found = pending.iter().find_map(|p| match p {
            PendingOut::Resync { masked, .. } => Some(*masked),
            _ => None,
        });
        let Some(masked) = found else {
            let probed: u64 = dirs.iter().map(|d| d.decoder.hunted_bytes()).sum();
            if probed > MAX_PROBE && forced.is_none() {
                // Not WebSocket, or not recognisable: stop spending effort on it.
                self.phase = Phase::Ignored;
                self.dirs = None;
            }
            return;
        };
        // Clients mask, servers do not (RFC 6455 §5.1): the MASK bit tells the roles.
        let client = if masked { side } else { 1 - side };
        self.client_side = Some(client);
        if client == 1 {
            dirs.swap(0, 1);
        }
        let other = &mut dirs[if side == client { 1 } else { 0 }].decoder;
        other.set_hunt_rules(
            Expect {
                masked: Some(side != client),
                max_payload: PLAUSIBLE_MAX_PAYLOAD,
            },
            AFTER_GAP,
        );
        self.inferred = true;
        self.phase = Phase::WebSocket;
        self.announce(meta, true, out);
        let why = if forced.is_some() {
            "its port is given with --ws-port"
        } else {
            "its frames were recognised"
        };
        let msg = format!(
            "no handshake seen: WebSocket assumed because {why}; the client is {}",
            meta.endpoints[client]
        );
        self.diag(meta, None, packet, &rules::INFERRED_WEBSOCKET, msg, out);
        let dir = self.dir_of(side);
        for p in pending {
            self.apply(meta, dir, p.as_event(), packet, out);
        }
    }

    fn on_request_bytes(
        &mut self,
        meta: &FlowMeta,
        side: usize,
        offset: u64,
        bytes: &[u8],
        packet: PacketRef,
        out: &mut Vec<Event>,
    ) {
        let server_first = self.client_side.is_some_and(|c| c != side);
        let buf = &mut self.heads[side];
        if buf.is_empty() && (offset != 0 || !http::looks_like_request_start(bytes)) {
            if server_first
                && self.forced_server(meta).is_none()
                && offset == 0
                && self.heads[1 - side].is_empty()
            {
                // The server speaks first on a connection whose SYN we saw: not an upgrade.
                self.phase = Phase::Ignored;
                return;
            }
            self.start_probe(meta, side, offset);
            self.on_probe_bytes(meta, side, bytes, packet, out);
            return;
        }
        if server_first {
            // Keep it: the request from the client side may still complete.
            if buf.len() + bytes.len() <= http::MAX_HEAD_LEN {
                buf.extend_from_slice(bytes);
            }
            return;
        }
        buf.extend_from_slice(bytes);
        match http::parse_request(buf) {
            Head::Incomplete => {}
            Head::Invalid(_) => self.phase = Phase::Ignored,
            Head::Complete(req, used) => {
                if !http::is_upgrade_request(&req) {
                    self.phase = Phase::Ignored;
                    return;
                }
                self.client_side = Some(side);
                self.client_ws_start = used as u64;
                self.early_client = buf[used..].to_vec();
                self.heads[side] = Vec::new();
                self.request = Some((req, packet));
                self.phase = Phase::AwaitResponse;
                self.announce(meta, false, out);
                // The response may already be waiting.
                let server = 1 - side;
                if !self.heads[server].is_empty() {
                    let pending = std::mem::take(&mut self.heads[server]);
                    self.on_response_bytes(meta, server, 0, &pending, packet, out);
                }
            }
        }
    }

    fn announce(&mut self, meta: &FlowMeta, inferred: bool, out: &mut Vec<Event>) {
        if self.announced {
            return;
        }
        self.announced = true;
        let c = self.client_side.unwrap_or(0);
        out.push(Event::Connection(ConnectionInfo {
            conn: meta.id,
            client: meta.endpoints[c],
            server: meta.endpoints[1 - c],
            first_packet: meta.first_packet,
            inferred,
        }));
    }

    fn on_response_bytes(
        &mut self,
        meta: &FlowMeta,
        side: usize,
        _offset: u64,
        bytes: &[u8],
        packet: PacketRef,
        out: &mut Vec<Event>,
    ) {
        let buf = &mut self.heads[side];
        buf.extend_from_slice(bytes);
        match http::parse_response(buf) {
            Head::Incomplete => {}
            Head::Invalid(why) => {
                self.phase = Phase::Ignored;
                self.diag(
                    meta,
                    Some(Direction::ServerToClient),
                    packet,
                    &rules::HANDSHAKE_MALFORMED,
                    format!("response: {why}"),
                    out,
                );
            }
            Head::Complete(resp, used) => {
                let rest = buf[used..].to_vec();
                self.heads[side] = Vec::new();
                let (req, req_packet) = self.request.take().expect("request precedes response");
                let hs = Handshake::from_heads(meta.id, &req, req_packet, &resp, packet);
                let violations = hs.violations();
                let accepted = hs.accepted();
                let deflate = hs
                    .extensions
                    .iter()
                    .find(|e| e.name.eq_ignore_ascii_case("permessage-deflate"));
                self.rsv1_allowed = deflate.is_some();
                let deflate = deflate.map(DeflateParams::from_extension);
                out.push(Event::Handshake(Box::new(hs)));
                for v in violations {
                    let (dir, at) = if v.in_request {
                        (Direction::ClientToServer, req_packet)
                    } else {
                        (Direction::ServerToClient, packet)
                    };
                    self.diag(meta, Some(dir), at, v.rule, v.message, out);
                }
                if !accepted {
                    self.phase = Phase::Ignored;
                    return;
                }
                self.phase = Phase::WebSocket;
                let keep = self.cfg.frame_keep;
                // The server's head starts at offset 0 of its stream.
                let server_start = used as u64;
                let mut dirs = Box::new([
                    DirState::new(self.client_ws_start, keep, Direction::ClientToServer),
                    DirState::new(server_start, keep, Direction::ServerToClient),
                ]);
                if let Some(p) = deflate {
                    dirs[0].inflater = Some(Inflater::new(p.client_no_context_takeover));
                    dirs[1].inflater = Some(Inflater::new(p.server_no_context_takeover));
                }
                self.dirs = Some(dirs);
                let early = std::mem::take(&mut self.early_client);
                if !early.is_empty() {
                    self.feed_frames(meta, Direction::ClientToServer, &early, packet, out);
                }
                if !rest.is_empty() {
                    self.feed_frames(meta, Direction::ServerToClient, &rest, packet, out);
                }
            }
        }
    }

    fn feed_frames(
        &mut self,
        meta: &FlowMeta,
        dir: Direction,
        bytes: &[u8],
        packet: PacketRef,
        out: &mut Vec<Event>,
    ) {
        let Some(dirs) = self.dirs.as_mut() else {
            return;
        };
        // The decoder is moved out while it runs, so each event it reports (borrowing its
        // unmasking buffer) can update the rest of the conversation without a copy.
        let mut decoder =
            std::mem::replace(&mut dirs[dir.index()].decoder, FrameDecoder::new(0, 0));
        decoder.feed(bytes, packet, &mut |ev| {
            self.apply(meta, dir, ev, packet, out)
        });
        if let Some(dirs) = self.dirs.as_mut() {
            dirs[dir.index()].decoder = decoder;
        }
    }

    fn apply(
        &mut self,
        meta: &FlowMeta,
        dir: Direction,
        ev: FrameEvent<'_>,
        packet: PacketRef,
        out: &mut Vec<Event>,
    ) {
        match ev {
            FrameEvent::Start { header } => self.on_frame_start(dir, header, packet),
            FrameEvent::Payload { data, .. } => self.on_payload(dir, data),
            FrameEvent::Lost { len, .. } => {
                let Some(st) = self.dirs.as_mut().map(|d| &mut d[dir.index()]) else {
                    return;
                };
                if !st.in_data_frame {
                    return;
                }
                if let Some(m) = st.message.as_mut() {
                    m.lost += len;
                    m.wire_len += len;
                    if m.compressed {
                        m.inflate_error.get_or_insert_with(|| {
                            "compressed bytes missing from the capture".into()
                        });
                        if let Some(inf) = st.inflater.as_mut() {
                            inf.lose_context();
                        }
                    } else {
                        m.len += len;
                    }
                }
            }
            FrameEvent::End(f) => self.on_frame_end(meta, dir, f, out),
            FrameEvent::Resync { skipped, at, .. } => {
                let msg = format!(
                    "frame boundary found at stream offset {at} after skipping {skipped} bytes"
                );
                self.diag(meta, Some(dir), packet, &rules::STREAM_RESYNC, msg, out);
            }
        }
    }

    fn on_frame_start(&mut self, dir: Direction, h: &FrameHeader, packet: PacketRef) {
        let mut found: Vec<(&'static Rule, String)> = Vec::new();
        match (dir, h.masked) {
            (Direction::ClientToServer, false) => found.push((
                &rules::CLIENT_FRAME_UNMASKED,
                format!("client {} frame is not masked", h.opcode),
            )),
            (Direction::ServerToClient, true) => found.push((
                &rules::SERVER_FRAME_MASKED,
                format!("server {} frame is masked", h.opcode),
            )),
            _ => {}
        }
        if (h.rsv1 && !self.rsv1_allowed) || h.rsv2 || h.rsv3 {
            found.push((
                &rules::RSV_BIT_WITHOUT_EXTENSION,
                format!(
                    "RSV1={} RSV2={} RSV3={} with no extension that defines them",
                    u8::from(h.rsv1),
                    u8::from(h.rsv2),
                    u8::from(h.rsv3)
                ),
            ));
        }
        if h.rsv1
            && self.rsv1_allowed
            && (h.opcode.is_control() || h.opcode == OpCode::Continuation)
        {
            found.push((
                &rules::DEFLATE_RSV1_MISPLACED,
                format!("RSV1 set on a {} frame", h.opcode),
            ));
        }
        if let OpCode::Reserved(b) = h.opcode {
            found.push((
                &rules::RESERVED_OPCODE,
                format!("opcode 0x{b:X} is reserved"),
            ));
        }
        if h.length_msb_set() {
            found.push((
                &rules::LENGTH_MSB_SET,
                format!("64-bit length 0x{:016X} has its top bit set", h.payload_len),
            ));
        }
        if h.length_not_minimal() {
            found.push((
                &rules::LENGTH_NOT_MINIMAL,
                format!(
                    "length {} written in the {}-bit form",
                    h.payload_len,
                    if h.len7 == 126 { 16 } else { 64 }
                ),
            ));
        }
        if h.opcode.is_control() {
            if h.payload_len > 125 {
                found.push((
                    &rules::CONTROL_FRAME_TOO_LONG,
                    format!("{} frame with a {}-byte payload", h.opcode, h.payload_len),
                ));
            }
            if !h.fin {
                found.push((
                    &rules::CONTROL_FRAME_FRAGMENTED,
                    format!("{} frame with FIN=0", h.opcode),
                ));
            }
        }
        let rsv1_allowed = self.rsv1_allowed;
        let dirs = self.dirs.as_mut().expect("WebSocket phase");
        let st = &mut dirs[dir.index()];
        st.in_data_frame = !h.opcode.is_control();
        if st.close_sent && !h.opcode.is_control() {
            found.push((
                &rules::DATA_AFTER_CLOSE,
                format!("{} frame after this side sent a close frame", h.opcode),
            ));
        }
        match h.opcode {
            OpCode::Text | OpCode::Binary => {
                if let Some(old) = &st.message {
                    found.push((
                        &rules::NEW_MESSAGE_WHILE_FRAGMENTED,
                        format!("{} frame while a fragmented {} message ({} fragments) is open; the open message is dropped", h.opcode, old.opcode, old.fragments),
                    ));
                }
                let compressed = h.rsv1 && rsv1_allowed && st.inflater.is_some();
                let mut inflate_error = None;
                if compressed && st.inflater.as_ref().is_some_and(|i| i.context_lost()) {
                    let msg = "earlier compressed data of this direction is missing and context takeover is on";
                    found.push((&rules::DEFLATE_CONTEXT_UNKNOWN, msg.to_string()));
                    inflate_error = Some("compression context unknown".to_string());
                }
                st.message = Some(PartialMessage {
                    opcode: h.opcode,
                    payload: Vec::new(),
                    len: 0,
                    lost: 0,
                    fragments: 1,
                    first_packet: packet,
                    // A compressed message is checked after inflation, not on the wire bytes.
                    utf8: (h.opcode == OpCode::Text).then(Utf8Validator::default),
                    compressed,
                    wire_len: 0,
                    inflate_error,
                });
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
        if let Some(st) = self.dirs.as_mut().map(|d| &mut d[dir.index()]) {
            st.header_diags
                .extend(found.into_iter().map(|(rule, msg)| (rule, msg, packet)));
        }
    }

    fn on_payload(&mut self, dir: Direction, data: &[u8]) {
        let keep = self.cfg.message_keep;
        let limit = self.cfg.inflate_limit;
        let Some(st) = self.dirs.as_mut().map(|d| &mut d[dir.index()]) else {
            return;
        };
        // Only data frames feed the message; control frames in between do not.
        if !st.in_data_frame {
            return;
        }
        let Some(m) = st.message.as_mut() else { return };
        m.wire_len += data.len() as u64;
        if !m.compressed {
            m.append(data, keep);
        } else if m.inflate_error.is_none() {
            if let Some(inf) = st.inflater.as_mut() {
                inf.feed(data, limit, &mut |out| m.append(out, keep));
            }
        }
    }

    fn on_frame_end(
        &mut self,
        meta: &FlowMeta,
        dir: Direction,
        f: CompletedFrame,
        out: &mut Vec<Event>,
    ) {
        let h = f.header;
        let mut diags: Vec<(&'static Rule, String)> = Vec::new();
        let st = &mut self.dirs.as_mut().expect("WebSocket phase")[dir.index()];
        st.frames += 1;
        st.payload_bytes += h.payload_len;
        let mut close = None;
        let mut rtt_ns = None;
        match h.opcode {
            OpCode::Close => {
                let info = parse_close(&f.kept);
                if f.kept.len() == 1 {
                    diags.push((
                        &rules::CLOSE_PAYLOAD_ONE_BYTE,
                        "close frame with a 1-byte payload".into(),
                    ));
                }
                if let Some(code) = info.code {
                    match classify_close_code(code) {
                        CloseCodeClass::NotOnWire(n) => diags.push((
                            &rules::CLOSE_CODE_NOT_ON_WIRE,
                            format!("close code {code} ({n}) must not be sent"),
                        )),
                        CloseCodeClass::Invalid
                        | CloseCodeClass::UnassignedProtocol
                        | CloseCodeClass::OutOfRange => diags.push((
                            &rules::CLOSE_CODE_INVALID,
                            format!("close code {code} is not allowed on the wire"),
                        )),
                        _ => {}
                    }
                }
                if let Some(at) = info.reason_utf8_error {
                    diags.push((
                        &rules::INVALID_UTF8_CLOSE_REASON,
                        format!("close reason is not valid UTF-8 at byte {at}"),
                    ));
                }
                st.close_sent = true;
                st.close = Some(info.clone());
                close = Some(info);
            }
            OpCode::Ping => {
                if st.pings.len() == MAX_PENDING_PINGS {
                    st.pings.pop_front();
                }
                st.pings.push_back((f.kept.clone(), f.first_packet));
            }
            OpCode::Pong => {
                let other = &mut self.dirs.as_mut().expect("WebSocket phase")[1 - dir.index()];
                match other.pings.iter().position(|(p, _)| *p == f.kept) {
                    Some(i) => {
                        let (_, ping) = other.pings.remove(i).expect("index found above");
                        // Everything older than the matched ping will not be answered (§5.5.3).
                        other.pings.drain(..i);
                        rtt_ns = Some(f.last_packet.ts.0.saturating_sub(ping.ts.0));
                    }
                    None => diags.push((
                        &rules::PONG_UNSOLICITED,
                        "pong with no matching ping".into(),
                    )),
                }
            }
            _ => {}
        }
        let frame = Frame {
            conn: meta.id,
            dir,
            index: self.dirs.as_ref().expect("WebSocket phase")[dir.index()].frames,
            first_packet: f.first_packet,
            last_packet: f.last_packet,
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
        };
        let last_packet = frame.last_packet;
        out.push(Event::Frame(Box::new(frame)));
        let header_diags = std::mem::take(
            &mut self.dirs.as_mut().expect("WebSocket phase")[dir.index()].header_diags,
        );
        for (rule, msg, at) in header_diags {
            self.diag(meta, Some(dir), at, rule, msg, out);
        }
        for (rule, msg) in diags {
            self.diag(meta, Some(dir), last_packet, rule, msg, out);
        }
        let is_data = matches!(
            h.opcode,
            OpCode::Text | OpCode::Binary | OpCode::Continuation
        );
        if !(is_data && h.fin) {
            return;
        }
        let keep = self.cfg.message_keep;
        let limit = self.cfg.inflate_limit;
        let st = &mut self.dirs.as_mut().expect("WebSocket phase")[dir.index()];
        let Some(mut m) = st.message.take() else {
            return;
        };
        st.messages += 1;
        let mut inflate_diag = None;
        let inferred = self.inferred;
        if m.compressed {
            if let Some(inf) = st.inflater.as_mut() {
                if m.inflate_error.is_some() {
                    inf.lose_context();
                } else {
                    match inf.finish_message(limit, &mut |out| m.append(out, keep)) {
                        None => {}
                        Some(InflateError::Limit(l)) => {
                            m.inflate_error =
                                Some(format!("inflated size passed the {l}-byte limit"));
                            inflate_diag = Some((
                                &rules::INFLATE_LIMIT,
                                format!("message inflated past {l} bytes; stopped there"),
                            ));
                        }
                        Some(InflateError::Corrupt(why)) if inferred => {
                            // Without the handshake the window (takeover) is unknown: start afresh.
                            inf.reset();
                            let msg = format!(
                                "cannot inflate without the earlier messages' window: {why}"
                            );
                            inflate_diag = Some((&rules::DEFLATE_CONTEXT_UNKNOWN, msg));
                            m.inflate_error = Some("compression context unknown".into());
                        }
                        Some(InflateError::Corrupt(why)) => {
                            inflate_diag = Some((
                                &rules::DEFLATE_ERROR,
                                format!("compressed message does not inflate: {why}"),
                            ));
                            m.inflate_error = Some(why);
                        }
                    }
                }
            }
        }
        let utf8_error = m.utf8.as_mut().and_then(|v| {
            if m.lost == 0 {
                v.finish()
            } else {
                v.error_at()
            }
        });
        let message = Message {
            conn: meta.id,
            dir,
            index: st.messages,
            opcode: m.opcode,
            payload: Payload {
                bytes: m.payload,
                len: m.len,
            },
            fragments: m.fragments,
            first_packet: m.first_packet,
            last_packet,
            utf8_error,
            lost: m.lost,
            compressed: m.compressed,
            wire_len: m.wire_len,
            inflate_error: m.inflate_error,
        };
        let truncated_big = message.payload.truncated() && self.cfg.message_keep > 1 << 20;
        out.push(Event::Message(message));
        if let Some((rule, msg)) = inflate_diag {
            self.diag(meta, Some(dir), last_packet, rule, msg, out);
        }
        if let Some(at) = utf8_error {
            self.diag(
                meta,
                Some(dir),
                last_packet,
                &rules::INVALID_UTF8_TEXT,
                format!("text message is not valid UTF-8 at byte {at}"),
                out,
            );
        }
        if truncated_big {
            let keep = self.cfg.message_keep;
            self.diag(
                meta,
                Some(dir),
                last_packet,
                &rules::PAYLOAD_LIMIT,
                format!("message kept only up to {keep} bytes"),
                out,
            );
        }
    }

    fn on_gap(
        &mut self,
        meta: &FlowMeta,
        side: usize,
        offset: u64,
        len: u64,
        packet: PacketRef,
        out: &mut Vec<Event>,
    ) {
        let dir = self.dir_of(side);
        if self.announced {
            out.push(Event::Gap(Gap {
                conn: meta.id,
                dir,
                stream_offset: offset,
                len,
                packet,
            }));
        }
        match self.phase {
            Phase::WebSocket => {
                let Some(dirs) = self.dirs.as_mut() else {
                    return;
                };
                let mut decoder =
                    std::mem::replace(&mut dirs[dir.index()].decoder, FrameDecoder::new(0, 0));
                let outcome = decoder.gap(len, packet, &mut |ev| {
                    self.apply(meta, dir, ev, packet, out)
                });
                if let Some(dirs) = self.dirs.as_mut() {
                    dirs[dir.index()].decoder = decoder;
                }
                let msg = format!("{len} bytes missing from the capture at stream offset {offset}");
                self.diag(meta, Some(dir), packet, &rules::STREAM_GAP, msg, out);
                if outcome == GapOutcome::Desynced {
                    let msg = "the gap hit a frame header: looking for the next frame boundary"
                        .to_string();
                    self.diag(meta, Some(dir), packet, &rules::STREAM_DESYNC, msg, out);
                    let st = &mut self.dirs.as_mut().expect("WebSocket phase")[dir.index()];
                    if let Some(m) = st.message.take() {
                        if let Some(inf) = st.inflater.as_mut().filter(|_| m.compressed) {
                            inf.lose_context();
                        }
                        let msg = format!(
                            "the open {} message ({} fragments so far) is lost in the gap",
                            m.opcode, m.fragments
                        );
                        self.diag(meta, Some(dir), packet, &rules::STREAM_DESYNC, msg, out);
                    }
                }
            }
            Phase::Start | Phase::AwaitResponse => {
                if self.announced {
                    self.diag(
                        meta,
                        Some(dir),
                        packet,
                        &rules::STREAM_GAP,
                        format!("{len} bytes of the handshake missing from the capture"),
                        out,
                    );
                }
                self.phase = Phase::Ignored;
            }
            Phase::Probe => {
                if let Some(dirs) = self.dirs.as_mut() {
                    // The hunt starts over after the gap.
                    dirs[side].decoder.gap(len, packet, &mut |_| {});
                }
            }
            Phase::Ignored => {}
        }
    }
}

/// Decoder events, owned: while probing, a side's events are held until its direction is known.
enum PendingOut {
    Start(FrameHeader),
    Payload(FrameHeader, Vec<u8>),
    Lost(u64),
    Resync { skipped: u64, at: u64, masked: bool },
    End(CompletedFrame),
}

impl PendingOut {
    fn as_event(&self) -> FrameEvent<'_> {
        match self {
            PendingOut::Start(header) => FrameEvent::Start { header },
            PendingOut::Payload(header, data) => FrameEvent::Payload { header, data },
            PendingOut::Lost(len) => FrameEvent::Lost {
                header: &UNKNOWN_HEADER,
                len: *len,
            },
            PendingOut::Resync {
                skipped,
                at,
                masked,
            } => FrameEvent::Resync {
                skipped: *skipped,
                at: *at,
                masked: *masked,
            },
            PendingOut::End(f) => FrameEvent::End(f.clone()),
        }
    }
}

/// Stand-in header for a held `Lost` event (its header is not used when applied).
const UNKNOWN_HEADER: FrameHeader = FrameHeader {
    fin: false,
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcode: OpCode::Continuation,
    masked: false,
    len7: 0,
    length_form: crate::ws::frame::LengthForm::Short,
    payload_len: 0,
    mask_key: None,
    header_len: 2,
};

impl From<FrameEvent<'_>> for PendingOut {
    fn from(ev: FrameEvent<'_>) -> Self {
        match ev {
            FrameEvent::Start { header } => PendingOut::Start(*header),
            FrameEvent::Payload { header, data } => PendingOut::Payload(*header, data.to_vec()),
            FrameEvent::Lost { len, .. } => PendingOut::Lost(len),
            FrameEvent::Resync {
                skipped,
                at,
                masked,
            } => PendingOut::Resync {
                skipped,
                at,
                masked,
            },
            FrameEvent::End(f) => PendingOut::End(f),
        }
    }
}

/// Frames dissected from raw bytes with no capture around them (`wsdissect explain`).
pub struct RawFrames {
    pub events: Vec<Event>,
    /// The last frame is cut short: what it still needs.
    pub incomplete: Option<Incomplete>,
}

/// Dissect raw WebSocket frame bytes sent in direction `dir`, with every frame rule checked
/// (no extension is negotiated, so RSV bits are violations).
pub fn dissect_raw_frames(bytes: &[u8], dir: Direction, cfg: DissectConfig) -> RawFrames {
    let unspecified = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
    let meta = FlowMeta {
        id: crate::event::ConnId(1),
        endpoints: [unspecified, unspecified],
        client_side: Some(0),
        first_packet: PacketRef::default(),
    };
    let mut conv = Conversation::new(Arc::new(cfg), &meta);
    let keep = conv.cfg.frame_keep;
    conv.phase = Phase::WebSocket;
    conv.announced = true;
    conv.dirs = Some(Box::new([
        DirState::new(0, keep, Direction::ClientToServer),
        DirState::new(0, keep, Direction::ServerToClient),
    ]));
    let mut events = Vec::new();
    let packet = PacketRef {
        number: 1,
        ts: crate::event::Timestamp(0),
    };
    conv.feed_frames(&meta, dir, bytes, packet, &mut events);
    let incomplete = conv
        .dirs
        .as_ref()
        .and_then(|d| d[dir.index()].decoder.incomplete());
    RawFrames { events, incomplete }
}

/// A close payload: empty, or a 2-byte code and a UTF-8 reason (§5.5.1).
pub fn parse_close(payload: &[u8]) -> CloseInfo {
    if payload.len() < 2 {
        return CloseInfo {
            code: None,
            reason: String::new(),
            reason_utf8_error: None,
        };
    }
    let code = u16::from_be_bytes([payload[0], payload[1]]);
    let reason_bytes = &payload[2..];
    let reason_utf8_error = std::str::from_utf8(reason_bytes)
        .err()
        .map(|e| e.valid_up_to() as u64);
    CloseInfo {
        code: Some(code),
        reason: String::from_utf8_lossy(reason_bytes).into_owned(),
        reason_utf8_error,
    }
}

impl Application for Conversation {
    fn on_stream(
        &mut self,
        meta: &FlowMeta,
        side: usize,
        event: StreamEvent<'_>,
        out: &mut Vec<Event>,
    ) {
        match event {
            StreamEvent::Data {
                offset,
                bytes,
                packet,
            } => self.on_data(meta, side, offset, bytes, packet, out),
            StreamEvent::Gap {
                offset,
                len,
                packet,
                ..
            } => self.on_gap(meta, side, offset, len, packet, out),
            StreamEvent::OverlapConflict {
                offset,
                len,
                packet,
            } => {
                if self.announced {
                    let dir = self.dir_of(side);
                    self.diag(meta, Some(dir), packet, &rules::STREAM_OVERLAP_CONFLICT, format!("{len} bytes at stream offset {offset} retransmitted with different content"), out);
                }
            }
        }
    }

    fn on_end(
        &mut self,
        meta: &FlowMeta,
        reason: EndReason,
        packet: PacketRef,
        out: &mut Vec<Event>,
    ) {
        if !self.announced {
            return;
        }
        if matches!(self.phase, Phase::AwaitResponse) {
            let msg = format!(
                "the connection ended ({}) before any response to the upgrade request",
                reason.as_str()
            );
            self.diag(
                meta,
                Some(Direction::ServerToClient),
                packet,
                &rules::HANDSHAKE_NO_RESPONSE,
                msg,
                out,
            );
        }
        // A frame cut off by the end of the connection: its header's problems still count.
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            let Some(st) = self.dirs.as_mut().map(|d| &mut d[dir.index()]) else {
                break;
            };
            let header_diags = std::mem::take(&mut st.header_diags);
            let unfinished = st.decoder.incomplete();
            for (rule, msg, at) in header_diags {
                self.diag(meta, Some(dir), at, rule, msg, out);
            }
            if let Some(Incomplete::Payload {
                stream_offset,
                have,
                need,
                header,
            }) = unfinished
            {
                let msg = format!(
                    "the connection ended {have} bytes into a {} frame (stream offset {stream_offset}) that declared {} payload bytes; {need} never arrived",
                    header.opcode, header.payload_len
                );
                self.diag(meta, Some(dir), packet, &rules::FRAME_INCOMPLETE, msg, out);
            }
        }
        let mut stats = [DirStats::default(); 2];
        let mut close = [None, None];
        if let Some(dirs) = &self.dirs {
            for (i, d) in dirs.iter().enumerate() {
                stats[i] = DirStats {
                    frames: d.frames,
                    messages: d.messages,
                    payload_bytes: d.payload_bytes,
                };
                close[i] = d.close.clone();
            }
        }
        out.push(Event::ConnectionEnd(ConnectionEnd {
            conn: meta.id,
            reason,
            packet,
            stats,
            close,
            diagnostics: self.diagnostics,
        }));
    }
}
