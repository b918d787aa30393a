//! Frames from raw bytes, with no capture around them (`wsdissect explain`).

use crate::base::{ConnId, Direction, PacketRef, Timestamp};
use crate::event::Event;
use crate::tcp::FlowMeta;
use crate::ws::decoder::Incomplete;
use crate::ws::deflate::DeflateParams;
use crate::ws::session::Session;

use super::{Cx, DissectConfig, KeyStore, Shared};

/// Frames dissected from raw bytes with no capture around them (`wsdissect explain`).
pub struct RawFrames {
    pub events: Vec<Event>,
    /// A direction's last frame is cut short: what it still needs.
    pub incomplete: Vec<(Direction, Incomplete)>,
}

/// Dissect raw WebSocket frame bytes, each piece sent in its direction (the pieces of one
/// direction continue each other), with every frame rule checked. `deflate`: what the
/// handshake negotiated (without it, RSV bits are violations). A frame cut short by the end
/// is reported too (with `Frame::missing`), its header rules under it. Frame offsets count the
/// bytes of all pieces, in order.
pub fn dissect_raw_frames(
    pieces: &[(Direction, &[u8])],
    deflate: Option<DeflateParams>,
    cfg: DissectConfig,
) -> RawFrames {
    let cfg = DissectConfig {
        partial_frames: true,
        ..cfg
    };
    let unspecified = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
    let meta = FlowMeta {
        id: ConnId(1),
        endpoints: [unspecified, unspecified],
        client_side: Some(0),
        first_packet: PacketRef::default(),
    };
    let mut shared = Shared {
        client_side: Some(0),
        announced: true,
        ..Shared::default()
    };
    let keys = KeyStore::default();
    let mut events = Vec::new();
    let mut cx = Cx {
        cfg: &cfg,
        keys: &keys,
        meta: &meta,
        shared: &mut shared,
        out: &mut events,
    };
    let mut session = Session::opened(cx.session_key(), cx.limits(), [0, 0], deflate);
    cx.decode_messages(&mut session, None, None);
    let packet = PacketRef {
        number: 1,
        ts: Timestamp(0),
    };
    // (direction, offset in that direction, offset in the input) where each piece starts.
    let mut starts = Vec::new();
    let (mut dir_offsets, mut at) = ([0u64; 2], 0u64);
    for &(dir, bytes) in pieces {
        starts.push((dir, dir_offsets[dir.index()], at));
        session.feed(dir, bytes, packet, &mut cx);
        dir_offsets[dir.index()] += bytes.len() as u64;
        at += bytes.len() as u64;
    }
    let mut incomplete = Vec::new();
    for dir in [Direction::ClientToServer, Direction::ServerToClient] {
        if let Some(inc) = session.incomplete(dir) {
            incomplete.push((dir, inc));
        }
        session.flush_unfinished(dir, &mut cx);
    }
    for e in &mut events {
        if let Event::Frame(f) = e {
            f.stream_offset = input_offset(&starts, f.dir, f.stream_offset);
        }
    }
    for (dir, inc) in &mut incomplete {
        match inc {
            Incomplete::Header { stream_offset, .. }
            | Incomplete::Payload { stream_offset, .. } => {
                *stream_offset = input_offset(&starts, *dir, *stream_offset);
            }
        }
    }
    RawFrames { events, incomplete }
}

/// Where offset `off` of direction `dir` is in the input: in the last piece of `dir` that
/// starts at or before it.
fn input_offset(starts: &[(Direction, u64, u64)], dir: Direction, off: u64) -> u64 {
    starts
        .iter()
        .rev()
        .find(|&&(d, from, _)| d == dir && from <= off)
        .map_or(off, |&(_, from, at)| at + (off - from))
}

/// A piece of one side of a connection, in capture order.
#[derive(Clone, Copy, Debug)]
pub enum Piece<'a> {
    Bytes(&'a [u8]),
    /// Bytes missing from the capture.
    Gap(u64),
}

/// The event a piece of a side is, at that side's `offset` (moved past it).
fn stream_event<'a>(
    piece: Piece<'a>,
    offset: &mut u64,
    packet: PacketRef,
) -> crate::tcp::StreamEvent<'a> {
    use crate::tcp::{GapCause, StreamEvent};
    let at = *offset;
    match piece {
        Piece::Bytes(bytes) => {
            *offset += bytes.len() as u64;
            StreamEvent::Data {
                offset: at,
                bytes,
                packet,
            }
        }
        Piece::Gap(len) => {
            *offset += len;
            let cause = GapCause::AckedUnseen;
            StreamEvent::Gap {
                offset: at,
                len,
                packet,
                cause,
            }
        }
    }
}

/// Dissect a TCP connection's two byte streams with no capture around them: `pieces` are
/// (side, piece) in capture order, side 0 the client (its SYN "seen"). The whole stack runs,
/// from the HTTP/1.1 upgrade or HTTP/2 preface up; packet numbers count the pieces. For tests
/// and fuzzing of the layers above TCP.
pub fn dissect_streams<'a>(
    pieces: impl IntoIterator<Item = (usize, Piece<'a>)>,
    cfg: DissectConfig,
) -> Vec<Event> {
    use crate::tcp::{Application, EndReason};
    use std::sync::Arc;
    let loopback = |port| std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let meta = FlowMeta {
        id: ConnId(1),
        endpoints: [loopback(40000), loopback(8080)],
        client_side: Some(0),
        first_packet: PacketRef::default(),
    };
    let mut conn = super::Connection::new(Arc::new(cfg), Arc::new(KeyStore::default()));
    let mut out = Vec::new();
    let mut offsets = [0u64; 2];
    let mut number = 0;
    for (side, piece) in pieces {
        let side = side.min(1);
        number += 1;
        let packet = PacketRef {
            number,
            ts: Timestamp(number * 1000),
        };
        let event = stream_event(piece, &mut offsets[side], packet);
        conn.on_stream(&meta, side, event, &mut out);
    }
    let end = PacketRef {
        number: number + 1,
        ts: Timestamp((number + 1) * 1000),
    };
    conn.on_end(&meta, EndReason::Fin, end, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = (payload.len() as u32).to_be_bytes();
        let mut f = vec![len[1], len[2], len[3], kind, flags];
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// HPACK, literals without indexing and static names only: an extended CONNECT for a
    /// WebSocket at `/` (RFC 8441 §4).
    fn extended_connect() -> Vec<u8> {
        let mut b = vec![0x02, 7];
        b.extend_from_slice(b"CONNECT");
        b.extend_from_slice(&[0x00, 9]);
        b.extend_from_slice(b":protocol");
        b.push(9);
        b.extend_from_slice(b"websocket");
        b.extend_from_slice(&[0x86, 0x04, 1, b'/', 0x01, 1, b'a']);
        b
    }

    const END_HEADERS: u8 = 0x4;
    const END_STREAM: u8 = 0x1;

    /// The server's SETTINGS allow the extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL).
    fn server_settings() -> Vec<u8> {
        frame(4, 0, 0, &[0, 8, 0, 0, 0, 1])
    }

    fn handshake_streams(events: &[Event]) -> Vec<u32> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Handshake(h) => h.stream.map(|s| s.0),
                _ => None,
            })
            .collect()
    }

    /// A stream reset twice (both sides sent RST_STREAM, which RFC 9113 §5.4.2 allows) was
    /// remembered as closed twice, so "streams open" (`streams.len() - closed.len()` in
    /// `conversation/h2/frames.rs`, `Frames::open`) went below zero: a panic with overflow
    /// checks, else no later stream was followed ("over 4096 streams open at once").
    #[test]
    fn a_stream_reset_twice_does_not_stop_later_websockets() {
        let mut client = PREFACE.to_vec();
        client.extend(frame(4, 0, 0, &[]));
        client.extend(frame(
            1,
            END_HEADERS | END_STREAM,
            1,
            &[0x82, 0x86, 0x84, 0x41, 1, b'a'],
        ));
        client.extend(frame(3, 0, 1, &[0, 0, 0, 8]));
        let reset = frame(3, 0, 1, &[0, 0, 0, 5]);
        let connect = [frame(1, END_HEADERS, 3, &extended_connect())].concat();
        let ok = frame(1, END_HEADERS, 3, &[0x88]);
        let pieces = [
            (0, Piece::Bytes(&client)),
            (1, Piece::Bytes(&server_settings())),
            (1, Piece::Bytes(&reset)),
            (0, Piece::Bytes(&connect)),
            (1, Piece::Bytes(&ok)),
        ];
        let events = dissect_streams(pieces, DissectConfig::default());
        assert_eq!(handshake_streams(&events), [3], "{events:#?}");
    }

    /// A stream id is never used twice (RFC 9113 §5.1.1: a new stream's id is above every id
    /// its initiator used), but `conversation/h2/frames.rs` forgets ended streams past
    /// `MAX_CLOSED` (`Frames::remember_closed`), and then takes a request on a forgotten id as
    /// a new stream: a second Handshake and StreamEnd for stream 1.
    #[test]
    fn a_stream_id_is_never_opened_twice() {
        let get = [0x82, 0x86, 0x84, 0x41, 1, b'a'];
        let mut client = PREFACE.to_vec();
        client.extend(frame(4, 0, 0, &[]));
        let mut server = server_settings();
        let websocket = |client: &mut Vec<u8>, server: &mut Vec<u8>| {
            client.extend(frame(1, END_HEADERS, 1, &extended_connect()));
            server.extend(frame(1, END_HEADERS, 1, &[0x88]));
            client.extend(frame(0, END_STREAM, 1, &[]));
            server.extend(frame(0, END_STREAM, 1, &[]));
        };
        websocket(&mut client, &mut server);
        for id in (3..2 * 1100).step_by(2) {
            client.extend(frame(1, END_HEADERS | END_STREAM, id, &get));
            server.extend(frame(1, END_HEADERS | END_STREAM, id, &[0x88]));
        }
        let (mut client2, mut server2) = (Vec::new(), Vec::new());
        websocket(&mut client2, &mut server2);
        let pieces = [
            (0, Piece::Bytes(&client)),
            (1, Piece::Bytes(&server)),
            (0, Piece::Bytes(&client2)),
            (1, Piece::Bytes(&server2)),
        ];
        let events = dissect_streams(pieces, DissectConfig::default());
        assert_eq!(handshake_streams(&events), [1]);
        let ends = events
            .iter()
            .filter(|e| matches!(e, Event::StreamEnd(_)))
            .count();
        assert_eq!(ends, 1);
    }

    /// DATA on stream 0 is a connection error (RFC 9113 §6.1), never a stream's bytes; but
    /// once a field block was lost, `Frames::data` (`conversation/h2/frames.rs`) probes any
    /// unknown stream, 0 included, and infers a WebSocket "on stream 0".
    #[test]
    fn data_on_stream_zero_is_no_websocket() {
        let mut client = PREFACE.to_vec();
        client.extend(frame(4, 0, 0, &[]));
        // A padded HEADERS with no pad length: malformed, so field blocks are lost.
        client.extend(frame(1, END_HEADERS | 0x8, 1, &[]));
        let mut ws = Vec::new();
        for _ in 0..4 {
            ws.extend_from_slice(&[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2]);
        }
        client.extend(frame(0, 0, 0, &ws));
        let pieces = [
            (0, Piece::Bytes(&client)),
            (1, Piece::Bytes(&server_settings())),
        ];
        let events = dissect_streams(pieces, DissectConfig::default());
        let on_zero = |e: &Event| match e {
            Event::Frame(f) => f.stream.map(|s| s.0) == Some(0),
            Event::Message(m) => m.stream.map(|s| s.0) == Some(0),
            Event::Diagnostic(d) => d.rule.name == "inferred-websocket",
            _ => false,
        };
        assert!(!events.iter().any(on_zero), "{events:#?}");
    }

    const C2S: Direction = Direction::ClientToServer;
    const S2C: Direction = Direction::ServerToClient;

    fn frames(raw: &RawFrames) -> Vec<(Direction, u64, u64)> {
        raw.events
            .iter()
            .filter_map(|e| match e {
                Event::Frame(f) => Some((f.dir, f.stream_offset, f.missing)),
                _ => None,
            })
            .collect()
    }

    fn rules(raw: &RawFrames) -> Vec<&'static str> {
        raw.events
            .iter()
            .filter_map(|e| match e {
                Event::Diagnostic(d) => Some(d.rule.name),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn each_piece_is_its_sides_and_offsets_count_the_whole_input() {
        // RFC 6455 §5.7: an unmasked ping (the server's) and its masked pong (the client's).
        let ping = [0x89, 0x05, b'H', b'e', b'l', b'l', b'o'];
        let pong = [
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let raw = dissect_raw_frames(
            &[(S2C, &ping), (C2S, &pong)],
            None,
            DissectConfig::default(),
        );
        assert_eq!(frames(&raw), [(S2C, 0, 0), (C2S, 7, 0)]);
        assert!(rules(&raw).is_empty(), "{:?}", rules(&raw));
    }

    #[test]
    fn a_frame_cut_short_is_reported_with_its_header_rules() {
        let raw = dissect_raw_frames(
            &[(S2C, &[0x09, 0x7e, 0x00, 0xc8, 1, 2])],
            None,
            DissectConfig::default(),
        );
        assert_eq!(frames(&raw), [(S2C, 0, 198)]);
        assert_eq!(
            rules(&raw),
            ["control-frame-too-long", "control-frame-fragmented"]
        );
        assert!(matches!(
            raw.incomplete[..],
            [(S2C, Incomplete::Payload { need: 198, .. })]
        ));
    }

    #[test]
    fn deflate_inflates() {
        let hello = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let raw = dissect_raw_frames(
            &[(S2C, &hello)],
            Some(DeflateParams::default()),
            DissectConfig::default(),
        );
        let text = raw.events.iter().find_map(|e| match e {
            Event::Message(m) => m.text().map(str::to_string),
            _ => None,
        });
        assert_eq!(text.as_deref(), Some("Hello"));
        assert!(rules(&raw).is_empty());
    }
}
