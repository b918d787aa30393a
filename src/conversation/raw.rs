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
