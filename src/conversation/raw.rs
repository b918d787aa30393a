//! Frames from raw bytes, with no capture around them (`wsdissect explain`).

use crate::base::{ConnId, Direction, PacketRef, Timestamp};
use crate::event::Event;
use crate::tcp::FlowMeta;
use crate::ws::decoder::Incomplete;
use crate::ws::session::Session;

use super::{Cx, DissectConfig, KeyStore, Shared};

/// Frames dissected from raw bytes with no capture around them (`wsdissect explain`).
pub struct RawFrames {
    pub events: Vec<Event>,
    /// The last frame is cut short: what it still needs.
    pub incomplete: Option<Incomplete>,
}

/// Dissect raw WebSocket frame bytes sent in direction `dir`, with every frame rule checked
/// (no extension is negotiated, so RSV bits are violations).
pub fn dissect_raw_frames(bytes: &[u8], dir: Direction, cfg: DissectConfig) -> RawFrames {
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
    let mut session = Session::opened(cx.session_key(), cx.limits(), [0, 0], None);
    let packet = PacketRef {
        number: 1,
        ts: Timestamp(0),
    };
    session.feed(dir, bytes, packet, &mut cx);
    let incomplete = session.incomplete(dir);
    RawFrames { events, incomplete }
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
