//! The opening handshake, taught (`-v`, `explain --http`): every header of the request and of
//! the response as it was sent, with a line on what it means; the Sec-WebSocket-Accept
//! computation done again and checked; and what the client offered against what the server
//! chose. Both an HTTP/1.1 upgrade (RFC 6455 §4) and an HTTP/2 extended CONNECT (RFC 8441).
//!
//! Lays out only: the rules are checked in `http` (their diagnostics follow as their own
//! events), and the values come from the [`Exchange`] the capture path built. Every line is
//! escaped (header values are the peers' bytes) and fits the view's width ([`WIDTH`] in a pipe).

use std::io::{self, Write};

use super::escape::{escape_line, hex_spaced};
use super::fit::{wrap, wrap_words};
use super::style::Style;
use crate::base::Severity;
use crate::event::Handshake;
use crate::http::{check_key, compute_accept, Exchange, Extension, KeyShape, WEBSOCKET_GUID};

/// Columns every line fits in.
pub const WIDTH: usize = 80;
/// Where a header's meaning starts: under its name, a little in.
const MEANING: usize = 7;
/// Where a header too long for a line goes on: less far in than its meaning.
const SENT_CONTINUED: usize = 5;
/// The labels of the accept computation and the negotiation (`extension`, `SHA-1`), padded.
const LABEL: usize = 11;
/// `offered ` and `chosen  `.
const SUB: usize = 8;

/// Which halves of the handshake to teach, and whether the request is known at all (`explain
/// --http` may be given a response alone: then there is no key and no offer to check against).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts {
    pub request: bool,
    pub response: bool,
    pub request_known: bool,
}

impl Parts {
    pub const BOTH: Parts = Parts {
        request: true,
        response: true,
        request_known: true,
    };

    /// `--packet`: the halves the packets carried (every half when no packet is asked for).
    pub fn at_packets(h: &Exchange, packets: &[u64]) -> Parts {
        if packets.is_empty() {
            return Parts::BOTH;
        }
        Parts {
            request: packets.contains(&h.request_packet.number),
            response: packets.contains(&h.response_packet.number),
            request_known: true,
        }
    }
}

/// Which halves of each handshake a view teaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Halves {
    /// `--packet`: the halves these packets carried (none: every half).
    AtPackets(Vec<u64>),
    /// These halves, whatever the packets (`explain --http`: the halves pasted).
    Fixed(Parts),
}

impl Default for Halves {
    fn default() -> Self {
        Halves::AtPackets(Vec::new())
    }
}

impl Halves {
    pub fn of(&self, h: &Exchange) -> Parts {
        match self {
            Halves::AtPackets(packets) => Parts::at_packets(h, packets),
            Halves::Fixed(parts) => *parts,
        }
    }
}

/// The handshake taught, line by line: the request, then the response, as `parts` asks.
pub fn write_taught(
    out: &mut dyn Write,
    h: &Handshake,
    parts: Parts,
    (st, width): (Style, usize),
) -> io::Result<()> {
    for line in taught(h, parts, st, width) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// The lines of [`write_taught`].
pub fn taught(h: &Handshake, parts: Parts, st: Style, width: usize) -> Vec<String> {
    let mut t = Teacher {
        lines: Vec::new(),
        st,
        width,
    };
    let stream = h.stream.map(|s| format!(" stream {s}")).unwrap_or_default();
    let over = if h.http2.is_some() {
        "RFC 8441"
    } else {
        "RFC 6455 §4"
    };
    if parts.request {
        t.heading(&format!(
            "── conn {}{stream} handshake request ({over}), packet #{} (client → server)",
            h.conn, h.request_packet.number
        ));
        match &h.http2 {
            Some(c) => t.connect_request(h, c.connect_enabled),
            None => t.upgrade_request(h),
        }
    }
    if parts.response {
        if parts.request {
            t.lines.push(String::new());
        }
        t.heading(&format!(
            "── conn {}{stream} handshake response, packet #{} (server → client)",
            h.conn, h.response_packet.number
        ));
        match h.http2 {
            Some(_) => t.connect_response(h),
            None => t.upgrade_response(h, parts.request_known),
        }
        // A refusal negotiates nothing: its status line said so.
        if h.accepted() {
            t.negotiation(h, parts.request_known);
        }
    }
    t.lines
}

struct Teacher {
    lines: Vec<String>,
    st: Style,
    /// Columns every line keeps within.
    width: usize,
}

impl Teacher {
    fn heading(&mut self, text: &str) {
        for line in wrap(text, self.width, 3) {
            self.lines.push(self.st.heading(&line));
        }
    }

    /// A line as the peer sent it (escaped), wrapped at spaces under itself: a `;` in a
    /// header value (`Mozilla/5.0 (X11; Linux …)`) does not end a clause.
    fn sent(&mut self, text: &str) {
        let line = format!("   {}", escape_line(text));
        self.lines
            .extend(wrap_words(&line, self.width, SENT_CONTINUED));
    }

    /// What the line above means, indented under it.
    fn meaning(&mut self, text: &str) {
        let indent = " ".repeat(MEANING);
        self.lines
            .extend(wrap(&format!("{indent}{text}"), self.width, MEANING));
    }

    /// A labelled value under a header (the accept computation, the negotiation).
    fn row(&mut self, label: &str, value: &str) {
        self.sub_row(label, "", value)
    }

    /// A row with a second label (`offered`, `chosen`): continuation lines go under the value.
    fn sub_row(&mut self, label: &str, sub: &str, value: &str) {
        let sub = if sub.is_empty() {
            String::new()
        } else {
            format!("{sub:<SUB$}")
        };
        let line = format!("{:MEANING$}{label:<LABEL$}{sub}{value}", "");
        let indent = MEANING + LABEL + sub.len();
        self.lines.extend(wrap(&line, self.width, indent));
    }

    fn upgrade_request(&mut self, h: &Exchange) {
        self.sent(&format!("{} {}", h.method, h.target));
        self.meaning(&if h.method.eq_ignore_ascii_case("GET") {
            format!(
                "a GET of the endpoint {}: only a GET opens a WebSocket (§4.1)",
                escape_line(&h.target)
            )
        } else {
            "not a GET: only a GET opens a WebSocket (§4.1)".to_string()
        });
        for (name, value) in &h.request_headers.0 {
            self.sent(&format!("{name}: {value}"));
            self.meaning(&request_header_meaning(name, value));
        }
        if h.key.is_none() {
            self.meaning("no Sec-WebSocket-Key: the server has nothing to prove it read (§4.1)");
        }
    }

    fn connect_request(&mut self, h: &Exchange, connect_enabled: bool) {
        for (name, value) in &h.request_headers.0 {
            self.sent(&format!("{name} {value}"));
            self.meaning(&connect_field_meaning(name, value, true));
        }
        self.meaning(if connect_enabled {
            "the server had sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 before this \
             request, which allows :protocol (RFC 8441 §3)"
        } else {
            "the server had NOT sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 before this \
             request: :protocol is not allowed yet (RFC 8441 §3)"
        });
        // A key sent anyway was taught as unused where it stood.
        if h.key.is_none() {
            self.meaning(
                "no Sec-WebSocket-Key, and so no Sec-WebSocket-Accept: over HTTP/2 :protocol \
                 says what the stream is for, and the key's proof is not used (RFC 8441 §5)",
            );
        }
    }

    fn upgrade_response(&mut self, h: &Exchange, request_known: bool) {
        self.sent(&format!("{} {}", h.status, h.reason));
        self.meaning(match h.status {
            101 => {
                "the server agrees: after this head's blank line, both directions carry \
                 WebSocket frames (§4.2.2)"
            }
            426 => {
                "Upgrade Required: the server does not speak the version asked for, \
                 and lists the ones it does (§4.4)"
            }
            _ => "not 101: the server refused, and the connection stays HTTP (§4.2.2, §4.4)",
        });
        for (name, value) in &h.response_headers.0 {
            self.sent(&format!("{name}: {value}"));
            self.meaning(&response_header_meaning(name, value, h.status));
            if name.eq_ignore_ascii_case("Sec-WebSocket-Accept") {
                self.accept_steps(h, value, request_known);
            }
        }
    }

    /// The accept value computed again from the request's key, step by step, and compared.
    fn accept_steps(&mut self, h: &Exchange, sent: &str, request_known: bool) {
        let key = match (&h.key, request_known) {
            (Some(key), _) => key,
            (None, true) => {
                self.meaning("the request had no Sec-WebSocket-Key: nothing to check it against");
                return;
            }
            (None, false) => {
                self.meaning("the request was not given: give it too, to check this value");
                return;
            }
        };
        let steps = compute_accept(key);
        self.row("key", &escape_line(key.trim()));
        self.row("+ GUID", &format!("{WEBSOCKET_GUID} (fixed, §1.3)"));
        self.row("SHA-1", &hex_spaced(&steps.sha1));
        self.row("base64", &steps.accept);
        if sent.trim() == steps.accept {
            self.row("=", "the value sent: the server read this request's key");
        } else {
            let differs = format!(
                "NOT the value sent ({}): a client must fail",
                escape_line(sent)
            );
            let line = format!(
                "{:MEANING$}{:<LABEL$}{differs} the connection (§4.1)",
                "", "≠"
            );
            for l in wrap(&line, self.width, MEANING + LABEL) {
                self.lines.push(self.st.severity(Severity::Error, &l));
            }
        }
    }

    fn connect_response(&mut self, h: &Exchange) {
        for (name, value) in &h.response_headers.0 {
            self.sent(&format!("{name} {value}"));
            let meaning = if name == ":status" {
                if h.accepted() {
                    "2xx: the server accepts, and from now on the stream's DATA frames carry \
                     WebSocket frames (RFC 8441 §5)"
                        .to_string()
                } else {
                    "not 2xx: the server refused, and no tunnel was opened (RFC 8441 §5)"
                        .to_string()
                }
            } else {
                connect_field_meaning(name, value, false)
            };
            self.meaning(&meaning);
        }
    }

    /// Offered against chosen: the subprotocol and the extensions, with what each chosen
    /// permessage-deflate parameter does.
    fn negotiation(&mut self, h: &Exchange, request_known: bool) {
        let offered = |list: Vec<String>| {
            if !request_known {
                "(the request was not given)".to_string()
            } else if list.is_empty() {
                "none".to_string()
            } else {
                escape_line(&list.join(", "))
            }
        };
        let nothing = if h.accepted() {
            "none"
        } else {
            "none (refused)"
        };
        self.lines.push("   negotiated".to_string());
        let protocols = offered(h.offered_protocols.clone());
        self.sub_row("protocol", "offered", &protocols);
        let chosen = h.subprotocol.as_deref().map(escape_line);
        self.sub_row("", "chosen", chosen.as_deref().unwrap_or(nothing));
        let names = |exts: &[Extension]| exts.iter().map(Extension::to_string).collect();
        let extensions = offered(names(&h.offered_extensions));
        self.sub_row("extension", "offered", &extensions);
        if h.extensions.is_empty() {
            self.sub_row("", "chosen", nothing);
        }
        for ext in &h.extensions {
            self.sub_row("", "chosen", &escape_line(&ext.to_string()));
            self.extension_params(ext);
        }
    }

    fn extension_params(&mut self, ext: &Extension) {
        if !ext.name.eq_ignore_ascii_case("permessage-deflate") {
            return;
        }
        self.row(
            "",
            "permessage-deflate: RSV1 marks a compressed message (RFC 7692)",
        );
        for (name, value) in &ext.params {
            let text = deflate_param_meaning(name, value.as_deref());
            self.row("", &format!("{}: {text}", escape_line(name)));
        }
    }
}

/// What a request header does in a WebSocket handshake (RFC 6455 §4.1), judged by its value
/// where the value decides.
fn request_header_meaning(name: &str, value: &str) -> String {
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    let has_token = |t: &str| value.split(',').any(|v| v.trim().eq_ignore_ascii_case(t));
    let text = if is("Host") {
        "the server's name and port, required in every handshake (§4.1 item 4)"
    } else if is("Upgrade") && has_token("websocket") {
        "asks to switch this connection to the WebSocket protocol (§4.1 item 5)"
    } else if is("Upgrade") {
        "must name websocket for a WebSocket handshake (§4.1 item 5)"
    } else if is("Connection") && has_token("upgrade") {
        "Upgrade here says the Upgrade header is for this connection (§4.1 item 6)"
    } else if is("Connection") {
        "must contain Upgrade for a WebSocket handshake (§4.1 item 6)"
    } else if is("Sec-WebSocket-Key") {
        return key_meaning(value);
    } else if is("Sec-WebSocket-Version") && value.trim() == "13" {
        "13 is RFC 6455's version, the only one in use (§4.1 item 9)"
    } else if is("Sec-WebSocket-Version") {
        "must be 13: a server answers others with 426 and its versions (§4.4)"
    } else if is("Sec-WebSocket-Protocol") {
        "subprotocols the client speaks, most preferred first: the server picks \
         one or none (§4.1 item 10, §1.9)"
    } else if is("Sec-WebSocket-Extensions") {
        "extensions the client offers, with their parameters: the server \
         accepts some or none (§4.1 item 11, §9.1)"
    } else if is("Origin") {
        "the origin of the page that opened the socket (browsers send it): a server \
         may refuse origins it does not trust (§4.1 item 8, §10.2)"
    } else {
        "ordinary HTTP, not part of the WebSocket handshake (§4.1 allows it)"
    };
    text.to_string()
}

fn key_meaning(value: &str) -> String {
    const ROLE: &str = "the server hashes it into its Sec-WebSocket-Accept (§4.1 item 7)";
    match check_key(value) {
        KeyShape::Valid => format!("16 random bytes in base64, fresh for each handshake: {ROLE}"),
        KeyShape::WrongLength(n) => {
            format!("decodes to {n} bytes, NOT the 16 random bytes it must be: {ROLE}")
        }
        KeyShape::NotBase64 => format!("NOT base64 of 16 random bytes, as it must be: {ROLE}"),
    }
}

/// What a response header does (RFC 6455 §4.2.2).
fn response_header_meaning(name: &str, value: &str, status: u16) -> String {
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    let has_token = |t: &str| value.split(',').any(|v| v.trim().eq_ignore_ascii_case(t));
    let text = if is("Upgrade") && has_token("websocket") {
        "the protocol the connection switches to: websocket (§4.2.2 item 5.2)"
    } else if is("Upgrade") {
        "a 101 must name websocket here (§4.2.2 item 5.2)"
    } else if is("Connection") && has_token("upgrade") {
        "Upgrade: the switch applies to this connection (§4.2.2 item 5.3)"
    } else if is("Connection") {
        "no Upgrade here: this connection does not switch (a 101 needs it, \
         §4.2.2 item 5.3)"
    } else if is("Sec-WebSocket-Accept") {
        "base64(SHA-1(key + GUID)): proves the server read the key (§4.2.2)"
    } else if is("Sec-WebSocket-Protocol") {
        "the one subprotocol the server chose from the offer (§4.2.2 item 5.5)"
    } else if is("Sec-WebSocket-Extensions") {
        "the extensions the server accepted, with the parameters it chose (§9.1)"
    } else if is("Sec-WebSocket-Version") && status != 101 {
        "the versions the server speaks: the client may try again with one (§4.4)"
    } else {
        "ordinary HTTP, not part of the WebSocket handshake"
    };
    text.to_string()
}

/// What a field of an extended CONNECT or its answer does (RFC 8441 §4-5; the Sec-WebSocket-*
/// fields keep their RFC 6455 meaning).
fn connect_field_meaning(name: &str, value: &str, request: bool) -> String {
    let text = match name {
        ":method" if value == "CONNECT" => {
            "CONNECT, not GET: a WebSocket is a tunnel in a stream (RFC 8441 §4)"
        }
        ":method" => "must be CONNECT when :protocol is sent (RFC 8441 §4)",
        ":protocol" => "what the stream will carry: an extended CONNECT (RFC 8441 §4)",
        ":scheme" => "http or https: the scheme of the WebSocket's URI (RFC 8441 §4)",
        ":path" => "the endpoint, as a GET's target over HTTP/1.1 (RFC 8441 §4)",
        ":authority" => "the server's name and port: Host over HTTP/2 (RFC 8441 §4)",
        "sec-websocket-key" | "sec-websocket-accept" => {
            "not used over HTTP/2: :protocol replaces the key and the accept (RFC 8441 §5)"
        }
        _ if request => return request_header_meaning(name, value),
        _ => return response_header_meaning(name, value, 200),
    };
    text.to_string()
}

/// A chosen permessage-deflate parameter (RFC 7692 §7.1).
fn deflate_param_meaning(name: &str, value: Option<&str>) -> String {
    let window = |who: &str, section: &str| match value.and_then(|v| v.parse::<u32>().ok()) {
        Some(bits @ 8..=15) => format!(
            "the {who} compresses with a window of at most 2^{bits} = {} bytes \
             (RFC 7692 {section})",
            1u32 << bits
        ),
        _ => format!("the {who}'s window size (RFC 7692 {section})"),
    };
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    if is("server_no_context_takeover") {
        "the server starts each message with an empty window: every message inflates \
         alone (RFC 7692 §7.1.1.1)"
            .to_string()
    } else if is("client_no_context_takeover") {
        "the client starts each message with an empty window: every message inflates \
         alone (RFC 7692 §7.1.1.2)"
            .to_string()
    } else if is("server_max_window_bits") {
        window("server", "§7.1.2.1")
    } else if is("client_max_window_bits") {
        window("client", "§7.1.2.2")
    } else {
        "not a permessage-deflate parameter (RFC 7692 §7.1)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::{ConnId, PacketRef, StreamId};
    use crate::http::{parse_request, parse_response, Head, Headers};
    use crate::output::fit::display_width;

    const REQ: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nUser-Agent: t\xc2\x9b2J\r\n\r\n";
    const RESP: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Protocol: chat\r\n\
Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=10\r\n\r\n";

    fn packet(number: u64) -> PacketRef {
        PacketRef {
            number,
            ..PacketRef::default()
        }
    }

    fn rfc_handshake(resp: &[u8]) -> Handshake {
        let Head::Complete(req, _) = parse_request(REQ) else {
            panic!("request")
        };
        let Head::Complete(resp, _) = parse_response(resp) else {
            panic!("response")
        };
        Handshake {
            conn: ConnId(1),
            stream: None,
            exchange: Exchange::from_heads(&req, packet(4), &resp, packet(6)),
        }
    }

    fn text(h: &Handshake, parts: Parts) -> String {
        taught(h, parts, Style::default(), WIDTH).join("\n")
    }

    #[test]
    fn every_header_is_taught_within_80_columns_and_escaped() {
        let t = text(&rfc_handshake(RESP), Parts::BOTH);
        for line in t.lines() {
            assert!(display_width(line) <= WIDTH, "{line}");
        }
        assert!(!t.contains('\u{9b}'), "{t}");
        assert!(t.contains("User-Agent: t\\u{9b}2J"), "{t}");
        for needle in [
            "the server's name and port",
            "asks to switch this connection",
            "16 random bytes in base64, fresh",
            "13 is RFC 6455's version",
            "subprotocols the client speaks",
            "extensions the client offers",
            "origin of the page",
            "ordinary HTTP, not part of the WebSocket handshake",
            "the server agrees: after this head",
            "the one subprotocol the server chose",
        ] {
            assert!(t.contains(needle), "{needle} in\n{t}");
        }
    }

    #[test]
    fn the_accept_is_computed_and_checked() {
        let t = text(&rfc_handshake(RESP), Parts::BOTH);
        assert!(t.contains("key        dGhlIHNhbXBsZSBub25jZQ=="), "{t}");
        assert!(
            t.contains("+ GUID     258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
            "{t}"
        );
        assert!(t.contains("SHA-1      b3 7a 4f 2c"), "{t}");
        assert!(t.contains("base64     s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{t}");
        assert!(t.contains("=          the value sent"), "{t}");
        let wrong = String::from_utf8_lossy(RESP).replace("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "AAAA");
        let t = text(&rfc_handshake(wrong.as_bytes()), Parts::BOTH);
        assert!(t.contains("≠          NOT the value sent (AAAA)"), "{t}");
    }

    #[test]
    fn offered_against_chosen_with_the_deflate_parameters() {
        let t = text(&rfc_handshake(RESP), Parts::BOTH);
        assert!(t.contains("protocol   offered chat, superchat"), "{t}");
        assert!(t.contains("chosen  chat"), "{t}");
        assert!(
            t.contains("extension  offered permessage-deflate; client_max_window_bits"),
            "{t}"
        );
        assert!(
            t.contains("server_no_context_takeover: the server starts"),
            "{t}"
        );
        assert!(t.contains("2^10 = 1024 bytes"), "{t}");
    }

    #[test]
    fn packet_parts_teach_one_half() {
        let h = rfc_handshake(RESP);
        let req = text(&h, Parts::at_packets(&h, &[4]));
        assert!(req.contains("handshake request") && !req.contains("handshake response"));
        let resp = text(&h, Parts::at_packets(&h, &[6]));
        assert!(!resp.contains("handshake request") && resp.contains("handshake response"));
        assert!(resp.contains("SHA-1"), "the request is known: {resp}");
        assert_eq!(Parts::at_packets(&h, &[]), Parts::BOTH);
    }

    #[test]
    fn a_response_alone_says_what_it_cannot_check() {
        let parts = Parts {
            request: false,
            response: true,
            request_known: false,
        };
        let mut h = rfc_handshake(RESP);
        h.exchange.key = None;
        let t = text(&h, parts);
        assert!(t.contains("the request was not given: give it too"), "{t}");
        assert!(t.contains("offered (the request was not given)"), "{t}");
    }

    proptest::proptest! {
        /// Whatever is pasted, the teaching view neither panics nor leaves 80 columns, and
        /// no control character reaches the terminal.
        #[test]
        fn any_paste_is_taught_within_80_columns(
            first in "(GET|CONNECT|HTTP/1.1) [^\r\n]{0,100}",
            headers in proptest::collection::vec(
                ("(Sec-WebSocket-[A-Za-z]{1,12}|Upgrade|Connection|[!-9;-~]{1,40})", "[^\r\n]{0,150}"),
                0..10,
            ),
            response in proptest::option::of("HTTP/1.1 [0-9]{3} [^\r\n]{0,40}"),
            crlf: bool,
        ) {
            let mut text = first;
            for (name, value) in &headers {
                text.push_str(&format!("\n{name}: {value}"));
            }
            if let Some(status) = response {
                text.push_str(&format!("\n\n{status}"));
                for (name, value) in &headers {
                    text.push_str(&format!("\n{name}: {value}"));
                }
            }
            let text = if crlf { text.replace('\n', "\r\n") } else { text };
            let Some(p) = crate::http::read_pasted(&text) else { return Ok(()) };
            let Some(exchange) = p.exchange else { return Ok(()) };
            let h = Handshake { conn: ConnId(1), stream: None, exchange };
            let parts = Parts { request: true, response: true, request_known: p.has_request };
            for line in taught(&h, parts, Style::default(), WIDTH) {
                proptest::prop_assert!(display_width(&line) <= WIDTH, "{}", line);
                proptest::prop_assert!(!line.chars().any(|c| c.is_control()), "{:?}", line);
            }
        }
    }

    #[test]
    fn http2_has_connect_protocol_and_no_key() {
        let fields = |list: &[(&str, &str)]| {
            Headers(
                list.iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect(),
            )
        };
        let request = fields(&[
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "https"),
            (":path", "/chat"),
            (":authority", "server.example.com"),
            ("sec-websocket-version", "13"),
        ]);
        let response = fields(&[(":status", "200")]);
        let exchange =
            Exchange::from_extended_connect(&request, packet(10), &response, packet(11), true);
        let h = Handshake {
            conn: ConnId(1),
            stream: Some(StreamId(1)),
            exchange,
        };
        let t = text(&h, Parts::BOTH);
        for line in t.lines() {
            assert!(display_width(line) <= WIDTH, "{line}");
        }
        assert!(
            t.contains("conn 1 stream 1 handshake request (RFC 8441)"),
            "{t}"
        );
        assert!(t.contains("CONNECT, not GET"), "{t}");
        assert!(t.contains(":protocol websocket"), "{t}");
        assert!(t.contains("SETTINGS_ENABLE_CONNECT_PROTOCOL = 1"), "{t}");
        assert!(t.contains("no Sec-WebSocket-Key, and so no"), "{t}");
        assert!(t.contains("2xx: the server accepts"), "{t}");
        assert!(!t.contains("SHA-1"), "{t}");
    }
}
