//! The HTTP/1.1 upgrade handshake (RFC 6455 §4): parse the request and response heads
//! (httparse), compute and check `Sec-WebSocket-Accept`, and read the negotiated subprotocol and
//! extensions. Pure: bytes in, values and rule violations out.

mod accept;
mod body;
mod connect;
mod extensions;
mod head;
mod paste;

pub use accept::{check_key, compute_accept, AcceptSteps, KeyShape, WEBSOCKET_GUID};
pub use body::{request_body, response_body, BodyLen, BodySkip, Skipped};
pub use connect::ExtendedConnect;
pub use extensions::{parse_extensions, Extension};
pub use head::{blank_line_in, parse_request, parse_response, Leniency, MAX_HEADERS, MAX_HEAD_LEN};
pub use paste::{read_pasted, LineEnds, PastedHandshake};

use crate::base::rules::{self, Rule};
use std::borrow::Cow;

use crate::base::PacketRef;

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// The values of every header line called `name` (case-insensitive), in order.
    pub fn values<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All values of a header, joined with ", " as RFC 9110 §5.3 allows. Borrowed when the
    /// header appears once, which is almost always.
    pub fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        let mut values = self.values(name);
        let first = values.next()?;
        match values.next() {
            None => Some(Cow::Borrowed(first)),
            Some(second) => {
                let mut joined = format!("{first}, {second}");
                for v in values {
                    joined.push_str(", ");
                    joined.push_str(v);
                }
                Some(Cow::Owned(joined))
            }
        }
    }

    /// `get`, as an owned value for a record.
    pub fn owned(&self, name: &str) -> Option<String> {
        self.get(name).map(Cow::into_owned)
    }

    /// The comma-separated elements of every line of a header, trimmed, empty ones skipped.
    fn elements<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.values(name)
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }

    /// Does a comma-separated header contain `token` (case-insensitive)?
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.elements(name).any(|t| t.eq_ignore_ascii_case(token))
    }

    /// Comma-separated values of a header, trimmed.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.elements(name).map(str::to_string).collect()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub version: u8,
    pub headers: Headers,
    /// What the head breaks that real servers accept anyway (empty for a clean head).
    pub leniencies: Vec<Leniency>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub version: u8,
    pub headers: Headers,
    /// What the head breaks that real clients accept anyway (empty for a clean head).
    pub leniencies: Vec<Leniency>,
}

/// Result of parsing an HTTP head from the start of a buffer.
#[derive(Debug, PartialEq)]
pub enum Head<T> {
    /// The head is complete: it used this many bytes.
    Complete(T, usize),
    Incomplete,
    Invalid(String),
}

/// Could these bytes be the start of an HTTP request? Cheap test before buffering a stream.
pub fn looks_like_request_start(buf: &[u8]) -> bool {
    const METHODS: [&[u8]; 9] = [
        b"GET ",
        b"POST ",
        b"PUT ",
        b"HEAD ",
        b"DELETE ",
        b"OPTIONS ",
        b"PATCH ",
        b"CONNECT ",
        b"TRACE ",
    ];
    METHODS.iter().any(|m| {
        let n = m.len().min(buf.len());
        buf[..n] == m[..n]
    })
}

/// A WebSocket upgrade request: `Upgrade: websocket` and `Connection` containing `upgrade`
/// (RFC 6455 §4.1 items 5 and 6), case-insensitive, comma lists allowed.
pub fn is_upgrade_request(req: &Request) -> bool {
    upgrade_headers(&req.headers)
}

fn upgrade_headers(headers: &Headers) -> bool {
    headers.has_token("Upgrade", "websocket") && headers.has_token("Connection", "upgrade")
}

/// An HTTP/1.1 request to switch to cleartext HTTP/2 (RFC 7540 §3.2): `Upgrade: h2c` with an
/// `HTTP2-Settings` field.
pub fn is_h2c_upgrade(req: &Request) -> bool {
    req.headers.has_token("Upgrade", "h2c") && req.headers.get("HTTP2-Settings").is_some()
}

/// A handshake rule broken, and whether the request or the response broke it.
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    pub rule: &'static Rule,
    pub in_request: bool,
    pub message: String,
}

impl Violation {
    fn sided(found: Vec<(&'static Rule, String)>) -> Vec<Violation> {
        let request_rules = [
            &rules::HANDSHAKE_KEY_INVALID,
            &rules::HANDSHAKE_VERSION,
            &rules::HANDSHAKE_NOT_GET,
            &rules::HANDSHAKE_HOST_MISSING,
            &rules::HANDSHAKE_REQUEST_NOT_UPGRADE,
        ];
        found
            .into_iter()
            .map(|(rule, message)| Violation {
                rule,
                in_request: request_rules.iter().any(|r| std::ptr::eq(*r, rule)),
                message,
            })
            .collect()
    }
}

/// An opening handshake as seen on the wire: the request and its answer. Says nothing of
/// which connection carried it (the event that reports it does).
#[derive(Clone, Debug, PartialEq)]
pub struct Exchange {
    pub request_packet: PacketRef,
    pub response_packet: PacketRef,
    pub method: String,
    pub target: String,
    pub host: Option<String>,
    pub origin: Option<String>,
    pub user_agent: Option<String>,
    pub key: Option<String>,
    pub version: Option<String>,
    pub offered_protocols: Vec<String>,
    pub offered_extensions: Vec<Extension>,
    pub status: u16,
    pub reason: String,
    pub accept: Option<String>,
    /// The value `accept` should have, when the key was present.
    pub expected_accept: Option<String>,
    pub subprotocol: Option<String>,
    pub extensions: Vec<Extension>,
    pub request_headers: Headers,
    pub response_headers: Headers,
    /// The handshake is an extended CONNECT on an HTTP/2 stream (RFC 8441), not an upgrade.
    pub http2: Option<ExtendedConnect>,
}

impl Exchange {
    /// The session opened: a 101 to an upgrade, any 2xx to an extended CONNECT.
    pub fn accepted(&self) -> bool {
        match self.http2 {
            Some(_) => (200..300).contains(&self.status),
            None => self.status == 101,
        }
    }

    /// The server proved it read the key. Over HTTP/2 there is no key to prove (RFC 8441 §5:
    /// `:protocol` replaces it), so an accepted extended CONNECT counts as valid.
    pub fn accept_valid(&self) -> bool {
        match self.http2 {
            Some(_) => self.accepted(),
            None => self.accepted() && self.accept.is_some() && self.accept == self.expected_accept,
        }
    }

    pub fn from_heads(
        req: &Request,
        request_packet: PacketRef,
        resp: &Response,
        response_packet: PacketRef,
    ) -> Exchange {
        let key = req.headers.owned("Sec-WebSocket-Key");
        let offered_ext = req
            .headers
            .get("Sec-WebSocket-Extensions")
            .map(|v| parse_extensions(&v))
            .unwrap_or_default();
        let accepted_ext = if resp.status == 101 {
            resp.headers
                .get("Sec-WebSocket-Extensions")
                .map(|v| parse_extensions(&v))
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        Exchange {
            request_packet,
            response_packet,
            method: req.method.clone(),
            target: req.target.clone(),
            host: req.headers.owned("Host"),
            origin: req.headers.owned("Origin"),
            user_agent: req.headers.owned("User-Agent"),
            expected_accept: key.as_deref().map(|k| compute_accept(k).accept),
            key,
            version: req.headers.owned("Sec-WebSocket-Version"),
            offered_protocols: req.headers.list("Sec-WebSocket-Protocol"),
            offered_extensions: offered_ext,
            status: resp.status,
            reason: resp.reason.clone(),
            accept: resp.headers.owned("Sec-WebSocket-Accept"),
            subprotocol: if resp.status == 101 {
                resp.headers.owned("Sec-WebSocket-Protocol")
            } else {
                None
            },
            extensions: accepted_ext,
            request_headers: req.headers.clone(),
            response_headers: resp.headers.clone(),
            http2: None,
        }
    }

    /// Every handshake rule this exchange breaks, with a sentence saying how.
    pub fn violations(&self) -> Vec<Violation> {
        if let Some(connect) = &self.http2 {
            return self.connect_violations(connect);
        }
        let mut found = self.request_findings();
        if !self.accepted() {
            found.push(self.rejection());
        } else {
            found.extend(self.acceptance_findings());
        }
        Violation::sided(found)
    }

    /// A request whose answer is not known (`explain --http` given a request alone): the
    /// response is a placeholder, status 0, that no rule is checked against.
    pub fn from_request(req: &Request, request_packet: PacketRef) -> Exchange {
        let none = Response {
            status: 0,
            reason: String::new(),
            version: 1,
            headers: Headers::default(),
            leniencies: Vec::new(),
        };
        Exchange::from_heads(req, request_packet, &none, PacketRef::default())
    }

    /// A response whose request is not known (`explain --http` given a response alone): no
    /// key, no offer, so only what the response can break alone is checked.
    pub fn from_response(resp: &Response, response_packet: PacketRef) -> Exchange {
        let none = Request {
            method: String::new(),
            target: String::new(),
            version: 1,
            headers: Headers::default(),
            leniencies: Vec::new(),
        };
        Exchange::from_heads(&none, PacketRef::default(), resp, response_packet)
    }

    /// The rules the request alone breaks: what [`Exchange::violations`] finds in it.
    pub fn request_violations(&self) -> Vec<Violation> {
        Violation::sided(self.request_findings())
    }

    /// The rules the response alone breaks, its request unknown: the rejection, the upgrade
    /// headers and a missing accept (the accept's value and the choices need the request).
    pub fn response_violations(&self) -> Vec<Violation> {
        let found = if self.accepted() {
            self.upgrade_findings()
        } else {
            vec![self.rejection()]
        };
        Violation::sided(found)
    }

    fn rejection(&self) -> (&'static Rule, String) {
        (
            &rules::HANDSHAKE_REJECTED,
            format!("server answered {} {}", self.status, self.reason),
        )
    }

    /// What the request breaks (RFC 6455 §4.1).
    fn request_findings(&self) -> Vec<(&'static Rule, String)> {
        let mut out = Vec::new();
        if !upgrade_headers(&self.request_headers) {
            out.push((
                &rules::HANDSHAKE_REQUEST_NOT_UPGRADE,
                "the request lacks Upgrade: websocket or Connection: Upgrade".to_string(),
            ));
        }
        if !self.method.eq_ignore_ascii_case("GET") {
            out.push((
                &rules::HANDSHAKE_NOT_GET,
                format!("request method is {}", self.method),
            ));
        }
        if self.host.is_none() {
            out.push((&rules::HANDSHAKE_HOST_MISSING, "no Host header".to_string()));
        }
        let key = match self.key.as_deref().map(|k| (k, check_key(k))) {
            None => Some("no Sec-WebSocket-Key header".to_string()),
            Some((_, KeyShape::Valid)) => None,
            Some((k, KeyShape::WrongLength(n))) => Some(format!(
                "Sec-WebSocket-Key {k:?} decodes to {n} bytes, not 16"
            )),
            Some((k, KeyShape::NotBase64)) => {
                Some(format!("Sec-WebSocket-Key {k:?} is not base64"))
            }
        };
        out.extend(key.map(|msg| (&rules::HANDSHAKE_KEY_INVALID, msg)));
        let version = match self.version.as_deref() {
            Some("13") => None,
            Some(v) => Some(format!("Sec-WebSocket-Version is {v:?}")),
            None => Some("no Sec-WebSocket-Version header".to_string()),
        };
        out.extend(version.map(|msg| (&rules::HANDSHAKE_VERSION, msg)));
        out
    }

    /// What a 101 breaks (RFC 6455 §4.2.2): its upgrade headers, the accept value, and a
    /// subprotocol or extension the client never offered.
    fn acceptance_findings(&self) -> Vec<(&'static Rule, String)> {
        let mut out = self.upgrade_findings();
        if let (Some(got), Some(want)) = (&self.accept, &self.expected_accept) {
            if got != want {
                out.push((
                    &rules::HANDSHAKE_ACCEPT_MISMATCH,
                    format!(
                        "Sec-WebSocket-Accept is {got}, expected {want} for key {}",
                        self.key.as_deref().unwrap_or("")
                    ),
                ));
            }
        }
        out.extend(self.negotiation_findings());
        out
    }

    /// What a 101 breaks whatever the request was: its upgrade headers, a missing accept.
    fn upgrade_findings(&self) -> Vec<(&'static Rule, String)> {
        let mut out = Vec::new();
        if !(self.response_headers.has_token("Upgrade", "websocket")
            && self.response_headers.has_token("Connection", "upgrade"))
        {
            out.push((
                &rules::HANDSHAKE_UPGRADE_HEADERS,
                "101 response lacks Upgrade: websocket or Connection: Upgrade".to_string(),
            ));
        }
        if self.accept.is_none() {
            out.push((
                &rules::HANDSHAKE_ACCEPT_MISSING,
                "101 response without Sec-WebSocket-Accept".to_string(),
            ));
        }
        out
    }

    /// A subprotocol or extension chosen that the client never offered.
    fn negotiation_findings(&self) -> Vec<(&'static Rule, String)> {
        let mut out = Vec::new();
        if let Some(p) = &self.subprotocol {
            if !self.offered_protocols.iter().any(|o| o == p) {
                out.push((
                    &rules::HANDSHAKE_SUBPROTOCOL_NOT_OFFERED,
                    format!(
                        "server selected {p:?}; client offered {:?}",
                        self.offered_protocols
                    ),
                ));
            }
        }
        for ext in &self.extensions {
            let offered = self
                .offered_extensions
                .iter()
                .any(|o| o.name.eq_ignore_ascii_case(&ext.name));
            if !offered {
                out.push((
                    &rules::HANDSHAKE_EXTENSION_NOT_OFFERED,
                    format!(
                        "server accepted {:?}, which the client did not offer",
                        ext.name
                    ),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
    const RESP: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n\x81\x02hi";

    fn handshake() -> Exchange {
        let Head::Complete(req, _) = parse_request(REQ) else {
            panic!()
        };
        let Head::Complete(resp, used) = parse_response(RESP) else {
            panic!()
        };
        assert_eq!(
            &RESP[used..],
            b"\x81\x02hi",
            "bytes after the head are left for the frame decoder"
        );
        Exchange::from_heads(&req, PacketRef::default(), &resp, PacketRef::default())
    }

    #[test]
    fn rfc_example_handshake_is_valid() {
        let h = handshake();
        assert!(h.accept_valid());
        assert_eq!(h.subprotocol.as_deref(), Some("chat"));
        assert_eq!(h.offered_protocols, vec!["chat", "superchat"]);
        assert_eq!(h.offered_extensions[0].name, "permessage-deflate");
        assert!(h.violations().is_empty(), "{:?}", h.violations());
    }

    #[test]
    fn upgrade_detection_is_case_insensitive_and_list_aware() {
        let Head::Complete(req, _) = parse_request(REQ) else {
            panic!()
        };
        assert!(is_upgrade_request(&req));
        let Head::Complete(req, _) =
            parse_request(b"GET / HTTP/1.1\r\nupgrade: WebSocket\r\nconnection: UPGRADE\r\n\r\n")
        else {
            panic!()
        };
        assert!(is_upgrade_request(&req));
        let Head::Complete(req, _) = parse_request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") else {
            panic!()
        };
        assert!(!is_upgrade_request(&req));
    }

    #[test]
    fn split_heads_are_incomplete_until_the_blank_line() {
        for i in 0..REQ.len() {
            assert_eq!(parse_request(&REQ[..i]), Head::Incomplete, "cut at {i}");
        }
    }

    #[test]
    fn wrong_accept_and_unoffered_subprotocol_are_reported() {
        let mut h = handshake();
        h.accept = Some("AAAA".into());
        h.subprotocol = Some("other".into());
        let names: Vec<_> = h.violations().iter().map(|v| v.rule.name).collect();
        assert_eq!(
            names,
            vec![
                "handshake-accept-mismatch",
                "handshake-subprotocol-not-offered"
            ]
        );
    }

    #[test]
    fn rejected_handshake_has_no_subprotocol() {
        let Head::Complete(req, _) = parse_request(REQ) else {
            panic!()
        };
        let Head::Complete(resp, _) =
            parse_response(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        else {
            panic!()
        };
        let h = Exchange::from_heads(&req, PacketRef::default(), &resp, PacketRef::default());
        assert!(!h.accepted() && !h.accept_valid());
        assert_eq!(h.violations()[0].rule.name, "handshake-rejected");
    }

    #[test]
    fn a_request_or_a_response_alone_is_checked_by_the_same_rules() {
        let Head::Complete(req, _) = parse_request(
            b"POST /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        ) else {
            panic!()
        };
        let names: Vec<_> = Exchange::from_request(&req, PacketRef::default())
            .request_violations()
            .iter()
            .map(|v| (v.rule.name, v.in_request))
            .collect();
        assert_eq!(
            names,
            [
                ("handshake-not-get", true),
                ("handshake-host-missing", true),
                ("handshake-key-invalid", true),
                ("handshake-version", true),
            ]
        );
        let Head::Complete(resp, _) = parse_response(RESP) else {
            panic!()
        };
        let alone = Exchange::from_response(&resp, PacketRef::default());
        assert!(
            alone.response_violations().is_empty(),
            "no key, no offer: nothing to check them against"
        );
        let Head::Complete(resp, _) =
            parse_response(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
        else {
            panic!()
        };
        let names: Vec<_> = Exchange::from_response(&resp, PacketRef::default())
            .response_violations()
            .iter()
            .map(|v| (v.rule.name, v.in_request))
            .collect();
        assert_eq!(
            names,
            [
                ("handshake-upgrade-headers", false),
                ("handshake-accept-missing", false)
            ]
        );
    }

    #[test]
    fn garbage_is_invalid_not_a_panic() {
        assert!(matches!(
            parse_request(b"\x16\x03\x01\x00\x00\r\n\r\n"),
            Head::Invalid(_)
        ));
        assert!(matches!(
            parse_response(b"HTTP/1.1 abc\r\n\r\n"),
            Head::Invalid(_)
        ));
    }
}
