//! A handshake pasted as text (`wsdissect explain --http`): a request, a response, or both one
//! after the other, as people copy them from a terminal, a browser's network panel or a
//! program's source. Read with the same parser and checked by the same rules as a captured
//! handshake; only the line ends are made the wire's first.

use super::{is_upgrade_request, parse_request, parse_response, Exchange, Head, Violation};
use crate::base::rules;
use crate::base::PacketRef;

/// How the pasted lines ended before they were read as CRLF (RFC 9112 §2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineEnds {
    Crlf,
    Lf,
    /// Some CRLF, some LF alone.
    Mixed,
    /// Written as the escapes `\r\n` or `\n`, as in a string literal.
    Escaped,
}

/// What a paste held, read.
#[derive(Clone, Debug, PartialEq)]
pub struct PastedHandshake {
    /// The exchange, with a placeholder for the half not given; None when the first head
    /// given could not be parsed.
    pub exchange: Option<Exchange>,
    pub has_request: bool,
    pub has_response: bool,
    /// The request asks for a WebSocket (`Upgrade: websocket`, `Connection: Upgrade`): a
    /// capture would follow it as a handshake.
    pub upgrade: bool,
    /// The rules broken, as a capture would report them (`handshake-malformed` included).
    pub violations: Vec<Violation>,
    pub line_ends: LineEnds,
    /// Bytes pasted after the last head (a body), not read.
    pub after: usize,
    /// Bytes read, once the line ends are CRLF.
    pub len: usize,
}

/// The request's packet when a paste is read as a capture would be: #1, its response #2.
pub const REQUEST_PACKET: u64 = 1;

fn packet(number: u64) -> PacketRef {
    PacketRef {
        number,
        ..PacketRef::default()
    }
}

/// The paste with CRLF line ends and the blank line that ends a head, and how its lines
/// ended. A paste without any newline but with `\n` escapes is read as a string literal.
fn wire_text(text: &str) -> (String, LineEnds) {
    let (text, escaped) = if !text.contains('\n') && text.contains("\\n") {
        (text.replace("\\r", "\r").replace("\\n", "\n"), true)
    } else {
        (text.to_string(), false)
    };
    let text = text.trim();
    let crlf = text.matches("\r\n").count();
    let lf = text.matches('\n').count() - crlf;
    let line_ends = match (escaped, crlf, lf) {
        (true, _, _) => LineEnds::Escaped,
        (false, _, 0) => LineEnds::Crlf,
        (false, 0, _) => LineEnds::Lf,
        _ => LineEnds::Mixed,
    };
    let mut wire = text.replace("\r\n", "\n").replace('\n', "\r\n");
    wire.push_str("\r\n\r\n");
    (wire, line_ends)
}

/// Why a head that should have ended did not.
const UNENDED: &str = "the head does not end with a blank line";

fn malformed(in_request: bool, why: String) -> Violation {
    let side = if in_request { "request" } else { "response" };
    Violation {
        rule: &rules::HANDSHAKE_MALFORMED,
        in_request,
        message: format!("{side}: {why}"),
    }
}

/// Read a pasted handshake. None when there is nothing but white space.
pub fn read_pasted(text: &str) -> Option<PastedHandshake> {
    if text.trim().is_empty() {
        return None;
    }
    let (wire, line_ends) = wire_text(text);
    let mut read = PastedHandshake {
        exchange: None,
        has_request: false,
        has_response: false,
        upgrade: false,
        violations: Vec::new(),
        line_ends,
        after: 0,
        len: wire.len() - 4,
    };
    let bytes = wire.as_bytes();
    if bytes.starts_with(b"HTTP/") {
        read.response_alone(bytes);
        return Some(read);
    }
    let (req, used) = match parse_request(bytes) {
        Head::Complete(req, used) => (req, used),
        // A blank line ends the paste, so a head still open is one the parser could not end.
        Head::Incomplete => {
            read.violations.push(malformed(true, UNENDED.to_string()));
            return Some(read);
        }
        Head::Invalid(why) => {
            read.violations.push(malformed(true, why));
            return Some(read);
        }
    };
    read.has_request = true;
    read.upgrade = is_upgrade_request(&req);
    let rest = wire[used..].trim_start();
    if rest.is_empty() {
        let exchange = Exchange::from_request(&req, packet(REQUEST_PACKET));
        read.violations = exchange.request_violations();
        read.exchange = Some(exchange);
        return Some(read);
    }
    let response_packet = packet(REQUEST_PACKET + 1);
    match parse_response(rest.as_bytes()) {
        Head::Complete(resp, used) => {
            let exchange =
                Exchange::from_heads(&req, packet(REQUEST_PACKET), &resp, response_packet);
            read.has_response = true;
            read.violations = exchange.violations();
            read.exchange = Some(exchange);
            read.after = rest[used..].trim_end().len();
        }
        unread => {
            let why = match unread {
                Head::Invalid(why) => why,
                _ => UNENDED.to_string(),
            };
            let exchange = Exchange::from_request(&req, packet(REQUEST_PACKET));
            read.violations = exchange.request_violations();
            read.violations.push(malformed(false, why));
            read.exchange = Some(exchange);
        }
    }
    Some(read)
}

impl PastedHandshake {
    fn response_alone(&mut self, bytes: &[u8]) {
        match parse_response(bytes) {
            Head::Complete(resp, used) => {
                let exchange = Exchange::from_response(&resp, packet(REQUEST_PACKET));
                self.has_response = true;
                self.violations = exchange.response_violations();
                self.exchange = Some(exchange);
                self.after = String::from_utf8_lossy(&bytes[used..]).trim_end().len();
            }
            Head::Incomplete => self.violations.push(malformed(false, UNENDED.to_string())),
            Head::Invalid(why) => self.violations.push(malformed(false, why)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_REQUEST: &str = "GET /chat HTTP/1.1
Host: server.example.com
Upgrade: websocket
Connection: Upgrade
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==
Origin: http://example.com
Sec-WebSocket-Protocol: chat, superchat
Sec-WebSocket-Version: 13";

    const RFC_RESPONSE: &str = "HTTP/1.1 101 Switching Protocols
Upgrade: websocket
Connection: Upgrade
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
Sec-WebSocket-Protocol: chat";

    fn rule_names(p: &PastedHandshake) -> Vec<&'static str> {
        p.violations.iter().map(|v| v.rule.name).collect()
    }

    #[test]
    fn rfc6455_section_1_3_pasted_with_lf_or_crlf_is_clean() {
        let lf = format!("{RFC_REQUEST}\n\n{RFC_RESPONSE}\n");
        let crlf = lf.replace('\n', "\r\n");
        for text in [&lf, &crlf] {
            let p = read_pasted(text).unwrap();
            assert!(p.has_request && p.has_response && p.upgrade);
            assert!(p.violations.is_empty(), "{:?}", p.violations);
            let h = p.exchange.unwrap();
            assert!(h.accept_valid());
            assert_eq!(h.subprotocol.as_deref(), Some("chat"));
        }
        assert_eq!(read_pasted(&lf).unwrap().line_ends, LineEnds::Lf);
        assert_eq!(read_pasted(&crlf).unwrap().line_ends, LineEnds::Crlf);
    }

    #[test]
    fn escaped_line_ends_are_read_as_a_string_literal() {
        let text = "GET / HTTP/1.1\\r\\nHost: x\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n\\r\\n";
        let p = read_pasted(text).unwrap();
        assert_eq!(p.line_ends, LineEnds::Escaped);
        assert!(p.upgrade);
        assert_eq!(
            rule_names(&p),
            ["handshake-key-invalid", "handshake-version"]
        );
    }

    #[test]
    fn a_response_alone_is_checked_only_for_what_it_can_break() {
        let p = read_pasted(RFC_RESPONSE).unwrap();
        assert!(!p.has_request && p.has_response);
        assert!(p.violations.is_empty(), "{:?}", p.violations);
        let p = read_pasted("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n").unwrap();
        assert_eq!(
            rule_names(&p),
            ["handshake-upgrade-headers", "handshake-accept-missing"]
        );
        let p = read_pasted("HTTP/1.1 403 Forbidden\nContent-Length: 2\n\nno").unwrap();
        assert_eq!(rule_names(&p), ["handshake-rejected"]);
        assert_eq!(p.after, 2);
    }

    #[test]
    fn a_wrong_accept_breaks_the_same_rule_as_in_a_capture() {
        let text = format!("{RFC_REQUEST}\n\n{}", RFC_RESPONSE.replace("s3pP", "AAAA"));
        let p = read_pasted(&text).unwrap();
        assert_eq!(rule_names(&p), ["handshake-accept-mismatch"]);
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let p = read_pasted("\u{1b}[2J hello").unwrap();
        assert!(p.exchange.is_none());
        assert_eq!(rule_names(&p), ["handshake-malformed"]);
        let p = read_pasted(&format!("{RFC_REQUEST}\n\nHTTP/1.1 abc\n")).unwrap();
        assert!(p.has_request && !p.has_response);
        assert_eq!(rule_names(&p), ["handshake-malformed"]);
        assert!(!p.violations[0].in_request);
        assert!(read_pasted(" \n\t").is_none());
        let p = read_pasted("GET / HTTP/1.1\nHost: x\n").unwrap();
        assert!(!p.upgrade);
    }
}
