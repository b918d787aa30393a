//! HTTP/1.1 up to the upgrade (RFC 6455 §4, RFC 9112): the first bytes say what the connection
//! speaks; then requests and their answers are followed, as the endpoints did, until a 101
//! hands the connection to a WebSocket session (or to HTTP/2 after `Upgrade: h2c`).
//!
//! The passive observer's rule: a 101 that came back opens the session whatever the request
//! looked like (what it breaks is reported); any other answer leaves the connection in HTTP
//! (keep-alive, `100 Continue`, a 401 and a retry); and when the request or the 101 is missing
//! from the capture but frames follow, the session is inferred and what was missing is said.

use crate::base::rules::{self, Rule};
use crate::base::{Direction, PacketRef};
use crate::event::{Event, Handshake};
use crate::http::{self, BodySkip, Exchange, Head, Request, Response, Skipped};
use crate::tcp::EndReason;
use crate::ws::decoder::FrameDecoder;
use crate::ws::deflate::DeflateParams;
use crate::ws::resync::Expect;
use crate::ws::session::{Session, Summary, PLAUSIBLE_MAX_PAYLOAD};

use super::h2::{self, H2Layer, Preface};
use super::probe::Probe;
use super::tls::TlsLayer;
use super::{Chunk, Cx, Hole, Layer, Phase, Side};
use crate::tls::session::looks_like_client_hello;

/// Bytes of one side held while HTTP says what they are: the client's after a request that is
/// not answered yet, or the server's before the request they answer is known.
const MAX_HELD_BYTES: usize = 1 << 20;
/// Finished exchanges followed on one connection without an upgrade; a plain HTTP connection
/// is not followed for ever.
const MAX_EXCHANGES: u32 = 100;
/// Diagnostics about HTTP before the upgrade kept until the connection is shown.
const MAX_HELD_NOTES: usize = 16;

/// Waiting for the first bytes, which say what the connection speaks.
#[derive(Debug, Default)]
pub struct AwaitRequest {
    /// Each side's bytes so far: the request head being built, or (from the server) bytes
    /// captured before the request was complete, such as a 101 between two request segments.
    heads: [Vec<u8>; 2],
    /// The packet of each side's first bytes.
    first_packets: [Option<PacketRef>; 2],
    /// Where each packet's bytes start in `heads`, so bytes held are shown at their packet.
    marks: [Marks; 2],
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
            if buf.len() + chunk.bytes.len() <= MAX_HELD_BYTES {
                self.marks[side].add(buf.len() as u64, chunk.packet);
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
        if buf.is_empty() && (chunk.offset != 0 || !looks_like_http_start(chunk.bytes)) {
            return not_http1(cx, side, chunk);
        }
        cx.shared.client_side = Some(side);
        let client = Client::Reading {
            buf: std::mem::take(buf),
            start: 0,
            scanned: 0,
        };
        let server = 1 - side;
        let early = Server::holding(
            std::mem::take(&mut self.heads[server]),
            std::mem::take(&mut self.marks[server]),
        );
        Http1::start(early, client, chunk.packet).data(cx, side, chunk)
    }

    fn gap(mut self: Box<Self>, cx: &mut Cx<'_>, side: Side, hole: Hole) -> Phase {
        // The client's first bytes are missing: its request was lost. What the server
        // answered says what the connection became.
        if cx.shared.client_side == Some(side) && hole.offset == 0 && self.heads[side].is_empty() {
            let server = 1 - side;
            let marks = std::mem::take(&mut self.marks[server]);
            let early = Server::holding(std::mem::take(&mut self.heads[server]), marks);
            let lost = Client::Lost(hole, Held::after(hole));
            return Http1::start(early, lost, hole.packet).pump(cx);
        }
        handshake_hole(cx, side, hole)
    }

    fn end(self: Box<Self>, _: &mut Cx<'_>, _: PacketRef, _: EndReason) -> Summary {
        Summary::default()
    }
}

/// The first bytes of `side` are not an HTTP/1.1 request: what the connection is then.
fn not_http1(cx: &mut Cx<'_>, side: Side, chunk: Chunk<'_>) -> Phase {
    if cx.meta.client_side.is_some() && cx.forced_server().is_none() {
        // The connection's start was seen and it is not HTTP/1.1: not WebSocket.
        return Phase::Done;
    }
    if cx.forced_server().is_none() && h2::looks_like_frames(chunk.bytes) {
        return H2Layer::joined().data(cx, side, chunk);
    }
    Probe::start(cx, side, chunk.offset).data(cx, side, chunk)
}

/// The start of a request, perhaps after the empty lines some clients send before one.
fn looks_like_http_start(bytes: &[u8]) -> bool {
    let text = bytes
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .map_or(&[][..], |n| &bytes[n..]);
    http::looks_like_request_start(text)
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

/// Bytes of one side kept in stream order, from `start`, until it is known what they are.
/// Past [`MAX_HELD_BYTES`] nothing more is kept, only counted, so nothing is glued across
/// what was dropped.
#[derive(Debug, Default)]
struct Held {
    start: u64,
    chunks: Vec<(PacketRef, Vec<u8>)>,
    len: usize,
    dropped: u64,
}

impl Held {
    fn from(start: u64) -> Held {
        Held {
            start,
            ..Held::default()
        }
    }

    /// The bytes after a hole at the start of a stream.
    fn after(hole: Hole) -> Held {
        Held::from(hole.offset + hole.len)
    }

    fn push(&mut self, packet: PacketRef, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.dropped == 0 && self.len + bytes.len() <= MAX_HELD_BYTES {
            self.len += bytes.len();
            self.chunks.push((packet, bytes.to_vec()));
        } else {
            self.dropped += bytes.len() as u64;
        }
    }

    /// Give what is held to a session as `dir`'s bytes, the dropped part as a hole.
    fn feed(self, session: &mut Session, dir: Direction, packet: PacketRef, cx: &mut Cx<'_>) {
        for (at, bytes) in &self.chunks {
            session.feed(dir, bytes, *at, cx);
        }
        if self.dropped > 0 {
            let hole = Hole {
                offset: self.start + self.len as u64,
                len: self.dropped,
                packet,
            };
            cx.gap_event(dir, hole);
            session.gap(dir, hole.offset, hole.len, packet, cx);
        }
    }
}

/// What a request asks to upgrade to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Upgrade {
    WebSocket,
    /// Cleartext HTTP/2 (RFC 7540 §3.2), whose streams may carry WebSockets (RFC 8441).
    H2c,
    /// Nothing: a plain request (a 101 may still answer it).
    None,
}

/// A request waiting for its final answer.
#[derive(Debug)]
struct Asked {
    /// The request, or why it could not be read (its end was still found).
    request: Result<Request, String>,
    packet: PacketRef,
    to: Upgrade,
    /// The request's body, while it streams by.
    body: Option<BodySkip>,
    /// The client's bytes after the request (and its body): the next request, or frames once
    /// a 101 has come.
    held: Held,
}

impl Asked {
    fn method(&self) -> &str {
        self.request.as_ref().map_or("GET", |r| r.method.as_str())
    }

    fn describe(&self) -> String {
        match &self.request {
            Ok(r) => format!("{} {}", r.method, r.target),
            Err(_) => "an unreadable request".to_string(),
        }
    }
}

/// The client's side of the HTTP conversation.
#[derive(Debug)]
enum Client {
    /// Reading a request head that starts at stream offset `start`.
    Reading {
        buf: Vec<u8>,
        start: u64,
        /// Bytes of `buf` already searched for the blank line.
        scanned: usize,
    },
    Asked(Box<Asked>),
    /// The request is missing from the capture (the hole); the client's later bytes are held.
    Lost(Hole, Held),
}

impl Client {
    fn reading(start: u64) -> Client {
        Client::Reading {
            buf: Vec::new(),
            start,
            scanned: 0,
        }
    }
}

/// Where each packet's bytes start in a buffer of one side: (stream offset, packet). At most
/// [`MAX_MARKS`]; bytes of later packets are shown at the last one marked.
#[derive(Debug, Default)]
struct Marks(Vec<(u64, PacketRef)>);

/// Packets marked in a buffer; more come from a head sent in tiny segments only.
const MAX_MARKS: usize = 1024;

impl Marks {
    fn add(&mut self, offset: u64, packet: PacketRef) {
        if self.0.len() < MAX_MARKS {
            self.0.push((offset, packet));
        }
    }

    /// The packet that carried the byte at `offset`.
    fn packet_at(&self, offset: u64) -> PacketRef {
        let i = self.0.partition_point(|(o, _)| *o <= offset);
        self.0
            .get(i.saturating_sub(1))
            .map_or_else(PacketRef::default, |m| m.1)
    }

    /// Bytes before `offset` are gone: keep the mark that covers it and those after.
    fn forget_before(&mut self, offset: u64) {
        let i = self.0.partition_point(|(o, _)| *o <= offset);
        if i > 1 {
            self.0.drain(..i - 1);
        }
    }

    /// `bytes`, which start at stream offset `start`, cut at packet boundaries.
    fn pieces<'b>(&self, start: u64, bytes: &'b [u8]) -> Vec<(PacketRef, &'b [u8])> {
        let end = start + bytes.len() as u64;
        let mut out = Vec::new();
        for (i, (from, packet)) in self.0.iter().enumerate() {
            let to = self.0.get(i + 1).map_or(end, |(o, _)| (*o).min(end));
            let from = (*from).max(start);
            if from < to {
                let piece = &bytes[(from - start) as usize..(to - start) as usize];
                out.push((*packet, piece));
            }
        }
        out
    }
}

/// The server's side: bytes not yet read as HTTP, from stream offset `offset`.
#[derive(Debug)]
struct Server {
    buf: Vec<u8>,
    offset: u64,
    /// Bytes of `buf` already searched for the blank line.
    scanned: usize,
    marks: Marks,
    /// The body of the last final response, while it streams by.
    body: Option<BodySkip>,
}

impl Server {
    /// The server's bytes from the start of its stream.
    fn holding(buf: Vec<u8>, marks: Marks) -> Server {
        Server {
            buf,
            offset: 0,
            scanned: 0,
            marks,
            body: None,
        }
    }

    fn push(&mut self, packet: PacketRef, bytes: &[u8]) {
        self.marks.add(self.offset + self.buf.len() as u64, packet);
        self.buf.extend_from_slice(bytes);
    }

    /// The packet that completed a head `used` bytes long at the front of the buffer.
    fn head_packet(&self, used: usize) -> PacketRef {
        self.marks
            .packet_at(self.offset + used.saturating_sub(1) as u64)
    }

    /// Take `n` bytes off the front: they were read.
    fn consume(&mut self, n: usize) {
        self.buf.drain(..n);
        self.offset += n as u64;
        self.scanned = 0;
        self.marks.forget_before(self.offset);
    }

    /// Skip what is buffered of the body in progress. False when its framing is broken.
    fn skip_body(&mut self) -> bool {
        let Some(skip) = self.body.as_mut() else {
            return true;
        };
        match skip.skip(&self.buf) {
            Skipped::More => {
                let n = self.buf.len();
                self.consume(n);
                true
            }
            Skipped::Done(n) => {
                self.body = None;
                self.consume(n);
                true
            }
            Skipped::Invalid(_) => false,
        }
    }
}

/// A diagnostic kept until the connection is shown.
type Note = (Direction, PacketRef, &'static Rule, String);

/// HTTP/1.1 on a connection whose client spoke first, request by request, until a 101.
#[derive(Debug)]
pub struct Http1 {
    client: Client,
    server: Server,
    /// The packet of the client's latest bytes.
    client_packet: PacketRef,
    /// Final answers so far (bounded by [`MAX_EXCHANGES`]).
    exchanges: u32,
    /// Diagnostics about the HTTP before the upgrade, shown once the connection is.
    notes: Vec<Note>,
}

/// What reading the server's bytes led to.
enum Answer {
    /// Nothing more can be read yet.
    Wait,
    /// An interim or final answer was read: look again.
    Again,
    /// The connection changed phase.
    Over(Phase),
}

impl Layer for Http1 {
    fn data(mut self: Box<Self>, cx: &mut Cx<'_>, side: Side, chunk: Chunk<'_>) -> Phase {
        if cx.shared.client_side == Some(side) {
            self.client_packet = chunk.packet;
            match &mut self.client {
                Client::Reading { buf, .. } => buf.extend_from_slice(chunk.bytes),
                Client::Asked(asked) => asked.take(chunk),
                Client::Lost(_, held) => held.push(chunk.packet, chunk.bytes),
            }
        } else {
            let server = &mut self.server;
            if server.buf.len() + chunk.bytes.len() > MAX_HELD_BYTES {
                return Phase::Done;
            }
            server.push(chunk.packet, chunk.bytes);
        }
        self.pump(cx)
    }

    fn gap(mut self: Box<Self>, cx: &mut Cx<'_>, side: Side, hole: Hole) -> Phase {
        if cx.shared.client_side == Some(side) {
            return match &mut self.client {
                // Bytes after the request: a hole in what becomes the session's stream.
                Client::Asked(asked) if asked.body.is_none() => {
                    asked.held.dropped += hole.len;
                    Phase::Http1(self)
                }
                Client::Lost(_, held) => {
                    held.dropped += hole.len;
                    Phase::Http1(self)
                }
                _ => handshake_hole(cx, side, hole),
            };
        }
        let waiting = self.server.buf.is_empty() && self.server.body.is_none();
        match &self.client {
            Client::Asked(asked) if asked.to == Upgrade::WebSocket && waiting => {
                let Client::Asked(asked) = std::mem::replace(&mut self.client, Client::reading(0))
                else {
                    unreachable!()
                };
                self.response_lost(cx, *asked, hole)
            }
            _ => handshake_hole(cx, side, hole),
        }
    }

    fn end(mut self: Box<Self>, cx: &mut Cx<'_>, packet: PacketRef, reason: EndReason) -> Summary {
        // A head is read again only when its blank line may have come: one that never came
        // is read once more here, so what it breaks is said however its bytes were cut.
        match &mut self.client {
            Client::Reading { buf, .. } => {
                let buf = std::mem::take(buf);
                if let Head::Invalid(why) = http::parse_request(&buf) {
                    let packet = self.client_packet;
                    self.unreadable(cx, &buf, why, packet);
                }
            }
            Client::Asked(asked) if cx.shared.announced => {
                let s2c = Some(Direction::ServerToClient);
                let server = &self.server;
                if let Head::Invalid(why) = http::parse_response(&server.buf) {
                    let at = server.head_packet(server.buf.len());
                    let msg = format!("response: {why}");
                    cx.diag(s2c, at, &rules::HANDSHAKE_MALFORMED, msg);
                } else if asked.to == Upgrade::WebSocket {
                    let msg = format!(
                        "the connection ended ({}) before any response to the upgrade request",
                        reason.as_str()
                    );
                    cx.diag(s2c, packet, &rules::HANDSHAKE_NO_RESPONSE, msg);
                }
            }
            _ => {}
        }
        Summary::default()
    }
}

impl Asked {
    /// The client's next bytes: the rest of the request body, then held.
    fn take(&mut self, chunk: Chunk<'_>) {
        let mut bytes = chunk.bytes;
        if let Some(skip) = self.body.as_mut() {
            match skip.skip(bytes) {
                Skipped::More => bytes = &[],
                Skipped::Done(n) => {
                    self.body = None;
                    self.held.start = chunk.offset + n as u64;
                    bytes = &bytes[n..];
                }
                // The body's end cannot be found: from the broken byte on, nothing is read.
                Skipped::Invalid(at) => {
                    self.body = None;
                    self.held.start = chunk.offset + at as u64;
                    self.held.dropped += (bytes.len() - at) as u64;
                    bytes = &[];
                }
            }
        }
        self.held.push(chunk.packet, bytes);
    }
}

impl Http1 {
    fn start(server: Server, client: Client, client_packet: PacketRef) -> Box<Http1> {
        Box::new(Http1 {
            client,
            server,
            client_packet,
            exchanges: 0,
            notes: Vec::new(),
        })
    }

    /// Read what both sides sent as far as it goes.
    fn pump(mut self: Box<Self>, cx: &mut Cx<'_>) -> Phase {
        loop {
            if let Some(phase) = self.read_request(cx) {
                return phase;
            }
            match self.read_answer(cx) {
                Answer::Wait => return Phase::Http1(self),
                Answer::Again => {}
                Answer::Over(phase) => return phase,
            }
        }
    }

    /// A diagnostic about the HTTP before the session: said now if the connection is shown,
    /// else kept until it is.
    fn note(&mut self, cx: &mut Cx<'_>, note: Note) {
        let (dir, packet, rule, msg) = note;
        if cx.shared.announced {
            cx.diag(Some(dir), packet, rule, msg);
        } else if self.notes.len() < MAX_HELD_NOTES {
            self.notes.push((dir, packet, rule, msg));
        }
    }

    /// Show the connection as WebSocket, with what was noted before.
    fn show(&mut self, cx: &mut Cx<'_>, inferred: bool) {
        cx.announce(inferred);
        for (dir, packet, rule, msg) in std::mem::take(&mut self.notes) {
            cx.diag(Some(dir), packet, rule, msg);
        }
    }

    /// If the client's head is complete, it becomes the request waiting for an answer.
    fn read_request(&mut self, cx: &mut Cx<'_>) -> Option<Phase> {
        let Client::Reading {
            buf,
            start,
            scanned,
        } = &mut self.client
        else {
            return None;
        };
        // The first bytes looked like a method, but the next ones say otherwise: decide as if
        // they had come at once.
        if *start == 0 && self.exchanges == 0 && !looks_like_http_start(buf) {
            let bytes = std::mem::take(buf);
            let side = cx.shared.client_side.unwrap_or(0);
            let chunk = Chunk {
                offset: 0,
                bytes: &bytes,
                packet: self.client_packet,
            };
            return Some(not_http1(cx, side, chunk));
        }
        // Bytes already searched are not searched again: a head sent a byte at a time stays
        // linear.
        let from = std::mem::replace(scanned, buf.len());
        let may_be_whole =
            from == 0 || http::blank_line_in(buf, from) || buf.len() >= http::MAX_HEAD_LEN;
        if buf.is_empty() || !may_be_whole {
            return None;
        }
        let (buf, start) = (std::mem::take(buf), *start);
        let packet = self.client_packet;
        let (request, used) = match http::parse_request(&buf) {
            Head::Incomplete => {
                self.client = Client::Reading {
                    scanned: buf.len(),
                    buf,
                    start,
                };
                return None;
            }
            Head::Complete(req, used) => (Ok(req), used),
            Head::Invalid(why) => match head_end(&buf) {
                // Unreadable, but its end is clear: a 101 may still open the session.
                Some(used) => (Err(why), used),
                // Its end may still come (then it is taken as above): what is said about it
                // must not depend on where the segments were cut.
                None if buf.len() < http::MAX_HEAD_LEN => {
                    self.client = Client::Reading {
                        scanned: buf.len(),
                        buf,
                        start,
                    };
                    return None;
                }
                None => return Some(self.unreadable(cx, &buf, why, packet)),
            },
        };
        let to = match &request {
            Ok(r) if http::is_h2c_upgrade(r) => Upgrade::H2c,
            Ok(r) if http::is_upgrade_request(r) => Upgrade::WebSocket,
            Err(_) if mentions_websocket(&buf[..used]) => Upgrade::WebSocket,
            _ => Upgrade::None,
        };
        let body = request
            .as_ref()
            .ok()
            .and_then(|r| BodySkip::new(http::request_body(r)));
        let end = start + used as u64;
        let mut asked = Box::new(Asked {
            request,
            packet,
            to,
            body,
            held: Held::from(end),
        });
        let rest = Chunk {
            offset: end,
            bytes: &buf[used..],
            packet,
        };
        asked.take(rest);
        self.client = Client::Asked(asked);
        if to == Upgrade::WebSocket {
            self.show(cx, false);
            self.report_request(cx);
        }
        None
    }

    /// A request head that cannot be read, nor its end found: the connection is not followed.
    fn unreadable(&mut self, cx: &mut Cx<'_>, buf: &[u8], why: String, packet: PacketRef) -> Phase {
        // Worth a word only when it was meant as an upgrade.
        if mentions_websocket(buf) {
            self.show(cx, false);
            let dir = Some(Direction::ClientToServer);
            cx.diag(
                dir,
                packet,
                &rules::HANDSHAKE_MALFORMED,
                format!("request: {why}"),
            );
        }
        Phase::Done
    }

    /// What the request being answered broke that servers accept, or why it is unreadable.
    fn report_request(&mut self, cx: &mut Cx<'_>) {
        let Client::Asked(asked) = &self.client else {
            return;
        };
        let c2s = Direction::ClientToServer;
        let notes: Vec<Note> = match &asked.request {
            Ok(r) => r
                .leniencies
                .iter()
                .map(|l| (c2s, asked.packet, l.rule(), l.describe()))
                .collect(),
            Err(why) => vec![(
                c2s,
                asked.packet,
                &rules::HANDSHAKE_MALFORMED,
                format!("request: {why}"),
            )],
        };
        for n in notes {
            self.note(cx, n);
        }
    }

    /// Read the server's next answer, if the request it answers is known.
    fn read_answer(&mut self, cx: &mut Cx<'_>) -> Answer {
        if !self.server.skip_body() {
            return Answer::Over(Phase::Done);
        }
        let server = &mut self.server;
        let ready = matches!(self.client, Client::Asked(_) | Client::Lost(..));
        if !ready || server.body.is_some() || server.buf.is_empty() {
            return Answer::Wait;
        }
        let from = std::mem::replace(&mut server.scanned, server.buf.len());
        if from > 0 && !http::blank_line_in(&server.buf, from) {
            return Answer::Wait;
        }
        match http::parse_response(&server.buf) {
            Head::Incomplete => Answer::Wait,
            Head::Invalid(why) => {
                if cx.shared.announced {
                    let dir = Some(Direction::ServerToClient);
                    let msg = format!("response: {why}");
                    let packet = server.head_packet(server.buf.len());
                    cx.diag(dir, packet, &rules::HANDSHAKE_MALFORMED, msg);
                }
                Answer::Over(Phase::Done)
            }
            Head::Complete(resp, used) if resp.status == 101 => {
                let client = std::mem::replace(&mut self.client, Client::reading(0));
                Answer::Over(self.switched(cx, client, resp, used))
            }
            Head::Complete(resp, used) if resp.status < 200 => {
                let packet = server.head_packet(used);
                server.consume(used);
                let msg = format!("interim response {} {}", resp.status, resp.reason);
                self.note(
                    cx,
                    (
                        Direction::ServerToClient,
                        packet,
                        &rules::HTTP_EXCHANGE,
                        msg,
                    ),
                );
                Answer::Again
            }
            Head::Complete(resp, used) => self.answered(cx, resp, used),
        }
    }

    /// A final answer other than 101: the exchange is over and the connection stays HTTP.
    fn answered(&mut self, cx: &mut Cx<'_>, resp: Response, used: usize) -> Answer {
        let client = std::mem::replace(&mut self.client, Client::reading(0));
        let Client::Asked(asked) = client else {
            // The request is missing: what the server answered it with cannot be followed.
            return Answer::Over(Phase::Done);
        };
        let packet = self.server.head_packet(used);
        self.server.consume(used);
        match (&asked.request, asked.to) {
            (Ok(req), Upgrade::WebSocket) => {
                let exchange = Exchange::from_heads(req, asked.packet, &resp, packet);
                report_handshake(cx, exchange, asked.packet, packet);
            }
            _ => {
                let msg = format!(
                    "{} answered {} {} before the upgrade",
                    asked.describe(),
                    resp.status,
                    resp.reason
                );
                self.note(
                    cx,
                    (
                        Direction::ServerToClient,
                        packet,
                        &rules::HTTP_EXCHANGE,
                        msg,
                    ),
                );
            }
        }
        self.exchanges += 1;
        let body = http::response_body(asked.method(), &resp);
        let body_known = !matches!(body, http::BodyLen::UntilClose);
        let request_read = asked.body.is_none() && asked.held.dropped == 0 && asked.request.is_ok();
        if self.exchanges >= MAX_EXCHANGES || !body_known || !request_read {
            return Answer::Over(Phase::Done);
        }
        self.server.body = BodySkip::new(body);
        // The client's bytes after the request are its next request.
        let held = asked.held;
        let mut buf = Vec::with_capacity(held.len);
        for (_, bytes) in &held.chunks {
            buf.extend_from_slice(bytes);
        }
        self.client = Client::Reading {
            buf,
            start: held.start,
            scanned: 0,
        };
        Answer::Again
    }

    /// A 101: the connection switches protocols, whatever the request looked like.
    fn switched(&mut self, cx: &mut Cx<'_>, client: Client, resp: Response, used: usize) -> Phase {
        let at = self.server.offset + used as u64;
        let packet = self.server.head_packet(used);
        let rest = self.server.buf.split_off(used);
        let marks = std::mem::take(&mut self.server.marks);
        let opened = match client {
            Client::Asked(asked) if asked.to == Upgrade::H2c && asked.request.is_ok() => {
                let rest = marks.pieces(at, &rest);
                return h2c_switched(cx, *asked, at, &rest, packet);
            }
            Client::Asked(asked) => {
                if asked.to == Upgrade::None {
                    // Shown only now: the request did not ask for WebSocket.
                    self.client = Client::Asked(asked);
                    self.show(cx, false);
                    self.report_request(cx);
                    let Client::Asked(back) =
                        std::mem::replace(&mut self.client, Client::reading(0))
                    else {
                        unreachable!()
                    };
                    self.answered_101(cx, *back, &resp, at, packet)
                } else {
                    self.answered_101(cx, *asked, &resp, at, packet)
                }
            }
            Client::Lost(hole, held) => {
                self.show(cx, true);
                cx.gap_event(Direction::ClientToServer, hole);
                let msg = format!(
                    "the upgrade request is missing from the capture ({} bytes): the session is taken from the 101",
                    held.start
                );
                self.session_from_101(cx, &resp, (at, packet), msg, held, true)
            }
            Client::Reading { .. } => return Phase::Done,
        };
        let mut session = opened;
        for (packet, bytes) in marks.pieces(at, &rest) {
            session.feed(Direction::ServerToClient, bytes, packet, cx);
        }
        Phase::WebSocket(Box::new(session))
    }

    /// The 101 that answered `asked`: the handshake, and the session it opens.
    fn answered_101(
        &mut self,
        cx: &mut Cx<'_>,
        asked: Asked,
        resp: &Response,
        at: u64,
        packet: PacketRef,
    ) -> Session {
        let Asked {
            request,
            packet: request_packet,
            held,
            ..
        } = asked;
        let req = match request {
            Ok(req) => req,
            Err(_) => {
                let msg = "the server answered 101: the session is followed from there";
                return self.session_from_101(cx, resp, (at, packet), msg.to_string(), held, false);
            }
        };
        self.report_response(cx, resp, packet);
        let exchange = Exchange::from_heads(&req, request_packet, resp, packet);
        let subprotocol = exchange.subprotocol.clone();
        let target = exchange.target.clone();
        let deflate = report_handshake(cx, exchange, request_packet, packet);
        let starts = [held.start, at];
        let mut session = Session::opened(cx.session_key(), cx.limits(), starts, deflate);
        cx.decode_messages(&mut session, subprotocol.as_deref(), Some(&target));
        held.feed(&mut session, Direction::ClientToServer, packet, cx);
        session
    }

    /// What the response head broke that clients accept.
    fn report_response(&mut self, cx: &mut Cx<'_>, resp: &Response, packet: PacketRef) {
        for l in &resp.leniencies {
            let note = (Direction::ServerToClient, packet, l.rule(), l.describe());
            self.note(cx, note);
        }
    }

    /// A session known from its 101 alone (the request was lost, or could not be read): its
    /// parameters come from the 101; the client's framing is found by hunting when the end of
    /// its request is unknown.
    fn session_from_101(
        &mut self,
        cx: &mut Cx<'_>,
        resp: &Response,
        (at, packet): (u64, PacketRef),
        why: String,
        held: Held,
        hunt_client: bool,
    ) -> Session {
        let params = negotiated(resp);
        let rule = if hunt_client {
            &rules::HANDSHAKE_REQUEST_MISSING
        } else {
            &rules::HANDSHAKE_MALFORMED
        };
        let msg = format!("{why} ({params})");
        cx.diag(Some(Direction::ClientToServer), packet, rule, msg);
        self.report_response(cx, resp, packet);
        let deflate = deflate_of(&accepted_extensions(resp));
        let starts = [held.start, at];
        let mut session = Session::opened(cx.session_key(), cx.limits(), starts, deflate);
        let subprotocol = resp.headers.owned("Sec-WebSocket-Protocol");
        cx.decode_messages(&mut session, subprotocol.as_deref(), None);
        if hunt_client {
            session.hunt(Direction::ClientToServer);
        }
        held.feed(&mut session, Direction::ClientToServer, packet, cx);
        session
    }

    /// The upgrade request is in but its answer is missing from the capture (`hole`), and the
    /// server's bytes go on: the session is taken as open, the server's frames found by hunting.
    fn response_lost(&mut self, cx: &mut Cx<'_>, asked: Asked, hole: Hole) -> Phase {
        let msg = format!(
            "the answer to the upgrade request is missing from the capture ({} bytes); frames follow, so the session is taken as open with its extensions unknown",
            hole.len
        );
        let s2c = Some(Direction::ServerToClient);
        cx.diag(s2c, hole.packet, &rules::HANDSHAKE_RESPONSE_MISSING, msg);
        let keep = cx.cfg.frame_keep;
        let decoder = |start: u64, masked: bool| {
            let expect = Expect {
                masked: Some(masked),
                max_payload: PLAUSIBLE_MAX_PAYLOAD,
            };
            FrameDecoder::with_expect(start, keep, expect)
        };
        let client = decoder(asked.held.start, true);
        let mut server = decoder(hole.offset + hole.len, false);
        server.start_hunting();
        let mut session = Session::recognised(cx.session_key(), cx.limits(), [client, server]);
        let target = asked.request.as_ref().ok().map(|r| r.target.clone());
        cx.decode_messages(&mut session, None, target.as_deref());
        asked
            .held
            .feed(&mut session, Direction::ClientToServer, hole.packet, cx);
        Phase::WebSocket(Box::new(session))
    }
}

/// Where a head ends (after its blank line), for a head that could not be parsed.
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    crlf.into_iter().chain(lf).min()
}

/// The extensions a 101 accepted.
fn accepted_extensions(resp: &Response) -> Vec<http::Extension> {
    resp.headers
        .get("Sec-WebSocket-Extensions")
        .map(|v| http::parse_extensions(&v))
        .unwrap_or_default()
}

fn deflate_of(extensions: &[http::Extension]) -> Option<DeflateParams> {
    extensions
        .iter()
        .find(|e| e.name.eq_ignore_ascii_case("permessage-deflate"))
        .map(DeflateParams::from_extension)
}

/// What a 101 negotiated, in words.
fn negotiated(resp: &Response) -> String {
    let protocol = resp
        .headers
        .owned("Sec-WebSocket-Protocol")
        .map_or("no subprotocol".to_string(), |p| {
            format!("subprotocol {p:?}")
        });
    let extensions: Vec<String> = accepted_extensions(resp)
        .iter()
        .map(ToString::to_string)
        .collect();
    let extensions = if extensions.is_empty() {
        "no extension".to_string()
    } else {
        format!("extensions {}", extensions.join(", "))
    };
    format!("{protocol}, {extensions}")
}

/// Report a handshake and the rules it breaks; the deflate parameters it accepted, if any.
fn report_handshake(
    cx: &mut Cx<'_>,
    exchange: Exchange,
    request_packet: PacketRef,
    response_packet: PacketRef,
) -> Option<DeflateParams> {
    let violations = exchange.violations();
    let deflate = deflate_of(&exchange.extensions);
    cx.out.push(Event::Handshake(Box::new(Handshake {
        conn: cx.meta.id,
        stream: None,
        exchange,
    })));
    for v in violations {
        let (dir, at) = if v.in_request {
            (Direction::ClientToServer, request_packet)
        } else {
            (Direction::ServerToClient, response_packet)
        };
        cx.diag(Some(dir), at, v.rule, v.message);
    }
    deflate
}

/// The answer to `Upgrade: h2c` was 101: the connection is HTTP/2, with every byte held since
/// the request (the client's preface) and after the response head.
fn h2c_switched(
    cx: &mut Cx<'_>,
    asked: Asked,
    at: u64,
    rest: &[(PacketRef, &[u8])],
    packet: PacketRef,
) -> Phase {
    let (Some(client), Ok(request)) = (cx.shared.client_side, &asked.request) else {
        return Phase::Done;
    };
    let mut phase = Phase::Http2(H2Layer::upgraded(cx, client, request, asked.packet));
    let held = asked.held;
    let mut offset = held.start;
    for (at, bytes) in &held.chunks {
        let chunk = Chunk {
            offset,
            bytes,
            packet: *at,
        };
        offset += bytes.len() as u64;
        phase.advance(|p| p.data(cx, client, chunk));
    }
    if held.dropped > 0 {
        let hole = Hole {
            offset,
            len: held.dropped,
            packet,
        };
        phase.advance(|p| p.gap(cx, client, hole));
    }
    let mut offset = at;
    for &(packet, bytes) in rest {
        let chunk = Chunk {
            offset,
            bytes,
            packet,
        };
        offset += bytes.len() as u64;
        phase.advance(|p| p.data(cx, 1 - client, chunk));
    }
    phase
}
