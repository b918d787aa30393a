//! NDJSON: one event per line; the contract is documented in docs/json.md.

use std::cell::Cell;
use std::io::{self, Write};

use base64::Engine;
use serde_json::{json, Value};

use super::digits::{hex_word, push_decimal, push_word, HEX_DIGITS};
use super::escape::is_terminal_hazard;
use super::words::{printable_word_escapes, push_escaped_word, word_of, HIGH_BITS, LOW_BITS};
use super::Sink;
use crate::base::{ConnId, Direction, PacketRef, StreamId, Timestamp};
use crate::decode::{Decoded, Unit};
use crate::event::{CaptureSummary, DirStats, Event, Frame, Message, StreamEndReason, TlsInfo};
use crate::http::ExtendedConnect;
use crate::ws::close::close_code_name;

pub struct JsonSink<W: Write> {
    out: W,
    /// Flush after every line (live capture, pipes into `jq`).
    flush_each: bool,
    /// The lines not yet handed to `out`: records are built here and handed on some [`LINES_HELD`]
    /// bytes at a time, so the many small writes of a record go to a `Vec` rather than through
    /// `out`'s dynamic `Write`, and `out` (a buffered writer as large) passes them to the system
    /// without copying them into its own buffer (the NDJSON is twice the capture's size).
    lines: Vec<u8>,
}

/// How many bytes of lines [`JsonSink`] gathers before handing them on: as much as the buffered
/// standard output holds (config.rs), so that it writes them as they are.
const LINES_HELD: usize = 1 << 16;

impl<W: Write> JsonSink<W> {
    pub fn new(out: W, flush_each: bool) -> Self {
        JsonSink {
            out,
            flush_each,
            lines: Vec::with_capacity(LINES_HELD + 1024),
        }
    }
}

fn ts(p: &PacketRef) -> Value {
    json!(p.ts.as_secs_f64())
}

fn stats(s: &DirStats) -> Value {
    json!({"frames": s.frames, "messages": s.messages, "payload_bytes": s.payload_bytes})
}

/// serde_json escapes only what JSON requires; a line of NDJSON may still be read on a terminal,
/// so DEL and the characters in [`is_terminal_hazard`] (C1 controls, bidirectional overrides,
/// line separators) are written as `\uXXXX` too. The JSON value is unchanged.
struct TerminalSafeFormatter;

fn needs_escape(c: char) -> bool {
    c == '\u{7f}' || is_terminal_hazard(c)
}

impl serde_json::ser::Formatter for TerminalSafeFormatter {
    fn write_string_fragment<Wr: ?Sized + Write>(
        &mut self,
        writer: &mut Wr,
        fragment: &str,
    ) -> io::Result<()> {
        // Everything to escape is DEL or beyond ASCII; most fragments have neither.
        if fragment.bytes().all(|b| b < 0x7f) {
            return writer.write_all(fragment.as_bytes());
        }
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
pub fn write_safe_json<W: Write, T: serde::Serialize + ?Sized>(
    out: &mut W,
    value: &T,
) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, TerminalSafeFormatter);
    value.serialize(&mut ser).map_err(io::Error::other)
}

/// Writes one JSON object field by field into a line buffer, without building a `Value`
/// (frames and messages are most of the output: building maps for them cost most of the
/// time) and without `write!` (the formatting machinery was most of what remained).
struct ObjectWriter<'a> {
    out: &'a mut Vec<u8>,
}

/// The key of a field after a record's first, with its comma and colon: `key!("conn")` is
/// `,"conn":`, one literal, copied in one piece (four pieces, a length check each, cost a
/// tenth of a record).
macro_rules! key {
    ($name:literal) => {
        concat!(",\"", $name, "\":")
    };
}

// Inlined into each field written, so that the key, a literal, is copied as a constant
// (not by a call to memcpy for a length known only at run time: 20 calls a record).
impl<'a> ObjectWriter<'a> {
    /// A record of type `kind`: its first field.
    #[inline(always)]
    fn begin(out: &'a mut Vec<u8>, kind: &'static str) -> io::Result<Self> {
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(kind.as_bytes());
        out.push(b'"');
        Ok(ObjectWriter { out })
    }
    /// `k`: a [`key!`].
    #[inline(always)]
    fn key(&mut self, k: &'static str) -> io::Result<()> {
        debug_assert!(k.starts_with(",\"") && k.ends_with("\":"), "{k:?}");
        // Keys are this module's own ASCII literals: nothing to escape.
        self.out.extend_from_slice(k.as_bytes());
        Ok(())
    }
    #[inline(always)]
    fn u64(&mut self, k: &'static str, v: u64) -> io::Result<()> {
        self.key(k)?;
        push_decimal(self.out, v);
        Ok(())
    }
    #[inline(always)]
    fn bool(&mut self, k: &'static str, v: bool) -> io::Result<()> {
        self.key(k)?;
        // Each literal copied as it is (one slice of either length would take a call to memcpy).
        if v {
            self.out.extend_from_slice(b"true");
        } else {
            self.out.extend_from_slice(b"false");
        }
        Ok(())
    }
    #[inline(always)]
    fn f64(&mut self, k: &'static str, v: f64) -> io::Result<()> {
        self.key(k)?;
        serde_json::to_writer(&mut *self.out, &v).map_err(io::Error::other)
    }
    /// A capture timestamp, in seconds as [`Self::f64`] writes them.
    #[inline(always)]
    fn ts(&mut self, k: &'static str, ts: Timestamp) -> io::Result<()> {
        self.key(k)?;
        write_ts(self.out, ts)
    }
    #[inline(always)]
    fn str(&mut self, k: &'static str, v: &str) -> io::Result<()> {
        self.key(k)?;
        write_json_str(self.out, v)
    }
    /// Text as bytes the caller knows to be UTF-8 (a message's payload, which its session
    /// checked byte by byte): not checked a second time. Should a byte not be UTF-8 after
    /// all, it is written as an escaped U+FFFD, and the JSON stays valid.
    #[inline(always)]
    fn utf8(&mut self, k: &'static str, v: &[u8]) -> io::Result<()> {
        self.key(k)?;
        write_json_bytes(self.out, v)
    }
    /// A name of this program's own (a direction, an opcode): printable ASCII with nothing to
    /// escape, so copied as it is, without the escaper's set-up.
    #[inline(always)]
    fn name(&mut self, k: &'static str, v: &'static str) -> io::Result<()> {
        debug_assert!(plain_prefix_len(v.as_bytes()) == v.len(), "{v:?}");
        self.key(k)?;
        self.out.push(b'"');
        self.out.extend_from_slice(v.as_bytes());
        self.out.push(b'"');
        Ok(())
    }
    #[inline(always)]
    fn null(&mut self, k: &'static str) -> io::Result<()> {
        self.key(k)?;
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    #[inline(always)]
    fn end(self) -> io::Result<()> {
        self.out.push(b'}');
        Ok(())
    }
}

/// The last timestamp written on this thread, as written. A message's record carries the
/// timestamp of its frame's, and the frames of one packet share theirs; the shortest decimal
/// of a float is the dearest field of a record to work out.
#[derive(Clone, Copy)]
struct TsWritten {
    ts: Timestamp,
    len: usize,
    text: [u8; TS_TEXT_MAX],
}

/// The longest shortest decimal of an `f64`: `-1.7976931348623157e308` is 23 bytes.
const TS_TEXT_MAX: usize = 24;

thread_local! {
    static LAST_TS: Cell<Option<TsWritten>> = const { Cell::new(None) };
}

/// `ts` in seconds, as serde_json writes the `f64`; the last one written is copied, not
/// worked out again.
fn write_ts(out: &mut Vec<u8>, ts: Timestamp) -> io::Result<()> {
    let last = LAST_TS.try_with(Cell::get).ok().flatten();
    if let Some(w) = last.filter(|w| w.ts == ts) {
        out.extend_from_slice(&w.text[..w.len]);
        return Ok(());
    }
    let start = out.len();
    serde_json::to_writer(&mut *out, &ts.as_secs_f64()).map_err(io::Error::other)?;
    let written = &out[start..];
    if written.len() <= TS_TEXT_MAX {
        let mut text = [0u8; TS_TEXT_MAX];
        text[..written.len()].copy_from_slice(written);
        let w = TsWritten {
            ts,
            len: written.len(),
            text,
        };
        // At thread exit the cell may be gone: nothing is remembered then.
        let _ = LAST_TS.try_with(|c| c.set(Some(w)));
    }
    Ok(())
}

/// A JSON string, byte for byte as [`write_safe_json`] writes it, without serde's escaping
/// machinery (a call per run between escapes: JSON-like payloads have a quote every few
/// bytes). Printable ASCII goes a word at a time ([`super::words`]); any other byte is looked
/// up in [`JSON_ESCAPES`]; a chunk at a time is escaped in a per-thread buffer and copied on.
fn write_json_str(out: &mut Vec<u8>, v: &str) -> io::Result<()> {
    write_json_bytes(out, v.as_bytes())
}

/// [`write_json_str`] of UTF-8 text as bytes (see [`ObjectWriter::utf8`]).
fn write_json_bytes(out: &mut Vec<u8>, v: &[u8]) -> io::Result<()> {
    out.push(b'"');
    let mut at = 0;
    while at < v.len() {
        at = write_json_chunk(out, v, at);
    }
    out.push(b'"');
    Ok(())
}

/// Bytes of input escaped per step: the output of a step is at most [`MAX_ESCAPE`] times its
/// input, written into a per-thread buffer of that size (6 KiB, which stays in the first-level
/// cache), then copied onto the output.
const JSON_CHUNK: usize = 1024;
/// The longest escape of one character: `\uXXXX`, for a character of one to three bytes.
const MAX_ESCAPE: usize = 6;

thread_local! {
    /// Where [`write_json_chunk`] escapes, zeroed once per thread. Escaping in place on the
    /// output needed its room zeroed first, six times the input (`Vec::resize`): 2 % of the
    /// JSON view's CPU, and output buffers grown to six times what they held.
    static ESCAPED: std::cell::RefCell<Box<[u8; JSON_CHUNK * MAX_ESCAPE]>> =
        std::cell::RefCell::new(Box::new([0; JSON_CHUNK * MAX_ESCAPE]));
}

/// Escape up to [`JSON_CHUNK`] bytes of `v` from `at` (a character boundary) onto `out`;
/// returns where it stopped (a character boundary).
fn write_json_chunk(out: &mut Vec<u8>, v: &[u8], at: usize) -> usize {
    ESCAPED.with_borrow_mut(|buf| {
        let (read, wrote) = escape_chunk(v, at, &mut buf[..]);
        out.extend_from_slice(&buf[..wrote]);
        read
    })
}

/// Escape up to [`JSON_CHUNK`] bytes of `v` from `at` (a character boundary) into `buf`, which
/// has room for [`MAX_ESCAPE`] bytes for each; returns where it stopped (a character boundary)
/// and the bytes written.
fn escape_chunk(bytes: &[u8], at: usize, buf: &mut [u8]) -> (usize, usize) {
    let end = (at + JSON_CHUNK).min(bytes.len());
    let (mut i, mut w) = (at, 0);
    // Whole words of printable ASCII, their quotes and backslashes escaped in place. A word
    // needs 24 bytes of room (16 escaped, stored eight at a time); with eight or more bytes of
    // the chunk left there are at least 48, since no byte read writes more than six.
    while let Some(word) = bytes.get(i..i + 8).filter(|_| i + 8 <= end) {
        let x = word_of(word);
        match printable_word_escapes(x) {
            Some(escapes) => {
                w = push_escaped_word(buf, w, x, escapes);
                i += 8;
            }
            None => {
                // Another byte in the word: the printable ones before it, then it, escaped.
                let plain = plain_prefix(x);
                buf[w..w + plain].copy_from_slice(&word[..plain]);
                (i, w) = (i + plain, w + plain);
                let (read, wrote) = escape_one(bytes, i, &mut buf[w..]);
                (i, w) = (i + read, w + wrote);
            }
        }
    }
    while i < end {
        let (read, wrote) = escape_one(bytes, i, &mut buf[w..]);
        (i, w) = (i + read, w + wrote);
    }
    (i, w)
}

/// How many of the eight bytes of the word `x`, from the first, [`JSON_ESCAPES`] leaves as
/// they are: printable ASCII but the quote and the backslash. The bit tricks flag a byte that needs
/// a look, and may flag bytes after it too, never one before: the first flag is exact.
fn plain_prefix(x: u64) -> usize {
    // Little-endian: the first byte is the lowest, and trailing zeros count from it.
    let has_zero = |y: u64| y.wrapping_sub(LOW_BITS) & !y & HIGH_BITS;
    let control = x.wrapping_sub(LOW_BITS * 0x20) & !x & HIGH_BITS; // a byte below 0x20
    let high = (x.wrapping_add(LOW_BITS) | x) & HIGH_BITS; // a byte above 0x7e
    let quote = has_zero(x ^ (LOW_BITS * u64::from(b'"')));
    let backslash = has_zero(x ^ (LOW_BITS * u64::from(b'\\')));
    ((control | high | quote | backslash).trailing_zeros() / 8) as usize
}

/// The character of `v` at `i` into the start of `buf`, escaped as it must be: how many bytes
/// it took and wrote.
fn escape_one(v: &[u8], i: usize, buf: &mut [u8]) -> (usize, usize) {
    let b = v[i];
    match JSON_ESCAPES[usize::from(b)] {
        0 => {
            buf[0] = b;
            (1, 1)
        }
        b'u' => (1, put_u_escape(buf, u32::from(b))),
        NOT_ASCII => match char_at(v, i) {
            Some((c, len)) if needs_escape(c) => (len, put_u_escape(buf, c as u32)),
            Some((_, len)) => {
                buf[..len].copy_from_slice(&v[i..i + len]);
                (len, len)
            }
            // Not UTF-8 after all (see ObjectWriter::utf8): the replacement character.
            None => (1, put_u_escape(buf, u32::from(char::REPLACEMENT_CHARACTER))),
        },
        short => {
            buf[..2].copy_from_slice(&[b'\\', short]);
            (1, 2)
        }
    }
}

/// How many bytes at the start of `bytes` need no escape (for the check in
/// [`ObjectWriter::name`]).
fn plain_prefix_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .take_while(|&&b| JSON_ESCAPES[usize::from(b)] == 0)
        .count()
}

/// A byte that starts a character beyond ASCII: decoded, then written as it is or escaped.
const NOT_ASCII: u8 = 0xff;

/// The character that starts at `v[i]`, a byte beyond ASCII, and its length; `None` when the
/// bytes there are not one UTF-8 character.
fn char_at(v: &[u8], i: usize) -> Option<(char, usize)> {
    // A character is at most four bytes; std says which of them are one.
    let window = &v[i..v.len().min(i + 4)];
    let c = window.utf8_chunks().next()?.valid().chars().next()?;
    Some((c, c.len_utf8()))
}

/// What each byte becomes in a JSON string as serde_json and [`TerminalSafeFormatter`] write
/// it: 0 itself; `u` `\u00XX` (the other controls, and DEL for the terminal); [`NOT_ASCII`];
/// otherwise the letter after a backslash.
const JSON_ESCAPES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = match b as u8 {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x0c => b'f',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0..=0x1f | 0x7f => b'u',
            0x80.. => NOT_ASCII,
            _ => 0,
        };
        b += 1;
    }
    t
};

/// `\uXXXX` into the start of `buf`: lower-case hex, four digits (every character escaped
/// this way is in the BMP). Returns its length.
fn put_u_escape(buf: &mut [u8], n: u32) -> usize {
    buf[..2].copy_from_slice(b"\\u");
    for (k, shift) in [12, 8, 4, 0].into_iter().enumerate() {
        buf[2 + k] = HEX_DIGITS[((n >> shift) & 0xf) as usize];
    }
    MAX_ESCAPE
}

/// One event as a JSON object (no newline).
fn write_event(out: &mut Vec<u8>, event: &Event) -> io::Result<()> {
    let record = match event {
        // Frames and messages are most of the output: written field by field, without a map.
        Event::Frame(f) => return write_frame(out, f),
        Event::Message(m) => return write_message(out, m),
        Event::Connection(c) => with_http2_start(
            c,
            with_tls(
                c.tls.as_ref(),
                json!({
                    "type": "connection", "conn": c.conn.0,
                    "client": c.client.to_string(), "server": c.server.to_string(),
                    "packet": c.first_packet.number, "ts": ts(&c.first_packet), "inferred": c.inferred,
                }),
            ),
        ),
        Event::Handshake(h) => with_extended_connect(
            h.http2.as_ref(),
            with_stream(
                h.stream,
                json!({
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
            ),
        ),
        // Not part of the NDJSON contract: `event` writes no line for them.
        Event::TlsRecord(_) | Event::Http2Frame(_) => return Ok(()),
        Event::Http2Request(r) => json!({
            "type": "http2_request", "conn": r.conn.0, "stream": r.stream.0,
            "method": r.method, "path": r.path, "status": r.status, "upgraded": r.upgraded,
            "packet": r.packet.number, "ts": ts(&r.packet),
        }),
        Event::StreamEnd(e) => json!({
            "type": "stream_end", "conn": e.conn.0, "stream": e.stream.0,
            "reason": stream_end_reason(&e.reason),
            "packet": e.packet.number, "ts": ts(&e.packet),
            "c2s": stats(&e.stats[0]), "s2c": stats(&e.stats[1]),
        }),
        Event::Gap(g) => json!({
            "type": "gap", "conn": g.conn.0, "dir": g.dir.as_str(), "stream_offset": g.stream_offset, "len": g.len,
            "packet": g.packet.number, "ts": ts(&g.packet),
        }),
        Event::ConnectionEnd(e) => json!({
            "type": "connection_end", "conn": e.conn.0, "reason": e.reason.as_str(),
            "packet": e.packet.number, "ts": ts(&e.packet),
            "c2s": stats(&e.stats[0]), "s2c": stats(&e.stats[1]), "diagnostics": e.diagnostics,
        }),
        Event::Diagnostic(d) => with_stream(
            d.stream,
            json!({
                "type": "diagnostic", "conn": d.conn.0, "severity": d.rule.severity.as_str(), "rule": d.rule.name,
                "section": d.rule.section, "message": d.message,
                "dir": d.dir.map(|x| x.as_str()), "packet": d.packet.map(|p| p.number),
            }),
        ),
        Event::CaptureEnd(s) => with_cut_short(
            s,
            with_tls_counts(
                s,
                json!({
                    "type": "summary", "conn": 0, "packets": s.packets, "bytes": s.bytes,
                    "tcp_connections": s.tcp_connections, "websocket_connections": s.websocket_connections,
                    "skipped": s.skipped.iter().map(|(r, n)| json!({"reason": r.to_string(), "packets": n})).collect::<Vec<_>>(),
                }),
            ),
        ),
    };
    write_safe_json(out, &record)
}

/// The summary counts packets cut short by the snapshot length, when there were any.
fn with_cut_short(s: &CaptureSummary, mut record: Value) -> Value {
    if let (n @ 1.., Value::Object(map)) = (s.cut_short, &mut record) {
        map.insert("cut_short".into(), json!(n));
    }
    record
}

/// An HTTP/2 connection's record says how it started.
fn with_http2_start(c: &crate::event::ConnectionInfo, mut record: Value) -> Value {
    if let (Some(start), Value::Object(map)) = (c.http2, &mut record) {
        map.insert("http2".into(), json!(start.as_str()));
    }
    record
}

/// An RFC 8441 handshake gets an `http2` object: what the extended CONNECT adds.
fn with_extended_connect(connect: Option<&ExtendedConnect>, mut record: Value) -> Value {
    if let (Some(c), Value::Object(map)) = (connect, &mut record) {
        map.insert(
            "http2".into(),
            json!({"protocol": c.protocol, "scheme": c.scheme, "connect_enabled": c.connect_enabled}),
        );
    }
    record
}

fn stream_end_reason(r: &StreamEndReason) -> Value {
    match r {
        StreamEndReason::EndStream => json!({"kind": "end_stream"}),
        StreamEndReason::Reset { by, code } => {
            json!({"kind": "rst_stream", "by": by.as_str(), "code": code.0, "name": code.to_string()})
        }
        StreamEndReason::GoAway { by, code } => {
            json!({"kind": "goaway", "by": by.as_str(), "code": code.0, "name": code.to_string()})
        }
        StreamEndReason::Connection(why) => json!({"kind": "connection", "why": why.as_str()}),
    }
}

/// A TLS connection's record gets a `tls` object (absent for plain TCP).
fn with_tls(tls: Option<&TlsInfo>, mut record: Value) -> Value {
    if let (Some(t), Value::Object(map)) = (tls, &mut record) {
        map.insert(
            "tls".into(),
            json!({
                "version": t.version_name(), "cipher": t.suite_name(),
                "sni": t.sni, "alpn": t.alpn, "alpn_offered": t.alpn_offered,
                "decrypted": t.decrypted, "resumed": t.resumed,
            }),
        );
    }
    record
}

/// The summary counts TLS connections when there were any.
fn with_tls_counts(s: &CaptureSummary, mut record: Value) -> Value {
    if let (true, Value::Object(map)) = (s.tls_connections > 0, &mut record) {
        map.insert("tls_connections".into(), json!(s.tls_connections));
        map.insert("tls_decrypted".into(), json!(s.tls_decrypted));
    }
    record
}

/// A session's HTTP/2 stream goes right after `conn`; over HTTP/1.1 (`None`) the field is absent.
fn with_stream(stream: Option<StreamId>, record: Value) -> Value {
    match (stream, record) {
        (Some(stream), Value::Object(map)) => {
            let mut out = serde_json::Map::with_capacity(map.len() + 1);
            for (k, v) in map {
                let after = k == "conn";
                out.insert(k, v);
                if after {
                    out.insert("stream".into(), json!(stream.0));
                }
            }
            Value::Object(out)
        }
        (_, record) => record,
    }
}

/// The fields a frame or message record starts with: which session, which direction, which one.
#[inline(always)]
fn begin_session_record<'a>(
    out: &'a mut Vec<u8>,
    kind: &'static str,
    conn: ConnId,
    stream: Option<StreamId>,
    dir: Direction,
    index: u64,
) -> io::Result<ObjectWriter<'a>> {
    let mut o = ObjectWriter::begin(out, kind)?;
    o.u64(key!("conn"), conn.0)?;
    if let Some(stream) = stream {
        o.u64(key!("stream"), u64::from(stream.0))?;
    }
    o.name(key!("dir"), dir.as_str())?;
    o.u64(key!("index"), index)?;
    Ok(o)
}

/// A `frame` record (docs/json.md); the close and rtt fields only where they apply.
fn write_frame(out: &mut Vec<u8>, f: &Frame) -> io::Result<()> {
    let h = &f.header;
    let mut o = begin_session_record(out, "frame", f.conn, f.stream, f.dir, f.index)?;
    o.bool(key!("fin"), h.fin)?;
    o.bool(key!("rsv1"), h.rsv1)?;
    o.bool(key!("rsv2"), h.rsv2)?;
    o.bool(key!("rsv3"), h.rsv3)?;
    o.u64(key!("opcode"), u64::from(h.opcode.bits()))?;
    o.name(key!("opcode_name"), h.opcode.name())?;
    o.bool(key!("masked"), h.masked)?;
    match h.mask_key {
        Some(k) => {
            // Hex digits need no escape: the eight of them stored as one word.
            o.key(key!("mask_key"))?;
            o.out.push(b'"');
            push_word(o.out, hex_word(k), 8);
            o.out.push(b'"');
        }
        None => o.null(key!("mask_key"))?,
    }
    o.u64(key!("payload_len"), h.payload_len)?;
    o.u64(key!("header_len"), u64::from(h.header_len))?;
    o.u64(key!("packet"), f.first_packet.number)?;
    o.u64(key!("last_packet"), f.last_packet.number)?;
    o.ts(key!("ts"), f.last_packet.ts)?;
    o.u64(key!("stream_offset"), f.stream_offset)?;
    if f.lost > 0 {
        o.u64(key!("lost"), f.lost)?;
    }
    if let Some(c) = &f.close {
        match c.code {
            Some(code) => {
                o.u64(key!("close_code"), u64::from(code))?;
                o.str(key!("close_code_name"), close_code_name(code))?;
            }
            None => {
                o.null(key!("close_code"))?;
                o.null(key!("close_code_name"))?;
            }
        }
        o.str(key!("close_reason"), &c.reason)?;
    }
    if let Some(rtt) = f.rtt_ns {
        o.f64(key!("rtt_ms"), rtt as f64 / 1e6)?;
    }
    o.end()
}

/// A `message` record (docs/json.md): `text` for valid UTF-8 text, else `data_b64`.
fn write_message(out: &mut Vec<u8>, msg: &Message) -> io::Result<()> {
    let mut o = begin_session_record(out, "message", msg.conn, msg.stream, msg.dir, msg.index)?;
    o.u64(key!("opcode"), u64::from(msg.opcode.bits()))?;
    o.u64(key!("len"), msg.payload.len)?;
    o.u64(key!("fragments"), u64::from(msg.fragments))?;
    match msg.text_bytes() {
        Some(t) => o.utf8(key!("text"), t)?,
        None => {
            o.key(key!("data_b64"))?;
            // base64 needs no escaping.
            o.out.push(b'"');
            let at = o.out.len();
            let b64 = base64::engine::general_purpose::STANDARD;
            o.out.resize(
                at + base64::encoded_len(msg.payload.bytes.len(), true).unwrap_or(0),
                0,
            );
            let n = b64
                .encode_slice(&msg.payload.bytes, &mut o.out[at..])
                .map_err(io::Error::other)?;
            o.out.truncate(at + n);
            o.out.push(b'"');
        }
    }
    o.bool(key!("truncated"), msg.payload.truncated())?;
    o.bool(key!("compressed"), msg.compressed)?;
    if msg.compressed {
        o.u64(key!("wire_len"), msg.wire_len)?;
    }
    if let Some(e) = &msg.inflate_error {
        o.str(key!("inflate_error"), &e.to_string())?;
    }
    if msg.lost > 0 {
        o.u64(key!("lost"), msg.lost)?;
    }
    if !msg.holes.is_empty() {
        o.key(key!("holes"))?;
        let holes: Vec<String> = (msg.holes.iter())
            .map(|h| format!("{{\"offset\":{},\"len\":{}}}", h.offset, h.len))
            .collect();
        write!(o.out, "[{}]", holes.join(","))?;
    }
    if let Some(at) = msg.utf8_error {
        o.u64(key!("utf8_error_at"), at)?;
    }
    o.u64(key!("packet"), msg.first_packet.number)?;
    o.u64(key!("last_packet"), msg.last_packet.number)?;
    o.ts(key!("ts"), msg.last_packet.ts)?;
    if let Some(d) = &msg.decoded {
        o.key(key!("decoded"))?;
        write_safe_json(o.out, &decoded(d))?;
    }
    o.end()
}

/// A message's `decoded` object (docs/decoders.md): its protocol and a unit per packet.
pub fn decoded(d: &Decoded) -> Value {
    let units: Vec<Value> = d.units.iter().map(unit).collect();
    json!({"protocol": d.protocol.as_str(), "units": units})
}

fn unit(u: &Unit) -> Value {
    let mut v = serde_json::Map::new();
    v.insert("kind".into(), json!(u.kind));
    v.insert("summary".into(), json!(u.summary));
    if let Some(k) = &u.key {
        v.insert("key".into(), json!(k));
    }
    v.insert("fields".into(), Value::Object(u.fields.clone()));
    if let Some(a) = &u.answers {
        let answers = json!({"id": a.id, "dir": a.dir.as_str(), "message": a.message,
            "rtt_ms": a.rtt_ns as f64 / 1e6});
        v.insert("answers".into(), answers);
    }
    v.insert("heartbeat".into(), json!(u.heartbeat));
    Value::Object(v)
}

impl<W: Write> Sink for JsonSink<W> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        render_line(event, &mut self.lines)?;
        if self.flush_each || self.lines.len() >= LINES_HELD {
            self.write_lines()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.write_lines()?;
        self.out.flush()
    }

    fn renderer(&self) -> Option<super::Renderer> {
        Some(super::Renderer::JsonLines)
    }

    /// Lines [`render_line`] wrote on another thread (`-j N`).
    fn write_rendered(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_lines()?;
        self.out.write_all(bytes)?;
        if self.flush_each {
            self.out.flush()?;
        }
        Ok(())
    }

    /// Many calls' lines at once: a buffered writer passes pieces larger than its buffer to
    /// the system as they are (one `writev`), so this thread never reads the bytes the workers
    /// wrote (the copy into the buffer was a tenth of its work with `-j 2`).
    fn write_rendered_vectored(&mut self, pieces: &[io::IoSlice<'_>]) -> io::Result<()> {
        self.write_lines()?;
        let mut pieces = pieces.to_vec();
        super::write_all_vectored(&mut self.out, &mut pieces)?;
        if self.flush_each {
            self.out.flush()?;
        }
        Ok(())
    }
}

impl<W: Write> JsonSink<W> {
    /// Hand on the lines gathered (nothing when there are none).
    fn write_lines(&mut self) -> io::Result<()> {
        if self.lines.is_empty() {
            return Ok(());
        }
        self.out.write_all(&self.lines)?;
        self.lines.clear();
        // A huge message's line is not kept for the rest of the run.
        if self.lines.capacity() > 1 << 20 {
            self.lines = Vec::with_capacity(LINES_HELD + 1024);
        }
        if self.flush_each {
            self.out.flush()?;
        }
        Ok(())
    }
}

/// Lines gathered are handed on even when the run stops before `finish` (as a buffered writer
/// flushes when dropped; an error then has nowhere to go).
impl<W: Write> Drop for JsonSink<W> {
    fn drop(&mut self) {
        let _ = self.write_lines();
    }
}

/// The NDJSON line of one event, newline included, appended to `out`; nothing for the events
/// that are not part of the contract. Keeps no state, so any thread may call it (`-j N`).
pub fn render_line(event: &Event, out: &mut Vec<u8>) -> io::Result<()> {
    // The TLS record layer is the teaching view's (it is only reported for `-v`).
    if matches!(event, Event::TlsRecord(_) | Event::Http2Frame(_)) {
        return Ok(());
    }
    write_event(out, event)?;
    out.push(b'\n');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes that are not UTF-8 after all (a broken promise to `ObjectWriter::utf8`) still
    /// make valid JSON: each such byte an escaped U+FFFD, the characters around them as ever.
    #[test]
    fn bytes_that_are_not_utf8_become_escaped_replacement_characters() {
        let mut out = Vec::new();
        write_json_bytes(&mut out, b"a\xff\xc3(\xe2\x82\xac\xf0\x9f").unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "\"a\\ufffd\\ufffd(\u{20ac}\\ufffd\\ufffd\"");
        let parsed: String = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed, "a\u{fffd}\u{fffd}(\u{20ac}\u{fffd}\u{fffd}");
    }

    /// `write_json_str` writes exactly what the serializer with [`TerminalSafeFormatter`]
    /// writes: every ASCII byte and the characters around the escaped ones, at every position
    /// of an 8-byte word, and strings of mixed runs.
    #[test]
    fn the_fast_string_writer_agrees_with_the_serializer() {
        let mut specials: Vec<char> = (0u8..0x80).map(char::from).collect();
        specials.extend([
            '\u{80}', '\u{9f}', '\u{a0}', 'é', '\u{202e}', '\u{2028}', '\u{061c}',
        ]);
        specials.extend(['\u{200e}', '\u{2069}', '中', '😀', '\u{fffd}']);
        let mut cases: Vec<String> = Vec::new();
        for c in &specials {
            for before in 0..10 {
                for after in [0, 1, 7, 8, 9] {
                    cases.push(format!("{}{c}{}", "a".repeat(before), "b".repeat(after)));
                }
            }
        }
        cases.push(r#"{"n": 1, "s": "x\\y", "t": [1, 2]}"#.repeat(9));
        cases.push(String::new());
        // Characters across the chunk boundaries.
        cases.push(format!(
            "{}😀\u{202e}\"{}",
            "a".repeat(4094),
            "é".repeat(5000)
        ));
        let all: String = specials.iter().collect();
        cases.push(all.repeat(3));
        for case in cases {
            let mut fast = Vec::new();
            write_json_str(&mut fast, &case).unwrap();
            let mut slow = Vec::new();
            write_safe_json(&mut slow, case.as_str()).unwrap();
            assert_eq!(String::from_utf8(fast), String::from_utf8(slow), "{case:?}");
        }
    }

    /// The timestamp kept per thread gives what the serializer writes, whether it is the one
    /// kept or a new one.
    #[test]
    fn a_timestamp_written_again_reads_as_written_first() {
        let stamps = [
            1_796_008_097_493_325_000,
            0,
            1,
            999,
            u64::MAX,
            1_700_000_000_000_000_001,
        ];
        for ts in stamps.iter().flat_map(|&t| [t, t, t.saturating_add(1)]) {
            let mut out = Vec::new();
            write_ts(&mut out, Timestamp(ts)).unwrap();
            let want = serde_json::to_string(&Timestamp(ts).as_secs_f64()).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), want, "{ts}");
        }
    }

    fn safe(s: &str) -> String {
        let mut out = Vec::new();
        write_safe_json(&mut out, s).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn terminal_hazards_are_escaped_and_plain_text_is_not() {
        assert_eq!(safe("plain {\"json\"}"), r#""plain {\"json\"}""#);
        assert_eq!(safe("a\u{7f}b"), r#""a\u007fb""#);
        assert_eq!(safe("\u{85}\u{9b}"), r#""\u0085\u009b""#);
        assert_eq!(safe("x\u{202e}y\u{2028}z"), r#""x\u202ey\u2028z""#);
        assert_eq!(safe("\x1b[2J"), r#""\u001b[2J""#);
        assert_eq!(safe("héllo 😀"), "\"héllo 😀\"");
    }
}
