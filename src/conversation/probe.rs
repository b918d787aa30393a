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
        let st = &mut dirs[side];
        let mut pending: Vec<PendingOut> = Vec::new();
        st.decoder
            .feed(bytes, packet, &mut |ev| pending.push(PendingOut::from(ev)));
        let found = pending.iter().find_map(|p| match p {
            PendingOut::Resync { masked, .. } => Some(*masked),
            _ => None,
        });
        let Some(masked) = found else {
            let probed: u64 = dirs.iter().map(|d| d.decoder.hunted_bytes()).sum();
            if probed > MAX_PROBE && forced.is_none() {
                // Not WebSocket, or not recognisable: stop spending effort on it.
                self.phase = Phase::Ignored;
                self.dirs = None;
            }
            return;
        };
        // Clients mask, servers do not (RFC 6455 §5.1): the MASK bit tells the roles.
        let client = if masked { side } else { 1 - side };
        self.client_side = Some(client);
        if client == 1 {
            dirs.swap(0, 1);
        }
        let other = &mut dirs[if side == client { 1 } else { 0 }].decoder;
        other.set_hunt_rules(
            Expect {
                masked: Some(side != client),
                max_payload: PLAUSIBLE_MAX_PAYLOAD,
            },
            AFTER_GAP,
        );
        self.inferred = true;
        self.phase = Phase::WebSocket;
        self.announce(meta, true, out);
        let why = if forced.is_some() {
            "its port is given with --ws-port"
        } else {
            "its frames were recognised"
        };
        let msg = format!(
            "no handshake seen: WebSocket assumed because {why}; the client is {}",
            meta.endpoints[client]
        );
        self.diag(meta, None, packet, &rules::INFERRED_WEBSOCKET, msg, out);
        let dir = self.dir_of(side);
        for p in pending {
            self.apply(meta, dir, p.as_event(), packet, out);
        }
    }
}

/// Decoder events, owned: while probing, a side's events are held until its direction is known.
enum PendingOut {
    Start(FrameHeader),
    Payload(FrameHeader, Vec<u8>),
    Lost(u64),
    Resync { skipped: u64, at: u64, masked: bool },
    End(CompletedFrame),
}

impl PendingOut {
    fn as_event(&self) -> FrameEvent<'_> {
        match self {
            PendingOut::Start(header) => FrameEvent::Start { header },
            PendingOut::Payload(header, data) => FrameEvent::Payload { header, data },
            PendingOut::Lost(len) => FrameEvent::Lost {
                header: &UNKNOWN_HEADER,
                len: *len,
            },
            PendingOut::Resync {
                skipped,
                at,
                masked,
            } => FrameEvent::Resync {
                skipped: *skipped,
                at: *at,
                masked: *masked,
            },
            PendingOut::End(f) => FrameEvent::End(f.clone()),
        }
    }
}

/// Stand-in header for a held `Lost` event (its header is not used when applied).
const UNKNOWN_HEADER: FrameHeader = FrameHeader {
    fin: false,
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcode: OpCode::Continuation,
    masked: false,
    len7: 0,
    length_form: crate::ws::frame::LengthForm::Short,
    payload_len: 0,
    mask_key: None,
    header_len: 2,
};

impl From<FrameEvent<'_>> for PendingOut {
    fn from(ev: FrameEvent<'_>) -> Self {
        match ev {
            FrameEvent::Start { header } => PendingOut::Start(*header),
            FrameEvent::Payload { header, data } => PendingOut::Payload(*header, data.to_vec()),
            FrameEvent::Lost { len, .. } => PendingOut::Lost(len),
            FrameEvent::Resync {
                skipped,
                at,
                masked,
            } => PendingOut::Resync {
                skipped,
                at,
                masked,
            },
            FrameEvent::End(f) => PendingOut::End(f),
        }
    }
}
