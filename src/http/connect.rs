//! The WebSocket handshake over HTTP/2 (RFC 8441 §4-5): an extended CONNECT whose `:protocol`
//! is `websocket`, answered by a 2xx. The fields come decoded from HPACK; this reads them into
//! the same [`Exchange`] an HTTP/1.1 upgrade gives, and checks the rules of RFC 8441.

use super::{parse_extensions, Exchange, Headers, Violation};
use crate::base::rules::{self, Rule};
use crate::base::PacketRef;

/// What an extended CONNECT adds to a handshake.
#[derive(Clone, Debug, PartialEq)]
pub struct ExtendedConnect {
    /// `:protocol` (RFC 8441 §4), `websocket` for a WebSocket.
    pub protocol: Option<String>,
    pub scheme: Option<String>,
    /// The server had sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 before the request.
    pub connect_enabled: bool,
}

impl Exchange {
    /// An extended CONNECT (`request`) and its answer (`response`), as HPACK decoded them.
    pub fn from_extended_connect(
        request: &Headers,
        request_packet: PacketRef,
        response: &Headers,
        response_packet: PacketRef,
        connect_enabled: bool,
    ) -> Exchange {
        let status = response
            .get(":status")
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let ok = (200..300).contains(&status);
        let extensions = |h: &Headers| {
            h.get("sec-websocket-extensions")
                .map(|v| parse_extensions(&v))
                .unwrap_or_default()
        };
        Exchange {
            request_packet,
            response_packet,
            method: request.owned(":method").unwrap_or_default(),
            target: request.owned(":path").unwrap_or_default(),
            host: request.owned(":authority"),
            origin: request.owned("origin"),
            user_agent: request.owned("user-agent"),
            key: request.owned("sec-websocket-key"),
            version: request.owned("sec-websocket-version"),
            offered_protocols: request.list("sec-websocket-protocol"),
            offered_extensions: extensions(request),
            status,
            reason: String::new(),
            accept: response.owned("sec-websocket-accept"),
            // No key, no accept to expect: :protocol replaces both (RFC 8441 §5).
            expected_accept: None,
            subprotocol: response.owned("sec-websocket-protocol").filter(|_| ok),
            extensions: if ok { extensions(response) } else { Vec::new() },
            request_headers: request.clone(),
            response_headers: response.clone(),
            http2: Some(ExtendedConnect {
                protocol: request.owned(":protocol"),
                scheme: request.owned(":scheme"),
                connect_enabled,
            }),
        }
    }

    /// The rules of RFC 8441 (and the RFC 6455 ones it keeps) this handshake breaks.
    pub(super) fn connect_violations(&self, connect: &ExtendedConnect) -> Vec<Violation> {
        let side = |in_request| {
            move |(rule, message): (&'static Rule, String)| Violation {
                rule,
                in_request,
                message,
            }
        };
        let mut out: Vec<Violation> = self
            .connect_request_findings(connect)
            .into_iter()
            .map(side(true))
            .collect();
        let mut response = Vec::new();
        if !self.accepted() {
            let msg = format!("server answered :status {}", self.status);
            response.push((&rules::HANDSHAKE_REJECTED, msg));
        }
        if let Some(accept) = &self.accept {
            let msg = format!("the response carries sec-websocket-accept {accept:?}");
            response.push((&rules::H2_WEBSOCKET_KEY_SENT, msg));
        }
        response.extend(self.negotiation_findings());
        out.extend(response.into_iter().map(side(false)));
        out
    }

    fn connect_request_findings(&self, connect: &ExtendedConnect) -> Vec<(&'static Rule, String)> {
        let mut out = Vec::new();
        if !connect.connect_enabled {
            let msg =
                "extended CONNECT before the server sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1";
            out.push((&rules::H2_CONNECT_NOT_ENABLED, msg.to_string()));
        }
        if self.method != "CONNECT" {
            let msg = format!(
                ":protocol {:?} on a {} request",
                connect.protocol.as_deref().unwrap_or(""),
                self.method
            );
            out.push((&rules::H2_PROTOCOL_NOT_CONNECT, msg));
        }
        let missing: Vec<&str> = [":scheme", ":path", ":authority"]
            .into_iter()
            .filter(|name| self.request_headers.get(name).is_none())
            .collect();
        if !missing.is_empty() {
            let msg = format!("the extended CONNECT has no {}", missing.join(", "));
            out.push((&rules::H2_CONNECT_INCOMPLETE, msg));
        }
        if let Some(key) = &self.key {
            let msg = format!("the request carries sec-websocket-key {key:?}");
            out.push((&rules::H2_WEBSOCKET_KEY_SENT, msg));
        }
        let version = match self.version.as_deref() {
            Some("13") => None,
            Some(v) => Some(format!("sec-websocket-version is {v:?}")),
            None => Some("no sec-websocket-version field".to_string()),
        };
        out.extend(version.map(|msg| (&rules::HANDSHAKE_VERSION, msg)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(list: &[(&str, &str)]) -> Headers {
        Headers(
            list.iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn exchange(request: &[(&str, &str)], response: &[(&str, &str)], enabled: bool) -> Exchange {
        let p = PacketRef::default();
        Exchange::from_extended_connect(&fields(request), p, &fields(response), p, enabled)
    }

    const RFC8441_REQUEST: [(&str, &str); 7] = [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "https"),
        (":path", "/chat"),
        (":authority", "server.example.com"),
        ("sec-websocket-protocol", "chat, superchat"),
        ("sec-websocket-version", "13"),
    ];

    #[test]
    fn the_rfc8441_example_is_clean() {
        let response = [(":status", "200"), ("sec-websocket-protocol", "chat")];
        let h = exchange(&RFC8441_REQUEST, &response, true);
        assert!(h.accepted());
        assert_eq!(
            (h.target.as_str(), h.host.as_deref()),
            ("/chat", Some("server.example.com"))
        );
        assert_eq!(h.subprotocol.as_deref(), Some("chat"));
        assert_eq!(
            h.http2.as_ref().unwrap().protocol.as_deref(),
            Some("websocket")
        );
        assert!(h.violations().is_empty(), "{:?}", h.violations());
    }

    #[test]
    fn every_rfc8441_rule_is_checked() {
        let mut request: Vec<_> = RFC8441_REQUEST
            .iter()
            .filter(|(n, _)| *n != ":authority")
            .copied()
            .collect();
        request[0] = (":method", "GET");
        request.push(("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="));
        let response = [(":status", "403"), ("sec-websocket-accept", "x")];
        let names: Vec<_> = exchange(&request, &response, false)
            .violations()
            .iter()
            .map(|v| (v.rule.name, v.in_request))
            .collect();
        assert_eq!(
            names,
            [
                ("h2-connect-not-enabled", true),
                ("h2-protocol-not-connect", true),
                ("h2-connect-incomplete", true),
                ("h2-websocket-key-sent", true),
                ("handshake-rejected", false),
                ("h2-websocket-key-sent", false),
            ]
        );
    }
}
