//! Text for the page: HTML escaping, and the short labels of frames, messages and handshakes.
//! Captured text is escaped twice, in this order: for the terminal first (control characters,
//! bidirectional overrides and bytes that are not UTF-8 become visible `\x..` escapes, as in
//! every other view), then for HTML.

use super::MessagePart;
use crate::event::{Frame, Handshake, Message};
use crate::output::escape::{escape_bytes, escape_line, hex_spaced};
use crate::output::text::count;
use crate::ws::close::close_code_name;
use crate::ws::opcode::OpCode;

/// Bytes of text shown in a frame or message label.
const PREVIEW_BYTES: usize = 28;
/// Bytes of a binary payload shown in hex in a label.
const PREVIEW_HEX: usize = 6;

/// `s` safe as HTML text and inside a quoted attribute value.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Captured text (a header, a reason, a diagnostic's sentence) for the page.
pub fn text(s: &str) -> String {
    html(&escape_line(s))
}

/// Captured bytes that may not be UTF-8, for the page.
pub fn bytes_text(b: &[u8]) -> String {
    html(&escape_bytes(b))
}

/// The anchor of a frame: `f{conn}[s{stream}]-{dir}-{index}`.
pub fn frame_id(f: &Frame) -> String {
    match f.stream {
        Some(s) => format!("f{}s{}-{}-{}", f.conn.0, s.0, f.dir.as_str(), f.index),
        None => format!("f{}-{}-{}", f.conn.0, f.dir.as_str(), f.index),
    }
}

/// Seconds since the capture began, to the microsecond.
pub fn seconds_label(t: f64) -> String {
    format!("{t:.6} s")
}

/// The first bytes of a payload as text, escaped and quoted, `…` when there is more.
fn preview(bytes: &[u8], len: u64) -> String {
    let mut n = bytes.len().min(PREVIEW_BYTES);
    // Cut between characters, not inside one (that would show as \xNN escapes).
    if let Err(e) = std::str::from_utf8(&bytes[..n]) {
        if e.error_len().is_none() && e.valid_up_to() > 0 {
            n = e.valid_up_to();
        }
    }
    // Escapes (`\xNN`) make bytes four characters long: fewer bytes are shown then.
    while n > 0 && escape_bytes(&bytes[..n]).chars().count() > PREVIEW_BYTES + 8 {
        n -= 1;
    }
    let more = (n as u64) < len;
    let shown = escape_bytes(&bytes[..n]);
    format!("\"{shown}\"{}", if more { "…" } else { "" })
}

/// A binary payload's first bytes in hex.
fn hex_preview(bytes: &[u8], len: u64) -> String {
    let n = bytes.len().min(PREVIEW_HEX);
    let more = (n as u64) < len;
    format!(
        "{}{}",
        hex_spaced(&bytes[..n]),
        if more { " …" } else { "" }
    )
}

/// A frame in a few words: index, opcode, flags that matter, length and what it carries.
/// Terminal-escaped; the caller escapes for HTML.
pub fn frame_label(f: &Frame, part: MessagePart) -> String {
    let h = &f.header;
    let mut s = format!("#{} {}", f.index, h.opcode.name());
    if !h.fin {
        s.push_str(" FIN=0");
    }
    if h.rsv1 {
        s.push_str(" RSV1");
    }
    s.push_str(&format!(" {}", count_bytes(h.payload_len)));
    let data = &f.payload.bytes;
    let detail = if let Some(c) = &f.close {
        match c.code {
            Some(code) => format!(
                "{code} {} \"{}\"",
                close_code_name(code),
                escape_bytes(&c.reason_bytes)
            ),
            None => "no status code".to_string(),
        }
    } else if part.compressed {
        // A compressed payload says nothing readable before it is inflated.
        "(deflated)".to_string()
    } else if data.is_empty() {
        String::new()
    } else {
        match part.opcode {
            OpCode::Text => preview(data, h.payload_len),
            _ => hex_preview(data, h.payload_len),
        }
    };
    if !detail.is_empty() {
        s.push(' ');
        s.push_str(&detail);
    }
    if let Some(rtt) = f.rtt_ns {
        s.push_str(&format!(" (rtt {:.3} ms)", rtt as f64 / 1e6));
    }
    if f.lost > 0 {
        s.push_str(&format!(" ({} lost)", count_bytes(f.lost)));
    }
    s
}

/// A message made of several frames or compressed: what the application received.
pub fn message_label(m: &Message) -> String {
    let mut s = format!(
        "{} message #{} {}, {}",
        m.dir.arrow(),
        m.index,
        m.opcode.name(),
        count_bytes(m.payload.len)
    );
    if m.fragments > 1 {
        s.push_str(&format!(", {} frames", m.fragments));
    }
    if m.compressed {
        s.push_str(&format!(", inflated from {}", count_bytes(m.wire_len)));
    }
    match m.text() {
        Some(t) => s.push_str(&format!(": {}", preview(t.as_bytes(), m.payload.len))),
        None if m.opcode == OpCode::Binary => s.push_str(&format!(
            ": {}",
            hex_preview(&m.payload.bytes, m.payload.len)
        )),
        None => {}
    }
    if let Some(e) = &m.inflate_error {
        s.push_str(&format!(" (inflate failed: {e})"));
    }
    s
}

/// The request line of a handshake (an extended CONNECT's pseudo-headers over HTTP/2).
pub fn request_line(h: &Handshake) -> String {
    let line = match &h.http2 {
        Some(c) => format!(
            "CONNECT :protocol {} :path {}",
            c.protocol.as_deref().unwrap_or("(none)"),
            h.target
        ),
        None => format!("{} {} HTTP/1.1", h.method, h.target),
    };
    escape_line(&line)
}

/// `1 byte`, `2 bytes`.
fn count_bytes(n: u64) -> String {
    count(n, "byte")
}
