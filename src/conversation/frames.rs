//! The WebSocket phase: frames, the rules their headers break, messages, deflate, pings.

use super::*;

impl Conversation {
    pub(super) fn feed_frames(
        &mut self,
        meta: &FlowMeta,
        dir: Direction,
        bytes: &[u8],
        packet: PacketRef,
        out: &mut Vec<Event>,
    ) {
        let Some(dirs) = self.dirs.as_mut() else {
            return;
        };
        // The decoder is moved out while it runs, so each event it reports (borrowing its
        // unmasking buffer) can update the rest of the conversation without a copy.
        let mut decoder =
            std::mem::replace(&mut dirs[dir.index()].decoder, FrameDecoder::new(0, 0));
        decoder.feed(bytes, packet, &mut |ev| {
            self.apply(meta, dir, ev, packet, out)
        });
        if let Some(dirs) = self.dirs.as_mut() {
            dirs[dir.index()].decoder = decoder;
        }
    }

    pub(super) fn apply(
        &mut self,
        meta: &FlowMeta,
        dir: Direction,
        ev: FrameEvent<'_>,
        packet: PacketRef,
        out: &mut Vec<Event>,
    ) {
        match ev {
            FrameEvent::Start { header } => self.on_frame_start(dir, header, packet),
            FrameEvent::Payload { data, .. } => self.on_payload(dir, data),
            FrameEvent::Lost { len, .. } => {
                let Some(st) = self.dirs.as_mut().map(|d| &mut d[dir.index()]) else {
                    return;
                };
                if !st.in_data_frame {
                    return;
                }
                if let Some(m) = st.message.as_mut() {
                    m.lost += len;
                    m.wire_len += len;
                    if m.compressed {
                        m.inflate_error.get_or_insert_with(|| {
                            "compressed bytes missing from the capture".into()
                        });
                        if let Some(inf) = st.inflater.as_mut() {
                            inf.lose_context();
                        }
                    } else {
                        m.len += len;
                    }
                }
            }
            FrameEvent::End(f) => self.on_frame_end(meta, dir, f, out),
            FrameEvent::Resync { skipped, at, .. } => {
                let msg = format!(
                    "frame boundary found at stream offset {at} after skipping {skipped} bytes"
                );
                self.diag(meta, Some(dir), packet, &rules::STREAM_RESYNC, msg, out);
            }
        }
    }

    pub(super) fn on_frame_start(&mut self, dir: Direction, h: &FrameHeader, packet: PacketRef) {
        let mut found: Vec<(&'static Rule, String)> = Vec::new();
        match (dir, h.masked) {
            (Direction::ClientToServer, false) => found.push((
                &rules::CLIENT_FRAME_UNMASKED,
                format!("client {} frame is not masked", h.opcode),
            )),
            (Direction::ServerToClient, true) => found.push((
                &rules::SERVER_FRAME_MASKED,
                format!("server {} frame is masked", h.opcode),
            )),
            _ => {}
        }
        if (h.rsv1 && !self.rsv1_allowed) || h.rsv2 || h.rsv3 {
            found.push((
                &rules::RSV_BIT_WITHOUT_EXTENSION,
                format!(
                    "RSV1={} RSV2={} RSV3={} with no extension that defines them",
                    u8::from(h.rsv1),
                    u8::from(h.rsv2),
                    u8::from(h.rsv3)
                ),
            ));
        }
        if h.rsv1
            && self.rsv1_allowed
            && (h.opcode.is_control() || h.opcode == OpCode::Continuation)
        {
            found.push((
                &rules::DEFLATE_RSV1_MISPLACED,
                format!("RSV1 set on a {} frame", h.opcode),
            ));
        }
        if let OpCode::Reserved(b) = h.opcode {
            found.push((
                &rules::RESERVED_OPCODE,
                format!("opcode 0x{b:X} is reserved"),
            ));
        }
        if h.length_msb_set() {
            found.push((
                &rules::LENGTH_MSB_SET,
                format!("64-bit length 0x{:016X} has its top bit set", h.payload_len),
            ));
        }
        if h.length_not_minimal() {
            found.push((
                &rules::LENGTH_NOT_MINIMAL,
                format!(
                    "length {} written in the {}-bit form",
                    h.payload_len,
                    if h.len7 == 126 { 16 } else { 64 }
                ),
            ));
        }
        if h.opcode.is_control() {
            if h.payload_len > 125 {
                found.push((
                    &rules::CONTROL_FRAME_TOO_LONG,
                    format!("{} frame with a {}-byte payload", h.opcode, h.payload_len),
                ));
            }
            if !h.fin {
                found.push((
                    &rules::CONTROL_FRAME_FRAGMENTED,
                    format!("{} frame with FIN=0", h.opcode),
                ));
            }
        }
        let rsv1_allowed = self.rsv1_allowed;
        let dirs = self.dirs.as_mut().expect("WebSocket phase");
        let st = &mut dirs[dir.index()];
        // Reserved data opcodes (0x3-0x7) are not part of any message.
        st.in_data_frame = matches!(
            h.opcode,
            OpCode::Text | OpCode::Binary | OpCode::Continuation
        );
        if st.close_sent && !h.opcode.is_control() {
            found.push((
                &rules::DATA_AFTER_CLOSE,
                format!("{} frame after this side sent a close frame", h.opcode),
            ));
        }
        match h.opcode {
            OpCode::Text | OpCode::Binary => {
                if let Some(old) = &st.message {
                    found.push((
                        &rules::NEW_MESSAGE_WHILE_FRAGMENTED,
                        format!("{} frame while a fragmented {} message ({} fragments) is open; the open message is dropped", h.opcode, old.opcode, old.fragments),
                    ));
                    if old.compressed {
                        if let Some(inf) = st.inflater.as_mut() {
                            inf.abandon_message();
                        }
                    }
                }
                let compressed = h.rsv1 && rsv1_allowed && st.inflater.is_some();
                let mut inflate_error = None;
                if compressed && st.inflater.as_ref().is_some_and(|i| i.context_lost()) {
                    let msg = "earlier compressed data of this direction is missing and context takeover is on";
                    found.push((&rules::DEFLATE_CONTEXT_UNKNOWN, msg.to_string()));
                    inflate_error = Some("compression context unknown".to_string());
                }
                st.message = Some(PartialMessage {
                    opcode: h.opcode,
                    payload: Vec::new(),
                    len: 0,
                    lost: 0,
                    fragments: 1,
                    first_packet: packet,
                    // A compressed message is checked after inflation, not on the wire bytes.
                    utf8: (h.opcode == OpCode::Text).then(Utf8Validator::default),
                    compressed,
                    wire_len: 0,
                    inflate_error,
                });
            }
            OpCode::Continuation => match st.message.as_mut() {
                Some(m) => m.fragments += 1,
                None => found.push((
                    &rules::CONTINUATION_WITHOUT_START,
                    "continuation frame with no fragmented message open".to_string(),
                )),
            },
            _ => {}
        }
        // Reported right after the frame itself, so every view shows them under it.
        if let Some(st) = self.dirs.as_mut().map(|d| &mut d[dir.index()]) {
            st.header_diags
                .extend(found.into_iter().map(|(rule, msg)| (rule, msg, packet)));
        }
    }

    pub(super) fn on_payload(&mut self, dir: Direction, data: &[u8]) {
        let keep = self.cfg.message_keep;
        let limit = self.cfg.inflate_limit;
        let Some(st) = self.dirs.as_mut().map(|d| &mut d[dir.index()]) else {
            return;
        };
        // Only data frames feed the message; control frames in between do not.
        if !st.in_data_frame {
            return;
        }
        let Some(m) = st.message.as_mut() else { return };
        m.wire_len += data.len() as u64;
        if !m.compressed {
            m.append(data, keep);
        } else if m.inflate_error.is_none() {
            if let Some(inf) = st.inflater.as_mut() {
                inf.feed(data, limit, &mut |out| m.append(out, keep));
            }
        }
    }

    pub(super) fn on_frame_end(
        &mut self,
        meta: &FlowMeta,
        dir: Direction,
        f: CompletedFrame,
        out: &mut Vec<Event>,
    ) {
        let h = f.header;
        let mut diags: Vec<(&'static Rule, String)> = Vec::new();
        let st = &mut self.dirs.as_mut().expect("WebSocket phase")[dir.index()];
        st.frames += 1;
        st.payload_bytes += h.payload_len;
        let mut close = None;
        let mut rtt_ns = None;
        match h.opcode {
            OpCode::Close => {
                let info = parse_close(&f.kept);
                if f.kept.len() == 1 {
                    diags.push((
                        &rules::CLOSE_PAYLOAD_ONE_BYTE,
                        "close frame with a 1-byte payload".into(),
                    ));
                }
                if let Some(code) = info.code {
                    match classify_close_code(code) {
                        CloseCodeClass::NotOnWire(n) => diags.push((
                            &rules::CLOSE_CODE_NOT_ON_WIRE,
                            format!("close code {code} ({n}) must not be sent"),
                        )),
                        CloseCodeClass::Invalid
                        | CloseCodeClass::UnassignedProtocol
                        | CloseCodeClass::OutOfRange => diags.push((
                            &rules::CLOSE_CODE_INVALID,
                            format!("close code {code} is not allowed on the wire"),
                        )),
                        _ => {}
                    }
                }
                if let Some(at) = info.reason_utf8_error {
                    diags.push((
                        &rules::INVALID_UTF8_CLOSE_REASON,
                        format!("close reason is not valid UTF-8 at byte {at}"),
                    ));
                }
                st.close_sent = true;
                st.close = Some(info.clone());
                close = Some(info);
            }
            OpCode::Ping => {
                if st.pings.len() == MAX_PENDING_PINGS {
                    st.pings.pop_front();
                }
                st.pings.push_back((f.kept.clone(), f.first_packet));
            }
            OpCode::Pong => {
                let other = &mut self.dirs.as_mut().expect("WebSocket phase")[1 - dir.index()];
                match other.pings.iter().position(|(p, _)| *p == f.kept) {
                    Some(i) => {
                        let (_, ping) = other.pings.remove(i).expect("index found above");
                        // Everything older than the matched ping will not be answered (§5.5.3).
                        other.pings.drain(..i);
                        rtt_ns = Some(f.last_packet.ts.0.saturating_sub(ping.ts.0));
                    }
                    None => diags.push((
                        &rules::PONG_UNSOLICITED,
                        "pong with no matching ping".into(),
                    )),
                }
            }
            _ => {}
        }
        let frame = Frame {
            conn: meta.id,
            dir,
            index: self.dirs.as_ref().expect("WebSocket phase")[dir.index()].frames,
            first_packet: f.first_packet,
            last_packet: f.last_packet,
            stream_offset: f.stream_offset,
            header: h,
            header_bytes: f.header_bytes,
            payload: Payload {
                bytes: f.kept,
                len: h.payload_len,
            },
            lost: f.lost,
            close,
            rtt_ns,
        };
        let last_packet = frame.last_packet;
        out.push(Event::Frame(Box::new(frame)));
        let header_diags = std::mem::take(
            &mut self.dirs.as_mut().expect("WebSocket phase")[dir.index()].header_diags,
        );
        for (rule, msg, at) in header_diags {
            self.diag(meta, Some(dir), at, rule, msg, out);
        }
        for (rule, msg) in diags {
            self.diag(meta, Some(dir), last_packet, rule, msg, out);
        }
        let is_data = matches!(
            h.opcode,
            OpCode::Text | OpCode::Binary | OpCode::Continuation
        );
        if !(is_data && h.fin) {
            return;
        }
        let keep = self.cfg.message_keep;
        let limit = self.cfg.inflate_limit;
        let st = &mut self.dirs.as_mut().expect("WebSocket phase")[dir.index()];
        let Some(mut m) = st.message.take() else {
            return;
        };
        st.messages += 1;
        let mut inflate_diag = None;
        let inferred = self.inferred;
        if m.compressed {
            if let Some(inf) = st.inflater.as_mut() {
                if m.inflate_error.is_some() {
                    inf.lose_context();
                } else {
                    match inf.finish_message(limit, &mut |out| m.append(out, keep)) {
                        None => {}
                        Some(InflateError::Limit(l)) => {
                            m.inflate_error =
                                Some(format!("inflated size passed the {l}-byte limit"));
                            inflate_diag = Some((
                                &rules::INFLATE_LIMIT,
                                format!("message inflated past {l} bytes; stopped there"),
                            ));
                        }
                        Some(InflateError::Corrupt(why)) if inferred => {
                            // Without the handshake the window (takeover) is unknown: start afresh.
                            inf.reset();
                            let msg = format!(
                                "cannot inflate without the earlier messages' window: {why}"
                            );
                            inflate_diag = Some((&rules::DEFLATE_CONTEXT_UNKNOWN, msg));
                            m.inflate_error = Some("compression context unknown".into());
                        }
                        Some(InflateError::Corrupt(why)) => {
                            inflate_diag = Some((
                                &rules::DEFLATE_ERROR,
                                format!("compressed message does not inflate: {why}"),
                            ));
                            m.inflate_error = Some(why);
                        }
                    }
                }
            }
        }
        let utf8_error = m.utf8.as_mut().and_then(|v| {
            if m.lost == 0 {
                v.finish()
            } else {
                v.error_at()
            }
        });
        let message = Message {
            conn: meta.id,
            dir,
            index: st.messages,
            opcode: m.opcode,
            payload: Payload {
                bytes: m.payload,
                len: m.len,
            },
            fragments: m.fragments,
            first_packet: m.first_packet,
            last_packet,
            utf8_error,
            lost: m.lost,
            compressed: m.compressed,
            wire_len: m.wire_len,
            inflate_error: m.inflate_error,
        };
        let truncated_big = message.payload.truncated() && self.cfg.message_keep > 1 << 20;
        out.push(Event::Message(message));
        if let Some((rule, msg)) = inflate_diag {
            self.diag(meta, Some(dir), last_packet, rule, msg, out);
        }
        if let Some(at) = utf8_error {
            self.diag(
                meta,
                Some(dir),
                last_packet,
                &rules::INVALID_UTF8_TEXT,
                format!("text message is not valid UTF-8 at byte {at}"),
                out,
            );
        }
        if truncated_big {
            let keep = self.cfg.message_keep;
            self.diag(
                meta,
                Some(dir),
                last_packet,
                &rules::PAYLOAD_LIMIT,
                format!("message kept only up to {keep} bytes"),
                out,
            );
        }
    }
}

/// A close payload: empty, or a 2-byte code and a UTF-8 reason (§5.5.1).
pub fn parse_close(payload: &[u8]) -> CloseInfo {
    if payload.len() < 2 {
        return CloseInfo {
            code: None,
            reason: String::new(),
            reason_utf8_error: None,
        };
    }
    let code = u16::from_be_bytes([payload[0], payload[1]]);
    let reason_bytes = &payload[2..];
    let reason_utf8_error = std::str::from_utf8(reason_bytes)
        .err()
        .map(|e| e.valid_up_to() as u64);
    CloseInfo {
        code: Some(code),
        reason: String::from_utf8_lossy(reason_bytes).into_owned(),
        reason_utf8_error,
    }
}
