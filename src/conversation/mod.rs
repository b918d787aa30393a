//! One TCP connection above TCP, as a stack of layers in phases: the HTTP/1.1 upgrade (request,
//! then response), or a hunt for frames when the handshake was not seen, then a WebSocket
//! session. Each phase holds the state that exists in it; every change of phase goes through
//! [`Phase::advance`]. Protocol knowledge comes from `http` and `ws`.

mod h2;
mod keys;
mod layer;
mod probe;
mod raw;
mod tls;
mod upgrade;

use std::path::PathBuf;
use std::sync::Arc;

use crate::base::rules;
use crate::base::{Diagnostic, PacketRef};
use crate::decode::Protocol;
use crate::event::{ConnectionEnd, Event};
use crate::tcp::{Application, EndReason, FlowMeta, Note, StreamEvent};
use crate::ws::session::{Limits, Session, Summary};

pub use keys::KeyStore;

pub use layer::{Chunk, Cx, Hole, Layer, Shared, Side};
pub use raw::{dissect_raw_frames, dissect_streams, Piece, RawFrames};

use h2::H2Layer;
use probe::Probe;
use tls::TlsLayer;
use upgrade::{AwaitRequest, Http1};

/// Payload bytes of each frame kept at least, whatever `--max-payload` says: a control frame's
/// whole payload (at most 125 bytes) is needed to match a pong to its ping and to read a close
/// reason, and the frame views show the start of data frames.
pub const MIN_FRAME_KEEP: usize = 4096;

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
    /// Largest inflated size of all the compressed messages of one WebSocket session.
    pub inflate_total: u64,
    /// TLS secrets (`--tls-keylog`), in the NSS key log format.
    pub tls_keylog: Option<PathBuf>,
    /// The capture is live: a key log may still be growing, so it is read again on a miss.
    pub live: bool,
    /// Report each TLS record (the teaching view shows the record layer).
    pub tls_records: bool,
    /// Report a frame cut short by the end of its connection, stream or input, so the
    /// teaching view can draw its header (`Frame::missing` says how much never arrived).
    pub partial_frames: bool,
    /// Which application protocols the messages are decoded as (`--decode`).
    pub decode: DecodeChoice,
}

/// How sessions get their application decoder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeChoice {
    /// Decode at all (`--decode none` turns it off).
    pub enabled: bool,
    /// `--decode PROTO[:PORT]`: sessions on that port (or every session) are that protocol,
    /// whatever the handshake said. The first that matches wins.
    pub forced: Vec<(Protocol, Option<u16>)>,
}

impl Default for DecodeChoice {
    fn default() -> Self {
        DecodeChoice {
            enabled: true,
            forced: Vec::new(),
        }
    }
}

/// Inflated bytes one session may produce in all (`--max-inflate-total`): 16 times the
/// per-message default, and 100 times what a connection of the deflate benchmark inflates;
/// inflating it takes about 10 s here.
pub const DEFAULT_INFLATE_TOTAL: u64 = 4 << 30;

impl Default for DissectConfig {
    fn default() -> Self {
        DissectConfig {
            frame_keep: MIN_FRAME_KEEP,
            message_keep: 1024,
            inflate_limit: 64 << 20,
            inflate_total: DEFAULT_INFLATE_TOTAL,
            ws_ports: Vec::new(),
            tls_keylog: None,
            live: false,
            tls_records: false,
            partial_frames: false,
            decode: DecodeChoice::default(),
        }
    }
}

impl DissectConfig {
    /// What each WebSocket session keeps and inflates.
    pub fn limits(&self) -> Limits {
        Limits {
            frame_keep: self.frame_keep,
            message_keep: self.message_keep,
            inflate_limit: self.inflate_limit,
            inflate_total: self.inflate_total,
            partial_frames: self.partial_frames,
        }
    }
}

/// Where a connection is, and the state that exists there.
#[derive(Debug)]
pub enum Phase {
    /// Waiting for the first request bytes.
    AwaitRequest(Box<AwaitRequest>),
    /// HTTP/1.1 requests and answers, until a 101 (or the end of what can be followed).
    Http1(Box<Http1>),
    /// No HTTP upgrade at the start of the stream (the capture began mid-connection, or the
    /// port is forced with --ws-port): looking for WebSocket frames in both directions.
    Probe(Box<Probe>),
    WebSocket(Box<Session>),
    /// TLS, with the phases of what it carries inside.
    Tls(Box<TlsLayer>),
    /// HTTP/2: its streams, WebSocket sessions among them (RFC 8441).
    Http2(Box<H2Layer>),
    /// Not WebSocket, refused, or over: the rest is ignored.
    Done,
}

impl Phase {
    /// How far along a connection is; phases only move forward.
    fn stage(&self) -> u8 {
        match self {
            Phase::AwaitRequest(_) => 0,
            Phase::Http1(_) | Phase::Probe(_) | Phase::Tls(_) | Phase::Http2(_) => 1,
            Phase::WebSocket(_) => 2,
            Phase::Done => 3,
        }
    }

    /// Move on: run `step` on the current phase and take the phase it answers. Every change of
    /// phase, of a connection or of the phases inside its TLS layer, goes through here.
    pub fn advance(&mut self, step: impl FnOnce(Phase) -> Phase) {
        let from = std::mem::replace(self, Phase::Done);
        let stage = from.stage();
        let next = step(from);
        debug_assert!(
            next.stage() >= stage,
            "a connection never goes back to an earlier phase"
        );
        *self = next;
    }

    /// The layer that handles this phase; none once the connection is done.
    fn layer(self) -> Option<Box<dyn Layer>> {
        match self {
            Phase::AwaitRequest(l) => Some(l),
            Phase::Http1(l) => Some(l),
            Phase::Probe(l) => Some(l),
            Phase::WebSocket(l) => Some(l),
            Phase::Tls(l) => Some(l),
            Phase::Http2(l) => Some(l),
            Phase::Done => None,
        }
    }

    fn data(self, cx: &mut Cx<'_>, side: Side, chunk: Chunk<'_>) -> Phase {
        self.layer()
            .map_or(Phase::Done, |l| l.data(cx, side, chunk))
    }

    fn gap(self, cx: &mut Cx<'_>, side: Side, hole: Hole) -> Phase {
        self.layer().map_or(Phase::Done, |l| l.gap(cx, side, hole))
    }

    fn end(self, cx: &mut Cx<'_>, packet: PacketRef, reason: EndReason) -> Summary {
        self.layer()
            .map_or_else(Summary::default, |l| l.end(cx, packet, reason))
    }
}

/// The WebSocket phase: the session sees directions, not sides.
impl Layer for Session {
    fn data(mut self: Box<Self>, cx: &mut Cx<'_>, side: Side, chunk: Chunk<'_>) -> Phase {
        let dir = cx.dir_of(side);
        self.feed(dir, chunk.bytes, chunk.packet, cx);
        Phase::WebSocket(self)
    }

    fn gap(mut self: Box<Self>, cx: &mut Cx<'_>, side: Side, hole: Hole) -> Phase {
        let dir = cx.dir_of(side);
        Session::gap(&mut self, dir, hole.offset, hole.len, hole.packet, cx);
        Phase::WebSocket(self)
    }

    fn end(self: Box<Self>, cx: &mut Cx<'_>, packet: PacketRef, _: EndReason) -> Summary {
        Session::end(*self, packet, cx)
    }
}

/// One TCP connection's layers above TCP.
pub struct Connection {
    cfg: Arc<DissectConfig>,
    keys: Arc<KeyStore>,
    shared: Shared,
    phase: Phase,
}

impl Connection {
    pub fn new(cfg: Arc<DissectConfig>, keys: Arc<KeyStore>) -> Connection {
        Connection {
            cfg,
            keys,
            shared: Shared::default(),
            phase: Phase::AwaitRequest(Box::default()),
        }
    }

    /// Run one step of the current phase and move to the phase it answers.
    fn step(
        &mut self,
        meta: &FlowMeta,
        out: &mut Vec<Event>,
        f: impl FnOnce(Phase, &mut Cx<'_>) -> Phase,
    ) {
        let Connection {
            cfg,
            keys,
            shared,
            phase,
        } = self;
        let mut cx = Cx {
            cfg,
            keys,
            meta,
            shared,
            out,
        };
        phase.advance(|p| f(p, &mut cx));
    }

    fn cx<'a>(&'a mut self, meta: &'a FlowMeta, out: &'a mut Vec<Event>) -> Cx<'a> {
        Cx {
            cfg: &self.cfg,
            keys: &self.keys,
            meta,
            shared: &mut self.shared,
            out,
        }
    }
}

impl Application for Connection {
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
            } => {
                if self.shared.client_side.is_none() && !self.shared.announced {
                    // The flow learns the roles from the SYN, which may come after this was created.
                    self.shared.client_side = meta.client_side;
                }
                let chunk = Chunk {
                    offset,
                    bytes,
                    packet,
                };
                self.step(meta, out, |phase, cx| phase.data(cx, side, chunk));
            }
            StreamEvent::Gap {
                offset,
                len,
                packet,
                ..
            } => {
                let hole = Hole {
                    offset,
                    len,
                    packet,
                };
                // Under TLS the hole is in the ciphertext: the TLS layer says which records
                // it cost, and shows the hole in the decrypted stream.
                if !matches!(self.phase, Phase::Tls(_)) {
                    let mut cx = self.cx(meta, out);
                    let dir = cx.dir_of(side);
                    cx.gap_event(dir, hole);
                }
                self.step(meta, out, |phase, cx| phase.gap(cx, side, hole));
            }
            StreamEvent::OverlapConflict {
                offset,
                len,
                packet,
                first_replaced,
            } => {
                let mut cx = self.cx(meta, out);
                let dir = cx.dir_of(side);
                let msg = if first_replaced {
                    format!(
                        "{len} bytes at stream offset {offset}: a later copy replaced a first one \
                         the receiver dropped (bad checksum or TTL too low)"
                    )
                } else {
                    format!("{len} bytes at stream offset {offset} retransmitted with different content")
                };
                cx.tcp_diag(Some(dir), packet, &rules::STREAM_OVERLAP_CONFLICT, msg);
            }
            StreamEvent::Note { note, packet } => {
                let mut cx = self.cx(meta, out);
                let dir = cx.dir_of(side);
                let (rule, msg) = tcp_note(note);
                cx.tcp_diag(Some(dir), packet, rule, msg);
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
        // The flow table keeps an ended connection a while for late retransmissions; its
        // buffers, decoders and inflaters are not needed for that.
        self.step(meta, out, |phase, cx| {
            report_end(phase, cx, reason, packet);
            Phase::Done
        });
    }

    fn compact(&mut self, _meta: &FlowMeta, _out: &mut Vec<Event>) {
        if let Phase::WebSocket(session) = &mut self.phase {
            session.compact();
        }
    }
}

/// The connection ended: what it was still waiting for, and its summary if it was shown (a
/// TLS connection whose secrets never came is shown at its end).
fn report_end(phase: Phase, cx: &mut Cx<'_>, reason: EndReason, packet: PacketRef) {
    let Summary { stats, close } = phase.end(cx, packet, reason);
    if !cx.shared.announced {
        // Nothing else of a connection that never turned out WebSocket is shown, but a
        // conflicting copy may be the decoy that hid its session.
        let conflict = |d: &Diagnostic| d.rule == &rules::STREAM_OVERLAP_CONFLICT;
        if cx.shared.early_tcp.iter().any(conflict) {
            cx.flush_early_tcp();
        }
        return;
    }
    cx.out.push(Event::ConnectionEnd(ConnectionEnd {
        conn: cx.meta.id,
        reason,
        packet,
        stats,
        close,
        diagnostics: cx.shared.diagnostics,
    }));
}

/// The diagnostic a TCP note becomes.
fn tcp_note(note: Note) -> (&'static rules::Rule, String) {
    match note {
        Note::ControlIgnored { control, why } => (
            &rules::TCP_CONTROL_IGNORED,
            format!("{} ignored: {why}", control.as_str()),
        ),
        Note::UrgentByte { offset, byte } => (
            &rules::TCP_URGENT_BYTE,
            format!(
                "urgent byte 0x{byte:02x} at stream offset {offset} taken out of the stream \
                 (Linux without SO_OOBINLINE)"
            ),
        ),
        Note::AfterFin { offset, len } => (
            &rules::TCP_DATA_AFTER_FIN,
            format!("{len} bytes from stream offset {offset}, after the FIN, not delivered"),
        ),
        Note::SynDataDropped { len } => (
            &rules::TCP_SYN_DATA_DROPPED,
            format!("{len} bytes on a SYN without a Fast Open cookie: dropped by the receiver"),
        ),
    }
}

/// One per connection, inline in its flow (issue 14: an open idle connection costs at most
/// 2 KiB): each phase is boxed, and so is what only some connections have (TLS).
#[cfg(test)]
mod size {
    #[test]
    fn a_connection_stays_small() {
        let size = std::mem::size_of::<super::Connection>();
        assert!(size <= 96, "Connection is {size} bytes");
    }
}
