//! The default human view: per connection its endpoints and handshake, then frames and messages
//! in capture order with packet numbers and times relative to the first packet.

use std::io::{self, Write};

use super::escape::{escape_bytes, hex_spaced};
use super::Sink;
use crate::event::{Event, Frame, Message, PacketRef, Timestamp};
use crate::ws::close::close_code_name;
use crate::ws::opcode::OpCode;

pub struct TextOptions {
    /// Payload bytes shown per frame or message line.
    pub preview: usize,
    pub flush_each: bool,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            preview: 64,
            flush_each: false,
        }
    }
}

pub struct TextSink<W: Write> {
    out: W,
    opts: TextOptions,
    start: Option<Timestamp>,
}

impl<W: Write> TextSink<W> {
    pub fn new(out: W, opts: TextOptions) -> Self {
        TextSink {
            out,
            opts,
            start: None,
        }
    }

    fn rel(&mut self, p: &PacketRef) -> String {
        let start = *self.start.get_or_insert(p.ts);
        let d = p.ts.0.saturating_sub(start.0);
        format!("{}.{:06}", d / 1_000_000_000, (d % 1_000_000_000) / 1000)
    }

    /// A payload preview: quoted, escaped text for text, hex for binary; elided past the limit.
    fn preview(&self, bytes: &[u8], total: u64, as_text: bool) -> String {
        let n = self.opts.preview.min(bytes.len());
        let shown = &bytes[..n];
        let more = total.saturating_sub(n as u64);
        let body = if as_text {
            format!("\"{}\"", escape_bytes(shown))
        } else {
            hex_spaced(shown)
        };
        if more > 0 {
            format!("{body} …(+{more} bytes)")
        } else {
            body
        }
    }

    fn frame_line(&mut self, f: &Frame) -> io::Result<()> {
        let h = &f.header;
        let t = self.rel(&f.last_packet);
        let mut flags = String::new();
        flags.push_str(if h.fin { "FIN" } else { "---" });
        for (on, name) in [(h.rsv1, " RSV1"), (h.rsv2, " RSV2"), (h.rsv3, " RSV3")] {
            if on {
                flags.push_str(name);
            }
        }
        let mask = match h.mask_key {
            Some(k) => format!("mask {}", hex_spaced(&k).replace(' ', "")),
            None => "unmasked".to_string(),
        };
        let opname = if h.opcode.is_reserved() {
            format!("0x{:X}", h.opcode.bits())
        } else {
            h.opcode.name().to_string()
        };
        let mut detail = String::new();
        if let Some(c) = &f.close {
            match c.code {
                Some(code) => {
                    detail = format!(
                        "{code} {} \"{}\"",
                        close_code_name(code),
                        super::escape::escape_text(&c.reason)
                    )
                }
                None => detail = "(no status code)".into(),
            }
        } else if !f.payload.bytes.is_empty() || f.payload.len > 0 {
            let as_text = matches!(h.opcode, OpCode::Text | OpCode::Ping | OpCode::Pong)
                && std::str::from_utf8(&f.payload.bytes).is_ok()
                || (h.opcode == OpCode::Continuation
                    && std::str::from_utf8(&f.payload.bytes).is_ok());
            detail = self.preview(&f.payload.bytes, f.payload.len, as_text);
        }
        if let Some(rtt) = f.rtt_ns {
            detail.push_str(&format!("  rtt {:.3} ms", rtt as f64 / 1e6));
        }
        if f.lost > 0 {
            detail.push_str(&format!("  [{} bytes lost]", f.lost));
        }
        writeln!(
            self.out,
            "  #{:<6} {:>11}  {} {} {:<3} {:<12} {:<13} len {:<7} {}",
            f.first_packet.number,
            t,
            f.dir.as_str(),
            f.dir.arrow(),
            flags,
            opname,
            mask,
            h.payload_len,
            detail
        )
    }

    fn message_line(&mut self, m: &Message) -> io::Result<()> {
        let t = self.rel(&m.last_packet);
        let body = match m.text() {
            Some(s) => self.preview(s.as_bytes(), m.payload.len, true),
            None => self.preview(&m.payload.bytes, m.payload.len, false),
        };
        writeln!(
            self.out,
            "  #{:<6} {:>11}  {} {} message {} {} bytes in {} fragments: {}",
            m.last_packet.number,
            t,
            m.dir.as_str(),
            m.dir.arrow(),
            m.opcode.name(),
            m.payload.len,
            m.fragments,
            body
        )
    }
}

impl<W: Write> Sink for TextSink<W> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::Connection(c) => {
                let t = self.rel(&c.first_packet);
                writeln!(
                    self.out,
                    "conn {}  {} → {}  (first packet #{} at {}s{})",
                    c.conn,
                    c.client,
                    c.server,
                    c.first_packet.number,
                    t,
                    if c.inferred {
                        ", WebSocket inferred from its frames"
                    } else {
                        ""
                    }
                )?;
            }
            Event::Handshake(h) => {
                let t = self.rel(&h.request_packet);
                writeln!(
                    self.out,
                    "  #{:<6} {:>11}  handshake {} {}  Host: {}",
                    h.request_packet.number,
                    t,
                    super::escape::escape_text(&h.method),
                    super::escape::escape_text(&h.target),
                    super::escape::escape_text(h.host.as_deref().unwrap_or("-"))
                )?;
                let t = self.rel(&h.response_packet);
                let accept = if !h.accepted() {
                    "rejected".to_string()
                } else if h.accept_valid() {
                    "accept ok".to_string()
                } else {
                    "ACCEPT INVALID".to_string()
                };
                let ext: Vec<String> = h.extensions.iter().map(|e| e.to_string()).collect();
                writeln!(
                    self.out,
                    "  #{:<6} {:>11}  → {} {}  {}  subprotocol: {}  extensions: {}",
                    h.response_packet.number,
                    t,
                    h.status,
                    super::escape::escape_text(&h.reason),
                    accept,
                    super::escape::escape_text(h.subprotocol.as_deref().unwrap_or("-")),
                    if ext.is_empty() {
                        "-".to_string()
                    } else {
                        super::escape::escape_text(&ext.join(", "))
                    }
                )?;
            }
            Event::Frame(f) => self.frame_line(f)?,
            Event::Message(m) => {
                if m.fragments > 1 {
                    self.message_line(m)?;
                }
            }
            Event::Gap(g) => {
                let t = self.rel(&g.packet);
                writeln!(
                    self.out,
                    "  #{:<6} {:>11}  {} gap: {} bytes missing at stream offset {}",
                    g.packet.number,
                    t,
                    g.dir.as_str(),
                    g.len,
                    g.stream_offset
                )?;
            }
            Event::Diagnostic(d) => {
                let pkt = d
                    .packet
                    .map(|p| format!("#{}", p.number))
                    .unwrap_or_default();
                let conn = if d.conn.0 == 0 {
                    String::from("capture: ")
                } else {
                    String::new()
                };
                writeln!(
                    self.out,
                    "  {:<7}  {}{} {} [{}, {}]: {}",
                    pkt,
                    conn,
                    d.rule.severity,
                    d.dir.map(|x| x.as_str()).unwrap_or(""),
                    d.rule.name,
                    d.rule.section,
                    super::escape::escape_text(&d.message)
                )?;
            }
            Event::ConnectionEnd(e) => {
                let [c, s] = e.stats;
                writeln!(
                    self.out,
                    "  conn {} ended ({}): c2s {} frames, {} messages, {} payload bytes; s2c {} frames, {} messages, {} payload bytes; {} diagnostics",
                    e.conn,
                    e.reason.as_str(),
                    c.frames,
                    c.messages,
                    c.payload_bytes,
                    s.frames,
                    s.messages,
                    s.payload_bytes,
                    e.diagnostics
                )?;
            }
            Event::CaptureEnd(s) => {
                writeln!(
                    self.out,
                    "{} packets, {} TCP connections, {} WebSocket connections",
                    s.packets, s.tcp_connections, s.websocket_connections
                )?;
                for (reason, n) in &s.skipped {
                    writeln!(self.out, "  skipped {n} packets: {reason}")?;
                }
            }
        }
        if self.opts.flush_each {
            self.out.flush()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
