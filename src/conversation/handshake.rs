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
        let forced = self.forced_server(meta).is_some();
        if self.client_side.is_some_and(|c| c != side) {
            // The server's bytes before the request is complete (e.g. the 101 captured between
            // two segments of the request): keep them for when it is.
            let buf = &mut self.heads[side];
            if buf.len() + bytes.len() <= http::MAX_HEAD_LEN {
                buf.extend_from_slice(bytes);
            }
            return;
        }
        let buf = &mut self.heads[side];
        if buf.is_empty() && (offset != 0 || !http::looks_like_request_start(bytes)) {
            if meta.client_side.is_some() && !forced {
                // The connection's start was seen and it is not an HTTP upgrade: not WebSocket.
                self.phase = Phase::Ignored;
                self.heads = [Vec::new(), Vec::new()];
                return;
            }
            self.start_probe(meta, side, offset);
            self.on_probe_bytes(meta, side, bytes, packet, out);
            return;
        }
        buf.extend_from_slice(bytes);
        match http::parse_request(buf) {
            Head::Incomplete => {}
            Head::Invalid(why) => {
                // Worth a word only when it was meant as an upgrade.
                let meant = String::from_utf8_lossy(&buf[..buf.len().min(http::MAX_HEAD_LEN)])
                    .to_ascii_lowercase()
                    .contains("websocket");
                self.phase = Phase::Ignored;
                if meant {
                    self.client_side = Some(side);
                    self.announce(meta, false, out);
                    self.diag(
                        meta,
                        Some(Direction::ClientToServer),
                        packet,
                        &rules::HANDSHAKE_MALFORMED,
                        format!("request: {why}"),
                        out,
                    );
                }
            }
            Head::Complete(req, used) => {
                if !http::is_upgrade_request(&req) {
                    self.phase = Phase::Ignored;
                    return;
                }
                self.client_side = Some(side);
                self.client_ws_start = used as u64;
                self.early_client = vec![(packet, buf[used..].to_vec())];
                self.early_client_len = buf.len() - used;
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
                for (at, chunk) in std::mem::take(&mut self.early_client) {
                    self.feed_frames(meta, Direction::ClientToServer, &chunk, at, out);
                }
                let dropped = std::mem::take(&mut self.early_client_dropped);
                if dropped > 0 {
                    let client = self.client_side.unwrap_or(0);
                    let offset = self.client_ws_start + self.early_client_len as u64;
                    self.on_gap(meta, client, offset, dropped, packet, out);
                }
                if !rest.is_empty() {
                    self.feed_frames(meta, Direction::ServerToClient, &rest, packet, out);
                }
            }
        }
    }
}
