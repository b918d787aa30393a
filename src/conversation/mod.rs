//! One TCP connection above TCP: the HTTP upgrade, then WebSocket frames and messages in both
//! directions. Turns ordered stream bytes into events; all protocol knowledge it applies comes
//! from `http` and `ws`.

mod frames;
mod handshake;
mod probe;
mod raw;

use std::collections::VecDeque;
use std::sync::Arc;

use crate::base::rules::{self, Rule};
use crate::base::{Diagnostic, Direction, PacketRef};
use crate::event::{
    CloseInfo, ConnectionEnd, ConnectionInfo, DirStats, Event, Frame, Gap, Message, Payload,
};
use crate::http::{self, Handshake, Head, Request};
use crate::tcp::{Application, EndReason, FlowMeta, StreamEvent};
use crate::ws::close::{classify_close_code, CloseCodeClass};
use crate::ws::deflate::{DeflateParams, InflateError, Inflater};
use crate::ws::frame::FrameHeader;
use crate::ws::opcode::OpCode;
use crate::ws::resync::{Expect, AFTER_GAP, RECOGNISE};
use crate::ws::stream::{CompletedFrame, FrameDecoder, FrameEvent, GapOutcome, Incomplete};
use crate::ws::utf8::Utf8Validator;

pub use frames::parse_close;
pub use raw::{dissect_raw_frames, RawFrames};

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
    /// Client bytes after the request head, held (with their packets) until the 101 arrives.
    early_client: Vec<(PacketRef, Vec<u8>)>,
    early_client_len: usize,
    /// Client bytes after the request beyond `MAX_EARLY_CLIENT_BYTES`: a gap once the 101 is in.
    early_client_dropped: u64,
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
            early_client_len: 0,
            early_client_dropped: 0,
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
        if self.client_side.is_none() && !self.announced {
            // The flow learns the roles from the SYN, which may come after this was created.
            self.client_side = meta.client_side;
        }
        match self.phase {
            Phase::Ignored => {}
            Phase::Start => self.on_request_bytes(meta, side, offset, bytes, packet, out),
            Phase::AwaitResponse => {
                if Some(side) == self.client_side {
                    // Once the cap is hit nothing more is held, so nothing is glued across a hole.
                    if self.early_client_dropped == 0
                        && self.early_client_len + bytes.len() <= MAX_EARLY_CLIENT_BYTES
                    {
                        self.early_client_len += bytes.len();
                        self.early_client.push((packet, bytes.to_vec()));
                    } else {
                        self.early_client_dropped += bytes.len() as u64;
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
    /// The server side forced by --ws-port, if any.
    fn forced_server(&self, meta: &FlowMeta) -> Option<usize> {
        (0..2).find(|&s| self.cfg.ws_ports.contains(&meta.endpoints[s].port()))
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

impl Application for Conversation {
    type Event = Event;

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
        // The flow table keeps an ended connection a while for late retransmissions; its
        // buffers, decoders and inflaters are not needed for that.
        self.dirs = None;
        self.heads = [Vec::new(), Vec::new()];
        self.early_client = Vec::new();
        self.early_client_len = 0;
        self.phase = Phase::Ignored;
    }
}
