//! GraphQL over WebSocket: `graphql-transport-ws` (the graphql-ws npm package,
//! github.com/enisdenjo/graphql-ws PROTOCOL.md) and the older `graphql-ws`
//! (subscriptions-transport-ws, its PROTOCOL.md). Both send JSON objects `{type, id?, payload?}`.
//!
//! Answers: each `next`/`data`, `error` and server `complete` answers the `subscribe`/`start`
//! with its `id`; the key is the operation's name, or its first field.

use serde_json::{json, Map, Value};

use super::pending::{Pending, Question};
use super::text::{cut, json_preview, may_have_key, ID_CHARS};

/// Characters of an operation id a `subscribe` summary shows: enough to tell operations apart
/// (the answers point at the message anyway).
const SHORT_ID_CHARS: usize = 8;
use super::types::{AppMessage, Decode, Decoded, Finding, Protocol, Unit};
use crate::base::rules;
use crate::base::Direction;

/// The first message is a client's `connection_init` (both protocols open with it; taken as
/// `graphql-transport-ws`, the current one, until a message only the old protocol has shows
/// otherwise), or, in a capture that starts late, a `subscribe` (graphql-transport-ws) or a
/// `start` (graphql-ws).
pub fn recognises(msg: &AppMessage<'_>) -> Option<Protocol> {
    if msg.dir != Direction::ClientToServer || !msg.text || !msg.whole {
        return None;
    }
    let first = msg.bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') || !may_have_key(msg.bytes, b"\"type\"") {
        return None;
    }
    let v: Value = serde_json::from_slice(msg.bytes).ok()?;
    match v.get("type")?.as_str()? {
        "connection_init" | "subscribe" => Some(Protocol::GraphqlTransportWs),
        "start" => Some(Protocol::GraphqlWs),
        _ => None,
    }
}

/// The message types each protocol defines, by who may send them.
fn defined(p: Protocol, dir: Direction, t: &str) -> bool {
    use Direction::*;
    match p {
        Protocol::GraphqlWs => matches!(
            (dir, t),
            (
                ClientToServer,
                "connection_init" | "start" | "stop" | "connection_terminate"
            ) | (
                ServerToClient,
                "connection_ack" | "connection_error" | "ka" | "data" | "error" | "complete"
            )
        ),
        _ => matches!(
            (dir, t),
            (_, "ping" | "pong" | "complete")
                | (ClientToServer, "connection_init" | "subscribe")
                | (ServerToClient, "connection_ack" | "next" | "error")
        ),
    }
}

/// Types only the old protocol has: seeing one first in a session recognised as
/// graphql-transport-ws means it is graphql-ws.
fn only_old(t: &str) -> bool {
    matches!(
        t,
        "start" | "stop" | "connection_terminate" | "connection_error" | "ka" | "data"
    )
}

#[derive(Debug)]
pub struct Decoder {
    protocol: Protocol,
    /// A message only the session's protocol has was decoded, so it is settled.
    settled: bool,
    /// Operations by id, with their key.
    operations: Pending<String, Option<String>>,
}

impl Decoder {
    pub fn new(protocol: Protocol) -> Decoder {
        Decoder {
            protocol,
            settled: false,
            operations: Pending::default(),
        }
    }
}

impl Decode for Decoder {
    fn protocol(&self) -> Protocol {
        self.protocol
    }

    fn decode(&mut self, msg: &AppMessage<'_>, found: &mut Vec<Finding>) -> Option<Decoded> {
        if !msg.whole {
            return None;
        }
        match self.unit(msg) {
            Ok(unit) => Some(Decoded {
                protocol: self.protocol,
                units: vec![unit],
            }),
            Err(why) => {
                found.push((&rules::GRAPHQL_WS_MALFORMED, why));
                None
            }
        }
    }
}

impl Decoder {
    fn unit(&mut self, msg: &AppMessage<'_>) -> Result<Unit, String> {
        let v: Value = serde_json::from_slice(msg.bytes)
            .map_err(|e| format!("not JSON (line {} column {}): {e}", e.line(), e.column()))?;
        let o = v.as_object().ok_or("the message is not a JSON object")?;
        let t = match o.get("type") {
            Some(Value::String(t)) => t.as_str(),
            Some(_) => return Err("\"type\" is not a string".into()),
            None => return Err("no \"type\" member".into()),
        };
        if !self.settled && self.protocol == Protocol::GraphqlTransportWs && only_old(t) {
            self.protocol = Protocol::GraphqlWs;
        }
        if !defined(self.protocol, msg.dir, t) {
            return Err(format!(
                "{} sent type {:?}, which {} does not define for it",
                msg.dir.sender(),
                cut(t, 32),
                self.protocol
            ));
        }
        if !matches!(
            t,
            "connection_init" | "connection_ack" | "error" | "complete"
        ) {
            self.settled = true;
        }
        let id = match o.get("id") {
            Some(Value::String(s)) => Some(s.as_str()),
            Some(Value::Number(n)) if self.protocol == Protocol::GraphqlWs => {
                // subscriptions-transport-ws clients send string ids; numbers are tolerated by
                // its server, so they are read as their text.
                return self.with_id(msg, t, o, &n.to_string());
            }
            Some(_) => return Err(format!("\"id\" of {t:?} is not a string")),
            None => None,
        };
        match id {
            Some(id) => self.with_id(msg, t, o, id),
            None if needs_id(t) => Err(format!("{t:?} has no \"id\"")),
            None => Ok(session_unit(t, o)),
        }
    }

    /// A message about one operation.
    fn with_id(
        &mut self,
        msg: &AppMessage<'_>,
        t: &str,
        o: &Map<String, Value>,
        id: &str,
    ) -> Result<Unit, String> {
        let payload = o.get("payload");
        // What the operation is, when known, says more than its id (often a UUID).
        let label = match self.operations.get(&id.to_string()) {
            Some(Question {
                about: Some(key), ..
            }) => cut(key, ID_CHARS),
            _ => format!("id {}", cut(id, ID_CHARS)),
        };
        let mut u = match t {
            "subscribe" | "start" => {
                let (u, key) = operation(t, id, payload)?;
                let key = key.map(|k| cut(&k, ID_CHARS));
                self.operations
                    .insert(id.to_string(), Question::asked_by(msg, key));
                u
            }
            "next" | "data" => {
                let p = payload.ok_or_else(|| format!("{t:?} {id:?} has no \"payload\""))?;
                let mut u = Unit::new(t, format!("{label} {}", json_preview(p)));
                u.fields.insert("payload".into(), p.clone());
                u
            }
            "error" => {
                let p = payload.ok_or_else(|| format!("\"error\" {id:?} has no \"payload\""))?;
                let mut u = Unit::new(t, format!("{label} {}", first_error(p)));
                u.fields.insert("payload".into(), p.clone());
                u
            }
            _ => {
                let cancel = msg.dir == Direction::ClientToServer;
                let note = if cancel { " (cancel)" } else { "" };
                Unit::new(t, format!("{label}{note}"))
            }
        };
        u.fields.insert("id".into(), json!(id));
        self.answer(msg, t, id, &mut u);
        Ok(u)
    }

    /// Match a server's answer to its operation; a `complete`, `error` or `stop` ends it.
    fn answer(&mut self, msg: &AppMessage<'_>, t: &str, id: &str, u: &mut Unit) {
        let ends = matches!(t, "complete" | "error" | "stop");
        let from_server = msg.dir == Direction::ServerToClient;
        let q = if ends {
            self.operations.remove(&id.to_string())
        } else if from_server {
            self.operations.get(&id.to_string()).cloned()
        } else {
            None
        };
        if let Some(q) = q {
            if u.key.is_none() {
                u.key.clone_from(&q.about);
            }
            if from_server {
                u.answers = Some(q.answered_by(msg, id));
            }
        }
    }
}

fn needs_id(t: &str) -> bool {
    matches!(
        t,
        "subscribe" | "start" | "next" | "data" | "error" | "complete" | "stop"
    )
}

/// Messages about the connection: init, ack, ping/pong, ka, connection_error, terminate.
fn session_unit(t: &str, o: &Map<String, Value>) -> Unit {
    let payload = o.get("payload").filter(|p| !p.is_null());
    let mut u = Unit::new(t, payload.map(json_preview).unwrap_or_default());
    u.heartbeat = matches!(t, "ping" | "pong" | "ka");
    if let Some(p) = payload {
        u.fields.insert("payload".into(), p.clone());
    }
    u
}

/// A `subscribe`/`start`: its unit and key (the operation name, or the first field).
fn operation(t: &str, id: &str, payload: Option<&Value>) -> Result<(Unit, Option<String>), String> {
    let p = payload
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{t:?} {id:?} has no \"payload\" object"))?;
    let query = p
        .get("query")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{t:?} {id:?} has no string \"query\""))?;
    let name = p
        .get("operationName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty());
    let op_type = operation_type(query);
    let key = name.map(str::to_string).or_else(|| first_field(query));
    let first_line = query
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let vars = p
        .get("variables")
        .filter(|v| !v.is_null() && v.as_object().is_none_or(|o| !o.is_empty()));
    let mut summary = cut(first_line, 40);
    if let Some(v) = vars {
        summary.push(' ');
        summary.push_str(&json_preview(v));
    }
    summary.push_str(" id ");
    summary.push_str(&cut(id, SHORT_ID_CHARS));
    let mut u = Unit::new(t, summary);
    u.key.clone_from(&key);
    u.fields.insert("operation_type".into(), json!(op_type));
    if let Some(n) = name {
        u.fields.insert("operation_name".into(), json!(n));
    }
    u.fields.insert("query".into(), json!(query));
    for (wire, field) in [("variables", "variables"), ("extensions", "extensions")] {
        if let Some(v) = p.get(wire) {
            u.fields.insert(field.into(), v.clone());
        }
    }
    Ok((u, key))
}

/// `query`, `mutation` or `subscription`: the first keyword of the first operation (a query
/// written `{ … }` is a query).
fn operation_type(query: &str) -> &'static str {
    let mut words = tokens(query);
    match words.find(|w| *w != "fragment") {
        Some("mutation") => "mutation",
        Some("subscription") => "subscription",
        _ => "query",
    }
}

/// The first field of the selection set: `news` in `subscription { news(n: 3) { … } }`, the
/// field and not its alias in `{ a: hello }`.
fn first_field(query: &str) -> Option<String> {
    let query: String = query
        .lines()
        .flat_map(|l| [l.split('#').next().unwrap_or(""), "\n"])
        .collect();
    let body = &query[query.find('{')? + 1..];
    let mut words = tokens(body);
    let first = words.next()?;
    let rest = body[body.find(first)? + first.len()..].trim_start();
    let field = if rest.starts_with(':') {
        words.next()?
    } else {
        first
    };
    Some(field.to_string())
}

/// GraphQL names in `s`, skipping `#` comments.
fn tokens(s: &str) -> impl Iterator<Item = &str> {
    s.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|w| !w.is_empty() && !w.starts_with(|c: char| c.is_ascii_digit()))
}

/// The first error's message, quoted, from an error payload (an array of errors, or one).
fn first_error(p: &Value) -> String {
    let e = p.as_array().and_then(|a| a.first()).unwrap_or(p);
    match e.get("message").and_then(Value::as_str) {
        Some(m) => super::text::quoted(m),
        None => json_preview(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C2S: Direction = Direction::ClientToServer;
    const S2C: Direction = Direction::ServerToClient;
    const NEW: Protocol = Protocol::GraphqlTransportWs;
    const OLD: Protocol = Protocol::GraphqlWs;

    fn msg(dir: Direction, index: u64, ms: u64, bytes: &[u8]) -> AppMessage<'_> {
        AppMessage::text_at(dir, index, ms, bytes)
    }

    fn one(d: &mut Decoder, m: &AppMessage<'_>) -> Unit {
        let mut found = Vec::new();
        let out = d.decode(m, &mut found);
        assert!(found.is_empty(), "{found:?}");
        let mut units = out.expect("decoded").units;
        assert_eq!(units.len(), 1);
        units.remove(0)
    }

    fn malformed(d: &mut Decoder, dir: Direction, bytes: &[u8]) -> String {
        let mut found = Vec::new();
        assert!(d.decode(&msg(dir, 1, 0, bytes), &mut found).is_none());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0.name, "graphql-ws-malformed");
        found[0].1.clone()
    }

    #[test]
    fn an_init_or_first_operation_is_recognised() {
        let r = |b: &[u8]| recognises(&msg(C2S, 1, 0, b));
        assert_eq!(r(br#"{"type":"connection_init"}"#), Some(NEW));
        assert_eq!(r(br#"{"type":"connection_init","payload":{}}"#), Some(NEW));
        assert_eq!(
            r(br#"{"id":"1","type":"start","payload":{"query":"{a}"}}"#),
            Some(OLD)
        );
        assert_eq!(r(br#"{"type":"hello"}"#), None);
        assert_eq!(r(br#"{"jsonrpc":"2.0","method":"a"}"#), None);
        // An escaped member name is the same name (RFC 8259 §7).
        assert_eq!(r(br#"{"typ\u0065":"connection_init"}"#), Some(NEW));
        assert_eq!(
            recognises(&msg(S2C, 1, 0, br#"{"type":"connection_init"}"#)),
            None
        );
    }

    #[test]
    fn a_transport_ws_subscription_end_to_end() {
        let mut d = Decoder::new(NEW);
        let i = one(
            &mut d,
            &msg(
                C2S,
                1,
                0,
                br#"{"type":"connection_init","payload":{"token":"t"}}"#,
            ),
        );
        assert_eq!(
            (i.kind.as_str(), i.fields["payload"]["token"].as_str()),
            ("connection_init", Some("t"))
        );
        one(&mut d, &msg(S2C, 1, 1, br#"{"type":"connection_ack"}"#));
        let s = one(&mut d, &msg(C2S, 2, 2, br#"{"id":"a1","type":"subscribe","payload":{"query":"subscription OnNews($n: Int!) {\n  news(n: $n) { title }\n}","operationName":"OnNews","variables":{"n":3}}}"#));
        assert_eq!(s.summary, "subscription OnNews($n: Int!) { {\"n\":3} id a1");
        assert_eq!(s.key.as_deref(), Some("OnNews"));
        assert_eq!(s.fields["operation_type"], "subscription");
        assert_eq!(s.fields["operation_name"], "OnNews");
        assert_eq!(s.fields["variables"]["n"], 3);
        let n = one(
            &mut d,
            &msg(
                S2C,
                2,
                5,
                br#"{"id":"a1","type":"next","payload":{"data":{"news":{"title":"x"}}}}"#,
            ),
        );
        let a = n.answers.unwrap();
        assert_eq!(
            (a.id.as_str(), a.dir, a.message, a.rtt_ns),
            ("a1", C2S, 2, 3_000_000)
        );
        assert_eq!(n.key.as_deref(), Some("OnNews"));
        let n2 = one(
            &mut d,
            &msg(
                S2C,
                3,
                6,
                br#"{"id":"a1","type":"next","payload":{"data":{}}}"#,
            ),
        );
        assert!(n2.answers.is_some());
        let c = one(&mut d, &msg(S2C, 4, 7, br#"{"id":"a1","type":"complete"}"#));
        assert_eq!(
            (c.summary.as_str(), c.key.as_deref()),
            ("OnNews", Some("OnNews"))
        );
        assert!(c.answers.is_some());
        assert_eq!(d.operations.len(), 0);
    }

    #[test]
    fn ping_and_pong_are_heartbeats() {
        let mut d = Decoder::new(NEW);
        assert!(one(&mut d, &msg(C2S, 1, 0, br#"{"type":"ping"}"#)).heartbeat);
        assert!(
            one(
                &mut d,
                &msg(S2C, 1, 0, br#"{"type":"pong","payload":{"x":1}}"#)
            )
            .heartbeat
        );
    }

    #[test]
    fn an_error_and_a_client_cancel_end_the_operation() {
        let mut d = Decoder::new(NEW);
        one(
            &mut d,
            &msg(
                C2S,
                1,
                0,
                br#"{"id":"1","type":"subscribe","payload":{"query":"{ boom }"}}"#,
            ),
        );
        let e = one(&mut d, &msg(S2C, 1, 1, br#"{"id":"1","type":"error","payload":[{"message":"Cannot query field \"boom\""}]}"#));
        assert_eq!(e.summary, r#"boom "Cannot query field \"boom…""#);
        assert_eq!(e.key.as_deref(), Some("boom"));
        assert!(e.answers.is_some());
        one(
            &mut d,
            &msg(
                C2S,
                2,
                2,
                br#"{"id":"2","type":"subscribe","payload":{"query":"subscription { ticks }"}}"#,
            ),
        );
        let c = one(&mut d, &msg(C2S, 3, 3, br#"{"id":"2","type":"complete"}"#));
        assert_eq!(
            (c.summary.as_str(), c.key.as_deref()),
            ("ticks (cancel)", Some("ticks"))
        );
        assert!(c.answers.is_none());
        assert_eq!(d.operations.len(), 0);
    }

    #[test]
    fn the_old_protocol_end_to_end() {
        let mut d = Decoder::new(OLD);
        one(
            &mut d,
            &msg(C2S, 1, 0, br#"{"type":"connection_init","payload":{}}"#),
        );
        one(&mut d, &msg(S2C, 1, 0, br#"{"type":"connection_ack"}"#));
        assert!(one(&mut d, &msg(S2C, 2, 0, br#"{"type":"ka"}"#)).heartbeat);
        let s = one(&mut d, &msg(C2S, 2, 1, br#"{"id":"1","type":"start","payload":{"query":"subscription { counter }","variables":{}}}"#));
        assert_eq!(
            (s.kind.as_str(), s.key.as_deref(), s.summary.as_str()),
            ("start", Some("counter"), "subscription { counter } id 1")
        );
        let data = one(
            &mut d,
            &msg(
                S2C,
                3,
                2,
                br#"{"id":"1","type":"data","payload":{"data":{"counter":1}}}"#,
            ),
        );
        assert_eq!(data.answers.unwrap().message, 2);
        let stop = one(&mut d, &msg(C2S, 3, 3, br#"{"id":"1","type":"stop"}"#));
        assert_eq!(stop.key.as_deref(), Some("counter"));
        one(
            &mut d,
            &msg(
                S2C,
                4,
                4,
                br#"{"type":"connection_error","payload":{"message":"x"}}"#,
            ),
        );
        one(
            &mut d,
            &msg(C2S, 4, 4, br#"{"type":"connection_terminate"}"#),
        );
    }

    #[test]
    fn a_recognised_session_switches_to_the_old_protocol_on_its_types() {
        let mut d = Decoder::new(NEW);
        one(&mut d, &msg(C2S, 1, 0, br#"{"type":"connection_init"}"#));
        one(&mut d, &msg(S2C, 1, 0, br#"{"type":"connection_ack"}"#));
        one(&mut d, &msg(S2C, 2, 0, br#"{"type":"ka"}"#));
        assert_eq!(d.protocol(), OLD);
        // Once settled, the other protocol's types are findings.
        let mut d = Decoder::new(NEW);
        one(&mut d, &msg(C2S, 1, 0, br#"{"type":"ping"}"#));
        assert!(malformed(&mut d, S2C, br#"{"type":"ka"}"#).contains("does not define"));
    }

    #[test]
    fn first_fields_and_operation_types() {
        assert_eq!(first_field("{ hello }").as_deref(), Some("hello"));
        assert_eq!(
            first_field("query Q($a: Int) { a: hello(x: $a) { b } }").as_deref(),
            Some("hello")
        );
        assert_eq!(
            first_field("# c {x}\nquery { # {y}\n z }").as_deref(),
            Some("z")
        );
        assert_eq!(first_field("query"), None);
        assert_eq!(operation_type("mutation M { add }"), "mutation");
        assert_eq!(operation_type("  subscription { s }"), "subscription");
        assert_eq!(operation_type("{ q }"), "query");
    }

    #[test]
    fn malformed_messages_say_what_is_wrong() {
        let mut d = Decoder::new(NEW);
        assert!(malformed(&mut d, C2S, b"{\"type\":").starts_with("not JSON (line 1 column 8)"));
        assert!(malformed(&mut d, C2S, b"[1]").contains("not a JSON object"));
        assert!(malformed(&mut d, C2S, br#"{"id":"1"}"#).contains("no \"type\""));
        assert!(malformed(&mut d, C2S, br#"{"type":3}"#).contains("not a string"));
        assert!(
            malformed(&mut d, C2S, br#"{"type":"next","id":"1","payload":{}}"#)
                .contains("client sent type \"next\"")
        );
        assert!(malformed(
            &mut d,
            C2S,
            br#"{"type":"subscribe","payload":{"query":"{a}"}}"#
        )
        .contains("has no \"id\""));
        assert!(malformed(
            &mut d,
            C2S,
            br#"{"type":"subscribe","id":1,"payload":{"query":"{a}"}}"#
        )
        .contains("\"id\" of \"subscribe\" is not a string"));
        assert!(malformed(&mut d, C2S, br#"{"type":"subscribe","id":"1"}"#)
            .contains("no \"payload\" object"));
        assert!(malformed(
            &mut d,
            C2S,
            br#"{"type":"subscribe","id":"1","payload":{"query":5}}"#
        )
        .contains("no string \"query\""));
        assert!(malformed(&mut d, S2C, br#"{"type":"next","id":"1"}"#).contains("no \"payload\""));
    }

    #[test]
    fn operations_waiting_are_bounded() {
        let mut d = Decoder::new(NEW);
        for i in 0..crate::decode::MAX_PENDING + 3 {
            let b = format!(r#"{{"id":"{i}","type":"subscribe","payload":{{"query":"{{a}}"}}}}"#);
            one(&mut d, &msg(C2S, 1, 0, b.as_bytes()));
        }
        assert_eq!(d.operations.len(), crate::decode::MAX_PENDING);
    }
}
