//! The events every sink renders: the one type between the conversation and the outputs, so
//! text, JSON, tables and tests cannot disagree.

use std::net::SocketAddr;

use std::ops::Deref;

use crate::base::{ConnId, Diagnostic, Direction, PacketRef, StreamId};
use crate::http::Exchange;
pub use crate::tcp::EndReason;
pub use crate::tls::session::{RecordSeen, TlsInfo};
pub use crate::ws::close::CloseInfo;
pub use crate::ws::record::{DirStats, Frame, InflateFailure, Message, Payload};

#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Connection(ConnectionInfo),
    Handshake(Box<Handshake>),
    Frame(Box<Frame>),
    Message(Message),
    Gap(Gap),
    /// A TLS record read (only when asked for: the teaching view).
    TlsRecord(TlsRecord),
    ConnectionEnd(ConnectionEnd),
    Diagnostic(Diagnostic),
    CaptureEnd(CaptureSummary),
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
}
