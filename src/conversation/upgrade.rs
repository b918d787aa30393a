//! The HTTP/1.1 upgrade (RFC 6455 §4): the request, then the response that accepts or refuses
//! it. An accepted upgrade hands the connection to a WebSocket session, with the bytes that
//! came after each head.

use crate::base::rules;
use crate::base::{Direction, PacketRef};
use crate::event::{Event, Handshake};
use crate::http::{self, Exchange, Head, Request};
use crate::tcp::EndReason;
use crate::ws::deflate::DeflateParams;
use crate::ws::session::{Session, Summary};

use super::h2::{self, H2Layer, Preface};
use super::probe::Probe;
use super::tls::TlsLayer;
use super::{Chunk, Cx, Hole, Layer, Phase, Side};
use crate::tls::session::looks_like_client_hello;

/// Client bytes that arrive after the upgrade request but before the 101 are held this far.
const MAX_EARLY_CLIENT_BYTES: usize = 1 << 20;

/// Waiting for the upgrade request.
#[derive(Debug, Default)]
pub struct AwaitRequest {
    /// Each side's bytes so far: the request head being built, or (from the server) bytes
    /// captured before the request was complete, such as a 101 between two request segments.
    heads: [Vec<u8>; 2],
    /// The packet of each side's first bytes.
    first_packets: [Option<PacketRef>; 2],
}

/// The upgrade request is in; waiting for the answer.
#[derive(Debug)]
pub struct AwaitResponse {
    request: Request,
    request_packet: PacketRef,
    /// Stream offset where the request head ended (the client's first WebSocket byte).
    client_ws_start: u64,
    /// Client bytes after the request head, with their packets, held until the 101 arrives.
    early_client: Vec<(PacketRef, Vec<u8>)>,
    early_client_len: usize,
    /// Client bytes beyond `MAX_EARLY_CLIENT_BYTES`: a gap once the 101 is in. Once the cap is
    /// hit nothing more is held, so nothing is glued across a hole.
    early_client_dropped: u64,
    /// The response head being built.
    head: Vec<u8>,
    to: Upgrade,
}

/// What the request asks to upgrade to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Upgrade {
    WebSocket,
    /// Cleartext HTTP/2 (RFC 7540 §3.2), whose streams may carry WebSockets (RFC 8441).
    H2c,
}

/// A hole before the handshake is complete: the handshake cannot be read.
fn handshake_hole(cx: &mut Cx<'_>, side: Side, hole: Hole) -> Phase {
    if cx.shared.announced {
        let dir = cx.dir_of(side);
        let msg = format!(
            "{} bytes of the handshake missing from the capture",
            hole.len
        );
        cx.diag(Some(dir), hole.packet, &rules::STREAM_GAP, msg);
    }
    Phase::Done
}

impl Layer for AwaitRequest {
    fn data(mut self: Box<Self>, cx: &mut Cx<'_>, side: Side, chunk: Chunk<'_>) -> Phase {
        if cx.shared.client_side.is_some_and(|c| c != side) {
            self.first_packets[side].get_or_insert(chunk.packet);
            let buf = &mut self.heads[side];
            if buf.len() + chunk.bytes.len() <= http::MAX_HEAD_LEN {
                buf.extend_from_slice(chunk.bytes);
            }
            return Phase::AwaitRequest(self);
        }
        let buf = &mut self.heads[side];
        if buf.is_empty() && chunk.offset == 0 && looks_like_client_hello(chunk.bytes) {
            return TlsLayer::start().data(cx, side, chunk);
        }
        // The preface may come in pieces (a segment of a few bytes): wait for all of it.
        match h2::preface(buf, chunk.bytes) {
            Preface::SoFar if chunk.offset == buf.len() as u64 => {
                buf.extend_from_slice(chunk.bytes);
                return Phase::AwaitRequest(self);
            }
            Preface::Whole if chunk.offset == buf.len() as u64 => {
                let mut start = std::mem::take(buf);
                start.extend_from_slice(chunk.bytes);
                let whole = Chunk {
                    offset: 0,
                    bytes: &start,
                    packet: chunk.packet,
                };
                return self.http2_preface(cx, side, whole);
            }
            _ => {}
        }
        if buf.is_empty() && (chunk.offset != 0 || !http::looks_like_request_start(chunk.bytes)) {
            if cx.meta.client_side.is_some() && cx.forced_server().is_none() {
                // The connection's start was seen and it is not an HTTP upgrade: not WebSocket.
                return Phase::Done;
            }
            if cx.forced_server().is_none() && h2::looks_like_frames(chunk.bytes) {
                return H2Layer::joined().data(cx, side, chunk);
            }
            return Probe::start(cx, side, chunk.offset).data(cx, side, chunk);
        }
        buf.extend_from_slice(chunk.bytes);
        match http::parse_request(buf) {
            Head::Incomplete => Phase::AwaitRequest(self),
            Head::Invalid(why) => {
                // Worth a word only when it was meant as an upgrade.
                if mentions_websocket(buf) {
                    cx.shared.client_side = Some(side);
                    cx.announce(false);
                    let dir = Some(Direction::ClientToServer);
                    let msg = format!("request: {why}");
                    cx.diag(dir, chunk.packet, &rules::HANDSHAKE_MALFORMED, msg);
                }
                Phase::Done
            }
            Head::Complete(req, used) if http::is_h2c_upgrade(&req) => {
                self.requested(cx, side, req, used, chunk.packet, Upgrade::H2c)
            }
            Head::Complete(req, _) if !http::is_upgrade_request(&req) => Phase::Done,
            Head::Complete(request, used) => {
                self.requested(cx, side, request, used, chunk.packet, Upgrade::WebSocket)
            }
        }
    }

    fn gap(self: Box<Self>, cx: &mut Cx<'_>, side: Side, hole: Hole) -> Phase {
        handshake_hole(cx, side, hole)
    }

    fn end(self: Box<Self>, _: &mut Cx<'_>, _: PacketRef, _: EndReason) -> Summary {
        Summary::default()
    }
}

impl AwaitRequest {
    /// `side` began with the HTTP/2 preface. A server speaks first in HTTP/2 (its SETTINGS
    /// need not wait for the preface): what it sent already goes in first.
    fn http2_preface(mut self, cx: &mut Cx<'_>, side: Side, chunk: Chunk<'_>) -> Phase {
        let mut phase = Phase::Http2(H2Layer::preface(cx, side));
        let server = 1 - side;
        let early = std::mem::take(&mut self.heads[server]);
        if !early.is_empty() {
            let first = Chunk {
                offset: 0,
                bytes: &early,
                packet: self.first_packets[server].unwrap_or(chunk.packet),
            };
            phase.advance(|p| p.data(cx, server, first));
        }
        phase.advance(|p| p.data(cx, side, chunk));
        phase
    }
}

fn mentions_websocket(head: &[u8]) -> bool {
    let head = &head[..head.len().min(http::MAX_HEAD_LEN)];
    head.windows(9)
        .any(|w| w.eq_ignore_ascii_case(b"websocket"))
}

impl AwaitRequest {
    /// `side` sent an upgrade request whose head is `used` bytes long.
    fn requested(
        mut self,
        cx: &mut Cx<'_>,
        side: Side,
        request: Request,
        used: usize,
        packet: PacketRef,
        to: Upgrade,
    ) -> Phase {
        cx.shared.client_side = Some(side);
        let head = std::mem::take(&mut self.heads[side]);
        let early = head[used..].to_vec();
        let waiting = Box::new(AwaitResponse {
            request,
            request_packet: packet,
            client_ws_start: used as u64,
            early_client_len: early.len(),
            early_client: vec![(packet, early)],
            early_client_dropped: 0,
            head: Vec::new(),
            to,
        });
        // An h2c connection is shown only if it carries a WebSocket stream.
        if to == Upgrade::WebSocket {
            cx.announce(false);
        }
        // The response may already be waiting.
        let server = 1 - side;
        let pending = std::mem::take(&mut self.heads[server]);
        if pending.is_empty() {
            return Phase::AwaitResponse(waiting);
        }
        let chunk = Chunk {
            offset: 0,
            bytes: &pending,
            packet,
        };
        waiting.data(cx, server, chunk)
    }
}

impl Layer for AwaitResponse {
    fn data(mut self: Box<Self>, cx: &mut Cx<'_>, side: Side, chunk: Chunk<'_>) -> Phase {
        if Some(side) == cx.shared.client_side {
            self.hold_client_bytes(chunk);
            return Phase::AwaitResponse(self);
        }
        self.head.extend_from_slice(chunk.bytes);
        match http::parse_response(&self.head) {
            Head::Incomplete => Phase::AwaitResponse(self),
            Head::Invalid(why) => {
                let dir = Some(Direction::ServerToClient);
                let msg = format!("response: {why}");
                cx.diag(dir, chunk.packet, &rules::HANDSHAKE_MALFORMED, msg);
                Phase::Done
            }
            Head::Complete(resp, used) if self.to == Upgrade::H2c => {
                (*self).h2c_answered(cx, resp.status, used, chunk.packet)
            }
            Head::Complete(resp, used) => {
                let exchange =
                    Exchange::from_heads(&self.request, self.request_packet, &resp, chunk.packet);
                (*self).answered(cx, exchange, used, chunk.packet)
            }
        }
    }

    fn gap(self: Box<Self>, cx: &mut Cx<'_>, side: Side, hole: Hole) -> Phase {
        handshake_hole(cx, side, hole)
    }

    fn end(self: Box<Self>, _: &mut Cx<'_>, _: PacketRef, _: EndReason) -> Summary {
        Summary::default()
    }
}

impl AwaitResponse {
    /// The answer to `Upgrade: h2c`: a 101 makes the connection HTTP/2, with every byte held
    /// since the request (the client's preface) and after the response head.
    fn h2c_answered(self, cx: &mut Cx<'_>, status: u16, used: usize, packet: PacketRef) -> Phase {
        let Some(client) = cx.shared.client_side.filter(|_| status == 101) else {
            return Phase::Done;
        };
        let mut phase = Phase::Http2(H2Layer::upgraded(
            cx,
            client,
            &self.request,
            self.request_packet,
        ));
        let mut offset = self.client_ws_start;
        for (at, bytes) in &self.early_client {
            let chunk = Chunk {
                offset,
                bytes,
                packet: *at,
            };
            offset += bytes.len() as u64;
            phase.advance(|p| p.data(cx, client, chunk));
        }
        if self.early_client_dropped > 0 {
            let hole = Hole {
                offset,
                len: self.early_client_dropped,
                packet,
            };
            phase.advance(|p| p.gap(cx, client, hole));
        }
        let rest = &self.head[used..];
        if !rest.is_empty() {
            let chunk = Chunk {
                offset: used as u64,
                bytes: rest,
                packet,
            };
            phase.advance(|p| p.data(cx, 1 - client, chunk));
        }
        phase
    }

    fn hold_client_bytes(&mut self, chunk: Chunk<'_>) {
        let len = chunk.bytes.len();
        if self.early_client_dropped == 0 && self.early_client_len + len <= MAX_EARLY_CLIENT_BYTES {
            self.early_client_len += len;
            self.early_client.push((chunk.packet, chunk.bytes.to_vec()));
        } else {
            self.early_client_dropped += len as u64;
        }
    }

    /// The response head (`used` bytes) is in: report the handshake and, if it was accepted,
    /// open the session and give it every byte that followed the heads.
    fn answered(
        self,
        cx: &mut Cx<'_>,
        exchange: Exchange,
        used: usize,
        packet: PacketRef,
    ) -> Phase {
        let violations = exchange.violations();
        let accepted = exchange.accepted();
        let deflate = exchange
            .extensions
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case("permessage-deflate"))
            .map(DeflateParams::from_extension);
        cx.out.push(Event::Handshake(Box::new(Handshake {
            conn: cx.meta.id,
            stream: None,
            exchange,
        })));
        for v in violations {
            let (dir, at) = if v.in_request {
                (Direction::ClientToServer, self.request_packet)
            } else {
                (Direction::ServerToClient, packet)
            };
            cx.diag(Some(dir), at, v.rule, v.message);
        }
        if !accepted {
            return Phase::Done;
        }
        // The server's head starts at offset 0 of its stream.
        let starts = [self.client_ws_start, used as u64];
        let mut session = Session::opened(cx.session_key(), cx.limits(), starts, deflate);
        let c2s = Direction::ClientToServer;
        for (at, bytes) in &self.early_client {
            session.feed(c2s, bytes, *at, cx);
        }
        if self.early_client_dropped > 0 {
            let hole = Hole {
                offset: self.client_ws_start + self.early_client_len as u64,
                len: self.early_client_dropped,
                packet,
            };
            cx.gap_event(c2s, hole);
            session.gap(c2s, hole.offset, hole.len, packet, cx);
        }
        let rest = &self.head[used..];
        if !rest.is_empty() {
            session.feed(Direction::ServerToClient, rest, packet, cx);
        }
        Phase::WebSocket(Box::new(session))
    }
}
