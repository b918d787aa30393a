//! The one interface of a connection's layers, and the context they share.
//!
//! A layer sees each side's bytes in stream order at their stream offset, the holes in them,
//! and the end. It reports what it finds through the [`Cx`] and answers with the phase the
//! connection is in afterwards: itself, usually, or the layer that takes over (the HTTP/1.1
//! upgrade hands over to a WebSocket session). See `docs/design.md` for how a layer that
//! transforms bytes (TLS) or fans them out (HTTP/2 streams) fits in.

use crate::base::rules::Rule;
use crate::base::{Diagnostic, Direction, PacketRef};
use crate::decode::{AppDecoder, Hint};
use crate::event::{ConnectionInfo, Event, Gap, H2Start};
use crate::tcp::{EndReason, FlowMeta};
use crate::tls::session::TlsInfo;
use crate::ws::record::{Frame, Message};
use crate::ws::session::{Limits, Report, Session, SessionKey, Summary};

use super::{DissectConfig, KeyStore, Phase};

/// Side of a connection, as the flow table numbers them (0: the endpoint seen first).
pub type Side = usize;

/// The next bytes of one side.
#[derive(Clone, Copy, Debug)]
pub struct Chunk<'a> {
    /// Offset of `bytes[0]` in this side's stream.
    pub offset: u64,
    pub bytes: &'a [u8],
    /// The packet that made these bytes deliverable.
    pub packet: PacketRef,
}

/// Bytes of one side missing from the capture.
#[derive(Clone, Copy, Debug)]
pub struct Hole {
    pub offset: u64,
    pub len: u64,
    pub packet: PacketRef,
}

/// A layer of a connection's stack.
pub trait Layer {
    /// The next in-order bytes of `side`.
    fn data(self: Box<Self>, cx: &mut Cx<'_>, side: Side, chunk: Chunk<'_>) -> Phase;
    /// Bytes of `side` are missing: the layer says what that costs.
    fn gap(self: Box<Self>, cx: &mut Cx<'_>, side: Side, hole: Hole) -> Phase;
    /// The connection ended at `packet`; what the session did, for the connection's summary.
    fn end(self: Box<Self>, cx: &mut Cx<'_>, packet: PacketRef, reason: EndReason) -> Summary;
}

/// What the connection knows whatever its phase.
#[derive(Debug, Default)]
pub struct Shared {
    /// The side that opened the connection or sent the upgrade request, once known.
    pub client_side: Option<Side>,
    /// The connection was reported as WebSocket (a `Connection` event went out).
    pub announced: bool,
    /// Diagnostics reported for this connection.
    pub diagnostics: u64,
    /// The connection is TLS: what its handshake said (boxed: most connections are not, and
    /// an idle one should cost little).
    pub tls: Option<Box<TlsInfo>>,
    /// The connection speaks HTTP/2: how it started.
    pub http2: Option<H2Start>,
    /// TCP diagnostics from before the connection was announced, shown once it is, or at its
    /// end if it never is and one of them is a conflicting copy (a decoy that may have hidden
    /// the session must still be seen).
    pub early_tcp: Vec<Diagnostic>,
    /// TCP diagnostics so far; past `MAX_TCP_DIAGNOSTICS` they are not shown.
    pub tcp_diagnostics: u32,
}

/// TCP diagnostics shown per connection: a flood of forged packets cannot flood the output.
pub const MAX_TCP_DIAGNOSTICS: u32 = 32;

/// What a layer works with: the configuration, the connection, and where events go.
pub struct Cx<'a> {
    pub cfg: &'a DissectConfig,
    pub keys: &'a KeyStore,
    pub meta: &'a FlowMeta,
    pub shared: &'a mut Shared,
    pub out: &'a mut Vec<Event>,
}

impl Cx<'_> {
    pub fn dir_of(&self, side: Side) -> Direction {
        match self.shared.client_side {
            Some(c) if c == side => Direction::ClientToServer,
            Some(_) => Direction::ServerToClient,
            None => Direction::from_index(side),
        }
    }

    /// The server side forced by `--ws-port`, if any.
    pub fn forced_server(&self) -> Option<Side> {
        (0..2).find(|&s| self.cfg.ws_ports.contains(&self.meta.endpoints[s].port()))
    }

    /// Give `session` its application decoder: the protocol `--decode` names for this
    /// connection's port, else the one the subprotocol or request target names, else one
    /// recognised from the first messages. None with `--decode none`.
    pub fn decode_messages(
        &self,
        session: &mut Session,
        subprotocol: Option<&str>,
        target: Option<&str>,
    ) {
        let choice = &self.cfg.decode;
        if !choice.enabled {
            return;
        }
        let on_port = |port: Option<u16>| {
            port.is_none_or(|p| self.meta.endpoints.iter().any(|e| e.port() == p))
        };
        let forced = choice.forced.iter().find(|(_, port)| on_port(*port));
        let hint = Hint {
            forced: forced.map(|(p, _)| *p),
            subprotocol,
            target,
        };
        session.decode_with(AppDecoder::new(&hint));
    }

    /// The session this connection carries (one per HTTP/1.1 connection).
    pub fn session_key(&self) -> SessionKey {
        SessionKey {
            conn: self.meta.id,
            stream: None,
        }
    }

    pub fn limits(&self) -> Limits {
        self.cfg.limits()
    }

    /// Report the connection as WebSocket, once.
    pub fn announce(&mut self, inferred: bool) {
        if self.shared.announced {
            return;
        }
        self.shared.announced = true;
        let c = self.shared.client_side.unwrap_or(0);
        self.out.push(Event::Connection(ConnectionInfo {
            conn: self.meta.id,
            client: self.meta.endpoints[c],
            server: self.meta.endpoints[1 - c],
            first_packet: self.meta.first_packet,
            inferred,
            tls: self.shared.tls.as_deref().cloned(),
            http2: self.shared.http2,
        }));
        self.flush_early_tcp();
    }

    /// A diagnostic about the TCP below this connection: shown now if the connection is, else
    /// kept until it is. Past `MAX_TCP_DIAGNOSTICS` one last says the rest are not shown.
    pub fn tcp_diag(
        &mut self,
        dir: Option<Direction>,
        packet: PacketRef,
        rule: &'static Rule,
        message: String,
    ) {
        self.shared.tcp_diagnostics += 1;
        let n = self.shared.tcp_diagnostics;
        let message = match n {
            _ if n < MAX_TCP_DIAGNOSTICS => message,
            MAX_TCP_DIAGNOSTICS => {
                format!("{message} (further TCP diagnostics on this connection are not shown)")
            }
            _ => return,
        };
        let d = Diagnostic {
            conn: self.meta.id,
            stream: None,
            dir,
            packet: Some(packet),
            rule,
            message,
        };
        if self.shared.announced {
            self.diagnostic(d);
        } else {
            self.shared.early_tcp.push(d);
        }
    }

    /// Show the TCP diagnostics kept back (at announcement, or at the end of a connection
    /// never announced).
    pub fn flush_early_tcp(&mut self) {
        for d in std::mem::take(&mut self.shared.early_tcp) {
            self.diagnostic(d);
        }
    }

    pub fn diag(
        &mut self,
        dir: Option<Direction>,
        packet: PacketRef,
        rule: &'static Rule,
        message: String,
    ) {
        self.diagnostic(Diagnostic {
            conn: self.meta.id,
            stream: None,
            dir,
            packet: Some(packet),
            rule,
            message,
        });
    }

    /// A hole in `dir`'s stream, shown once the connection is known to be WebSocket.
    pub fn gap_event(&mut self, dir: Direction, hole: Hole) {
        if self.shared.announced {
            self.out.push(Event::Gap(Gap {
                conn: self.meta.id,
                dir,
                stream_offset: hole.offset,
                len: hole.len,
                packet: hole.packet,
            }));
        }
    }
}

impl Report for Cx<'_> {
    fn frame(&mut self, frame: Frame) {
        self.out.push(Event::Frame(frame));
    }
    fn message(&mut self, message: Message) {
        self.out.push(Event::Message(message));
    }
    fn diagnostic(&mut self, diagnostic: Diagnostic) {
        self.shared.diagnostics += 1;
        self.out.push(Event::Diagnostic(diagnostic));
    }
}
