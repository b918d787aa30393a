//! NDJSON: one event per line; the contract is documented in docs/json.md.

use std::io::{self, Write};

use base64::Engine;
use serde_json::{json, Map, Value};

use super::escape::hex;
use super::Sink;
use crate::event::{DirStats, Event, PacketRef};
use crate::ws::close::close_code_name;

pub struct JsonSink<W: Write> {
    out: W,
    /// Flush after every line (live capture, pipes into `jq`).
    flush_each: bool,
}

impl<W: Write> JsonSink<W> {
    pub fn new(out: W, flush_each: bool) -> Self {
        JsonSink { out, flush_each }
    }
}

fn ts(p: &PacketRef) -> Value {
    json!(p.ts.as_secs_f64())
}

fn stats(s: &DirStats) -> Value {
    json!({"frames": s.frames, "messages": s.messages, "payload_bytes": s.payload_bytes})
}

/// The JSON object for one event.
pub fn to_json(event: &Event) -> Value {
    match event {
        Event::Connection(c) => json!({
            "type": "connection", "conn": c.conn.0,
            "client": c.client.to_string(), "server": c.server.to_string(),
            "packet": c.first_packet.number, "ts": ts(&c.first_packet), "inferred": c.inferred,
        }),
        Event::Handshake(h) => json!({
            "type": "handshake", "conn": h.conn.0,
            "status": h.status, "reason": h.reason,
            "subprotocol": h.subprotocol,
            "extensions": h.extensions.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            "accept_valid": h.accept_valid(),
            "method": h.method, "target": h.target, "host": h.host, "origin": h.origin, "user_agent": h.user_agent,
            "key": h.key, "version": h.version, "accept": h.accept, "expected_accept": h.expected_accept,
            "offered_protocols": h.offered_protocols,
            "offered_extensions": h.offered_extensions.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            "request_packet": h.request_packet.number, "packet": h.response_packet.number, "ts": ts(&h.response_packet),
        }),
        Event::Frame(f) => {
            let h = &f.header;
            let mut o = json!({
                "type": "frame", "conn": f.conn.0, "dir": f.dir.as_str(), "index": f.index,
                "fin": h.fin, "rsv1": h.rsv1, "rsv2": h.rsv2, "rsv3": h.rsv3,
                "opcode": h.opcode.bits(), "opcode_name": h.opcode.name(),
                "masked": h.masked, "mask_key": h.mask_key.map(|k| hex(&k)),
                "payload_len": h.payload_len, "header_len": h.header_len,
                "packet": f.first_packet.number, "last_packet": f.last_packet.number, "ts": ts(&f.last_packet),
                "stream_offset": f.stream_offset,
            });
            let m = o.as_object_mut().expect("object");
            if f.lost > 0 {
                m.insert("lost".into(), json!(f.lost));
            }
            if let Some(c) = &f.close {
                m.insert("close_code".into(), json!(c.code));
                m.insert("close_code_name".into(), json!(c.code.map(close_code_name)));
                m.insert("close_reason".into(), json!(c.reason));
            }
            if let Some(rtt) = f.rtt_ns {
                m.insert("rtt_ms".into(), json!(rtt as f64 / 1e6));
            }
            o
        }
        Event::Message(msg) => {
            let mut m = Map::new();
            m.insert("type".into(), json!("message"));
            m.insert("conn".into(), json!(msg.conn.0));
            m.insert("dir".into(), json!(msg.dir.as_str()));
            m.insert("index".into(), json!(msg.index));
            m.insert("opcode".into(), json!(msg.opcode.bits()));
            m.insert("len".into(), json!(msg.payload.len));
            m.insert("fragments".into(), json!(msg.fragments));
            match msg.text() {
                Some(t) => m.insert("text".into(), json!(t)),
                None => m.insert(
                    "data_b64".into(),
                    json!(base64::engine::general_purpose::STANDARD.encode(&msg.payload.bytes)),
                ),
            };
            m.insert("truncated".into(), json!(msg.payload.truncated()));
            m.insert("compressed".into(), json!(msg.compressed));
            if msg.compressed {
                m.insert("wire_len".into(), json!(msg.wire_len));
            }
            if let Some(e) = &msg.inflate_error {
                m.insert("inflate_error".into(), json!(e));
            }
            if msg.lost > 0 {
                m.insert("lost".into(), json!(msg.lost));
            }
            if let Some(at) = msg.utf8_error {
                m.insert("utf8_error_at".into(), json!(at));
            }
            m.insert("packet".into(), json!(msg.first_packet.number));
            m.insert("last_packet".into(), json!(msg.last_packet.number));
            m.insert("ts".into(), ts(&msg.last_packet));
            Value::Object(m)
        }
        Event::Gap(g) => json!({
            "type": "gap", "conn": g.conn.0, "dir": g.dir.as_str(), "stream_offset": g.stream_offset, "len": g.len,
            "packet": g.packet.number, "ts": ts(&g.packet),
        }),
        Event::ConnectionEnd(e) => json!({
            "type": "connection_end", "conn": e.conn.0, "reason": e.reason.as_str(),
            "packet": e.packet.number, "ts": ts(&e.packet),
            "c2s": stats(&e.stats[0]), "s2c": stats(&e.stats[1]), "diagnostics": e.diagnostics,
        }),
        Event::Diagnostic(d) => json!({
            "type": "diagnostic", "conn": d.conn.0, "severity": d.rule.severity.as_str(), "rule": d.rule.name,
            "section": d.rule.section, "message": d.message,
            "dir": d.dir.map(|x| x.as_str()), "packet": d.packet.map(|p| p.number),
        }),
        Event::CaptureEnd(s) => json!({
            "type": "summary", "conn": 0, "packets": s.packets, "bytes": s.bytes,
            "tcp_connections": s.tcp_connections, "websocket_connections": s.websocket_connections,
            "skipped": s.skipped.iter().map(|(r, n)| json!({"reason": r, "packets": n})).collect::<Vec<_>>(),
        }),
    }
}

/// serde_json escapes only what JSON requires; a line of NDJSON may still be read on a terminal,
/// so DEL, C1 controls (0x9b is CSI on some terminals), bidirectional overrides and line
/// separators are written as `\uXXXX` too. The JSON value is unchanged.
struct TerminalSafeFormatter;

fn needs_escape(c: char) -> bool {
    matches!(c, '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{2028}' | '\u{2029}')
}

impl serde_json::ser::Formatter for TerminalSafeFormatter {
    fn write_string_fragment<Wr: ?Sized + Write>(
        &mut self,
        writer: &mut Wr,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if needs_escape(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                write!(writer, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// Write one JSON value with [`TerminalSafeFormatter`].
pub fn write_safe_json<W: Write>(out: &mut W, value: &Value) -> io::Result<()> {
    use serde::Serialize;
    let mut ser = serde_json::Serializer::with_formatter(out, TerminalSafeFormatter);
    value.serialize(&mut ser).map_err(io::Error::other)
}

impl<W: Write> Sink for JsonSink<W> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        write_safe_json(&mut self.out, &to_json(event))?;
        self.out.write_all(b"\n")?;
        if self.flush_each {
            self.out.flush()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
