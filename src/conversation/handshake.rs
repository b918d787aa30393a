//! The HTTP phase: the upgrade request, then the response that accepts or refuses it.

use super::*;

impl Conversation {
    pub(super) fn on_request_bytes(
        &mut self,
        meta: &FlowMeta,
        side: usize,
        offset: u64,
        bytes: &[u8],
        packet: PacketRef,
        out: &mut Vec<Event>,
    ) {
        let server_first = self.client_side.is_some_and(|c| c != side);
        let buf = &mut self.heads[side];
        if buf.is_empty() && (offset != 0 || !http::looks_like_request_start(bytes)) {
            if server_first
                && self.forced_server(meta).is_none()
                && offset == 0
                && self.heads[1 - side].is_empty()
            {
                // The server speaks first on a connection whose SYN we saw: not an upgrade.
                self.phase = Phase::Ignored;
                return;
            }
            self.start_probe(meta, side, offset);
            self.on_probe_bytes(meta, side, bytes, packet, out);
            return;
        }
        if server_first {
            // Keep it: the request from the client side may still complete.
            if buf.len() + bytes.len() <= http::MAX_HEAD_LEN {
                buf.extend_from_slice(bytes);
            }
            return;
        }
        buf.extend_from_slice(bytes);
        match http::parse_request(buf) {
            Head::Incomplete => {}
            Head::Invalid(_) => self.phase = Phase::Ignored,
            Head::Complete(req, used) => {
                if !http::is_upgrade_request(&req) {
                    self.phase = Phase::Ignored;
                    return;
                }
                self.client_side = Some(side);
                self.client_ws_start = used as u64;
                self.early_client = buf[used..].to_vec();
                self.heads[side] = Vec::new();
                self.request = Some((req, packet));
                self.phase = Phase::AwaitResponse;
                self.announce(meta, false, out);
                // The response may already be waiting.
                let server = 1 - side;
                if !self.heads[server].is_empty() {
                    let pending = std::mem::take(&mut self.heads[server]);
                    self.on_response_bytes(meta, server, 0, &pending, packet, out);
                }
            }
        }
    }

    pub(super) fn on_response_bytes(
        &mut self,
        meta: &FlowMeta,
        side: usize,
        _offset: u64,
        bytes: &[u8],
        packet: PacketRef,
        out: &mut Vec<Event>,
    ) {
        let buf = &mut self.heads[side];
        buf.extend_from_slice(bytes);
        match http::parse_response(buf) {
            Head::Incomplete => {}
            Head::Invalid(why) => {
                self.phase = Phase::Ignored;
                self.diag(
                    meta,
                    Some(Direction::ServerToClient),
                    packet,
                    &rules::HANDSHAKE_MALFORMED,
                    format!("response: {why}"),
                    out,
                );
            }
            Head::Complete(resp, used) => {
                let rest = buf[used..].to_vec();
                self.heads[side] = Vec::new();
                let (req, req_packet) = self.request.take().expect("request precedes response");
                let hs = Handshake::from_heads(meta.id, &req, req_packet, &resp, packet);
                let violations = hs.violations();
                let accepted = hs.accepted();
                let deflate = hs
                    .extensions
                    .iter()
                    .find(|e| e.name.eq_ignore_ascii_case("permessage-deflate"));
                self.rsv1_allowed = deflate.is_some();
                let deflate = deflate.map(DeflateParams::from_extension);
                out.push(Event::Handshake(Box::new(hs)));
                for v in violations {
                    let (dir, at) = if v.in_request {
                        (Direction::ClientToServer, req_packet)
                    } else {
                        (Direction::ServerToClient, packet)
                    };
                    self.diag(meta, Some(dir), at, v.rule, v.message, out);
                }
                if !accepted {
                    self.phase = Phase::Ignored;
                    return;
                }
                self.phase = Phase::WebSocket;
                let keep = self.cfg.frame_keep;
                // The server's head starts at offset 0 of its stream.
                let server_start = used as u64;
                let mut dirs = Box::new([
                    DirState::new(self.client_ws_start, keep, Direction::ClientToServer),
                    DirState::new(server_start, keep, Direction::ServerToClient),
                ]);
                if let Some(p) = deflate {
                    dirs[0].inflater = Some(Inflater::new(p.client_no_context_takeover));
                    dirs[1].inflater = Some(Inflater::new(p.server_no_context_takeover));
                }
                self.dirs = Some(dirs);
                let early = std::mem::take(&mut self.early_client);
                if !early.is_empty() {
                    self.feed_frames(meta, Direction::ClientToServer, &early, packet, out);
                }
                if !rest.is_empty() {
                    self.feed_frames(meta, Direction::ServerToClient, &rest, packet, out);
                }
            }
        }
    }
}
