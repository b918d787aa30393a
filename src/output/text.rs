//! The default human view: per connection its endpoints and handshake, then frames and messages
//! in capture order with packet numbers and times relative to the first packet.

use std::io::{self, Write};

use super::decoded::{unit_line_within, Heartbeats};
use super::escape::{
    escape_bytes, escape_line, escape_text, hex_spaced, is_terminal_hazard, quoted_bytes,
};
pub use super::fit::elided_note;
use super::fit::{display_width, preview_may_fit, wrap, wrap_words, Line};
use super::style::Style;
use super::words::HIGH_BITS;
use super::Sink;
use crate::base::rules::Severity;
use crate::base::{ConnId, StreamId};
use crate::base::{Diagnostic, Direction, PacketRef, Timestamp};
use crate::event::Handshake;
use crate::event::{
    CaptureSummary, ConnectionEnd, Event, Frame, FrameHeader, H2Start, Message, RecordSeen,
    StreamEnd, TlsInfo,
};
use crate::tls::record::content_type_name;
use crate::ws::close::close_code_name;
use crate::ws::opcode::OpCode;
use crate::ws::record::DirStats;

pub struct TextOptions {
    /// Payload bytes shown per frame or message line.
    pub preview: usize,
    pub flush_each: bool,
    pub style: Style,
    /// Pretty-print text payloads that are JSON.
    pub pretty_json: bool,
    /// Columns each line keeps within: previews are cut to fit, other lines wrap onto
    /// indented continuation lines. Whole payloads (`preview` unlimited) and pretty-printed
    /// JSON are never cut.
    pub width: usize,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            preview: 64,
            flush_each: false,
            style: Style::default(),
            pretty_json: false,
            width: usize::MAX,
        }
    }
}

pub struct TextSink<W: Write> {
    w: Writer<W>,
    /// The line being built, and the part that ends it (kept apart to measure it): reused
    /// from line to line, so a frame's line costs no allocation. Apart from the rest, which
    /// builds into them, so that they are lent rather than moved out and back for each line.
    line: Line,
    tail: Line,
}

/// All of a [`TextSink`] but its reused lines.
struct Writer<W: Write> {
    out: W,
    opts: TextOptions,
    start: Option<Timestamp>,
    /// Keep-alives of decoded sessions: the first is shown, the rest counted at the end.
    heartbeats: Heartbeats,
    /// Each direction's label (see [`dir_line`]), by [`Direction::index`].
    dirs: [Line; 2],
    /// The same between the spaces that set it off in a frame's line: `  c2s → `.
    spaced_dirs: [Line; 2],
}

/// Time since the capture's first packet (else the first packet shown), as seconds with
/// microseconds.
fn relative(start: &mut Option<Timestamp>, p: &PacketRef) -> String {
    let mut line = Line::default();
    push_relative(&mut line, start, p, 0);
    line.as_str().to_string()
}

/// [`relative`] appended to a line, right-aligned in `cols` columns.
fn push_relative(line: &mut Line, start: &mut Option<Timestamp>, p: &PacketRef, cols: usize) {
    let start = *start.get_or_insert(p.ts);
    let d = p.ts.0.saturating_sub(start.0);
    let micros = (d % 1_000_000_000) / 1000;
    line.seconds(d / 1_000_000_000, micros as u32, cols);
}

/// The part of a payload's kept bytes a view shows (at most `limit`), and how many bytes of
/// the whole `total` it leaves out: cut here, or never kept.
pub fn elide(kept: &[u8], total: u64, limit: usize) -> (&[u8], u64) {
    let shown = &kept[..limit.min(kept.len())];
    (shown, total.saturating_sub(shown.len() as u64))
}

/// A payload preview: quoted, escaped text, or hex; elided past `limit` bytes.
pub fn preview(bytes: &[u8], total: u64, as_text: bool, limit: usize) -> String {
    let (shown, more) = elide(bytes, total, limit);
    let body = if as_text {
        quoted_bytes(shown)
    } else {
        hex_spaced(shown)
    };
    if more > 0 {
        format!("{body} {}", elided_note(more))
    } else {
        body
    }
}

/// A diagnostic as the human views show it: a severity mark, then severity, rule, RFC section
/// and the escaped message (after `scope`), coloured by severity.
pub fn diagnostic_line(st: Style, d: &Diagnostic, scope: &str) -> String {
    let text = format!(
        "{scope}{} {} ({}): {}",
        d.rule.severity,
        d.rule.name,
        d.rule.section,
        escape_line(&d.message)
    );
    format!(
        "{} {}",
        st.severity_mark(d.rule.severity),
        st.severity(d.rule.severity, &text)
    )
}

/// UTF-8, allowing a character cut at either end (fragments and truncated copies split them).
pub fn looks_like_text(bytes: &[u8]) -> bool {
    if all_ascii(bytes) {
        return true;
    }
    let start = bytes
        .iter()
        .take(3)
        .take_while(|b| (0x80..0xc0).contains(*b))
        .count();
    match std::str::from_utf8(&bytes[start..]) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

/// No byte has its top bit: most texts are ASCII. An OR of all of them costs a sixth of the
/// UTF-8 check (and of `<[u8]>::is_ascii`). Eight bytes a word, which the compiler ORs 32
/// bytes a step: a fold over bytes did 64 a step, and up to 63 left over one at a time.
fn all_ascii(bytes: &[u8]) -> bool {
    let words = bytes.chunks_exact(8);
    let rest = words.remainder().iter().fold(0, |any, b| any | b);
    let any = words.fold(0, |any, w| {
        any | u64::from_le_bytes(w.try_into().unwrap_or_default())
    });
    any & HIGH_BITS == 0 && rest < 0x80
}

/// JSON text re-indented, when it parses. It stays JSON: serde_json already escapes control
/// characters inside strings, and the other terminal hazards (C1 controls, bidi marks) become
/// `\uXXXX` escapes, which mean the same character to a JSON parser.
pub fn pretty_json(text: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    if !(v.is_object() || v.is_array()) {
        return None;
    }
    let pretty = serde_json::to_string_pretty(&v).ok()?;
    let mut out = String::with_capacity(pretty.len());
    for c in pretty.chars() {
        if is_terminal_hazard(c) || c.is_control() && c != '\n' {
            // Only inside strings (JSON outside them is ASCII); all of these are in the BMP.
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Some(out)
}

pub fn dir_label(style: Style, dir: Direction) -> String {
    dir_line(style, dir).as_str().to_string()
}

/// [`dir_label`] as a line to append: a view renders both once (measuring the arrow's width
/// for every frame cost more than the rest of the label).
fn dir_line(style: Style, dir: Direction) -> Line {
    let mut line = Line::default();
    line.direction(style, dir, dir_words(dir));
    line
}

/// [`dir_line`] set off by two spaces before and one after, as a frame's line has it.
fn spaced_dir_line(style: Style, dir: Direction) -> Line {
    let mut line = Line::default();
    line.ascii("  ");
    line.direction(style, dir, dir_words(dir));
    line.ascii(" ");
    line
}

/// `c2s →` or `s2c ←`: the direction's name and arrow.
fn dir_words(dir: Direction) -> &'static str {
    match dir {
        Direction::ClientToServer => "c2s →",
        Direction::ServerToClient => "s2c ←",
    }
}

/// The direction, after the HTTP/2 stream when the session is one of several on a connection.
pub fn session_label(style: Style, stream: Option<StreamId>, dir: Direction) -> String {
    let mut line = Line::default();
    push_session_label(&mut line, stream, &dir_line(style, dir));
    line.as_str().to_string()
}

/// [`session_label`] appended to a line, with the direction's label as [`dir_line`] renders it.
fn push_session_label(line: &mut Line, stream: Option<StreamId>, dir: &Line) {
    if let Some(s) = stream {
        line.ascii("stream ");
        line.number(u64::from(s.0));
        line.ascii(" ");
    }
    line.append(dir);
}

/// Lines for everything but frames and messages, shared by the text and annotated views.
/// `time` gives the time column for a packet ("" where a view has none).
pub fn write_context_line(
    out: &mut dyn Write,
    event: &Event,
    st: Style,
    time: &mut dyn FnMut(&PacketRef) -> Option<String>,
) -> io::Result<()> {
    let mut time = |p: &PacketRef| time(p).map(|t| format!("{t:>11}  ")).unwrap_or_default();
    match event {
        Event::Connection(c) => {
            writeln!(
                out,
                "{}",
                st.heading(&format!(
                    "conn {}  {} → {}  (first packet #{}{})",
                    c.conn,
                    c.client,
                    c.server,
                    c.first_packet.number,
                    if c.inferred {
                        ", WebSocket inferred: handshake not seen whole"
                    } else {
                        ""
                    }
                ))
            )?;
            if let Some(t) = &c.tls {
                write_tls(out, t)?;
            }
            match c.http2 {
                Some(start) => writeln!(
                    out,
                    "  http/2 ({})  each WebSocket is a stream (RFC 8441)",
                    h2_start_words(start)
                ),
                None => Ok(()),
            }
        }
        Event::Handshake(h) if h.http2.is_some() => write_connect_handshake(out, h, st, &mut time),
        Event::Handshake(h) => write_handshake(out, h, st, &mut time),
        Event::Http2Frame(f) => writeln!(
            out,
            "  #{:<6} {}{} {}",
            f.packet.number,
            time(&f.packet),
            dir_label(st, f.dir),
            st.dim(&h2_frame_line(&f.header, &f.detail))
        ),
        Event::Http2Request(r) => writeln!(
            out,
            "  #{:<6} {}stream {} {} {} → {}  ({})",
            r.packet.number,
            time(&r.packet),
            r.stream,
            escape_text(&r.method),
            escape_text(&r.path),
            r.status.map_or("no answer".to_string(), |s| s.to_string()),
            if r.upgraded {
                "the HTTP/1.1 request upgraded to h2c"
            } else {
                "not WebSocket"
            }
        ),
        Event::StreamEnd(e) => write_stream_end(out, e),
        Event::Gap(g) => writeln!(
            out,
            "  #{:<6} {}{} {}",
            g.packet.number,
            time(&g.packet),
            dir_label(st, g.dir),
            st.warn(&format!(
                "gap: {} bytes missing at stream offset {}",
                g.len, g.stream_offset
            ))
        ),
        Event::TlsRecord(r) => writeln!(
            out,
            "  #{:<6} {}{} {}",
            r.packet.number,
            time(&r.packet),
            dir_label(st, r.dir),
            st.dim(&tls_record_line(&r.seen))
        ),
        Event::Diagnostic(d) => {
            let pkt = d
                .packet
                .map(|p| format!("#{}", p.number))
                .unwrap_or_default();
            // Capture-level diagnostics (conn 0) say so; others name their direction if any.
            let scope = if d.conn.0 == 0 {
                "capture: ".to_string()
            } else {
                let stream = d.stream.map(|s| format!("stream {s} ")).unwrap_or_default();
                let dir = d
                    .dir
                    .map(|x| format!("{} ", x.as_str()))
                    .unwrap_or_default();
                format!("{stream}{dir}")
            };
            writeln!(out, "  {:<7} {}", pkt, diagnostic_line(st, d, &scope))
        }
        Event::ConnectionEnd(e) => write_connection_end(out, e),
        Event::CaptureEnd(s) => write_summary(out, s),
        Event::Frame(_) | Event::Message(_) => Ok(()),
    }
}

/// The request line (method, target, Host, Origin) and the response line (status, whether the
/// accept key checks out, subprotocol, extensions), each at its packet.
fn write_handshake(
    out: &mut dyn Write,
    h: &Handshake,
    st: Style,
    time: &mut dyn FnMut(&PacketRef) -> String,
) -> io::Result<()> {
    writeln!(
        out,
        "  #{:<6} {}handshake {} {}  Host: {}{}",
        h.request_packet.number,
        time(&h.request_packet),
        escape_text(&h.method),
        escape_text(&h.target),
        escape_text(h.host.as_deref().unwrap_or("-")),
        h.origin
            .as_deref()
            .map(|o| format!("  Origin: {}", escape_text(o)))
            .unwrap_or_default()
    )?;
    let accept = if !h.accepted() {
        st.warn("rejected")
    } else if h.accept_valid() {
        "accept ok".to_string()
    } else {
        st.severity(Severity::Error, "ACCEPT INVALID")
    };
    let ext: Vec<String> = h.extensions.iter().map(|e| e.to_string()).collect();
    writeln!(
        out,
        "  #{:<6} {}→ {} {}  {}  subprotocol: {}  extensions: {}",
        h.response_packet.number,
        time(&h.response_packet),
        h.status,
        escape_text(&h.reason),
        accept,
        escape_text(h.subprotocol.as_deref().unwrap_or("-")),
        if ext.is_empty() {
            "-".to_string()
        } else {
            escape_text(&ext.join(", "))
        }
    )
}

fn h2_start_words(start: H2Start) -> &'static str {
    match start {
        H2Start::PriorKnowledge => "prior knowledge: the client began with the preface",
        H2Start::Upgrade => "upgraded from HTTP/1.1 with Upgrade: h2c",
        H2Start::Alpn => "chosen by TLS ALPN h2",
        H2Start::Inferred => "its start not captured: recognised from its frames",
    }
}

/// One HTTP/2 frame in a line: type, flags, stream, length, and what the payload says.
fn h2_frame_line(h: &FrameHeader, detail: &str) -> String {
    let flags = h.flag_names().join(" ");
    let mut line = format!("h2 {} stream {} len {}", h.kind, h.stream, h.len);
    // The detail may quote field values the peers sent.
    let detail = escape_text(detail);
    for part in [flags.as_str(), detail.as_str()] {
        if !part.is_empty() {
            line.push_str("  ");
            line.push_str(part);
        }
    }
    line
}

/// An extended CONNECT (RFC 8441) and its answer, each at its packet.
fn write_connect_handshake(
    out: &mut dyn Write,
    h: &Handshake,
    st: Style,
    time: &mut dyn FnMut(&PacketRef) -> String,
) -> io::Result<()> {
    let stream = h.stream.map(|s| s.to_string()).unwrap_or_default();
    let connect = h.http2.as_ref();
    let protocol = connect.and_then(|c| c.protocol.as_deref()).unwrap_or("-");
    writeln!(
        out,
        "  #{:<6} {}stream {stream} handshake {} :protocol {} {}  :authority {}",
        h.request_packet.number,
        time(&h.request_packet),
        escape_text(&h.method),
        escape_text(protocol),
        escape_text(&h.target),
        escape_text(h.host.as_deref().unwrap_or("-")),
    )?;
    let verdict = if h.accepted() {
        "accepted".to_string()
    } else {
        st.warn("rejected")
    };
    let ext: Vec<String> = h.extensions.iter().map(|e| e.to_string()).collect();
    writeln!(
        out,
        "  #{:<6} {}stream {stream} → :status {}  {verdict}  subprotocol: {}  extensions: {}",
        h.response_packet.number,
        time(&h.response_packet),
        h.status,
        escape_text(h.subprotocol.as_deref().unwrap_or("-")),
        if ext.is_empty() {
            "-".to_string()
        } else {
            escape_text(&ext.join(", "))
        }
    )
}

fn write_stream_end(out: &mut dyn Write, e: &StreamEnd) -> io::Result<()> {
    let [c, s] = e.stats;
    writeln!(
        out,
        // `;` after each part: where the line breaks when it does not fit.
        "  conn {} stream {} ended at #{}: {}; c2s {}; s2c {}",
        e.conn,
        e.stream,
        e.packet.number,
        e.reason.describe(),
        dir_counts(&c),
        dir_counts(&s),
    )
}

fn write_connection_end(out: &mut dyn Write, e: &ConnectionEnd) -> io::Result<()> {
    let [c, s] = e.stats;
    writeln!(
        out,
        "  conn {} ended ({}) at #{}: c2s {}; s2c {}; {}",
        e.conn,
        e.reason.as_str(),
        e.packet.number,
        dir_counts(&c),
        dir_counts(&s),
        count(e.diagnostics, "diagnostic")
    )
}

/// One direction's counts: `3 frames, 1 message, 25 payload bytes`.
fn dir_counts(d: &DirStats) -> String {
    format!(
        "{}, {}, {}",
        count(d.frames, "frame"),
        count(d.messages, "message"),
        count(d.payload_bytes, "payload byte")
    )
}

/// What a TLS connection's handshake said, under its heading: version and cipher suite, then
/// the server name and ALPN protocols (sent by the peers, so escaped).
fn write_tls(out: &mut dyn Write, t: &TlsInfo) -> io::Result<()> {
    let state = if t.decrypted {
        "decrypted"
    } else {
        "not decrypted"
    };
    let resumed = if t.resumed { ", resumed" } else { "" };
    writeln!(
        out,
        "  tls {}  {}  {state}{resumed}",
        t.version_name(),
        t.suite_name()
    )?;
    let sni = t.sni.as_deref().map(escape_text);
    let alpn = t.alpn.as_deref().map(escape_text);
    let offered: Vec<String> = t.alpn_offered.iter().map(|p| escape_text(p)).collect();
    writeln!(
        out,
        "      sni {}  alpn {} (offered {})",
        sni.as_deref().unwrap_or("-"),
        alpn.as_deref().unwrap_or("-"),
        if offered.is_empty() {
            "-".to_string()
        } else {
            offered.join(", ")
        }
    )
}

/// A TLS record in one line (within 80 columns after the packet and direction): its type and
/// length, and what it carried once opened.
fn tls_record_line(r: &RecordSeen) -> String {
    let (t, len) = (r.content_type, r.len);
    let named = format!("tls record {t} {}, {len} B", content_type_name(t));
    match r.inner {
        // TLS 1.2, or TLS 1.3 application data: the type inside is the one outside.
        Some((inner, n)) if inner == t => format!("{named} → {n} B plaintext"),
        // TLS 1.3 hides the real type inside (RFC 8446 §5.2).
        Some((inner, n)) => format!(
            "tls record {t}, {len} B → {inner} {}, {n} B",
            content_type_name(inner)
        ),
        None if r.protected => format!("{named}, encrypted"),
        None => named,
    }
}

/// The counts line of the capture summary, shared by the text and table views.
pub fn summary_counts(s: &CaptureSummary) -> String {
    let mut line = format!(
        "{}, {}, {}",
        count(s.packets, "packet"),
        count(s.tcp_connections, "TCP connection"),
        count(s.websocket_connections, "WebSocket connection")
    );
    if s.tls_connections > 0 {
        line.push_str(&format!(
            ", {} TLS ({} decrypted)",
            s.tls_connections, s.tls_decrypted
        ));
    }
    line
}

/// The capture summary: counts, then the packets skipped per reason.
fn write_summary(out: &mut dyn Write, s: &CaptureSummary) -> io::Result<()> {
    writeln!(out, "{}", summary_counts(s))?;
    for (reason, n) in &s.skipped {
        writeln!(out, "  skipped {}: {reason}", count(*n, "packet"))?;
    }
    if s.cut_short > 0 {
        let n = count(s.cut_short, "packet");
        writeln!(out, "  cut short by the snapshot length: {n}")?;
    }
    Ok(())
}

/// Where a message's bytes are missing, in words: `bytes 540662–802805 missing`, or for several
/// holes `3 holes, 5000 bytes missing; the first: bytes 10–19 missing`. The kept payload stops
/// at the first one.
pub(crate) fn holes_note(m: &Message) -> Option<String> {
    match m.holes.as_slice() {
        [] => None,
        [one] if m.lost == one.len => Some(one.to_string()),
        [first, ..] => Some(format!(
            "{} bytes missing in {}{} holes; the first: {first}",
            m.lost,
            if m.holes.len() == crate::ws::record::MAX_HOLES {
                "at least "
            } else {
                ""
            },
            m.holes.len()
        )),
    }
}

/// Where a line's continuation starts when it follows the time column: under the direction.
const AFTER_TIME: usize = 25;
/// Where a diagnostic's continuation starts: under its severity.
const AFTER_MARK: usize = 12;
/// Fewer columns than this left for a preview after a frame's fields, and the preview goes on
/// a line of its own.
pub const MIN_PREVIEW: usize = 40;

/// A payload to preview: the bytes kept, the whole length, and whether it reads as text.
struct Payload<'a> {
    bytes: &'a [u8],
    total: u64,
    as_text: bool,
}

impl<W: Write> TextSink<W> {
    pub fn new(out: W, opts: TextOptions) -> Self {
        TextSink {
            w: Writer {
                out,
                start: None,
                heartbeats: Heartbeats::default(),
                dirs: [Direction::ClientToServer, Direction::ServerToClient]
                    .map(|d| dir_line(opts.style, d)),
                spaced_dirs: [Direction::ClientToServer, Direction::ServerToClient]
                    .map(|d| spaced_dir_line(opts.style, d)),
                opts,
            },
            line: Line::default(),
            tail: Line::default(),
        }
    }
}

impl<W: Write> Writer<W> {
    fn write_line(&mut self, line: &str) -> io::Result<()> {
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")
    }

    /// A line within the width: wrapped onto continuation lines `indent` columns in.
    fn write_fitted(&mut self, line: &mut Line, indent: usize) -> io::Result<()> {
        if line.width() <= self.opts.width {
            return line.write_to(&mut self.out);
        }
        self.out.write_all(line.ended())?;
        for l in wrap(&line.as_str(), self.opts.width, indent) {
            self.write_line(&l)?;
        }
        Ok(())
    }

    /// `line` (the head), a payload preview and `tail` (round-trip time, bytes lost). The
    /// preview takes the columns the line has left, cut with a count of the bytes it leaves
    /// out; when too few are left it goes on a continuation line under the direction. Whole
    /// payloads (`--full-payload`) are never cut.
    fn write_with_preview(&mut self, line: &mut Line, p: Payload, tail: &Line) -> io::Result<()> {
        let (limit, width) = (self.opts.preview, self.opts.width);
        if limit == usize::MAX {
            // Not measured: it may be megabytes, and it is not cut.
            let whole = preview(p.bytes, p.total, p.as_text, limit);
            self.out.write_all(line.as_bytes())?;
            self.out.write_all(whole.as_bytes())?;
            self.out.write_all(tail.as_bytes())?;
            return self.out.write_all(b"\n");
        }
        if p.bytes.is_empty() && p.total == 0 && !p.as_text {
            line.append(tail);
            return self.write_fitted(line, AFTER_TIME);
        }
        let room = width.saturating_sub(line.width() + tail.width());
        if room >= MIN_PREVIEW || preview_may_fit(p.bytes, p.total, p.as_text, limit, room) {
            let head = line.mark();
            if line.preview(p.bytes, p.total, p.as_text, limit, room) || room >= MIN_PREVIEW {
                line.append(tail);
                return line.write_to(&mut self.out);
            }
            line.truncate(head);
        }
        line.trim_end();
        // The head, ended here and written with the preview's line when it fits.
        if line.width() <= width {
            line.end_line();
        } else {
            self.write_fitted(line, AFTER_TIME)?;
            line.clear();
        }
        let room = width.saturating_sub(AFTER_TIME + tail.width());
        line.spaces(AFTER_TIME);
        line.preview(p.bytes, p.total, p.as_text, limit, room);
        line.append(tail);
        self.write_fitted(line, AFTER_TIME)
    }

    /// `head`, then a detail that is not cut (a close code and reason) and `tail`: on a
    /// continuation line under the direction when it does not fit after `head`.
    fn write_with_detail(&mut self, head: &mut Line, detail: &str, tail: &Line) -> io::Result<()> {
        let before_detail = head.mark();
        head.text(detail);
        head.append(tail);
        if head.width() <= self.opts.width {
            return head.write_to(&mut self.out);
        }
        head.truncate(before_detail);
        head.trim_end();
        self.write_fitted(head, AFTER_TIME)?;
        head.clear();
        head.spaces(AFTER_TIME);
        head.text(detail);
        head.append(tail);
        self.write_fitted(head, AFTER_TIME)
    }

    /// `  #12     0.004211  c2s → FIN text  mask 0a1b2c3d  len 5       ` and what the frame
    /// carries: the fields in columns as `{:<6}`, `{:>11}`, … would pad them.
    fn frame_head(&mut self, line: &mut Line, f: &Frame) {
        let h = &f.header;
        line.clear();
        line.ascii("  #");
        let at = line.width();
        line.number(f.first_packet.number);
        line.end_field(at, 6);
        push_relative(line, &mut self.start, &f.last_packet, 11);
        match f.stream {
            // One session on the connection (all but HTTP/2): the label and its spaces at once.
            None => line.append(&self.spaced_dirs[f.dir.index()]),
            Some(_) => {
                line.ascii("  ");
                push_session_label(line, f.stream, &self.dirs[f.dir.index()]);
                line.ascii(" ");
            }
        }
        let at = line.width();
        if h.rsv1 || h.rsv2 || h.rsv3 {
            line.ascii(if h.fin { "FIN" } else { "---" });
            for (on, name) in [(h.rsv1, " RSV1"), (h.rsv2, " RSV2"), (h.rsv3, " RSV3")] {
                if on {
                    line.ascii(name);
                }
            }
            line.end_field(at, 3);
        } else {
            // The usual frame: the flag and its field's space as one piece.
            line.ascii(if h.fin { "FIN " } else { "--- " });
        }
        let at = line.width();
        if h.opcode.is_reserved() {
            line.ascii(&format!("0x{:X}", h.opcode.bits()));
        } else {
            line.ascii(h.opcode.name());
        }
        line.end_field(at, 12);
        // `mask` and the key fill their 13 columns; `unmasked` is padded to them.
        match h.mask_key {
            Some(k) => {
                line.ascii("mask ");
                line.hex(&k);
                line.ascii(" len ");
            }
            None => line.ascii("unmasked      len "),
        }
        let at = line.width();
        line.number(h.payload_len);
        line.end_field(at, 7);
    }

    fn write_frame(&mut self, f: &Frame, line: &mut Line, tail: &mut Line) -> io::Result<()> {
        let h = &f.header;
        self.frame_head(line, f);
        tail.clear();
        if let Some(rtt) = f.rtt_ns {
            tail.ascii(&format!("  rtt {:.3} ms", rtt as f64 / 1e6));
        }
        if f.lost > 0 {
            tail.ascii("  [");
            tail.number(f.lost);
            tail.ascii(" bytes lost]");
        }
        if let Some(c) = &f.close {
            let detail = match c.code {
                Some(code) => format!(
                    "{code} {} \"{}\"",
                    close_code_name(code),
                    escape_bytes(&c.reason_bytes)
                ),
                None => "(no status code)".into(),
            };
            return self.write_with_detail(line, &detail, tail);
        }
        if h.payload_len == 0 {
            line.append(tail);
            return self.write_fitted(line, AFTER_TIME);
        }
        // The payload is looked at only when the frame could carry text (binary frames are
        // shown in hex whatever their bytes).
        let as_text = !h.rsv1
            && matches!(
                h.opcode,
                OpCode::Text | OpCode::Ping | OpCode::Pong | OpCode::Continuation
            )
            && looks_like_text(&f.payload.bytes);
        let payload = Payload {
            bytes: &f.payload.bytes,
            total: f.payload.len,
            as_text,
        };
        self.write_with_preview(line, payload, tail)
    }

    /// `  #12     0.004211  c2s → message text 5 bytes in 2 fragments: `: where the message
    /// ended, its type and size, and how it came.
    fn message_head(&mut self, line: &mut Line, m: &Message) {
        line.clear();
        line.ascii("  #");
        let at = line.width();
        line.number(m.last_packet.number);
        line.end_field(at, 6);
        push_relative(line, &mut self.start, &m.last_packet, 11);
        line.ascii("  ");
        push_session_label(line, m.stream, &self.dirs[m.dir.index()]);
        line.ascii(" message ");
        line.ascii(m.opcode.name());
        line.ascii(" ");
        push_count(line, m.payload.len, "byte");
        line.ascii(" in ");
        line.number(u64::from(m.fragments));
        line.ascii(if m.fragments == 1 {
            " fragment"
        } else {
            " fragments"
        });
        if m.compressed {
            line.ascii(", deflated ");
            line.number(m.wire_len);
            line.text("→");
            push_count(line, m.payload.len, "byte");
        }
        line.ascii(": ");
    }

    fn write_message(&mut self, m: &Message, line: &mut Line, tail: &mut Line) -> io::Result<()> {
        tail.clear();
        if let Some(n) = holes_note(m) {
            tail.ascii("  [");
            tail.text(&n);
            tail.ascii("]");
        }
        self.message_head(line, m);
        let payload = match m.text() {
            Some(s) if self.opts.pretty_json => match pretty_json(s) {
                // Whole, indented, and valid JSON: not cut to the width.
                Some(p) => {
                    line.trim_end();
                    self.write_line(&line.as_str())?;
                    for l in p.lines() {
                        writeln!(self.out, "        {l}")?;
                    }
                    return Ok(());
                }
                None => Payload {
                    bytes: s.as_bytes(),
                    total: m.payload.len,
                    as_text: true,
                },
            },
            Some(s) => Payload {
                bytes: s.as_bytes(),
                total: m.payload.len,
                as_text: true,
            },
            None => Payload {
                bytes: &m.payload.bytes,
                total: m.payload.len,
                as_text: false,
            },
        };
        self.write_with_preview(line, payload, tail)
    }

    /// What the message carries, a line per application packet under the message (keep-alives
    /// after a session's first are only counted).
    fn decoded_lines(&mut self, m: &Message) -> io::Result<()> {
        let Some(d) = m.decoded.as_deref() else {
            return Ok(());
        };
        for unit in &d.units {
            if unit.heartbeat && !self.heartbeats.count(m, d, unit) {
                continue;
            }
            let room = self.opts.width.saturating_sub(AFTER_TIME + 2);
            let mut line = unit_line_within(d.protocol, unit, room);
            const COUNTED: &str = "  (more are counted at the end)";
            if unit.heartbeat && display_width(&line) + COUNTED.len() <= room {
                line.push_str(COUNTED);
            }
            writeln!(self.out, "{:AFTER_TIME$}↳ {line}", "")?;
        }
        Ok(())
    }

    /// The keep-alive counts of the sessions ending (a connection's, or one HTTP/2 stream's).
    fn heartbeat_lines(
        &mut self,
        conn: ConnId,
        stream: Option<Option<StreamId>>,
    ) -> io::Result<()> {
        let lines = self.heartbeats.take(conn, stream);
        self.write_heartbeats(lines)
    }

    /// Keep-alive counts, each wrapped six columns in (they are not cut: they are numbers).
    fn write_heartbeats(&mut self, lines: Vec<String>) -> io::Result<()> {
        for line in lines {
            for l in wrap_words(&format!("  ↳ {line}"), self.opts.width, 6) {
                writeln!(self.out, "{l}")?;
            }
        }
        Ok(())
    }

    /// Connections, handshakes, diagnostics, ends and the summary, as the shared context lines
    /// say them, within the width (see [`write_context_wrapped`]).
    fn context_line(&mut self, event: &Event) -> io::Result<()> {
        let start = &mut self.start;
        write_context_wrapped(
            &mut self.out,
            event,
            self.opts.style,
            &mut |p| Some(relative(start, p)),
            (self.opts.width, AFTER_TIME),
        )
    }
}

/// [`count`] appended to a line.
fn push_count(line: &mut Line, n: u64, noun: &str) {
    line.number(n);
    line.ascii(" ");
    line.ascii(noun);
    if n != 1 {
        line.ascii("s");
    }
}

/// The context lines of [`write_context_line`] wrapped to `width`: a diagnostic's continuation
/// under its severity (its rule and section stay on the first line), a packet line's
/// `packet_indent` columns in (under its direction), any other line's four columns in from
/// where it starts.
pub fn write_context_wrapped(
    out: &mut dyn Write,
    event: &Event,
    st: Style,
    time: &mut dyn FnMut(&PacketRef) -> Option<String>,
    (width, packet_indent): (usize, usize),
) -> io::Result<()> {
    if width == usize::MAX {
        return write_context_line(out, event, st, time);
    }
    let mut buf = Vec::new();
    write_context_line(&mut buf, event, st, time)?;
    let text = String::from_utf8_lossy(&buf);
    for line in text.lines() {
        let own = line.len() - line.trim_start().len();
        let indent = if matches!(event, Event::Diagnostic(_)) {
            own + AFTER_MARK - 2
        } else if line.starts_with("  #") {
            packet_indent
        } else {
            own + 4
        };
        for l in wrap(line, width, indent) {
            writeln!(out, "{l}")?;
        }
    }
    Ok(())
}

/// `1 frame`, `2 frames`: a count and its noun, plural unless one.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

impl<W: Write> Sink for TextSink<W> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        let TextSink { w, line, tail } = self;
        match event {
            // A frame's line (or two), built in the reused lines.
            Event::Frame(f) => w.write_frame(f, line, tail)?,
            Event::Message(m) => {
                // A one-frame message is already on its frame's line, unless it had to be
                // inflated (or pretty-printed) to be read, or has holes (the line says where
                // they are).
                if m.fragments > 1 || m.compressed || w.opts.pretty_json || !m.holes.is_empty() {
                    w.write_message(m, line, tail)?
                }
                w.decoded_lines(m)?
            }
            Event::ConnectionEnd(e) => {
                w.heartbeat_lines(e.conn, None)?;
                w.context_line(event)?
            }
            Event::StreamEnd(e) => {
                w.heartbeat_lines(e.conn, Some(Some(e.stream)))?;
                w.context_line(event)?
            }
            other => {
                // A connection line shows no time, but its first packet may start the clock.
                if let Event::Connection(c) = other {
                    w.start.get_or_insert(c.first_packet.ts);
                }
                w.context_line(other)?
            }
        }
        if w.opts.flush_each {
            w.out.flush()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        let lines = self.w.heartbeats.take_all();
        self.w.write_heartbeats(lines)?;
        self.w.out.flush()
    }

    fn capture_start(&mut self, first_packet: Timestamp) {
        self.w.start.get_or_insert(first_packet);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-at-a-time check against `is_ascii`: a byte with its top bit at every place of
    /// every length up to 80 (the words and the bytes left over), and DEL, which is ASCII.
    #[test]
    fn ascii_is_seen_as_is_ascii_sees_it() {
        let mut checked = 0;
        for len in 0..80 {
            let plain = vec![b'a'; len];
            assert!(all_ascii(&plain));
            for at in 0..len {
                for b in [0x7f, 0x80, 0xc3, 0xff] {
                    let mut bytes = plain.clone();
                    bytes[at] = b;
                    assert_eq!(all_ascii(&bytes), bytes.is_ascii(), "{bytes:?}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
    }
}
