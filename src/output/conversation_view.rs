//! The chat-log view (`--format conversation`), WebSocket's "follow stream": per connection one
//! handshake line, then only messages and closes, in capture order, with the time since the
//! first packet shown. Text is quoted and escaped, binary is a short hex dump.

use std::collections::HashMap;
use std::io::{self, Write};

use super::decoded::unit_line_within;
use super::escape::{escape_bytes, escape_text, hex_spaced};
use super::fit::{display_width, fit_preview, preview_within, wrap};
use super::style::Style;
use super::text::{elide, elided_note, holes_note, pretty_json, preview, MIN_PREVIEW};
use super::Sink;
use crate::base::{ConnId, Direction, PacketRef, StreamId, Timestamp};
use crate::event::{ConnectionInfo, Event, Frame, Message};
use crate::ws::close::close_code_name;
use crate::ws::opcode::OpCode;

pub struct ConversationOptions {
    /// Payload bytes shown per message (`usize::MAX`: everything kept).
    pub preview: usize,
    pub style: Style,
    /// Pretty-print text messages that are JSON.
    pub pretty_json: bool,
    pub flush_each: bool,
    /// Columns each line keeps within: previews are cut to fit, other lines wrap four
    /// columns in (`usize::MAX`: no limit).
    pub width: usize,
}

impl Default for ConversationOptions {
    fn default() -> Self {
        ConversationOptions {
            preview: 64,
            style: Style::default(),
            pretty_json: false,
            flush_each: false,
            width: usize::MAX,
        }
    }
}

#[derive(Default)]
struct ConnState {
    endpoints: Option<String>,
    /// The opening line (handshake or endpoints) was printed.
    announced: bool,
    /// Who sent the first close frame.
    closed_by: Option<Direction>,
}

pub struct ConversationSink<W: Write> {
    out: W,
    opts: ConversationOptions,
    start: Option<Timestamp>,
    /// By session: a connection, or a stream of an HTTP/2 connection.
    conns: HashMap<(ConnId, Option<StreamId>), ConnState>,
}

/// Bytes per hex dump line.
const DUMP_WIDTH: usize = 16;

fn side(dir: Direction) -> &'static str {
    match dir {
        Direction::ClientToServer => "client",
        Direction::ServerToClient => "server",
    }
}

fn who(st: Style, dir: Direction) -> String {
    match dir {
        Direction::ClientToServer => st.c2s("client → server"),
        Direction::ServerToClient => st.s2c("server → client"),
    }
}

/// `offset  hex bytes  |ascii|` lines; non-printable bytes are dots in the ASCII column.
fn hex_dump(bytes: &[u8], indent: &str) -> Vec<String> {
    bytes
        .chunks(DUMP_WIDTH)
        .enumerate()
        .map(|(i, chunk)| {
            let ascii: String = chunk
                .iter()
                .map(|&b| {
                    if (0x20..0x7f).contains(&b) {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            format!(
                "{indent}{:08x}  {:<w$}  |{ascii}|",
                i * DUMP_WIDTH,
                hex_spaced(chunk),
                w = DUMP_WIDTH * 3 - 1
            )
        })
        .collect()
}

impl<W: Write> ConversationSink<W> {
    pub fn new(out: W, opts: ConversationOptions) -> Self {
        ConversationSink {
            out,
            opts,
            start: None,
            conns: HashMap::new(),
        }
    }

    /// `[conn N] 1.234` for a packet, seconds since the capture's first packet.
    fn prefix(&mut self, conn: ConnId, stream: Option<StreamId>, p: &PacketRef) -> String {
        let start = *self.start.get_or_insert(p.ts);
        let d = p.ts.0.saturating_sub(start.0);
        let stream = stream.map(|s| format!(" stream {s}")).unwrap_or_default();
        format!(
            "[conn {conn}{stream}] {}.{:03}",
            d / 1_000_000_000,
            (d % 1_000_000_000) / 1_000_000
        )
    }

    fn endpoints(&self, conn: ConnId) -> Option<String> {
        self.conns
            .get(&(conn, None))
            .and_then(|s| s.endpoints.clone())
    }

    /// Print the endpoints line of a session whose handshake was not seen, once.
    fn announce(
        &mut self,
        conn: ConnId,
        stream: Option<StreamId>,
        p: &PacketRef,
        note: &str,
    ) -> io::Result<()> {
        let state = self.conns.entry((conn, stream)).or_default();
        if state.announced {
            return Ok(());
        }
        state.announced = true;
        let endpoints = self
            .endpoints(conn)
            .unwrap_or_else(|| "endpoints unknown".to_string());
        let prefix = self.prefix(conn, stream, p);
        let st = self.opts.style;
        let line = format!("{endpoints}{note}");
        self.write_wrapped(&format!("{prefix} {}", st.heading(&line)))
    }

    /// A line, wrapped to the width four columns in.
    fn write_wrapped(&mut self, line: &str) -> io::Result<()> {
        for l in wrap(line, self.opts.width, 4) {
            writeln!(self.out, "{l}")?;
        }
        Ok(())
    }

    /// `head`, then a payload preview cut to the columns the line has left; on a line of its
    /// own, four columns in, when too few are left.
    fn write_preview(&mut self, head: &str, bytes: &[u8], total: u64) -> io::Result<()> {
        let (limit, width, st) = (self.opts.preview, self.opts.width, self.opts.style);
        if width == usize::MAX || limit == usize::MAX {
            let body = preview(bytes, total, true, limit);
            return writeln!(self.out, "{head}  {}", st.text(&body));
        }
        let room = width.saturating_sub(display_width(head) + 2);
        let (body, whole) = fit_preview(bytes, total, true, limit, room);
        if whole || room >= MIN_PREVIEW {
            return writeln!(self.out, "{head}  {}", st.text(&body));
        }
        for l in wrap(head, width, 4) {
            writeln!(self.out, "{l}")?;
        }
        let body = preview_within(bytes, total, true, limit, width.saturating_sub(4));
        writeln!(self.out, "    {}", st.text(&body))
    }

    fn connection(&mut self, c: &ConnectionInfo) -> io::Result<()> {
        self.start.get_or_insert(c.first_packet.ts);
        let state = self.conns.entry((c.conn, None)).or_default();
        state.endpoints = Some(format!("{} → {}", c.client, c.server));
        if c.inferred && c.http2.is_none() {
            self.announce(
                c.conn,
                None,
                &c.first_packet,
                "  (handshake not seen whole: WebSocket inferred)",
            )?;
        }
        Ok(())
    }

    fn handshake(&mut self, h: &crate::event::Handshake) -> io::Result<()> {
        let st = self.opts.style;
        self.conns.entry((h.conn, h.stream)).or_default().announced = true;
        let endpoints = self.endpoints(h.conn);
        let prefix = self.prefix(h.conn, h.stream, &h.response_packet);
        let mut line = String::new();
        if let Some(e) = endpoints {
            line.push_str(&e);
            line.push_str("  ");
        }
        line.push_str(&format!(
            "{} {} → {}",
            escape_text(&h.method),
            escape_text(&h.target),
            h.status
        ));
        if !h.accepted() {
            line.push_str(&format!(" {}", escape_text(&h.reason)));
            let text = format!(
                "{}  {}",
                st.heading(&line),
                st.warn("rejected: no WebSocket")
            );
            return self.write_wrapped(&format!("{prefix} {text}"));
        }
        let ext: Vec<String> = h.extensions.iter().map(|e| e.to_string()).collect();
        line.push_str(&format!(
            ", subprotocol {}, extensions {}",
            escape_text(h.subprotocol.as_deref().unwrap_or("-")),
            if ext.is_empty() {
                "-".to_string()
            } else {
                escape_text(&ext.join(", "))
            }
        ));
        let accept = if h.accept_valid() {
            String::new()
        } else {
            format!(
                "  {}",
                st.severity(crate::base::rules::Severity::Error, "accept invalid")
            )
        };
        self.write_wrapped(&format!("{prefix} {}{accept}", st.heading(&line)))
    }

    fn message(&mut self, m: &Message) -> io::Result<()> {
        self.announce(m.conn, m.stream, &m.first_packet, "")?;
        let st = self.opts.style;
        let prefix = self.prefix(m.conn, m.stream, &m.last_packet);
        let mut head = format!(
            "{prefix} {}  {} {} B",
            who(st, m.dir),
            m.opcode.name(),
            m.payload.len
        );
        let mut notes = Vec::new();
        if m.compressed {
            notes.push(format!("inflated from {} B", m.wire_len));
        }
        match holes_note(m) {
            Some(n) => notes.push(format!("{n} in a capture gap")),
            None if m.lost > 0 => notes.push(format!("{} B lost in a capture gap", m.lost)),
            None => {}
        }
        if let Some(at) = m.utf8_error {
            notes.push(format!("invalid UTF-8 at byte {at}"));
        }
        if let Some(e) = &m.inflate_error {
            notes.push(format!("inflate failed: {}", escape_text(&e.to_string())));
        }
        if !notes.is_empty() {
            head.push_str(&format!(" ({})", st.warn(&notes.join(", "))));
        }
        let limit = self.opts.preview;
        let decoded = m.decoded.as_deref().filter(|d| !d.units.is_empty());
        if let Some(d) = decoded.filter(|_| !self.opts.pretty_json) {
            // The decoded form stands for the payload: a line per application packet.
            self.write_wrapped(&head)?;
            let room = self.opts.width.saturating_sub(6);
            for unit in &d.units {
                let line = unit_line_within(d.protocol, unit, room);
                writeln!(self.out, "    ↳ {}", st.text(&line))?;
            }
            return Ok(());
        }
        match m.text() {
            Some(s) => {
                if self.opts.pretty_json {
                    if let Some(p) = pretty_json(s) {
                        self.write_wrapped(&head)?;
                        for l in p.lines() {
                            writeln!(self.out, "    {}", st.text(l))?;
                        }
                        return Ok(());
                    }
                }
                self.write_preview(&head, s.as_bytes(), m.payload.len)
            }
            // Text that is not valid UTF-8 (or was cut by a gap): quoted, bad bytes as \xNN.
            None if m.opcode == OpCode::Text && m.inflate_error.is_none() => {
                self.write_preview(&head, &m.payload.bytes, m.payload.len)
            }
            None => {
                self.write_wrapped(&head)?;
                let (shown, more) = elide(&m.payload.bytes, m.payload.len, limit);
                // Three columns in: a row of 16 bytes is then 80 columns wide.
                for line in hex_dump(shown, "   ") {
                    writeln!(self.out, "{}", st.hex(&line))?;
                }
                if more > 0 {
                    writeln!(self.out, "   {}", elided_note(more))?;
                }
                Ok(())
            }
        }
    }

    fn close(&mut self, f: &Frame) -> io::Result<()> {
        let Some(c) = &f.close else { return Ok(()) };
        self.announce(f.conn, f.stream, &f.first_packet, "")?;
        let prefix = self.prefix(f.conn, f.stream, &f.last_packet);
        let state = self.conns.entry((f.conn, f.stream)).or_default();
        let verb = match state.closed_by {
            None => {
                state.closed_by = Some(f.dir);
                "closed by"
            }
            Some(d) if d != f.dir => "close answered by",
            Some(_) => "closed again by",
        };
        let detail = match c.code {
            Some(code) => {
                let mut s = format!("{code} {}", close_code_name(code));
                if !c.reason.is_empty() || c.reason_utf8_error.is_some() {
                    s.push_str(&format!(" \"{}\"", escape_bytes(&c.reason_bytes)));
                }
                s
            }
            None => "no status code".to_string(),
        };
        let st = self.opts.style;
        let text = st.warn(&format!("{verb} {}: {detail}", side(f.dir)));
        self.write_wrapped(&format!("{prefix} {text}"))
    }
}

impl<W: Write> Sink for ConversationSink<W> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::Connection(c) => self.connection(c)?,
            Event::Handshake(h) => self.handshake(h)?,
            Event::Message(m) => self.message(m)?,
            Event::Frame(f) if f.header.opcode == OpCode::Close => self.close(f)?,
            Event::Frame(_)
            | Event::Gap(_)
            | Event::TlsRecord(_)
            | Event::Http2Frame(_)
            | Event::Http2Request(_)
            | Event::StreamEnd(_)
            | Event::ConnectionEnd(_)
            | Event::Diagnostic(_)
            | Event::CaptureEnd(_) => return Ok(()),
        }
        if self.opts.flush_each {
            self.out.flush()?;
        }
        Ok(())
    }

    fn capture_start(&mut self, first_packet: Timestamp) {
        self.start.get_or_insert(first_packet);
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::hex_dump;
    use super::{ConversationOptions, ConversationSink};
    use crate::base::Direction;
    use crate::conversation::{dissect_raw_frames, DissectConfig};
    use crate::output::Sink;
    use crate::ws::deflate::DeflateParams;

    #[test]
    fn compressed_messages_were_inflated_and_reasons_show_their_bytes() {
        // RFC 7692 §7.2.3.1's "Hello", then a close whose reason ends in a byte that is not UTF-8.
        let hello = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let close = [0x88, 0x06, 0x03, 0xe8, b'b', b'y', b'e', 0xff];
        let dir = Direction::ServerToClient;
        let raw = dissect_raw_frames(
            &[(dir, &hello), (dir, &close)],
            Some(DeflateParams::default()),
            DissectConfig::default(),
        );
        let mut out = Vec::new();
        let mut sink = ConversationSink::new(&mut out, ConversationOptions::default());
        for e in &raw.events {
            sink.event(e).unwrap();
        }
        drop(sink);
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.contains("text 5 B (inflated from 7 B)  \"Hello\""),
            "{out}"
        );
        assert!(out.contains("1000 Normal Closure \"bye\\xff\""), "{out}");
    }

    #[test]
    fn hex_dump_lines() {
        let lines = hex_dump(b"hello\x1b[2J world, more than sixteen", "");
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0],
            "00000000  68 65 6c 6c 6f 1b 5b 32 4a 20 77 6f 72 6c 64 2c  |hello.[2J world,|"
        );
        assert!(lines[2].starts_with("00000020  65 6e"));
    }
}
