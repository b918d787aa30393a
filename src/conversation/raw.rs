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
        diagnostics: 0,
        tls: None,
        http2: None,
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

/// Dissect a TCP connection's two byte streams with no capture around them: `pieces` are
/// (side, piece) in capture order, side 0 the client (its SYN "seen"). The whole stack runs,
/// from the HTTP/1.1 upgrade or HTTP/2 preface up; packet numbers count the pieces. For tests
/// and fuzzing of the layers above TCP.
pub fn dissect_streams<'a>(
    pieces: impl IntoIterator<Item = (usize, Piece<'a>)>,
    cfg: DissectConfig,
) -> Vec<Event> {
    use crate::tcp::{Application, EndReason, StreamEvent};
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
        let offset = offsets[side];
        let event = match piece {
            Piece::Bytes(bytes) => {
                offsets[side] += bytes.len() as u64;
                StreamEvent::Data {
                    offset,
                    bytes,
                    packet,
                }
            }
            Piece::Gap(len) => {
                offsets[side] += len;
                let cause = crate::tcp::reassembly::GapCause::AckedUnseen;
                StreamEvent::Gap {
                    offset,
                    len,
                    packet,
                    cause,
                }
            }
        };
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
