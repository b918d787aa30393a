//! Frames from raw bytes, with no capture around them (`wsdissect explain`).

use super::*;

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
        id: crate::base::ConnId(1),
        endpoints: [unspecified, unspecified],
        client_side: Some(0),
        first_packet: PacketRef::default(),
    };
    let mut conv = Conversation::new(Arc::new(cfg), &meta);
    let keep = conv.cfg.frame_keep;
    conv.phase = Phase::WebSocket;
    conv.announced = true;
    conv.dirs = Some(Box::new([
        DirState::new(0, keep, Direction::ClientToServer),
        DirState::new(0, keep, Direction::ServerToClient),
    ]));
    let mut events = Vec::new();
    let packet = PacketRef {
        number: 1,
        ts: crate::base::Timestamp(0),
    };
    conv.feed_frames(&meta, dir, bytes, packet, &mut events);
    let incomplete = conv
        .dirs
        .as_ref()
        .and_then(|d| d[dir.index()].decoder.incomplete());
    RawFrames { events, incomplete }
}
