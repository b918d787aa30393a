//! The page itself: header, one section per connection and session, and for every frame drawn
//! a detail block (header bytes by field, the §5.2 box, the unmasking step, its diagnostics)
//! that the script shows when the frame is clicked. Styles and script are inlined from
//! `report.css` and `report.js`: the page loads nothing from anywhere.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::labels::{bytes_text, frame_id, html, request_line, seconds_label, text};
use super::svg;
use super::{
    Bounded, Connection, End, KeptDiagnostic, KeptFrame, Report, RuleCount, Session,
    MAX_CONNECTIONS, MAX_DIAGNOSTICS, MAX_FRAMES_PER_PAGE, MAX_POINTS, MAX_SESSIONS_PER_CONNECTION,
    PAYLOAD_KEPT,
};
use crate::event::{Frame, Handshake};
use crate::output::diagram::frame_diagram;
use crate::output::escape::hex_spaced;
use crate::output::text::count;
use crate::ws::close::close_code_name;
use crate::ws::frame::{FrameHeader, LengthForm};
use crate::ws::mask::apply_mask;

// Writing to a `String` cannot fail: the `let _ = write!(…)` below drop an always-Ok result.

const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");
/// Payload bytes shown in the unmasking step.
const UNMASK_SHOWN: usize = 16;

/// Write the whole page.
pub fn write_page<W: Write + ?Sized>(out: &mut W, r: &Report) -> io::Result<()> {
    let mut p = String::with_capacity(1 << 16);
    head(&mut p, r);
    summary(&mut p, r);
    for c in &r.connections {
        connection(&mut p, r, c);
    }
    if r.connections_left_out > 0 {
        let _ = write!(
            p,
            r#"<p class="cut">… {} more connections not drawn (at most {MAX_CONNECTIONS} per page).</p>"#,
            r.connections_left_out
        );
    }
    let _ = writeln!(p, "</main><script>{SCRIPT}</script></body></html>");
    out.write_all(p.as_bytes())
}

fn title(r: &Report) -> String {
    let names = r.options.captures.join(", ");
    format!("wsdissect report: {}", text(&names))
}

fn head(p: &mut String, r: &Report) {
    let _ = write!(
        p,
        r#"<!DOCTYPE html>
<html lang="en" class="nojs"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>{}</title><style>{STYLE}</style></head><body><main>
"#,
        title(r)
    );
}

/// Counts, bounds, the diagnostics by rule, and a table of contents.
fn summary(p: &mut String, r: &Report) {
    let _ = write!(p, "<header><h1>{}</h1>", title(r));
    if let Some(s) = &r.summary {
        let _ = write!(
            p,
            r#"<p class="counts">{} · {} · {} · {}"#,
            count(s.packets, "packet"),
            count(s.bytes, "byte"),
            count(s.tcp_connections, "TCP connection"),
            count(s.websocket_connections, "WebSocket connection")
        );
        if s.tls_connections > 0 {
            let _ = write!(
                p,
                " · {} TLS ({} decrypted)",
                s.tls_connections, s.tls_decrypted
            );
        }
        for (reason, n) in &s.skipped {
            let _ = write!(p, " · {n} skipped: {}", text(&reason.to_string()));
        }
        p.push_str("</p>");
    }
    let [errors, warnings, notes] = r.severity_counts();
    let _ = write!(
        p,
        r#"<p class="counts">Diagnostics: <span class="sev error">{}</span> <span class="sev warning">{}</span> <span class="sev info">{}</span></p>"#,
        count(errors, "error"),
        count(warnings, "warning"),
        count(notes, "note")
    );
    if !r.by_rule.is_empty() {
        p.push_str(r#"<table class="rules"><tr><th>rule</th><th>severity</th><th>section</th><th>count</th><th>meaning</th></tr>"#);
        for RuleCount { rule, count, first } in &r.by_rule {
            // The rule's name links to its first diagnostic in the page.
            let name = match first {
                Some(id) => format!(r##"<a href="#d{id}"><code>{}</code></a>"##, rule.name),
                None => format!("<code>{}</code>", rule.name),
            };
            let _ = write!(
                p,
                r#"<tr><td>{name}</td><td class="sev {sev}">{sev}</td><td>{section}</td><td class="num">{count}</td><td>{summary}</td></tr>"#,
                sev = rule.severity.as_str(),
                section = html(rule.section),
                summary = html(rule.summary)
            );
        }
        p.push_str("</table>");
    }
    let _ = write!(
        p,
        r#"<p class="bounds">Bounds of this page: at most {} frames and {} messages drawn per session (<code>--max-frames</code>) and {MAX_FRAMES_PER_PAGE} frames in all, {PAYLOAD_KEPT} payload bytes kept per frame, {MAX_DIAGNOSTICS} diagnostics listed per session, {MAX_POINTS} points per plot, {MAX_SESSIONS_PER_CONNECTION} sessions per connection and {MAX_CONNECTIONS} connections; what is left out is counted where it would be. Times are seconds since the capture's first packet.</p>"#,
        r.options.max_frames, r.options.max_frames
    );
    if !r.capture_diagnostics.items.is_empty() {
        p.push_str("<h2>Capture diagnostics</h2>");
        diagnostics_list(p, &r.capture_diagnostics, &[]);
    }
    if !r.connections.is_empty() {
        p.push_str(r#"<nav><h2>Connections</h2><ol class="toc">"#);
        for c in &r.connections {
            let _ = write!(
                p,
                r##"<li><a href="#conn-{0}">Connection {0}</a>: {1} ⇄ {2}{3}{4}</li>"##,
                c.info.conn.0,
                c.info.client,
                c.info.server,
                connection_tags(c),
                connection_counts(c)
            );
        }
        p.push_str("</ol></nav>");
    }
    p.push_str("</header>");
}

/// ` · 12 frames · 3 diagnostics`, once the connection has ended.
fn connection_counts(c: &Connection) -> String {
    let Some(end) = &c.end else {
        return String::new();
    };
    let frames = end.stats[0].frames + end.stats[1].frames;
    let mut s = format!(" · {}", count(frames, "frame"));
    match c.diagnostics_counted {
        Some(0) | None => {}
        Some(n) => s.push_str(&format!(
            r#" · <span class="sev warning">{}</span>"#,
            count(n, "diagnostic")
        )),
    }
    s
}

/// TLS, HTTP/2 and inferred connections say so.
fn connection_tags(c: &Connection) -> String {
    let mut tags = String::new();
    if let Some(t) = &c.info.tls {
        let _ = write!(
            tags,
            r#" <span class="tag">TLS {}{}{}</span>"#,
            text(&t.version_name()),
            t.sni
                .as_deref()
                .map(|s| format!(" SNI {}", text(s)))
                .unwrap_or_default(),
            if t.decrypted {
                ", decrypted"
            } else {
                ", not decrypted"
            }
        );
    }
    if let Some(h2) = c.info.http2 {
        let _ = write!(
            tags,
            r#" <span class="tag">HTTP/2 ({})</span>"#,
            h2.as_str()
        );
    }
    if c.info.inferred {
        tags.push_str(r#" <span class="tag">handshake not seen</span>"#);
    }
    tags
}

fn connection(p: &mut String, r: &Report, c: &Connection) {
    let id = c.info.conn.0;
    let _ = write!(
        p,
        r#"<section class="conn" id="conn-{id}"><h2>Connection {id}: client {} ⇄ server {}{}</h2><p class="meta">first packet #{} at {}"#,
        c.info.client,
        c.info.server,
        connection_tags(c),
        c.info.first_packet.number,
        seconds_label(r.seconds(c.info.first_packet.ts)),
    );
    if let Some(e) = &c.end {
        let _ = write!(p, " · TCP ended: {}", html(&e.what));
    }
    p.push_str("</p>");
    if let Some(e) = &c.end {
        end_stats(p, e);
    }
    if !c.diagnostics.items.is_empty() {
        p.push_str("<h3>Connection diagnostics</h3>");
        diagnostics_list(p, &c.diagnostics, &[]);
    }
    for s in &c.sessions {
        session(p, r, c, s);
    }
    if c.sessions.is_empty() {
        p.push_str(r#"<p class="none">No WebSocket frame seen on this connection.</p>"#);
    }
    if c.sessions_left_out > 0 {
        let _ = write!(
            p,
            r#"<p class="cut">… {} more sessions not drawn (at most {MAX_SESSIONS_PER_CONNECTION} per connection).</p>"#,
            c.sessions_left_out
        );
    }
    p.push_str("</section>");
}

/// Frames, messages and bytes each way, and the close each side sent.
fn end_stats(p: &mut String, e: &End) {
    p.push_str(r#"<table class="stats"><tr><th></th><th>frames</th><th>messages</th><th>payload bytes</th><th>close sent</th></tr>"#);
    for (i, who) in ["client → server", "server → client"].iter().enumerate() {
        let st = &e.stats[i];
        let close = match &e.close[i] {
            Some(c) => match c.code {
                Some(code) => format!(
                    "{code} {} \"{}\"",
                    close_code_name(code),
                    bytes_text(&c.reason_bytes)
                ),
                None => "close without a status code".to_string(),
            },
            None => "none".to_string(),
        };
        let _ = write!(
            p,
            r#"<tr><th>{who}</th><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{close}</td></tr>"#,
            st.frames, st.messages, st.payload_bytes
        );
    }
    p.push_str("</table>");
}

fn session(p: &mut String, r: &Report, c: &Connection, s: &Session) {
    p.push_str(r#"<section class="session">"#);
    let refused = s.handshake.as_ref().is_some_and(|h| !h.accepted());
    match (s.stream, refused) {
        (Some(stream), false) => {
            let _ = write!(p, "<h3>WebSocket on HTTP/2 stream {stream}</h3>");
        }
        (Some(stream), true) => {
            let _ = write!(p, "<h3>HTTP/2 stream {stream}: WebSocket refused</h3>");
        }
        (None, false) => p.push_str("<h3>WebSocket session</h3>"),
        (None, true) => p.push_str("<h3>Upgrade refused</h3>"),
    }
    match &s.handshake {
        Some(h) => handshake(p, h),
        None => p.push_str(r#"<p class="none">Opening handshake not seen: the session was recognised from its frames.</p>"#),
    }
    if let Some(e) = &s.end {
        let _ = write!(p, r#"<p class="meta">Stream ended: {}</p>"#, html(&e.what));
        end_stats(p, e);
    }
    p.push_str(r#"<div class="seqwrap"><div class="seqbox">"#);
    svg::sequence(
        p,
        r,
        s,
        &c.info.client.to_string(),
        &c.info.server.to_string(),
    );
    p.push_str(r#"</div><aside class="panel"><p class="hint">Click a frame (an arrow) to see its header bytes field by field, the RFC 6455 §5.2 diagram filled in with its values, and how its payload is unmasked.</p>"#);
    for k in &s.frames.items {
        frame_detail(p, r, s, k);
    }
    p.push_str("</aside></div>");
    frame_list(p, r, s);
    if s.sizes.items.is_empty() && s.rtts.items.is_empty() {
        p.push_str(r#"<p class="none">No message and no ping answered: nothing to plot.</p>"#);
    } else {
        p.push_str(r#"<div class="plots">"#);
        svg::size_plot(p, s);
        svg::rtt_plot(p, s);
        p.push_str("</div>");
    }
    if !s.diagnostics.items.is_empty() || s.diagnostics.left_out > 0 {
        p.push_str("<h4>Diagnostics</h4>");
        diagnostics_list(p, &s.diagnostics, &s.frames.items);
    }
    p.push_str("</section>");
}

/// The frames drawn, as a table (folded): one line each, linked to its detail.
fn frame_list(p: &mut String, r: &Report, s: &Session) {
    if s.frames.items.is_empty() {
        return;
    }
    let _ = write!(
        p,
        r#"<details class="frames"><summary>The {} frames drawn, as a list</summary><table class="flist"><tr><th>frame</th><th>time</th><th>packet</th><th>opcode</th><th>FIN</th><th>RSV</th><th>MASK</th><th>key</th><th class="num">length</th><th>diagnostics</th></tr>"#,
        s.frames.items.len()
    );
    for k in &s.frames.items {
        let f = &k.frame;
        let h = &f.header;
        let bit = |b: bool| if b { "1" } else { "0" };
        let _ = write!(
            p,
            r##"<tr><td><a class="fi" href="#{}">{} {} #{}</a></td><td>{}</td><td>#{}</td><td>{}</td><td>{}</td><td>{}{}{}</td><td>{}</td><td><code>{}</code></td><td class="num">{}</td><td>{}</td></tr>"##,
            frame_id(f),
            f.dir.sender(),
            f.dir.arrow(),
            f.index,
            seconds_label(r.seconds(f.last_packet.ts)),
            f.first_packet.number,
            h.opcode.name(),
            bit(h.fin),
            bit(h.rsv1),
            bit(h.rsv2),
            bit(h.rsv3),
            bit(h.masked),
            h.mask_key.map(|k| hex_spaced(&k)).unwrap_or_default(),
            h.payload_len,
            match k.diagnostics.len() {
                0 => String::new(),
                n => format!("{n}"),
            }
        );
    }
    p.push_str("</table></details>");
}

/// A definition list row, skipped when there is nothing to say.
fn row(p: &mut String, name: &str, value: &str) {
    if !value.is_empty() {
        let _ = write!(p, "<dt>{name}</dt><dd>{value}</dd>");
    }
}

fn list(items: &[String]) -> String {
    items.iter().map(|s| text(s)).collect::<Vec<_>>().join(", ")
}

/// Request line, status, and what was offered against what was chosen.
fn handshake(p: &mut String, h: &Handshake) {
    p.push_str(r#"<dl class="hs">"#);
    row(
        p,
        "request",
        &format!(
            "<code>{}</code> (packet #{})",
            html(&request_line(h)),
            h.request_packet.number
        ),
    );
    let verdict = if h.accepted() {
        r#"<span class="ok">accepted</span>"#
    } else {
        r#"<span class="bad">refused</span>"#
    };
    row(
        p,
        "response",
        &format!(
            "<code>{} {}</code> {verdict} (packet #{})",
            h.status,
            text(&h.reason),
            h.response_packet.number
        ),
    );
    row(p, "host", &h.host.as_deref().map(text).unwrap_or_default());
    row(
        p,
        "origin",
        &h.origin.as_deref().map(text).unwrap_or_default(),
    );
    let offered: Vec<String> = h.offered_protocols.clone();
    let chosen = h.subprotocol.as_deref().map(text);
    if !offered.is_empty() || chosen.is_some() {
        row(
            p,
            "subprotocol",
            &format!(
                "offered: {} · chosen: {}",
                if offered.is_empty() {
                    "none".into()
                } else {
                    list(&offered)
                },
                chosen.unwrap_or_else(|| "none".into())
            ),
        );
    }
    let offered: Vec<String> = h.offered_extensions.iter().map(|e| e.to_string()).collect();
    let chosen: Vec<String> = h.extensions.iter().map(|e| e.to_string()).collect();
    if !offered.is_empty() || !chosen.is_empty() {
        row(
            p,
            "extensions",
            &format!(
                "offered: {} · chosen: {}",
                if offered.is_empty() {
                    "none".into()
                } else {
                    list(&offered)
                },
                if chosen.is_empty() {
                    "none".into()
                } else {
                    list(&chosen)
                }
            ),
        );
    }
    if h.http2.is_none() && h.accepted() {
        let check = if h.accept_valid() {
            r#"<span class="ok">matches the key</span>"#
        } else {
            r#"<span class="bad">does not match the key</span>"#
        };
        row(
            p,
            "Sec-WebSocket-Accept",
            &format!(
                "<code>{}</code> {check}",
                h.accept
                    .as_deref()
                    .map(text)
                    .unwrap_or_else(|| "(missing)".into())
            ),
        );
    }
    row(
        p,
        "user agent",
        &h.user_agent.as_deref().map(text).unwrap_or_default(),
    );
    p.push_str("</dl>");
}

/// The header bytes of a frame, by field: `(class, field name, bytes)`.
fn header_fields(f: &Frame) -> Vec<(&'static str, &'static str, &[u8])> {
    let h = &f.header;
    let hb = &f.header_bytes[..usize::from(h.header_len)];
    let mut fields = vec![
        ("k-b0", "FIN, RSV1–3, opcode", &hb[0..1]),
        ("k-b1", "MASK, payload length (7 bits)", &hb[1..2]),
    ];
    let ext_end = match h.length_form {
        LengthForm::Short => 2,
        LengthForm::Extended16 => 4,
        LengthForm::Extended64 => 10,
    };
    if ext_end > 2 {
        fields.push(("k-ext", "extended payload length", &hb[2..ext_end]));
    }
    if h.mask_key.is_some() {
        fields.push(("k-key", "masking key", &hb[ext_end..ext_end + 4]));
    }
    fields
}

/// The payload bytes kept, as they were on the wire (masked again when the frame was masked).
fn wire_payload(f: &Frame) -> Vec<u8> {
    let present = f
        .header
        .payload_len
        .saturating_sub(f.missing)
        .min(f.payload.bytes.len() as u64) as usize;
    let mut wire = f.payload.bytes[..present].to_vec();
    if let Some(key) = f.header.mask_key {
        apply_mask(&mut wire, key, 0);
    }
    wire
}

/// Bytes in hex, each in a span of its field's colour (the field named once, on the first).
fn spans(p: &mut String, class: &str, title: &str, bytes: &[u8]) {
    for (i, b) in bytes.iter().enumerate() {
        if i == 0 {
            let _ = write!(
                p,
                r#"<span class="{class}" title="{title}">{b:02x}</span> "#
            );
        } else {
            let _ = write!(p, r#"<span class="{class}">{b:02x}</span> "#);
        }
    }
}

/// The first two header bytes bit by bit, each field in its colour, with what they say.
fn bits_of_first_two_bytes(p: &mut String, h: &FrameHeader) {
    let bit = |b: bool| u8::from(b);
    let (fin, rsv) = (bit(h.fin), [bit(h.rsv1), bit(h.rsv2), bit(h.rsv3)]);
    let rsv = format!("{}{}{}", rsv[0], rsv[1], rsv[2]);
    let op = h.opcode.bits();
    let _ = write!(
        p,
        r#"<div class="bits">byte 0 = <span class="k-fin">{fin}</span><span class="k-rsv">{rsv}</span><span class="k-op">{op:04b}</span>: FIN {fin}, RSV {rsv}, opcode 0x{op:X} ({})"#,
        h.opcode.name()
    );
    let (mask, len7) = (bit(h.masked), h.len7);
    // 126 and 127 are markers, not lengths (§5.2).
    let marker = match len7 {
        126 => format!(
            " (a marker: the length is the next 2 bytes, {})",
            h.payload_len
        ),
        127 => format!(
            " (a marker: the length is the next 8 bytes, {})",
            h.payload_len
        ),
        _ => String::new(),
    };
    let _ = write!(
        p,
        r#" · byte 1 = <span class="k-mask">{mask}</span><span class="k-len">{len7:07b}</span>: MASK {mask}, length {len7}{marker}</div>"#
    );
}

/// The header bytes coloured field by field, then the first payload bytes.
fn header_bytes(p: &mut String, f: &Frame, wire: &[u8]) {
    p.push_str(r#"<div class="bytes">"#);
    for (class, name, bytes) in header_fields(f) {
        spans(p, class, name, bytes);
    }
    let shown = wire.len().min(UNMASK_SHOWN);
    spans(p, "k-pay", "payload (as on the wire)", &wire[..shown]);
    if (shown as u64) < f.header.payload_len {
        let _ = write!(
            p,
            r#"<span class="more">… {} payload bytes in all</span>"#,
            f.header.payload_len
        );
    }
    p.push_str("</div>");
    bits_of_first_two_bytes(p, &f.header);
    p.push_str(r#"<div class="legend"><span class="k-b0">FIN/RSV/opcode</span> <span class="k-b1">MASK/length</span> <span class="k-ext">extended length</span> <span class="k-key">masking key</span> <span class="k-pay">payload</span></div>"#);
}

/// The unmasking step (RFC 6455 §5.3): each payload byte XOR the key byte at `i mod 4`.
fn unmasking(p: &mut String, f: &Frame, wire: &[u8]) {
    let Some(key) = f.header.mask_key else {
        p.push_str(r#"<p class="note">MASK = 0: the payload is sent as it is. Only clients mask (§5.1); masking is not encryption, the key travels in the frame (§10.3).</p>"#);
        return;
    };
    if wire.is_empty() {
        p.push_str(r#"<p class="note">Masked, but there is no payload to unmask.</p>"#);
        return;
    }
    let n = wire.len().min(UNMASK_SHOWN);
    let plain = &f.payload.bytes[..n];
    p.push_str(r#"<table class="xor"><tr><th>i</th>"#);
    for i in 0..n {
        let _ = write!(p, "<td>{i}</td>");
    }
    p.push_str(r#"</tr><tr><th>on the wire (masked)</th>"#);
    for b in &wire[..n] {
        let _ = write!(p, r#"<td class="k-pay">{b:02x}</td>"#);
    }
    p.push_str(r#"</tr><tr><th>⊕ key[i mod 4]</th>"#);
    for i in 0..n {
        let _ = write!(p, r#"<td class="k-key">{:02x}</td>"#, key[i % 4]);
    }
    p.push_str(r#"</tr><tr><th>= payload</th>"#);
    for b in plain {
        let _ = write!(p, r#"<td class="res">{b:02x}</td>"#);
    }
    p.push_str(r#"</tr><tr><th>as text</th>"#);
    for b in plain {
        let c = if b.is_ascii_graphic() || *b == b' ' {
            html(&char::from(*b).to_string())
        } else {
            "·".to_string()
        };
        let _ = write!(p, "<td>{c}</td>");
    }
    p.push_str("</tr></table>");
    let more = if (n as u64) < f.header.payload_len {
        "…"
    } else {
        ""
    };
    let _ = write!(
        p,
        r#"<p class="unmasked">Unmasked: <q>{}</q>{more}</p>"#,
        bytes_text(plain)
    );
}

/// Everything about one frame, shown when it is clicked.
fn frame_detail(p: &mut String, r: &Report, s: &Session, k: &KeptFrame) {
    let f = &k.frame;
    let h = &f.header;
    let id = frame_id(f);
    let _ = write!(
        p,
        r#"<div class="detail" id="{id}"><h4>{} frame #{}: {}, {} payload bytes</h4><p class="meta">{} · packet #{}{} at {} · stream offset {}</p>"#,
        f.dir.sender(),
        f.index,
        h.opcode.name(),
        h.payload_len,
        if f.dir.index() == 0 {
            "client → server"
        } else {
            "server → client"
        },
        f.first_packet.number,
        if f.last_packet.number != f.first_packet.number {
            format!("–#{}", f.last_packet.number)
        } else {
            String::new()
        },
        seconds_label(r.seconds(f.last_packet.ts)),
        f.stream_offset
    );
    let wire = wire_payload(f);
    p.push_str("<h5>Header bytes, field by field</h5>");
    header_bytes(p, f, &wire);
    p.push_str("<h5>RFC 6455 §5.2, filled in</h5><pre class=\"box\">");
    let hb = &f.header_bytes[..usize::from(h.header_len)];
    for line in frame_diagram(h, hb, &f.payload.bytes, f.missing) {
        p.push_str(&html(&line));
        p.push('\n');
    }
    p.push_str("</pre><h5>Unmasking</h5>");
    unmasking(p, f, &wire);
    if h.rsv1 && f.starts_compressed_message() {
        p.push_str(r#"<p class="note">RSV1 = 1 on a session that negotiated permessage-deflate: this message is compressed (RFC 7692 §6); the bytes above are deflate data, the message line shows it inflated.</p>"#);
    }
    if let Some(c) = &f.close {
        let _ = write!(
            p,
            r#"<p class="note">Close: {}</p>"#,
            match c.code {
                Some(code) => format!(
                    "status {code} ({}), reason <q>{}</q>",
                    close_code_name(code),
                    bytes_text(&c.reason_bytes)
                ),
                None => "no status code (empty payload)".to_string(),
            }
        );
    }
    if let Some(rtt) = f.rtt_ns {
        let _ = write!(
            p,
            r#"<p class="note">Answers a ping after {:.3} ms.</p>"#,
            rtt as f64 / 1e6
        );
    }
    if !k.diagnostics.is_empty() {
        p.push_str("<h5>Diagnostics of this frame</h5><ul class=\"diags\">");
        for &i in &k.diagnostics {
            let d = &s.diagnostics.items[i];
            let _ = write!(
                p,
                r##"<li><span class="sev {0}">{0}</span> <code>{1}</code> ({2}) {3} <a href="#d{4}">in the list</a></li>"##,
                d.diagnostic.rule.severity.as_str(),
                d.diagnostic.rule.name,
                html(d.diagnostic.rule.section),
                text(&d.diagnostic.message),
                d.id
            );
        }
        p.push_str("</ul>");
    }
    p.push_str("</div>");
}

/// Diagnostics, each with its anchor and a link to the frame it is about.
fn diagnostics_list(p: &mut String, list: &Bounded<KeptDiagnostic>, frames: &[KeptFrame]) {
    p.push_str(r#"<ul class="diags">"#);
    for d in &list.items {
        let g = &d.diagnostic;
        let sev = g.rule.severity.as_str();
        let _ = write!(
            p,
            r#"<li id="d{}"><span class="sev {sev}">{sev}</span> <code>{}</code> ({}) {}"#,
            d.id,
            g.rule.name,
            html(g.rule.section),
            text(&g.message)
        );
        if let Some(dir) = g.dir {
            let _ = write!(p, " · {}", dir.sender());
        }
        if let Some(pk) = g.packet {
            let _ = write!(p, " · packet #{}", pk.number);
        }
        if let Some(f) = d.frame {
            let f = &frames[f].frame;
            let _ = write!(
                p,
                r##" · <a class="fl" href="#{}">{} frame #{}</a>"##,
                frame_id(f),
                f.dir.sender(),
                f.index
            );
        }
        p.push_str("</li>");
    }
    if list.left_out > 0 {
        let _ = write!(
            p,
            r#"<li class="cut">… {} more not listed (at most {MAX_DIAGNOSTICS} here).</li>"#,
            list.left_out
        );
    }
    p.push_str("</ul>");
}
