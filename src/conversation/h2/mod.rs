//! WebSocket over HTTP/2 (RFC 8441): one connection, many sessions. The layer reads each
//! side's frames (`h2::reader`) and field blocks (`h2::hpack`), keeps the streams in order of
//! their ids, and makes every extended CONNECT with `:protocol = websocket` that a 2xx answers a
//! WebSocket session of its own, fed with its stream's DATA. Ordinary requests get one line.
//! See docs/design.md, "Adding a layer".

mod frames;
mod infer;
mod stream;

use std::collections::{BTreeMap, VecDeque};

use crate::base::rules::Rule;
use crate::base::{Diagnostic, Direction, PacketRef, StreamId};
use crate::event::{DirStats, ErrorCode, Event, H2Start};
use crate::h2::frame::{Setting, PREFACE};
use crate::h2::hpack::FieldDecoder;
use crate::h2::reader::FrameReader;
use crate::http::Request;
use crate::tcp::EndReason;
use crate::ws::session::Summary;

use super::{Chunk, Cx, Hole, Layer, Phase, Side};
use frames::Frames;
use stream::{H2Stream, Kind, OtherRequest};

/// Events held until the connection is shown (it is shown at its first WebSocket request).
const MAX_EARLY_EVENTS: usize = 256;
/// Streams followed at once; more are left alone (memory bound).
const MAX_STREAMS: usize = 4096;
/// Ended streams remembered, to recognise DATA sent after their end.
const MAX_CLOSED: usize = 1024;

pub use crate::h2::reader::looks_like_frames;

/// How far a client's first bytes, `head` then `more`, match the HTTP/2 connection preface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preface {
    /// They differ from it: not HTTP/2 with prior knowledge.
    No,
    /// All of them match its start, but it is not complete yet.
    SoFar,
    /// It is all there.
    Whole,
}

pub fn preface(head: &[u8], more: &[u8]) -> Preface {
    let seen = head.iter().chain(more).take(PREFACE.len());
    if !seen.zip(PREFACE.iter()).all(|(a, b)| a == b) {
        return Preface::No;
    }
    match head.len() + more.len() >= PREFACE.len() {
        true => Preface::Whole,
        false if head.len() + more.len() > 0 => Preface::SoFar,
        false => Preface::No,
    }
}

#[derive(Debug)]
pub struct H2Layer {
    /// Indexed by side.
    sides: [SideIn; 2],
    streams: BTreeMap<u32, H2Stream>,
    conn: ConnState,
}

/// What one side's bytes need: its frames, and the decoder of the field blocks it sends.
#[derive(Debug)]
struct SideIn {
    reader: FrameReader,
    fields: FieldDecoder,
    /// A field block waiting for its CONTINUATION frames.
    block: Option<Block>,
}

#[derive(Debug)]
struct Block {
    stream: u32,
    end_stream: bool,
    /// A PUSH_PROMISE's block: the stream it promises.
    promised: Option<u32>,
    bytes: Vec<u8>,
}

/// What the connection knows beyond its streams.
#[derive(Debug)]
struct ConnState {
    start: H2Start,
    /// The server sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1.
    connect_enabled: bool,
    /// The last GOAWAY: who sent it, with which code.
    goaway: Option<(Direction, ErrorCode)>,
    /// Events from before the connection was shown.
    early: Vec<Event>,
    /// Ended streams, oldest first.
    closed: VecDeque<u32>,
    /// What the ended WebSocket sessions did, for the connection's summary.
    totals: [DirStats; 2],
    /// Streams beyond [`MAX_STREAMS`] were left alone (reported once).
    overflow_reported: bool,
    /// Early client DATA its waiting streams may still hold, together.
    early_budget: usize,
    /// The highest stream id opened so far, by parity (odd: the client's, even: the server's).
    last_opened: [u32; 2],
}

impl H2Layer {
    fn new(start: H2Start, readers: [FrameReader; 2], fields: [FieldDecoder; 2]) -> Box<H2Layer> {
        let [r0, r1] = readers;
        let [f0, f1] = fields;
        let side = |reader, fields| SideIn {
            reader,
            fields,
            block: None,
        };
        Box::new(H2Layer {
            sides: [side(r0, f0), side(r1, f1)],
            streams: BTreeMap::new(),
            conn: ConnState {
                start,
                connect_enabled: false,
                goaway: None,
                early: Vec::new(),
                closed: VecDeque::new(),
                totals: Default::default(),
                overflow_reported: false,
                early_budget: stream::MAX_EARLY_DATA_PER_CONNECTION,
                last_opened: [0; 2],
            },
        })
    }

    /// A connection whose `client` side began with the preface: prior knowledge, or TLS with
    /// ALPN `h2`.
    pub fn preface(cx: &mut Cx<'_>, client: Side) -> Box<H2Layer> {
        cx.shared.client_side.get_or_insert(client);
        let alpn = cx.shared.tls.as_ref().and_then(|t| t.alpn.as_deref()) == Some("h2");
        let start = if alpn {
            H2Start::Alpn
        } else {
            H2Start::PriorKnowledge
        };
        let mut readers = [FrameReader::frames(), FrameReader::frames()];
        readers[client] = FrameReader::client();
        H2Layer::new(start, readers, Default::default())
    }

    /// A 101 answered `request`'s `Upgrade: h2c`: the request is stream 1 (RFC 7540 §3.2), the
    /// client's settings came in its HTTP2-Settings field, and the client sends the preface next.
    pub fn upgraded(
        cx: &mut Cx<'_>,
        client: Side,
        request: &Request,
        packet: PacketRef,
    ) -> Box<H2Layer> {
        let mut layer = H2Layer::preface(cx, client);
        layer.conn.start = H2Start::Upgrade;
        for s in http2_settings(request) {
            if s.id == Setting::HEADER_TABLE_SIZE {
                layer.sides[1 - client].fields.allow(s.value);
            }
        }
        let first = OtherRequest {
            method: request.method.clone(),
            path: request.target.clone(),
            packet,
            status: None,
            upgraded: true,
            reported: false,
        };
        let mut stream = H2Stream::new(Kind::Other(Box::new(first)));
        stream.ended[Direction::ClientToServer.index()] = true;
        layer.streams.insert(1, stream);
        layer
    }

    /// HTTP/2 frames seen where the connection's start was not captured.
    pub fn joined() -> Box<H2Layer> {
        let readers = [FrameReader::hunting(), FrameReader::hunting()];
        H2Layer::new(
            H2Start::Inferred,
            readers,
            [FieldDecoder::joined(), FieldDecoder::joined()],
        )
    }

    /// The reader of `side`, and what its items update.
    fn split<'a, 'b>(
        &'a mut self,
        cx: &'a mut Cx<'b>,
        side: Side,
        packet: PacketRef,
    ) -> (&'a mut FrameReader, Frames<'a, 'b>) {
        let H2Layer {
            sides,
            streams,
            conn,
        } = self;
        let [a, b] = sides;
        let (me, peer) = if side == 0 { (a, b) } else { (b, a) };
        let SideIn {
            reader,
            fields,
            block,
        } = me;
        let frames = Frames {
            fields,
            peer_fields: &mut peer.fields,
            peer_reader: &mut peer.reader,
            block,
            streams,
            out: Out {
                cx,
                conn,
                side,
                packet,
            },
        };
        (reader, frames)
    }
}

/// The client's SETTINGS from an `Upgrade: h2c` request's HTTP2-Settings field (base64url).
fn http2_settings(request: &Request) -> Vec<Setting> {
    use base64::Engine;
    let Some(value) = request.headers.get("HTTP2-Settings") else {
        return Vec::new();
    };
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let bytes = engine
        .decode(value.trim().trim_end_matches('='))
        .unwrap_or_default();
    crate::h2::frame::parse_settings(&bytes).unwrap_or_default()
}

impl Layer for H2Layer {
    fn data(mut self: Box<Self>, cx: &mut Cx<'_>, side: Side, chunk: Chunk<'_>) -> Phase {
        let (reader, mut frames) = self.split(cx, side, chunk.packet);
        reader.feed(chunk.bytes, &mut frames);
        Phase::Http2(self)
    }

    fn gap(mut self: Box<Self>, cx: &mut Cx<'_>, side: Side, hole: Hole) -> Phase {
        let (reader, mut frames) = self.split(cx, side, hole.packet);
        reader.gap(hole.len, &mut frames);
        Phase::Http2(self)
    }

    fn end(mut self: Box<Self>, cx: &mut Cx<'_>, packet: PacketRef, reason: EndReason) -> Summary {
        // Frames a hunt was still deciding on come out first.
        for side in 0..2 {
            let (reader, mut frames) = self.split(cx, side, packet);
            reader.end(&mut frames);
        }
        let (_, mut frames) = self.split(cx, 0, packet);
        frames.end_all(reason);
        Summary {
            stats: self.conn.totals,
            close: [None, None],
        }
    }
}

/// Where a side's findings go: the connection's events (held until it is shown).
struct Out<'a, 'b> {
    cx: &'a mut Cx<'b>,
    conn: &'a mut ConnState,
    side: Side,
    packet: PacketRef,
}

impl Out<'_, '_> {
    fn dir(&self) -> Direction {
        self.cx.dir_of(self.side)
    }

    /// An event, now if the connection is shown, else once it is.
    fn emit(&mut self, event: Event) {
        if self.cx.shared.announced {
            if matches!(event, Event::Diagnostic(_)) {
                self.cx.shared.diagnostics += 1;
            }
            self.cx.out.push(event);
        } else if self.conn.early.len() < MAX_EARLY_EVENTS {
            self.conn.early.push(event);
        }
    }

    fn diag(&mut self, stream: Option<u32>, rule: &'static Rule, message: String) {
        let dir = Some(self.dir());
        self.diag_at(stream, dir, self.packet, rule, message);
    }

    fn diag_at(
        &mut self,
        stream: Option<u32>,
        dir: Option<Direction>,
        packet: PacketRef,
        rule: &'static Rule,
        message: String,
    ) {
        self.emit(Event::Diagnostic(Diagnostic {
            conn: self.cx.meta.id,
            stream: stream.map(StreamId),
            dir,
            packet: Some(packet),
            rule,
            message,
        }));
    }

    /// Show the connection (it carries a WebSocket), then what happened on it so far.
    fn announce(&mut self, inferred: bool) {
        if self.cx.shared.announced {
            return;
        }
        self.cx.shared.http2 = Some(self.conn.start);
        self.cx
            .announce(inferred || self.conn.start == H2Start::Inferred);
        for event in std::mem::take(&mut self.conn.early) {
            self.emit(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::conversation::{dissect_streams, DissectConfig, Piece};
    use crate::event::{Event, StreamEndReason};
    use crate::h2::frame::PREFACE;

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = (payload.len() as u32).to_be_bytes();
        let mut f = vec![len[1], len[2], len[3], kind, flags];
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// A field block of literals without indexing (RFC 7541 §6.2.2), short strings only.
    fn block(fields: &[(&str, &str)]) -> Vec<u8> {
        let mut b = Vec::new();
        for (name, value) in fields {
            b.push(0);
            for s in [name, value] {
                b.push(s.len() as u8);
                b.extend_from_slice(s.as_bytes());
            }
        }
        b
    }

    fn connect(stream: u32) -> Vec<u8> {
        let fields = [
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "http"),
            (":path", "/chat"),
            (":authority", "example.test"),
            ("sec-websocket-version", "13"),
        ];
        frame(1, 0x4, stream, &block(&fields))
    }

    fn ok(stream: u32) -> Vec<u8> {
        frame(1, 0x4, stream, &block(&[(":status", "200")]))
    }

    /// A masked client text frame (key 0) and an unmasked server one.
    fn ws_text(masked: bool, text: &str) -> Vec<u8> {
        let mut f = vec![0x81, text.len() as u8 | if masked { 0x80 } else { 0 }];
        if masked {
            f.extend_from_slice(&[0; 4]);
        }
        f.extend_from_slice(text.as_bytes());
        f
    }

    fn client_start() -> Vec<u8> {
        let mut c = PREFACE.to_vec();
        c.extend(frame(4, 0, 0, &[]));
        c
    }

    fn server_settings() -> Vec<u8> {
        frame(4, 0, 0, &[0, 8, 0, 0, 0, 1])
    }

    fn messages(events: &[Event]) -> Vec<(u32, String, u64)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Message(m) => {
                    let text = String::from_utf8_lossy(&m.payload.bytes).into_owned();
                    Some((m.stream?.0, text, m.lost))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn padded_data_continuation_and_priority_are_read() {
        let mut client = client_start();
        // HEADERS with PRIORITY and padding, its block finished by a CONTINUATION.
        let whole = connect(1)[9..].to_vec();
        let (first, rest) = whole.split_at(10);
        let mut payload = vec![3, 0, 0, 0, 0, 16];
        payload.extend_from_slice(first);
        payload.extend_from_slice(&[0; 3]);
        client.extend(frame(1, 0x08 | 0x20, 1, &payload));
        client.extend(frame(9, 0x4, 1, rest));
        let mut data = vec![5];
        data.extend(ws_text(true, "hello"));
        data.extend_from_slice(&[0; 5]);
        let data = frame(0, 0x8, 1, &data);
        let (settings, answer) = (server_settings(), ok(1));
        let pieces = [
            (1, Piece::Bytes(&settings)),
            (0, Piece::Bytes(&client)),
            (1, Piece::Bytes(&answer)),
            (0, Piece::Bytes(&data)),
        ];
        let events = dissect_streams(pieces, DissectConfig::default());
        assert_eq!(
            messages(&events),
            [(1, "hello".to_string(), 0)],
            "{events:#?}"
        );
    }

    #[test]
    fn a_hole_inside_data_is_that_streams_alone() {
        let mut client = client_start();
        client.extend(connect(1));
        client.extend(connect(3));
        let settings = server_settings();
        let mut answers = ok(1);
        answers.extend(ok(3));
        let on_1 = frame(0, 0, 1, &ws_text(true, "lost in the middle"));
        let on_3 = frame(0, 0, 3, &ws_text(true, "whole"));
        let pieces = [
            (1, Piece::Bytes(&settings)),
            (0, Piece::Bytes(&client)),
            (1, Piece::Bytes(&answers)),
            (0, Piece::Bytes(&on_1[..20])),
            (0, Piece::Gap(4)),
            (0, Piece::Bytes(&on_1[24..])),
            (0, Piece::Bytes(&on_3)),
        ];
        let events = dissect_streams(pieces, DissectConfig::default());
        let got = messages(&events);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(
            (got[0].0, got[0].2),
            (1, 4),
            "stream 1 lost 4 bytes: {got:?}"
        );
        assert_eq!(got[1], (3, "whole".to_string(), 0));
    }

    #[test]
    fn streams_end_with_their_reason() {
        let mut client = client_start();
        client.extend(connect(1));
        client.extend(connect(3));
        let settings = server_settings();
        let mut answers = ok(1);
        answers.extend(ok(3));
        let mut last = frame(0, 0x1, 1, &ws_text(true, "bye"));
        last.extend(frame(3, 0, 3, &8u32.to_be_bytes()));
        let echo = frame(0, 0x1, 1, &ws_text(false, "bye"));
        let pieces = [
            (1, Piece::Bytes(&settings)),
            (0, Piece::Bytes(&client)),
            (1, Piece::Bytes(&answers)),
            (0, Piece::Bytes(&last)),
            (1, Piece::Bytes(&echo)),
        ];
        let events = dissect_streams(pieces, DissectConfig::default());
        let ends: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::StreamEnd(s) => Some((s.stream.0, s.reason)),
                _ => None,
            })
            .collect();
        assert_eq!(ends.len(), 2, "{ends:?}");
        assert!(ends.contains(&(1, StreamEndReason::EndStream)));
        assert!(
            matches!(ends.iter().find(|e| e.0 == 3), Some((3, StreamEndReason::Reset { code, .. })) if code.0 == 8)
        );
    }

    #[test]
    fn streams_beyond_the_limit_are_not_followed() {
        let n = super::MAX_STREAMS as u32 + 500;
        let mut client = client_start();
        let mut server = server_settings();
        for i in 0..n {
            client.extend(connect(2 * i + 1));
            server.extend(ok(2 * i + 1));
        }
        let pieces = [
            (1, Piece::Bytes(&server[..15])),
            (0, Piece::Bytes(&client)),
            (1, Piece::Bytes(&server[15..])),
        ];
        let events = dissect_streams(pieces, DissectConfig::default());
        let handshakes = events
            .iter()
            .filter(|e| matches!(e, Event::Handshake(_)))
            .count();
        assert_eq!(handshakes, super::MAX_STREAMS);
        let limited = events
            .iter()
            .filter(|e| matches!(e, Event::Diagnostic(d) if d.rule.name == "h2-streams-limit"))
            .count();
        assert_eq!(limited, 1);
    }

    #[test]
    fn ended_streams_free_their_place() {
        // More streams than are followed at once, each ended (and reset after its end, which
        // must not count twice) before the next opens: every one is followed.
        let n = super::MAX_STREAMS as u32 + 1500;
        let settings = server_settings();
        let mut pieces_owned: Vec<(usize, Vec<u8>)> = vec![(1, settings), (0, client_start())];
        for i in 0..n {
            let id = 2 * i + 1;
            pieces_owned.push((0, connect(id)));
            pieces_owned.push((1, ok(id)));
            pieces_owned.push((0, frame(0, 0x1, id, &ws_text(true, "x"))));
            let mut end = frame(0, 0x1, id, &ws_text(false, "x"));
            end.extend(frame(3, 0, id, &0u32.to_be_bytes()));
            pieces_owned.push((1, end));
        }
        let pieces = pieces_owned
            .iter()
            .map(|(side, b)| (*side, Piece::Bytes(b)));
        let events = dissect_streams(pieces, DissectConfig::default());
        let count = |f: fn(&Event) -> bool| events.iter().filter(|e| f(e)).count();
        assert_eq!(count(|e| matches!(e, Event::Handshake(_))), n as usize);
        assert_eq!(count(|e| matches!(e, Event::StreamEnd(_))), n as usize);
        assert_eq!(
            count(|e| matches!(e, Event::Diagnostic(d) if d.rule.name == "h2-streams-limit")),
            0
        );
    }

    #[test]
    fn early_data_held_per_connection_is_bounded() {
        // Twelve extended CONNECTs, each followed by a 1 MB client message before any answer:
        // the connection holds at most 8 MiB of it; the rest becomes holes, never glued.
        let len = 1_000_000usize;
        let mut ws = vec![0x82, 0xff, 0, 0, 0, 0, 0, 0x0f, 0x42, 0x40, 0, 0, 0, 0];
        ws.resize(ws.len() + len, b'z');
        let mut client = client_start();
        for i in 0..12u32 {
            let id = 2 * i + 1;
            client.extend(connect(id));
            for chunk in ws.chunks(16384) {
                client.extend(frame(0, 0, id, chunk));
            }
        }
        let settings = server_settings();
        let answers: Vec<u8> = (0..12u32).flat_map(|i| ok(2 * i + 1)).collect();
        let pieces = [
            (1, Piece::Bytes(&settings)),
            (0, Piece::Bytes(&client)),
            (1, Piece::Bytes(&answers)),
        ];
        let events = dissect_streams(pieces, DissectConfig::default());
        let whole: Vec<u32> = events
            .iter()
            .filter_map(|e| match e {
                Event::Message(m) if m.lost == 0 && m.payload.len == len as u64 => {
                    m.stream.map(|s| s.0)
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            whole,
            [1, 3, 5, 7, 9, 11, 13, 15],
            "the first 8 MiB are held, in order"
        );
        let glued = events.iter().any(
            |e| matches!(e, Event::Message(m) if m.stream.is_some_and(|s| s.0 > 15) && m.lost == 0),
        );
        assert!(!glued, "nothing past the budget is shown as whole");
    }

    /// An extended CONNECT to `path`, offering `protocols` when some.
    fn connect_to(stream: u32, path: &str, protocols: Option<&str>) -> Vec<u8> {
        let mut fields = vec![
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "http"),
            (":path", path),
            (":authority", "example.test"),
            ("sec-websocket-version", "13"),
        ];
        fields.extend(protocols.map(|p| ("sec-websocket-protocol", p)));
        frame(1, 0x4, stream, &block(&fields))
    }

    /// Issue 15: a stream's decoder is chosen from that stream's own response and `:path`,
    /// as over HTTP/1.1. The same STOMP SEND (not a first packet recognition accepts) is
    /// decoded on the stream that negotiated `v12.stomp` and stays raw on the one that
    /// negotiated nothing; a Socket.IO event is decoded on the stream whose `:path` names
    /// Engine.IO.
    #[test]
    fn each_stream_gets_the_decoder_its_subprotocol_or_path_names() {
        let mut client = client_start();
        client.extend(connect_to(1, "/stomp", Some("v12.stomp")));
        client.extend(connect_to(3, "/stomp", None));
        client.extend(connect_to(5, "/socket.io/?EIO=4&transport=websocket", None));
        let settings = server_settings();
        let mut answers = frame(
            1,
            0x4,
            1,
            &block(&[(":status", "200"), ("sec-websocket-protocol", "v12.stomp")]),
        );
        answers.extend(ok(3));
        answers.extend(ok(5));
        let send = "SEND\ndestination:/queue/a\n\nhi\0";
        let mut data = frame(0, 0, 1, &ws_text(true, send));
        data.extend(frame(0, 0, 3, &ws_text(true, send)));
        data.extend(frame(0, 0, 5, &ws_text(true, "42[\"chat\",\"hi\"]")));
        let pieces = [
            (1, Piece::Bytes(&settings)),
            (0, Piece::Bytes(&client)),
            (1, Piece::Bytes(&answers)),
            (0, Piece::Bytes(&data)),
        ];
        let events = dissect_streams(pieces, DissectConfig::default());
        let decoded: Vec<(u32, Option<&str>)> = events
            .iter()
            .filter_map(|e| match e {
                Event::Message(m) => {
                    Some((m.stream?.0, m.decoded.as_ref().map(|d| d.protocol.as_str())))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            decoded,
            [(1, Some("stomp")), (3, None), (5, Some("socket.io"))],
            "{events:#?}"
        );
    }

    #[test]
    fn a_preface_in_small_pieces_is_still_http2() {
        let mut client = client_start();
        client.extend(connect(1));
        let settings = server_settings();
        let answer = ok(1);
        let hello = frame(0, 0, 1, &ws_text(true, "hi"));
        let mut pieces: Vec<(usize, Piece<'_>)> = vec![(1, Piece::Bytes(&settings))];
        pieces.extend(client[..30].chunks(1).map(|b| (0, Piece::Bytes(b))));
        pieces.push((0, Piece::Bytes(&client[30..])));
        pieces.push((1, Piece::Bytes(&answer)));
        pieces.push((0, Piece::Bytes(&hello)));
        let events = dissect_streams(pieces, DissectConfig::default());
        assert_eq!(messages(&events), [(1, "hi".to_string(), 0)], "{events:#?}");
    }

    #[test]
    fn preface_matching_follows_the_bytes_so_far() {
        use super::{preface, Preface};
        assert_eq!(preface(b"", b"P"), Preface::SoFar);
        assert_eq!(preface(b"PRI * HT", b"TP/2.0\r\n"), Preface::SoFar);
        assert_eq!(
            preface(b"PRI * HTTP/2.0\r\n\r\nSM\r\n", b"\r\n\x00\x00"),
            Preface::Whole
        );
        assert_eq!(preface(b"P", b"OST / HTTP/1.1"), Preface::No);
        assert_eq!(preface(b"", b""), Preface::No);
    }
}
