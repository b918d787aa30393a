//! The events every sink renders: the one type between the conversation and the outputs, so
//! text, JSON, tables and tests cannot disagree.

use std::net::SocketAddr;

use std::ops::Deref;

use crate::base::{recycle, ConnId, Diagnostic, Direction, PacketRef, StreamId};
pub use crate::h2::frame::{ErrorCode, FrameHeader};
use crate::http::Exchange;
pub use crate::tcp::EndReason;
pub use crate::tls::session::{RecordSeen, TlsInfo};
pub use crate::ws::close::CloseInfo;
pub use crate::ws::record::{DirStats, Frame, InflateFailure, Message, Payload};

#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Connection(ConnectionInfo),
    Handshake(Box<Handshake>),
    Frame(Frame),
    Message(Message),
    Gap(Gap),
    /// A TLS record read (only when asked for: the teaching view).
    TlsRecord(TlsRecord),
    /// An HTTP/2 frame read (only when asked for: the teaching view).
    Http2Frame(Http2Frame),
    /// An HTTP/2 request that is not a WebSocket, on a connection that carries one.
    Http2Request(Http2Request),
    /// A WebSocket session carried by an HTTP/2 stream ended.
    StreamEnd(StreamEnd),
    ConnectionEnd(ConnectionEnd),
    Diagnostic(Diagnostic),
    CaptureEnd(CaptureSummary),
}

impl Event {
    /// Done with the event: its payload buffer goes back for the next frame or message
    /// ([`recycle`]), leaving the payload empty.
    #[inline]
    pub fn recycle(&mut self) {
        let payload = match self {
            Event::Frame(f) => &mut f.payload.bytes,
            Event::Message(m) => &mut m.payload.bytes,
            _ => return,
        };
        recycle::give_back(std::mem::take(payload));
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionInfo {
    pub conn: ConnId,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub first_packet: PacketRef,
    /// True when the WebSocket was recognised without seeing its handshake.
    pub inferred: bool,
    /// The connection is TLS (wss): what its handshake said, and whether it was decrypted.
    pub tls: Option<TlsInfo>,
    /// The connection is HTTP/2 (its WebSockets are streams, RFC 8441): how it got there.
    pub http2: Option<H2Start>,
}

/// How a connection came to speak HTTP/2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum H2Start {
    /// The client began with the connection preface (RFC 9113 §3.3).
    PriorKnowledge,
    /// An HTTP/1.1 `Upgrade: h2c` answered by 101 (RFC 7540 §3.2).
    Upgrade,
    /// TLS, with `h2` chosen by ALPN (RFC 9113 §3.2).
    Alpn,
    /// The start was not captured: recognised from its frames.
    Inferred,
}

impl H2Start {
    pub fn as_str(self) -> &'static str {
        match self {
            H2Start::PriorKnowledge => "prior-knowledge",
            H2Start::Upgrade => "upgrade",
            H2Start::Alpn => "alpn",
            H2Start::Inferred => "inferred",
        }
    }
}

impl CaptureSummary {
    /// Count a connection shown: a TLS connection that could not be decrypted is not known to
    /// be WebSocket.
    pub fn count_connection(&mut self, c: &ConnectionInfo) {
        match &c.tls {
            None => self.websocket_connections += 1,
            Some(t) if t.decrypted => {
                self.websocket_connections += 1;
                self.tls_connections += 1;
                self.tls_decrypted += 1;
            }
            Some(_) => self.tls_connections += 1,
        }
    }
}

/// An opening handshake, and the session it opened (or was refused).
#[derive(Clone, Debug, PartialEq)]
pub struct Handshake {
    pub conn: ConnId,
    /// The HTTP/2 stream of an extended CONNECT (RFC 8441); None for an HTTP/1.1 upgrade.
    pub stream: Option<StreamId>,
    pub exchange: Exchange,
}

/// A handshake event reads as its exchange (`h.target`, `h.status`…): the event only adds
/// which connection and stream carried it.
impl Deref for Handshake {
    type Target = Exchange;
    fn deref(&self) -> &Exchange {
        &self.exchange
    }
}

/// A TLS record of a connection, for the teaching view: where TLS ends and WebSocket begins.
#[derive(Clone, Debug, PartialEq)]
pub struct TlsRecord {
    pub conn: ConnId,
    pub dir: Direction,
    pub packet: PacketRef,
    pub seen: RecordSeen,
}

/// An HTTP/2 frame of a connection, for the teaching view: how WebSocket frames nest in it.
#[derive(Clone, Debug, PartialEq)]
pub struct Http2Frame {
    pub conn: ConnId,
    pub dir: Direction,
    pub packet: PacketRef,
    pub header: FrameHeader,
    /// What the payload says, in a few words (settings, error codes, window increments).
    pub detail: String,
}

/// An ordinary request on an HTTP/2 connection that carries WebSockets: one line each.
#[derive(Clone, Debug, PartialEq)]
pub struct Http2Request {
    pub conn: ConnId,
    pub stream: StreamId,
    pub packet: PacketRef,
    pub method: String,
    pub path: String,
    /// None when the stream ended (or the capture did) before a response.
    pub status: Option<u16>,
    /// The HTTP/1.1 request whose `Upgrade: h2c` made the connection HTTP/2 (stream 1).
    pub upgraded: bool,
}

/// Why a WebSocket stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamEndReason {
    /// Both sides sent END_STREAM.
    EndStream,
    /// RST_STREAM from one side.
    Reset { by: Direction, code: ErrorCode },
    /// A GOAWAY from one side: above its last stream id, or the connection closed after it.
    GoAway { by: Direction, code: ErrorCode },
    /// The TCP connection ended with the stream still open.
    Connection(EndReason),
}

impl StreamEndReason {
    pub fn describe(&self) -> String {
        match self {
            StreamEndReason::EndStream => "END_STREAM both ways".to_string(),
            StreamEndReason::Reset { by, code } => {
                format!("RST_STREAM {code} from the {}", by.sender())
            }
            StreamEndReason::GoAway { by, code } => {
                format!("GOAWAY {code} from the {}", by.sender())
            }
            StreamEndReason::Connection(r) => format!("connection ended ({})", r.as_str()),
        }
    }
}

/// A WebSocket session on an HTTP/2 stream ended: what it did.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamEnd {
    pub conn: ConnId,
    pub stream: StreamId,
    pub reason: StreamEndReason,
    pub packet: PacketRef,
    pub stats: [DirStats; 2],
    pub close: [Option<CloseInfo>; 2],
}

#[derive(Clone, Debug, PartialEq)]
pub struct Gap {
    pub conn: ConnId,
    pub dir: Direction,
    pub stream_offset: u64,
    pub len: u64,
    pub packet: PacketRef,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionEnd {
    pub conn: ConnId,
    pub reason: EndReason,
    pub packet: PacketRef,
    pub stats: [DirStats; 2],
    pub close: [Option<CloseInfo>; 2],
    pub diagnostics: u64,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct CaptureSummary {
    pub packets: u64,
    pub bytes: u64,
    pub tcp_connections: u64,
    pub websocket_connections: u64,
    /// Connections shown that are TLS (wss, and connections that could not be decrypted), and
    /// of those, the decrypted ones.
    pub tls_connections: u64,
    pub tls_decrypted: u64,
    /// Packets not decoded, by reason, in order of first occurrence.
    pub skipped: Vec<(crate::net::SkipReason, u64)>,
    /// Packets the capture's snapshot length cut short (fewer bytes captured than were on the
    /// wire), and the first of them.
    pub cut_short: u64,
    pub first_cut_short: Option<PacketRef>,
}
