//! Connections whose handshake was not seen: hunting both directions for WebSocket frames.

use super::*;

impl Conversation {
    /// Start looking for frames in both directions of a connection whose handshake was not seen.
    pub(super) fn start_probe(&mut self, meta: &FlowMeta, side: usize, offset: u64) {
        self.phase = Phase::Probe;
        self.heads = [Vec::new(), Vec::new()];
        let keep = self.cfg.frame_keep;
        let forced = self.forced_server(meta);
        // Until one direction is recognised, sides stand in for directions (side 0 first).
        let mut dirs = Box::new([
            DirState::new(0, keep, Direction::ClientToServer),
            DirState::new(0, keep, Direction::ServerToClient),
        ]);
        for (s, d) in dirs.iter_mut().enumerate() {
            let masked = forced.map(|server| s != server);
            let criteria = if forced.is_some() {
                AFTER_GAP
            } else {
                RECOGNISE
            };
            d.decoder = FrameDecoder::with_expect(
                if s == side { offset } else { 0 },
                keep,
                Expect {
                    masked,
                    max_payload: PLAUSIBLE_MAX_PAYLOAD,
                },
            );
            d.decoder.set_hunt_rules(
                Expect {
                    masked,
                    max_payload: PLAUSIBLE_MAX_PAYLOAD,
                },
                criteria,
            );
            d.decoder.start_hunting();
            // Extensions are unknown: RSV1 is taken to mean permessage-deflate.
            d.inflater = Some(Inflater::new(false));
        }
        self.dirs = Some(dirs);
        self.rsv1_allowed = true;
    }

    pub(super) fn on_probe_bytes(
        &mut self,
        meta: &FlowMeta,
        side: usize,
        bytes: &[u8],
        packet: PacketRef,
        out: &mut Vec<Event>,
    ) {
        let forced = self.forced_server(meta);
        let Some(dirs) = self.dirs.as_mut() else {
            return;
        };
        // Until one side is recognised, dirs are indexed by side. A hunting decoder reports
        // `Resync` before any frame, so the roles are known before the first frame is applied.
        let mut decoder = std::mem::replace(&mut dirs[side].decoder, FrameDecoder::new(0, 0));
        decoder.feed(bytes, packet, &mut |ev| {
            if let FrameEvent::Resync { masked, .. } = ev {
                if matches!(self.phase, Phase::Probe) {
                    self.recognised(meta, side, masked, forced.is_some(), packet, out);
                }
            }
            let dir = self.dir_of(side);
            self.apply(meta, dir, ev, packet, out);
        });
        let slot = if matches!(self.phase, Phase::Probe) {
            side
        } else {
            self.dir_of(side).index()
        };
        let Some(dirs) = self.dirs.as_mut() else {
            return;
        };
        dirs[slot].decoder = decoder;
        let probed: u64 = dirs.iter().map(|d| d.decoder.hunted_bytes()).sum();
        if matches!(self.phase, Phase::Probe) && probed > MAX_PROBE && forced.is_none() {
            // Not WebSocket, or not recognisable: stop spending effort on it.
            self.phase = Phase::Ignored;
            self.dirs = None;
        }
    }

    /// Side `side` chained frames with this MASK bit: clients mask, servers do not (RFC 6455
    /// §5.1), so the roles are known. Re-index the directions and announce the connection.
    fn recognised(
        &mut self,
        meta: &FlowMeta,
        side: usize,
        masked: bool,
        forced: bool,
        packet: PacketRef,
        out: &mut Vec<Event>,
    ) {
        let client = if masked { side } else { 1 - side };
        self.client_side = Some(client);
        let dirs = self.dirs.as_mut().expect("probing");
        if client == 1 {
            dirs.swap(0, 1);
        }
        let other = Direction::from_index(if side == client { 1 } else { 0 });
        dirs[other.index()].decoder.set_hunt_rules(
            Expect {
                masked: Some(other == Direction::ClientToServer),
                max_payload: PLAUSIBLE_MAX_PAYLOAD,
            },
            AFTER_GAP,
        );
        self.inferred = true;
        self.phase = Phase::WebSocket;
        self.announce(meta, true, out);
        let why = if forced {
            "its port is given with --ws-port"
        } else {
            "its frames were recognised"
        };
        let msg = format!(
            "no handshake seen: WebSocket assumed because {why}; the client is {}",
            meta.endpoints[client]
        );
        self.diag(meta, None, packet, &rules::INFERRED_WEBSOCKET, msg, out);
    }
}
